"""Issue 12: the audit trail's own weaknesses, each attack reproduced and caught.

Anchoring in git (truncated, edited, removed log), manifests without their event, an
interrupted bump, and (issue 11, problem 9) commands that must check what they decide on.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import promptver
from promptver.errors import IntegrityError
from promptver.store.store import Store
from tests.alias_support import AUTHOR, OTHER, PRODUCTION, REVIEWER, new_version, set_policy, write_run


def git(project: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def commit_all(project: Path) -> None:
    if not (project / ".git").exists():
        git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "store")


@pytest.fixture
def protected(project: Path, store: Store) -> Store:
    set_policy(project, PRODUCTION)
    new_version(store, project)
    new_version(store, project)
    return store


def _drop_last_line(path: Path) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]))


def test_truncated_tail_is_caught_against_git_and_blocks_promote(
    project: Path, protected: Store, pv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack: approve, then a rejection; delete the rejection (the last line): the chain
    still verifies, so on old main promote went through and verify said ok."""
    monkeypatch.setenv("PROMPTVER_USER", REVIEWER)
    assert pv("approve", "bot@0.2.0").code == 0
    monkeypatch.setenv("PROMPTVER_USER", OTHER)
    assert pv("reject", "bot@0.2.0", "--note", "no").code == 0
    commit_all(project)
    assert pv("verify").code == 0
    _drop_last_line(protected.log_path("bot"))
    result = pv("verify")
    assert result.code == 1
    assert "audit log truncated: 4 event(s) committed in HEAD, 3 now (the last 1 removed)" in result.out
    result = pv("promote", "bot@0.2.0", "--to", "production")
    assert result.code == 1 and "audit log truncated" in result.err
    assert "production" not in json.loads(protected.log_path("bot").read_text().splitlines()[-1]).get(
        "alias", ""
    )


