"""`status` says what is ahead of and behind the remote, on file:// and S3 (SeaweedFS)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptver.store.store import Store

from .conftest import clone, edit, make_project
from .test_remote_core import cli, endpoint_args


@pytest.fixture(params=["file", "s3"])
def remote_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "file":
        (tmp_path / "shared").mkdir()
        return f"file://{tmp_path}/shared"
    return str(request.getfixturevalue("s3_url"))


def test_status_says_what_is_ahead_and_behind(tmp_path: Path, remote_url: str, pv) -> None:  # type: ignore[no-untyped-def]
    a = make_project(tmp_path / "a")
    assert cli(pv, a, "status", "bot").out == "bot: no versions yet\n" + "".join(
        f"  added    {p}\n" for p in sorted(a.work_tree("bot").entries)
    )  # no remote configured: nothing about one, and nothing asked
    url = remote_url
    cli(pv, a, "remote", "add", "origin", url, *endpoint_args(url))
    cli(pv, a, "bump", "minor", "bot", "-m", "first")
    assert cli(pv, a, "status", "bot").out == (
        "bot: matches 0.1.0\n  remote   not on origin yet: push to publish it\n"
    )
    assert cli(pv, a, "push").code == 0
    assert cli(pv, a, "status").out == "bot: matches 0.1.0\n  remote   up to date with origin\n"

    clone(tmp_path / "a", tmp_path / "b")
    b = Store.find(override=tmp_path / "b" / ".promptver")
    edit(tmp_path / "a", "\nBe brief.\n")
    cli(pv, a, "bump", "minor", "bot", "-m", "second")
    cli(pv, a, "alias", "set", "bot", "production", "0.2.0")
    assert cli(pv, a, "status", "bot").out.endswith(
        "  remote   ahead of origin by 2 events (0.2.0, production moved): push\n"
    )
    assert cli(pv, a, "push").code == 0
    cli(pv, b, "alias", "set", "bot", "staging", "0.1.0")
    out = cli(pv, b, "status", "bot").out
    assert out.endswith(
        "  remote   ahead of origin by 1 event (staging moved) and behind by 2 events"
        " (0.2.0, production moved): pull, then push\n"
    ), out
    data = json.loads(cli(pv, b, "status", "bot", "--json").out)[0]["remote"]
    assert data == {
        "remote": "origin",
        "on_remote": True,
        "ahead": 1,
        "behind": 2,
        "ahead_versions": [],
        "behind_versions": ["0.2.0"],
        "ahead_aliases": ["staging"],
        "behind_aliases": ["production"],
    }
    assert cli(pv, b, "pull").code == 0
    assert cli(pv, b, "status", "bot").out.endswith(
        "  remote   ahead of origin by 1 event (staging moved): push\n"
    )
    assert "remote" not in cli(pv, b, "status", "bot", "--no-remote").out


def test_an_unreachable_remote_does_not_stop_status(tmp_path: Path, pv) -> None:  # type: ignore[no-untyped-def]
    a = make_project(tmp_path / "a")
    cli(pv, a, "remote", "add", "origin", f"file://{tmp_path}/nowhere")
    cli(pv, a, "bump", "minor", "bot")
    result = cli(pv, a, "status")
    assert result.code == 0 and result.out == "bot: matches 0.1.0\n"
    assert result.err.startswith("not compared with remote origin: the folder of remote file://")
    entry = json.loads(cli(pv, a, "status", "--json").out)[0]
    assert entry["remote"]["remote"] == "origin" and "does not exist" in entry["remote"]["error"]
