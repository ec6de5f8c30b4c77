"""A store with ``[store] objects = "remote"``: `verify` and `gc` when objects were pulled
but not fetched yet."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from promptver.store.store import Store

from .conftest import edit, make_project


@pytest.fixture(params=["file", "s3"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "file":
        (tmp_path / "shared").mkdir()
        return f"file://{tmp_path}/shared"
    return str(request.getfixturevalue("s3_url"))


def endpoint_args(url: str) -> list[str]:
    return ["--endpoint", os.environ["AWS_ENDPOINT_URL"]] if url.startswith("s3://") else []


def remote_listing(url: str) -> dict[str, bytes]:
    """Every key on the remote with its bytes (to prove nothing there changed)."""
    from promptver.remote.config import RemoteConfig
    from promptver.remote.transport import open_transport

    endpoint = os.environ.get("AWS_ENDPOINT_URL") if url.startswith("s3://") else None
    t = open_transport(RemoteConfig("check", url, endpoint))
    keys = [k for prefix in ("objects", "packs", "bundles", "runs") for k in t.list(prefix)]
    found = {}
    for key in keys:
        got = t.get(key)
        assert got is not None
        found[key] = got[0]
    return found


def pulled_not_fetched(tmp_path: Path, url: str, pv) -> tuple[Store, Store]:  # type: ignore[no-untyped-def]
    """``a`` pushed bot@0.1.0; ``b`` (objects on the remote) pulled it without objects."""
    a = make_project(tmp_path / "a")
    assert pv("--store", str(a.root), "remote", "add", "origin", url, *endpoint_args(url)).code == 0
    edit(tmp_path / "a", "\nOnly bot says this.\n")
    assert pv("--store", str(a.root), "bump", "minor", "bot").code == 0
    assert pv("--store", str(a.root), "push").code == 0
    b = make_project(tmp_path / "b", name="other")
    added = pv(
        "--store", str(b.root), "remote", "add", "origin", url, *endpoint_args(url), "--objects-remote"
    )
    assert added.code == 0, added.err
    assert pv("--store", str(b.root), "pull", "bot").code == 0
    b = Store.find(override=b.root)
    assert b.config["store"]["objects"] == "remote"
    manifest = b.resolve("bot", "0.1.0")
    assert not any(b.has_object(f.digest) for f in manifest.files)
    return a, b


def test_verify_reports_pulled_objects_as_on_the_remote_not_fetched(tmp_path: Path, url: str, pv) -> None:  # type: ignore[no-untyped-def]
    _, b = pulled_not_fetched(tmp_path, url, pv)
    files = len(b.resolve("bot", "0.1.0").files)
    checked = pv("--store", str(b.root), "verify")
    assert checked.code == 0, checked.out
    assert f"note: {files} objects on the remote, not fetched here" in checked.out
    assert "CORRUPT" not in checked.out and "missing" not in checked.out
    report = json.loads(pv("--store", str(b.root), "verify", "--json").out)
    assert report["ok"] is True and report["not_fetched"] == files and report["problems"] == []
    assert not any(b.has_object(f.digest) for f in b.resolve("bot", "0.1.0").files)  # verify fetched nothing

    assert pv("--store", str(b.root), "fetch", "bot@0.1.0").code == 0
    report = json.loads(pv("--store", str(b.root), "verify", "--json").out)
    assert report["ok"] is True and report["not_fetched"] == 0


def test_verify_still_fails_when_the_remote_lacks_the_object_too(tmp_path: Path, pv) -> None:  # type: ignore[no-untyped-def]
    shared = tmp_path / "shared"
    shared.mkdir()
    _, b = pulled_not_fetched(tmp_path, f"file://{shared}", pv)
    entry = b.resolve("bot", "0.1.0").file_map()["bundle.toml"]
    (shared / "objects" / entry.digest).unlink()  # lost on the remote as well
    checked = pv("--store", str(b.root), "verify")
    assert checked.code == 1
    assert f"object {entry.digest[:12]} of bundle.toml is missing (here and on the remote)" in checked.out
    assert "objects on the remote, not fetched here" in checked.out  # the others still are


def test_verify_names_a_missing_object_when_the_remote_cannot_be_asked(tmp_path: Path, pv) -> None:  # type: ignore[no-untyped-def]
    shared = tmp_path / "shared"
    shared.mkdir()
    _, b = pulled_not_fetched(tmp_path, f"file://{shared}", pv)
    shutil.move(shared, tmp_path / "unmounted")
    checked = pv("--store", str(b.root), "verify")
    assert checked.code == 1
    assert "is missing (the remote could not be asked: the folder of remote" in checked.out
    assert "Traceback" not in checked.out + checked.err


def test_verify_without_a_remote_reports_missing_objects(tmp_path: Path, pv) -> None:  # type: ignore[no-untyped-def]
    a = make_project(tmp_path / "a")
    assert pv("--store", str(a.root), "bump", "minor", "bot").code == 0
    entry = a.resolve("bot", "0.1.0").file_map()["bundle.toml"]
    a.object_path(entry.digest).unlink()
    checked = pv("--store", str(a.root), "verify")
    assert checked.code == 1 and f"object {entry.digest[:12]} of bundle.toml is missing" in checked.out
    assert "not fetched" not in checked.out


def test_gc_keeps_what_the_remote_needs_and_never_touches_the_remote(tmp_path: Path, url: str, pv) -> None:  # type: ignore[no-untyped-def]
    _, b = pulled_not_fetched(tmp_path, url, pv)
    bot = b.resolve("bot", "0.1.0")
    assert pv("--store", str(b.root), "bump", "minor", "other").code == 0  # local, not pushed yet
    other = b.resolve("other", "0.1.0")
    # one object of bot fetched (read through the lazy fetch), one stray object
    fetched = bot.file_map()["bundle.toml"].digest
    assert pv("--store", str(b.root), "fetch", "bot@0.1.0").code == 0
    shared = {f.digest for f in other.files}  # same scaffold: most files are other's too
    unfetched = {f.digest for f in bot.files} - shared - {fetched}
    assert unfetched
    for digest in unfetched:
        b.object_path(digest).unlink()  # back to "pulled, not fetched"
    stray = b.put_bytes(b"nothing names me\n")
    before = remote_listing(url)

    dry = pv("--store", str(b.root), "gc", "--json")
    assert dry.code == 0, dry.err
    report = json.loads(dry.out)
    assert [o["digest"] for o in report["objects"]] == ["sha256:" + stray]
    assert report["not_fetched"] == len(unfetched)

    done = pv("--store", str(b.root), "gc", "--yes")
    assert done.code == 0, done.err
    assert "removed 0 temporary files and 1 unreferenced object" in done.out
    kept = f"kept: {len(unfetched)} object{'s' if len(unfetched) > 1 else ''} that versions name are not here"
    assert kept in done.out
    assert not b.has_object(stray)
    assert b.has_object(fetched) and all(b.has_object(f.digest) for f in other.files)
    assert remote_listing(url) == before  # gc never touches the remote
    # nothing was fetched by gc, and what was not fetched still comes from the remote
    assert not any(b.has_object(digest) for digest in unfetched)
    assert json.loads(pv("--store", str(b.root), "verify", "--json").out)["ok"] is True
    assert pv("--store", str(b.root), "fetch", "bot@0.1.0").code == 0
    assert all(b.has_object(f.digest) for f in bot.files)
    pushed = pv("--store", str(b.root), "push", "other")  # the unpushed version's objects survived
    assert pushed.code == 0, pushed.err
    assert json.loads(pv("--store", str(b.root), "verify", "--remote", "--json").out)["ok"] is True


def test_promote_a_pulled_version_whose_objects_were_not_fetched(tmp_path: Path, pv) -> None:  # type: ignore[no-untyped-def]
    """A promotion decides on the audit trail: objects that live on the remote and were
    not fetched here do not block it (it fetches only what it reads: bundle.toml's policy)."""
    (tmp_path / "shared").mkdir()
    _, b = pulled_not_fetched(tmp_path, f"file://{tmp_path}/shared", pv)
    promoted = pv("--store", str(b.root), "promote", "bot@0.1.0", "--to", "production", "--create")
    assert promoted.code == 0, promoted.err
    assert b.resolve("bot", "production").version == "0.1.0"
    files = b.resolve("bot", "0.1.0").files
    assert [f.path for f in files if b.has_object(f.digest)] == ["bundle.toml"]
