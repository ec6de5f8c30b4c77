"""`promptver bump` / `snapshot`: versions, refusals, dry runs, git, audit events."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from promptver.store.store import Store
from tests.conftest import tree_state

SYSTEM = Path("bundles/bot/prompts/system.j2")


def _touch(project: Path, text: str = "More.") -> None:
    with open(project / SYSTEM, "a") as f:
        f.write(text + "\n")


def test_version_sequence(project: Path, pv) -> None:
    out = pv("bump", "minor", "bot", "-m", "first").out
    assert re.fullmatch(r"bot \(none\) -> 0\.1\.0 \(sha256:[0-9a-f]{8}\)\n", out)
    steps = [
        ("minor", ["--pre", "rc"], "0.2.0-rc.1"),
        ("prerelease", [], "0.2.0-rc.2"),
        ("release", [], "0.2.0"),
        ("major", [], "1.0.0"),
        ("patch", ["--force"], "1.0.1"),  # a text change suggests minor: forced
    ]
    for level, extra, expected in steps:
        _touch(project, level)
        result = pv("bump", level, "bot", *extra)
        assert result.code == 0, result.err
        assert f"-> {expected} " in result.out
    log = json.loads(pv("log", "bot", "--json").out)
    assert [v["version"] for v in log] == ["1.0.1", "1.0.0", "0.2.0", "0.2.0-rc.2", "0.2.0-rc.1", "0.1.0"]
    assert log[-1]["message"] == "first" and log[0]["parent"] == "1.0.0"


def test_release_of_an_unchanged_prerelease_is_allowed(project: Path, pv) -> None:
    pv("bump", "major", "bot", "--pre", "rc", "--initial", "1.0.0")
    result = pv("bump", "release", "bot")
    assert result.code == 0 and "1.0.0-rc.1 -> 1.0.0" in result.out


def test_prerelease_and_release_obey_the_bump_size_rule(project: Path, store: Store, pv) -> None:
    """A system-prompt edit refused as a patch once went through as `bump prerelease`
    (0.1.1-rc.1) and then `bump release` (0.1.1), with no --force."""
    assert pv("bump", "minor", "bot").code == 0
    _touch(project)
    before = tree_state(project)
    patch = pv("bump", "patch", "bot")
    assert patch.code == 1 and "the changes since 0.1.0 make it minor" in patch.err
    pre = pv("bump", "prerelease", "bot")
    assert pre.code == 1 and pre.err.count("Error:") == 1
    assert (
        "a prerelease bump to 0.1.1-rc.1 is refused: it is a patch release of 0.1.0,"
        " and the changes since 0.1.0 make it minor:" in pre.err
    )
    assert "make it `bump minor --pre rc` (0.2.0-rc.1), or pass --force" in pre.err
    assert tree_state(project) == before
    # forced, the prerelease is made and says so; its release is checked the same way
    forced = pv("bump", "prerelease", "bot", "--force", "--json")
    assert forced.code == 0 and json.loads(forced.out)["version"] == "0.1.1-rc.1"
    assert store.manifest("bot", "0.1.1-rc.1").forced
    release = pv("bump", "release", "bot")
    assert release.code == 1
    assert "a release bump to 0.1.1 is refused: it is a patch release of 0.1.0" in release.err
    assert "make it `bump minor` (0.2.0)" in release.err
    assert "-> 0.2.0 " in pv("bump", "minor", "bot").out  # what the hint says
    # the way the rule allows: a minor prerelease, then more prereleases and the release
    _touch(project, "Again.")
    assert "-> 0.3.0-rc.1 " in pv("bump", "minor", "bot", "--pre", "rc").out
    _touch(project, "And again.")
    assert "-> 0.3.0-rc.2 " in pv("bump", "prerelease", "bot").out  # a minor of 0.2.0: allowed
    assert "-> 0.3.0 " in pv("bump", "release", "bot").out


def test_initial_version(project: Path, pv) -> None:
    assert "-> 2.5.0" in pv("bump", "minor", "bot", "--initial", "2.5.0").out


def test_nothing_changed_is_refused(project: Path, pv) -> None:
    pv("bump", "minor", "bot")
    result = pv("bump", "patch", "bot")
    assert result.code == 1
    assert "nothing changed since 0.1.0" in result.err and "Traceback" not in result.err


def test_dry_run_changes_nothing(project: Path, pv) -> None:
    before = tree_state(project)
    result = pv("bump", "minor", "bot", "--dry-run")
    assert result.code == 0 and result.out.startswith("(dry run) bot (none) -> 0.1.0")
    assert tree_state(project) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bump", "minor", "nobot"], "unknown bundle 'nobot'"),
        (["bump", "minor", "bot", "--initial", "1.2"], "'1.2' is not a semantic version"),
        (["bump", "minor", "bot", "--initial", "01.2.3"], "is not a semantic version"),
        (["bump", "minor", "bot", "--initial", "1.2.3-"], "is not a semantic version"),
        (["bump", "minor", "bot", "--pre", "r c"], "not a valid prerelease identifier"),
        (["bump", "release", "bot", "--initial", "1.0.0"], None),
        (["show", "bot@9.9.9"], "bot has no versions yet"),
        (["bump", "minor", "../evil"], "not a valid bundle name"),
    ],
)
def test_bad_input_is_one_clear_error_and_changes_nothing(
    project: Path, pv, args: list[str], message: str | None
) -> None:
    before = tree_state(project)
    result = pv(*args)
    if message is None:  # releasing a first, non-prerelease version is allowed: 1.0.0
        return
    assert result.code == 1, result.out
    assert message in result.err and result.err.startswith("Error:")
    assert "Traceback" not in result.err
    assert tree_state(project) == before


def test_invalid_bundle_is_refused_and_nothing_written(project: Path, pv) -> None:
    (project / "bundles/bot/prompts/answer.j2").write_text("{% if %}")
    before = tree_state(project)
    result = pv("bump", "minor", "bot")
    assert result.code == 1
    assert "bundle 'bot' is invalid" in result.err and "prompts/answer.j2:1" in result.err
    assert tree_state(project) == before


def test_existing_or_older_version_is_refused(project: Path, store: Store, pv) -> None:
    from promptver.errors import ConflictError
    from promptver.semver import Version
    from promptver.versions.bump import bump

    pv("bump", "minor", "bot")
    _touch(project)
    pv("bump", "minor", "bot")
    _touch(project, "again")
    before = tree_state(project)
    with pytest.raises(ConflictError, match="0.2.0 already exists; versions are immutable"):
        bump(store, "bot", "minor", version=Version.parse("0.2.0"))
    with pytest.raises(
        ConflictError, match="0.1.5 would not be newer than 0.2.0, the version the working copy came from"
    ):
        bump(store, "bot", "minor", version=Version.parse("0.1.5"))
    assert tree_state(project) == before


def test_snapshot_uses_a_utc_timestamp(project: Path, pv) -> None:
    pv("bump", "minor", "bot", "--initial", "1.2.3")
    _touch(project)
    result = pv("snapshot", "bot")
    assert result.code == 0, result.err
    assert re.search(r"-> 1\.3\.0-dev\.\d{8}T\d{6}Z \(", result.out)
    _touch(project, "and release")
    assert "-> 1.3.0 " in pv("bump", "minor", "bot").out


def test_every_bump_appends_an_audit_event(project: Path, store: Store, pv) -> None:
    pv("bump", "minor", "bot", "-m", "hello")
    _touch(project)
    pv("bump", "patch", "bot", "--force")  # a text change suggests minor
    events = store.events("bot")
    assert [e["event"] for e in events] == ["bump", "bump"]
    assert events[0]["actor"] == "Tess Tester <tess@example.com>"
    assert events[0]["message"] == "hello" and events[1]["version"] == "0.1.1"
    assert events[0]["prev"] is None and events[1]["prev"]


def test_show_records_provenance(project: Path, pv) -> None:
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    pv("bump", "minor", "bot")
    details = json.loads(pv("show", "bot@latest", "--json").out)
    assert details["version"] == "0.1.0" and details["parent"] is None
    assert details["model"]["name"] == "gpt-4o-mini" and details["model"]["params"]["temperature"] == 0.2
    assert {f["path"] for f in details["files"]} == {
        "bundle.toml",
        "evals/golden.jsonl",
        "judges/judge.md",
        "prompts/answer.j2",
        "prompts/system.j2",
    }
    prov = details["provenance"]
    assert prov["python"] and prov["promptver"] and "jinja2" in prov["libraries"]
    assert prov["git_commit"] is None and prov["git_repository"] is True  # a repository without commits
    text = pv("show", "bot@0.1.0").out
    assert "bot@0.1.0" in text and "openai/gpt-4o-mini" in text and "prompts/system.j2" in text
    assert "git repository, no commits yet" in text and "not in git" not in text


def test_show_outside_git_says_so(project: Path, pv) -> None:
    pv("bump", "minor", "bot")
    prov = json.loads(pv("show", "bot@latest", "--json").out)["provenance"]
    assert prov["git_commit"] is None and prov["git_repository"] is False
    assert "not in git" in pv("show", "bot@0.1.0").out


def test_git_commit_and_tag(project: Path, pv) -> None:
    git = ["git", "-c", "user.name=T", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run(["git", "config", "user.name", "T"], cwd=project, check=True)
    subprocess.run(["git", "config", "user.email", "t@example.com"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "start"], cwd=project, check=True)
    result = pv("bump", "minor", "bot", "--git", "-m", "first")
    assert result.code == 0, result.err
    tags = subprocess.run(["git", "tag"], cwd=project, capture_output=True, text=True).stdout
    assert tags.split() == ["bot@0.1.0"]
    files = subprocess.run(
        ["git", "show", "--name-only", "--format=%s", "HEAD"], cwd=project, capture_output=True, text=True
    ).stdout
    assert files.startswith("bot 0.1.0: first") and ".promptver/bundles/bot/versions/0.1.0.json" in files
    details = json.loads(pv("show", "bot", "--json").out)
    assert details["provenance"]["git_commit"] and details["provenance"]["git_dirty"] is True


def test_git_flag_outside_a_repository(project: Path, pv) -> None:
    result = pv("bump", "minor", "bot", "--git")
    assert result.code == 1 and "not inside a git repository" in result.err
