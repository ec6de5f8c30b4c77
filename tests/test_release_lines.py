"""Bumps build on the version the working copy came from, on its release line; status
says which version that is; snapshots never become the base of a release by themselves."""

from __future__ import annotations

import json
from pathlib import Path

from promptver.store.store import Store

ANSWER = "bundles/bot/prompts/answer.j2"


def edit(project: Path, text: str, path: str = ANSWER) -> None:
    file = project / path
    file.write_text(file.read_text() + text)


def minor_change(project: Path, n: int) -> None:
    edit(project, f"Line {n}.\n")


def patch_change(project: Path, n: int) -> None:
    edit(project, f"{{# note {n} #}}\n")  # a Jinja comment: whitespace or comments only


def versions(store: Store) -> list[str]:
    return [str(v) for v in store.version_names("bot")]


def test_status_after_checkout_names_the_version(project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    assert pv("bump", "minor", "bot").code == 0
    minor_change(project, 1)
    assert pv("bump", "minor", "bot").code == 0
    assert pv("status", "bot").out.strip() == "bot: matches 0.2.0"
    assert pv("checkout", "bot@0.1.0").code == 0
    assert pv("status", "bot").out.strip() == "bot: matches 0.1.0 (latest is 0.2.0)"
    patch_change(project, 1)
    out = pv("status", "bot").out
    assert (
        out.startswith("bot: changed since 0.1.0 (latest is 0.2.0)\n") and "modified prompts/answer.j2" in out
    )
    data = json.loads(pv("status", "bot", "--json").out)[0]
    assert (data["base"], data["latest"], data["clean"]) == ("0.1.0", "0.2.0", False)


def test_snapshot_does_not_hijack_the_release_line(project: Path, store: Store, pv) -> None:  # type: ignore[no-untyped-def]
    """The issue's case: snapshot 0.4.0-dev, checkout 0.3.0 --force, bump patch gives 0.3.1."""
    assert pv("bump", "minor", "bot", "--initial", "0.3.0").code == 0
    minor_change(project, 1)
    snap = pv("snapshot", "bot")
    assert snap.code == 0, snap.err
    dev = versions(store)[-1]
    assert dev.startswith("0.4.0-dev.")
    assert pv("checkout", "bot@0.3.0", "--force").code == 0
    patch_change(project, 1)
    res = pv("bump", "patch", "bot")
    assert res.code == 0, res.err
    assert "0.3.0 -> 0.3.1" in res.out
    assert store.manifest("bot", "0.3.1").parent == "0.3.0"
    # the changelog leaves the experiment out unless asked
    assert dev not in pv("changelog", "bot").out
    assert dev in pv("changelog", "bot", "--snapshots").out


def test_a_snapshot_is_not_the_base_of_the_next_release(project: Path, store: Store, pv) -> None:  # type: ignore[no-untyped-def]
    assert pv("bump", "minor", "bot").code == 0
    minor_change(project, 1)
    assert pv("snapshot", "bot").code == 0
    patch_change(project, 2)
    status = pv("status", "bot").out
    assert status.startswith("bot: changed since 0.1.0 (latest is 0.2.0-dev."), status
    res = pv("bump", "minor", "bot")
    assert res.code == 0, res.err
    manifest = store.manifest("bot", "0.2.0")
    assert manifest.parent == "0.1.0"  # not the snapshot


def test_maintenance_release_on_an_older_line(project: Path, store: Store, pv) -> None:  # type: ignore[no-untyped-def]
    assert pv("bump", "minor", "bot", "--initial", "1.3.0").code == 0
    (project / ANSWER).write_text("Answer: {{ question }}\n")  # a major change is not needed: force
    assert pv("bump", "major", "bot").code == 0
    assert versions(store) == ["1.3.0", "2.0.0"]
    assert pv("checkout", "bot@1.3.0", "--force").code == 0
    patch_change(project, 1)
    res = pv("bump", "patch", "bot", "-m", "fix on the 1.3 line")
    assert res.code == 0, res.err
    assert versions(store) == ["1.3.0", "1.3.1", "2.0.0"]
    assert store.manifest("bot", "1.3.1").parent == "1.3.0"
    # the working copy now comes from 1.3.1: the next patch is 1.3.2
    patch_change(project, 2)
    assert "1.3.1 -> 1.3.2" in pv("bump", "patch", "bot").out
    # a version that exists already, or one below a newer version on its line, is refused
    assert pv("checkout", "bot@1.3.1", "--force").code == 0
    patch_change(project, 3)
    taken = pv("bump", "patch", "bot")
    assert taken.code == 1 and "bot@1.3.2 already exists" in taken.err
    assert "checkout bot@1.3.2" in taken.err
    assert pv("checkout", "bot@1.3.0", "--force").code == 0
    minor_change(project, 4)
    below = pv("bump", "major", "bot", "--force")
    assert below.code == 1 and "2.0.0 already exists" in below.err
    assert versions(store) == ["1.3.0", "1.3.1", "1.3.2", "2.0.0"]


def test_patch_below_a_newer_patch_is_refused(project: Path, store: Store, pv) -> None:  # type: ignore[no-untyped-def]
    assert pv("bump", "minor", "bot", "--initial", "1.3.0").code == 0
    patch_change(project, 1)
    assert pv("bump", "patch", "bot").code == 0
    patch_change(project, 2)
    assert pv("bump", "patch", "bot").code == 0  # 1.3.2
    minor_change(project, 3)
    assert pv("bump", "minor", "bot").code == 0  # 1.4.0
    # from 1.3.0 a patch would be 1.3.1 (taken); --pre makes 1.3.1-rc.1, below 1.3.2 on the line
    assert pv("checkout", "bot@1.3.0", "--force").code == 0
    patch_change(project, 4)
    res = pv("bump", "patch", "bot", "--pre", "rc")
    assert res.code == 1 and "1.3.1-rc.1 would be older than 1.3.2, which is on the same line" in res.err
    assert versions(store) == ["1.3.0", "1.3.1", "1.3.2", "1.4.0"]


def test_edit_snapshot_then_release_the_same_files(project: Path, store: Store, pv) -> None:  # type: ignore[no-untyped-def]
    """edit, `snapshot`, `bump minor` once said "nothing changed since 0.2.0-dev..."."""
    assert pv("bump", "minor", "bot").code == 0
    minor_change(project, 1)
    assert pv("snapshot", "bot").code == 0
    dev = versions(store)[-1]
    assert dev.startswith("0.2.0-dev.")
    assert pv("status", "bot").out.startswith(f"bot: changed since 0.1.0 (latest is {dev})")
    again = pv("snapshot", "bot")  # the same files twice: refused, nothing written
    assert again.code == 1 and f"nothing changed since the snapshot {dev}" in again.err
    assert versions(store) == ["0.1.0", dev]
    res = pv("bump", "minor", "bot")
    assert res.code == 0, res.err
    assert "bot 0.1.0 -> 0.2.0" in res.out
    release = store.manifest("bot", "0.2.0")
    assert release.parent == "0.1.0" and release.digest == store.manifest("bot", dev).digest
    assert pv("status", "bot").out.strip() == "bot: matches 0.2.0"
    assert pv("bump", "minor", "bot").code == 1  # now nothing changed since 0.2.0


def test_a_checked_out_snapshot_is_released_as_it_is(project: Path, store: Store, pv) -> None:  # type: ignore[no-untyped-def]
    assert pv("bump", "minor", "bot").code == 0
    minor_change(project, 1)
    assert pv("snapshot", "bot").code == 0
    dev = versions(store)[-1]
    patch_change(project, 2)
    assert pv("checkout", f"bot@{dev}", "--force").code == 0  # on purpose: the snapshot is the base
    assert pv("status", "bot").out.startswith(f"bot: matches {dev}")
    res = pv("bump", "minor", "bot")
    assert res.code == 0, res.err
    assert f"bot {dev} -> 0.2.0" in res.out and store.manifest("bot", "0.2.0").parent == dev
