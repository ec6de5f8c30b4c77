"""Review against a real store: load two versions, approve with a note, read the log."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from promptver.errors import ConfigError
from promptver.governance.approvals import Reviewed, record_review, resolve_reviewer, review_event, reviews
from promptver.store.store import Store
from promptver.tui.app import build_app
from promptver.tui.loader import load_review, recorder
from promptver.tui.screens.note import NoteModal
from promptver.tui.widgets.header import ReviewHeader
from promptver.tui.widgets.navigator import Navigator
from tests.tui.test_app import wait_aligned


def edit_bot(project: Path) -> None:
    answer = project / "bundles" / "bot" / "prompts" / "answer.j2"
    answer.write_text(answer.read_text() + "Answer in one sentence.\n")
    toml = project / "bundles" / "bot" / "bundle.toml"
    toml.write_text(toml.read_text().replace("temperature = 0.2", "temperature = 0.6"))


def test_load_review_of_latest_against_working_copy(project: Path, store: Store, pv) -> None:  # type: ignore[no-untyped-def]
    assert pv("bump", "minor", "bot", "-m", "first").code == 0
    edit_bot(project)
    review = load_review(store, "bot")
    manifest = store.resolve("bot", "latest")
    assert review.old.version == manifest.version
    assert review.old.digest == manifest.digest
    assert review.old.author == manifest.author and review.old.created == manifest.created
    assert review.new.version is None
    assert review.new.digest == store.work_tree("bot").digest
    changed = {c.key for c in review.components if c.changed}
    assert {"model:model", "templates:answer"} <= changed
    assert review.bump == "minor"


async def test_approve_with_a_note_writes_the_audit_event(
    project: Path,
    store: Store,
    pv,  # type: ignore[no-untyped-def]
) -> None:
    assert pv("bump", "minor", "bot", "-m", "first").code == 0
    edit_bot(project)
    app = build_app(
        lambda progress: load_review(store, "bot", progress=progress),
        record=recorder(store, "Rita Reviewer"),
        reviewer="Rita Reviewer",
    )
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(1000):
            await pilot.pause()
            if app.review is not None:
                break
        assert app.review is not None
        assert app.query_one(Navigator).current_key == "model:model"
        await pilot.press("n", "n")  # the temperature, then the template (read in a worker)
        view = await wait_aligned(app, pilot)
        assert app.query_one(Navigator).current_key == "templates:answer"
        assert view.diff is not None and view.diff.added == 1
        assert "Answer in one sentence." in (view.diff.rows[view.cursor_row or 0].new or "")
        for _ in range(1000):  # counted after the template is shown, in a worker
            await pilot.pause(0.01)
            if "tokens " in str(app.query_one("#component-title").render()):
                break
        assert "tokens " in str(app.query_one("#component-title").render())
        await pilot.press("a")
        assert isinstance(app.screen, NoteModal)
        await pilot.press(*"tone is better", "enter")
        await pilot.pause()
        await pilot.press("r", "enter")
        await pilot.pause()
        header = str(app.query_one(ReviewHeader).render())
        assert "✗ Rita Reviewer" in header  # her latest decision on this digest
    decisions = reviews(store.events("bot"))
    assert [e["decision"] for e in decisions] == ["approved", "changes_requested"]
    approved = decisions[0]
    manifest = store.resolve("bot", "latest")
    assert approved["actor"] == "Rita Reviewer"
    assert approved["note"] == "tone is better"
    assert approved["old"] == {"version": manifest.version, "digest": manifest.digest}
    assert approved["new"] == {"version": None, "digest": store.work_tree("bot").digest}
    assert approved["time"].endswith("Z")
    assert approved["seq"] == 2 and approved["prev"]  # chained after the bump event
    assert decisions[1]["note"] is None
    assert app.decisions == decisions
    assert load_review(store, "bot").decisions == [("Rita Reviewer", "changes_requested")]


def test_review_between_two_versions(project: Path, store: Store, pv) -> None:  # type: ignore[no-untyped-def]
    assert pv("bump", "minor", "bot", "-m", "first").code == 0
    edit_bot(project)
    assert pv("bump", "minor", "bot", "-m", "second").code == 0
    review = load_review(store, "bot", "0.1.0", "0.2.0")
    assert (review.old.label, review.new.label) == ("0.1.0", "0.2.0")
    assert review.new.author and review.new.created
    record = recorder(store, "Rita")
    event = record(review, "approved", None)
    assert event["new"]["version"] == "0.2.0"


def test_cli_refuses_without_a_terminal_and_reports_bad_refs(project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    assert pv("bump", "minor", "bot").code == 0
    result = pv("review", "bot")
    assert result.code == 1 and "interactive terminal" in result.err
    missing = pv("review", "bot", "9.9.9")
    assert missing.code == 1 and "Error:" in missing.err and "Traceback" not in missing.err
    unknown = pv("review", "nobody")
    assert unknown.code == 1 and "Error:" in unknown.err
    tui = pv("diff", "bot", "--tui")
    assert tui.code == 1 and "interactive terminal" in tui.err
    empty = pv("review", "bot", "--reviewer", " ")
    assert empty.code == 1 and "reviewer" in empty.err


def test_reviewer_comes_from_option_env_then_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_reviewer(" Ana ") == "Ana"
    monkeypatch.setenv("PROMPTVER_USER", "Env User")
    assert resolve_reviewer(None) == "Env User"
    monkeypatch.delenv("PROMPTVER_USER")
    monkeypatch.setenv("HOME", str(tmp_path))  # no global git config
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "config", "user.name", "Git User"], check=True)
    subprocess.run(["git", "-C", str(repo), "config", "user.email", "g@example.com"], check=True)
    assert resolve_reviewer(None, folder=repo) == "Git User <g@example.com>"
    with pytest.raises(ConfigError):
        resolve_reviewer("  ")


def test_review_event_is_validated(store: Store) -> None:
    old, new = Reviewed("1.0.0", "sha256:" + "a" * 64), Reviewed(None, "sha256:" + "b" * 64)
    with pytest.raises(ConfigError):
        review_event("bot", "maybe", "Ana", old, new)
    with pytest.raises(ConfigError):
        review_event("bot", "approved", " ", old, new)
    event = record_review(store, "bot", "approved", "Ana", old, new, "  ")
    assert event["note"] is None and event["event"] == "review"
    assert reviews(store.events("bot")) == [event]


ANSWERER = """
def answer(bundle, case):
    if case.id == "capital":
        return "Paris" if bundle.version == "0.2.0" else "Lyon"
    return "hello there"