def test_edited_tail_is_caught_against_git(
    project: Path, protected: Store, pv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack: edit the last line (it has no successor to break the chain)."""
    monkeypatch.setenv("PROMPTVER_USER", OTHER)
    assert pv("reject", "bot@0.2.0", "--note", "no").code == 0
    commit_all(project)
    log = protected.log_path("bot")
    lines = log.read_bytes().splitlines(keepends=True)
    event = json.loads(lines[-1])
    event["decision"] = "approved"
    lines[-1] = json.dumps(event, sort_keys=True).encode() + b"\n"
    log.write_bytes(b"".join(lines))
    # and chain a new event onto the edited line, so the chain itself is intact
    monkeypatch.setenv("PROMPTVER_USER", REVIEWER)
    assert pv("approve", "bot@0.2.0").code == 0
    result = pv("verify")
    assert result.code == 1
    assert "log.jsonl:3: audit event 3 was edited after it was committed (differs from HEAD)" in result.out


def test_removed_log_is_named(project: Path, protected: Store, pv) -> None:
    commit_all(project)
    protected.log_path("bot").unlink()
    result = pv("verify")
    assert result.code == 1
    assert "audit log removed (2 event(s) committed in HEAD)" in result.out
    # without git too: versions without their events are named
    subprocess.run(["rm", "-rf", str(project / ".git")], check=True)
    result = pv("verify")
    assert result.code == 1
    assert "bot@0.1.0 has no bump event: the audit log" in result.out and "is missing" in result.out
    result = pv("show", "bot@0.2.0")
    assert result.code == 1 and "has no bump event" in result.err


def test_verify_against_a_named_ref(project: Path, protected: Store, pv) -> None:
    commit_all(project)
    git(project, "branch", "main-copy")
    assert pv("approve", "bot@0.2.0", "--by", OTHER).code == 0
    commit_all(project)
    assert pv("verify", "--against", "main-copy").code == 0
    _drop_last_line(protected.log_path("bot"))
    result = pv("verify", "--against", "main-copy")
    assert result.code == 0  # the dropped event was never on main-copy
    result = pv("verify")
    assert result.code == 1 and "audit log truncated" in result.out
    result = pv("verify", "--against", "nope")
    assert result.code == 1 and "--against nope: no such commit" in result.err


def test_committed_manifest_edited_is_named(project: Path, protected: Store, pv) -> None:
    commit_all(project)
    path = protected.manifest_path("bot", "0.1.0")
    os.chmod(path, 0o644)
    data = json.loads(path.read_bytes())
    data["author"] = "Mallory <m@example.com>"
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    result = pv("verify")
    assert result.code == 1
    assert "bot@0.1.0: manifest edited after it was committed (differs from HEAD)" in result.out
    assert "bot@0.1.0: manifest differs from the one recorded at bump time" in result.out


def test_manifest_copied_by_hand_is_refused(project: Path, protected: Store, pv) -> None:
    """Attack: copy a manifest to 9.9.9.json with its version changed; on old main it
    verified, showed in `log`, and load("bot@latest") returned it."""
    source = protected.manifest_path("bot", "0.2.0")
    data = json.loads(source.read_bytes())
    data["version"] = "9.9.9"
    (source.parent / "9.9.9.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    result = pv("verify")
    assert result.code == 1 and "bot@9.9.9 has no bump event in the audit log" in result.out
    for args in (("log", "bot"), ("show", "bot@9.9.9"), ("show", "bot")):
        result = pv(*args)
        assert result.code == 1 and "bot@9.9.9 has no bump event" in result.err, args
    with pytest.raises(IntegrityError, match="has no bump event"):
        promptver.load("bot@latest", store=protected.root)


def test_manifest_author_edit_is_refused_by_show_log_load(project: Path, protected: Store, pv) -> None:
    """Issue 11 (9): show/log/load displayed a manifest whose author or message was edited."""
    path = protected.manifest_path("bot", "0.2.0")
    os.chmod(path, 0o644)
    data = json.loads(path.read_bytes())
    data["message"] = "reviewed by security"
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    for args in (("log", "bot"), ("show", "bot@0.2.0")):
        result = pv(*args)
        assert result.code == 1 and "manifest differs from the one recorded at bump time" in result.err
    with pytest.raises(IntegrityError, match="differs from the one recorded"):
        promptver.load("bot@0.2.0", store=protected.root)


def test_interrupted_bump_is_named_and_repaired(project: Path, store: Store, pv) -> None:
    """A bump killed after its event, before its manifest: verify names it, the next
    writer restores the manifest from the stored bytes."""
    new_version(store, project)
    manifest = new_version(store, project)
    path = store.manifest_path("bot", manifest.version)
    os.chmod(path, 0o644)
    path.unlink()
    result = pv("verify")
    assert result.code == 1
    assert "bot@0.2.0: bump event 2 has no manifest file (an interrupted bump)" in result.out
    assert pv("approve", "bot@0.1.0", "--by", OTHER).code == 0  # any write repairs it
    assert path.exists() and pv("verify").code == 0
    assert store.manifest("bot", "0.2.0") == manifest


def test_bump_killed_before_its_event_leaves_nothing_visible(project: Path, store: Store, pv) -> None:
    """A crash between storing the manifest bytes and appending the event: no version."""
    new_version(store, project)
    (project / "bundles/bot/prompts/system.j2").write_text("changed\n")
    calls = []

    def crash(name: str, event: dict, **kwargs: object) -> dict:  # type: ignore[type-arg]
        calls.append(event)
        raise KeyboardInterrupt

    real = store.append_event
    store.append_event = crash  # type: ignore[method-assign]
    from promptver.versions.bump import bump

    with pytest.raises(KeyboardInterrupt):
        bump(store, "bot", "minor", author=AUTHOR)
    store.append_event = real  # type: ignore[method-assign]
    assert calls and [str(v) for v in store.version_names("bot")] == ["0.1.0"]
    assert pv("verify").code == 0
    assert pv("bump", "minor", "bot").code == 0


def test_eval_compare_and_run_show_refuse_an_edited_run(project: Path, protected: Store, pv) -> None:
    """Issue 11 (9): `eval compare` and `run show` used a run whose cases.jsonl was edited."""
    manifest = protected.manifest("bot", "0.2.0")
    run_id = write_run(protected, manifest, 0.5)
    cases = protected.root / "runs" / "bot" / run_id / "cases.jsonl"
    cases.write_text(cases.read_text() + "\n")
    result = pv("run", "show", run_id)
    assert result.code == 1 and "was edited after it was recorded" in result.err
    result = pv("eval", "compare", run_id, run_id)
    assert result.code == 1 and "was edited after it was recorded" in result.err


def test_hand_edited_alias_pointer_is_refused(project: Path, protected: Store, pv) -> None:
    """Issue 11 (9): load/pin/lock followed a hand-edited aliases.json."""
    assert pv("alias", "set", "bot", "staging", "0.1.0").code == 0
    path = protected.root / "bundles" / "bot" / "aliases.json"
    data = json.loads(path.read_text())
    data["staging"]["version"] = "0.2.0"
    path.write_text(json.dumps(data))
    with pytest.raises(IntegrityError, match="aliases.json says staging is 0.2.0"):
        promptver.load("bot@staging", store=protected.root)
    result = pv("show", "bot@staging")
    assert result.code == 1 and "aliases.json says staging is 0.2.0" in result.err


def test_bumps_killed_at_random_moments_never_leave_a_version_without_its_event(
    project: Path, store: Store, pv
) -> None:
    """SIGKILL a real `promptver bump` at random moments: afterwards every manifest has its
    event, verify is ok or names an interrupted bump, and the next write repairs it."""
    import random

    from tests.conftest import kill_after

    rng = random.Random(12)
    for attempt in range(8):
        (project / "bundles/bot/prompts/system.j2").write_text(f"attempt {attempt}\n")
        kill_after(rng.uniform(0.05, 0.6), "bump", "patch", "bot", cwd=project)
        result = pv("verify")
        problems = [line for line in result.out.splitlines() if line.startswith("CORRUPT")]
        assert all("(an interrupted bump)" in line for line in problems), result.out
        assert pv("approve", "bot@latest", "--by", OTHER).code in (0, 1)  # a write: repairs
        assert pv("verify").code == 0
        for version in store.version_names("bot"):
            store.manifest("bot", str(version))  # served: its event is there