"""


def test_eval_runs_of_both_versions_are_compared(project: Path, store: Store, pv) -> None:  # type: ignore[no-untyped-def]
    (project / "review_answerer.py").write_text(ANSWERER)
    assert pv("bump", "minor", "bot", "-m", "first").code == 0
    edit_bot(project)
    assert pv("bump", "minor", "bot", "-m", "second").code == 0
    before = load_review(store, "bot", "0.1.0", "0.2.0")
    results = next(c for c in before.components if c.kind == "results")
    assert results.body is not None and "no complete run" in results.body.missing  # type: ignore[union-attr]
    target = "python:review_answerer:answer"
    for version in ("0.1.0", "0.2.0"):
        ran = pv("eval", f"bot@{version}", "--target", target, "--quiet")
        assert ran.code in (0, 1), ran.err
    review = load_review(store, "bot", "0.1.0", "0.2.0")
    results = next(c for c in review.components if c.kind == "results")
    body = results.body
    assert body is not None and not body.missing  # type: ignore[union-attr]
    outcomes = {o.id: o for o in body.outcomes}  # type: ignore[union-attr]
    assert list(outcomes) == ["capital"]
    capital = outcomes["capital"]
    assert capital.verdict == "improved"
    assert (capital.old_output, capital.new_output) == ("Lyon", "Paris")
    metrics = {m.name: m for m in body.metrics}  # type: ignore[union-attr]
    assert (metrics["pass rate"].old, metrics["pass rate"].new) == (0.5, 1.0)
    assert results.status == "changed"


async def test_identical_versions_open_without_changes(store: Store, pv) -> None:  # type: ignore[no-untyped-def]
    assert pv("bump", "minor", "bot").code == 0
    review = load_review(store, "bot")  # latest against an unchanged working copy
    assert review.bump is None and not any(c.changed for c in review.components)
    app = build_app(review)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n", "N", "j", "j", "u", "w", "h")
        await pilot.pause()
        assert app.query_one(Navigator).visible_keys() == []
        assert not list(app.query("#body > *"))
        await pilot.press("h", "n")
        await pilot.pause()


async def test_a_corrupt_object_is_an_error_on_screen_not_a_crash(
    project: Path,
    store: Store,
    pv,  # type: ignore[no-untyped-def]
) -> None:
    assert pv("bump", "minor", "bot").code == 0
    edit_bot(project)
    manifest = store.resolve("bot", "latest")
    entry = manifest.file_map()["prompts/answer.j2"]
    path = store.object_path(entry.digest.split(":")[-1])
    path.chmod(0o644)
    path.write_bytes(b"tampered")
    app = build_app(lambda progress: load_review(store, "bot", progress=progress))
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(1000):
            await pilot.pause(0.01)
            if "cannot review" in str([n.title for n in app._notifications]):
                break
        assert app.review is None
        title = str(app.query_one("#component-title").render())
        assert "corrupt" in title.lower(), title
        await pilot.press("n", "a", "j")


def test_review_decisions_follow_the_approve_rules(project: Path, store: Store, pv) -> None:  # type: ignore[no-untyped-def]
    from promptver.errors import ConflictError, PolicyError
    from promptver.governance.approvals import decisions

    toml = project / "bundles" / "bot" / "bundle.toml"
    scaffolded = toml.read_text().split("\n[aliases.", 1)[0]  # `new` protects production too
    toml.write_text(scaffolded + "\n[aliases.production]\napprovals = 1\n")
    assert pv("bump", "minor", "bot", "-m", "first").code == 0  # author: Tess Tester
    edit_bot(project)
    assert pv("bump", "minor", "bot", "-m", "second").code == 0
    review = load_review(store, "bot", "0.1.0", "0.2.0")
    with pytest.raises(PolicyError, match="author"):
        recorder(store, "Tess <tess@example.com>")(review, "approved", None)
    event = recorder(store, "Rita <rita@example.com>")(review, "approved", "fine")
    counted = decisions(store.events("bot"), review.new.digest or "")
    assert [(d.actor, d.decision, d.seq) for d in counted] == [
        ("Rita <rita@example.com>", "approved", event["seq"])
    ]
    with pytest.raises(ConflictError, match="already approved"):
        recorder(store, "rita@example.com")(review, "approved", None)
    again = pv("approve", "bot@0.2.0", "--by", "Rita <rita@example.com>")
    assert again.code == 1 and "already approved" in again.err  # the CLI sees the TUI's event
    assert pv("promote", "bot@0.2.0", "--to", "production").code == 0


def test_review_of_a_bundle_with_no_versions_yet(project: Path, store: Store) -> None:
    """The first review compares the working copy with nothing: everything added, the
    first version named, and a decision is recorded with no old side."""
    assert not store.version_names("bot")
    review = load_review(store, "bot")
    assert review.old.label == "no versions yet" and review.old.digest == "" and review.old.author == ""
    assert review.new.label == "working copy" and review.new.digest == store.work_tree("bot").digest
    assert review.first_version == "0.1.0"
    statuses = {c.key: c.status for c in review.components if c.changed}
    assert statuses["model:model"] == "added" and statuses["templates:answer"] == "added"
    event = recorder(store, "Rita Reviewer")(review, "approved", "looks right")
    assert event["old"] == {"version": None, "digest": None}
    assert event["new"] == {"version": None, "digest": review.new.digest}


def test_working_copy_is_labelled_with_its_editor_not_the_reviewer(
    project: Path,
    store: Store,
    pv,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    assert pv("bump", "minor", "bot", "-m", "first").code == 0
    git = ["git", "-c", "user.name=Bo Author", "-c", "user.email=bo@example.com"]
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "bundles"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "bot"], cwd=project, check=True)
    monkeypatch.setenv("PROMPTVER_USER", "Rita Reviewer <rita@example.com>")
    # a colleague's committed bundle: the working copy is theirs
    assert load_review(store, "bot").new.author == "Bo Author <bo@example.com>"
    # uncommitted edits here: whoever edits (PROMPTVER_USER, else git) is the author
    edit_bot(project)
    assert load_review(store, "bot").new.author == "Rita Reviewer <rita@example.com>"
