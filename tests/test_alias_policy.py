"""Protected aliases: the [aliases.*] policy, approvals, eval scores, promote, show."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from promptver.store.store import Store
from tests.alias_support import (
    AUTHOR,
    OTHER,
    PRODUCTION,
    REVIEWER,
    events,
    new_version,
    set_policy,
    write_run,
)
from tests.conftest import tree_state


@pytest.fixture
def protected(project: Path, store: Store) -> Store:
    """bot 0.1.0 and 0.2.0 by AUTHOR, both protecting production with 1 approval."""
    set_policy(project, PRODUCTION)
    new_version(store, project)
    new_version(store, project)
    return store


def test_check_validates_the_policy_table(project: Path, pv) -> None:
    set_policy(
        project,
        """
[aliases.production]
approvals = -1
approver = "x"
min_eval_score = 1.5
eval_dataset = "golden"

[aliases.Prod]
eval_dataset = "silver"

[aliases.qa]
approvals = 2
approvers = ["ana@example.com"]
""",
    )
    result = pv("check", "bot")
    assert result.code == 1
    # line 42 of the scaffolded bundle.toml (set_policy replaces its [aliases.*] tables)
    assert "bundle.toml:42:1: aliases.production.approvals must be an integer >= 0, got -1" in result.out
    assert (
        "unknown key 'aliases.production.approver'" in result.out and "did you mean 'approvers'" in result.out
    )
    assert "aliases.production.min_eval_score must be a number from 0 to 1, got 1.5" in result.out
    set_policy(
        project,
        """
[aliases.Prod]
eval_dataset = "silver"

[aliases.qa]
approvals = 2
approvers = ["ana@example.com"]
""",
    )
    result = pv("check", "bot")
    assert result.code == 1
    assert "'Prod' is not a valid alias name" in result.out
    assert "aliases.Prod.eval_dataset names no [evals.silver] table" in result.out
    assert "aliases.qa needs 2 approvals but lists only 1 approvers" in result.out
    result = pv("bump", "minor", "bot")
    assert result.code == 1 and "is invalid" in result.err


def test_promote_says_exactly_what_is_missing(protected: Store, pv) -> None:
    before = tree_state(protected.root)
    for dry_run in ((), ("--dry-run",)):
        result = pv("promote", "bot@0.2.0", "--to", "production", *dry_run)
        assert result.code == 1 and "cannot promote bot@0.2.0 to production; missing:" in result.err
    assert f"1 approval by someone other than the author ({AUTHOR}); has 0" in result.err
    assert "promptver approve bot@0.2.0" in result.err
    assert tree_state(protected.root) == before
    # the plain alias command refuses a protected alias
    result = pv("alias", "set", "bot", "production", "0.2.0")
    assert result.code == 1 and "production is a protected alias" in result.err and "promote" in result.err
    assert tree_state(protected.root) == before


def test_a_typo_makes_no_new_unprotected_alias(protected: Store, pv) -> None:
    """`promote --to prodution` once made a new, unprotected alias and exited 0."""
    before = tree_state(protected.root)
    for dry_run in ((), ("--dry-run",)):
        result = pv("promote", "bot@0.2.0", "--to", "prodution", *dry_run)
        assert result.code == 1, result.out
        assert "bot has no alias 'prodution' and bot@0.2.0 declares no [aliases.prodution]" in result.err
        assert "did you mean 'production'?" in result.err and "--create" in result.err
        assert result.err.count("Error:") == 1 and "Traceback" not in result.err
    # `alias set` makes unprotected aliases, but not one a letter away from a declared one
    result = pv("alias", "set", "bot", "prodution", "0.2.0")
    assert result.code == 1 and "did you mean 'production'?" in result.err
    assert "promptver alias set bot prodution 0.2.0 --create" in result.err
    assert tree_state(protected.root) == before
    # an existing alias is the other name a typo is checked against
    assert pv("alias", "set", "bot", "staging", "0.1.0").code == 0
    result = pv("promote", "bot@0.2.0", "--to", "stagin")
    assert result.code == 1 and "did you mean 'staging'?" in result.err
    assert pv("alias", "set", "bot", "stagingg", "0.2.0").code == 1
    # on purpose: --create, or a declared alias (production here, refused only by its policy)
    made = pv("promote", "bot@0.2.0", "--to", "canary", "--create", "--json")
    assert made.code == 0 and json.loads(made.out)["alias"] == "canary"
    assert pv("promote", "bot@0.1.0", "--to", "canary").code == 0  # it exists now
    assert pv("alias", "set", "bot", "stagingg", "0.2.0", "--create").code == 0
    assert pv("alias", "set", "bot", "qa", "0.2.0").code == 0  # no alias near it: alias set makes it
    assert (
        "cannot promote bot@0.2.0 to production; missing"
        in pv("promote", "bot@0.2.0", "--to", "production").err
    )


def test_the_author_cannot_approve_when_the_policy_forbids_it(protected: Store, pv) -> None:
    before = tree_state(protected.root)
    for by in (AUTHOR, "ana@example.com", "Ana Author"):
        result = pv("approve", "bot@0.2.0", "--by", by)
        assert result.code == 1 and "is the author of bot@0.2.0 and cannot approve it" in result.err
        assert "production" in result.err
    assert tree_state(protected.root) == before


def test_approval_by_someone_else_lets_the_promotion_through(protected: Store, pv) -> None:
    result = pv("approve", "bot@0.2.0", "--by", REVIEWER, "--note", "read the diff")
    assert result.code == 0 and f"{REVIEWER} approved bot@0.2.0 (event 3)" in result.out
    review = events(protected, "review")[-1]
    manifest = protected.manifest("bot", "0.2.0")
    parent = protected.manifest("bot", "0.1.0")
    assert (
        review["decision"] == "approved" and review["actor"] == REVIEWER and review["note"] == "read the diff"
    )
    assert review["new"] == {"version": "0.2.0", "digest": manifest.digest}
    assert review["old"] == {"version": "0.1.0", "digest": parent.digest}
    again = pv("approve", "bot@0.2.0", "--by", "rui@example.com")
    assert again.code == 1 and "already approved bot@0.2.0" in again.err
    before = tree_state(protected.root)
    result = pv("promote", "bot@0.2.0", "--to", "production", "--dry-run")
    assert result.code == 0 and result.out.startswith("(dry run) bot production: (none) -> 0.2.0")
    assert tree_state(protected.root) == before
    result = pv("promote", "bot@0.2.0", "--to", "production", "-m", "release 0.2", "--json")
    assert result.code == 0, result.err
    move = json.loads(result.out)
    assert move["action"] == "promote" and move["to"] == "0.2.0" and move["approvals"] == [3]
    assert move["policy"]["approvals"] == 1 and move["policy"]["declared_in"] == ["0.2.0"]
    assert protected.resolve("bot", "production").version == "0.2.0"
    listed = json.loads(pv("alias", "ls", "bot", "--json").out)
    assert [(r["alias"], r["protected"], r["reason"]) for r in listed] == [
        ("production", True, "release 0.2")
    ]
    # a protected alias cannot be removed; rollback needs no new approval
    result = pv("alias", "rm", "bot", "production")
    assert result.code == 1 and "protected" in result.err


def test_review_events_from_the_tui_count_by_digest(protected: Store, pv) -> None:
    manifest = protected.manifest("bot", "0.2.0")
    # the shape promptver/reviews.py writes from `promptver review`: the reviewed side may be
    # a working copy (version null) with the same content
    protected.append_event(
        "bot",
        {
            "event": "review",
            "decision": "approved",
            "actor": OTHER,
            "time": "2026-11-26T12:00:00Z",
            "bundle": "bot",
            "old": {"version": "0.1.0", "digest": protected.manifest("bot", "0.1.0").digest},
            "new": {"version": None, "digest": manifest.digest},
            "note": None,
        },
    )
    assert pv("promote", "bot@0.2.0", "--to", "production").code == 0


def test_a_rejection_withdraws_an_approval_and_blocks(protected: Store, pv) -> None:
    assert pv("approve", "bot@0.2.0", "--by", REVIEWER).code == 0
    assert pv("reject", "bot@0.2.0", "--by", REVIEWER, "--note", "refund answer is wrong").code == 0
    result = pv("promote", "bot@0.2.0", "--to", "production")
    assert result.code == 1
    assert f"{REVIEWER} requested changes" in result.err and "refund answer is wrong" in result.err
    assert "has 0" in result.err
    assert pv("approve", "bot@0.2.0", "--by", REVIEWER).code == 0
    assert pv("promote", "bot@0.2.0", "--to", "production").code == 0


def test_self_approval_is_allowed_when_the_policy_says_so(project: Path, store: Store, pv) -> None:
    set_policy(project, "\n[aliases.production]\napprovals = 1\napprover_not_author = false\n")
    new_version(store, project)
    assert pv("approve", "bot@0.1.0", "--by", AUTHOR).code == 0
    assert pv("promote", "bot@0.1.0", "--to", "production").code == 0


def test_eval_score_requirement(project: Path, store: Store, pv) -> None:
    set_policy(
        project, '\n[aliases.production]\napprovals = 0\nmin_eval_score = 0.9\neval_dataset = "golden"\n'
    )
    manifest = new_version(store, project)
    result = pv("promote", "bot@0.1.0", "--to", "production")
    assert result.code == 1
    assert (
        "an eval run on 'golden' scoring at least 0.9; there is no recorded complete run of bot@0.1.0"
        in result.err
    )
    assert "promptver eval bot@0.1.0" in result.err
    write_run(store, manifest, 0.95, status="interrupted", finished="2026-11-26T13:00:00Z")
    write_run(store, manifest, 0.5, run_id="20261126T110000Z-low", finished="2026-11-26T11:00:00Z")
    result = pv("promote", "bot@0.1.0", "--to", "production")
    assert (
        result.code == 1
        and "the latest recorded (20261126T110000Z-low, 2026-11-26T11:00:00Z) scored 0.500" in result.err
    )
    write_run(store, manifest, 0.93, run_id="20261126T140000Z-good", finished="2026-11-26T14:00:00Z")
    result = pv("promote", "bot@0.1.0", "--to", "production", "--json")
    assert result.code == 0 and json.loads(result.out)["eval_runs"] == ["20261126T140000Z-good"]


def test_only_recorded_unedited_runs_count(project: Path, store: Store, pv) -> None:
    set_policy(
        project, '\n[aliases.production]\napprovals = 0\nmin_eval_score = 0.9\neval_dataset = "golden"\n'
    )
    manifest = new_version(store, project)
    write_run(store, manifest, 0.95, run_id="20261126T100000Z-hand", recorded=False)
    result = pv("promote", "bot@0.1.0", "--to", "production")
    assert result.code == 1
    assert "no recorded complete run of bot@0.1.0" in result.err
    assert "run 20261126T100000Z-hand is not recorded in the audit log" in result.err
    low = write_run(store, manifest, 0.5, run_id="20261126T110000Z-low", finished="2026-11-26T11:00:00Z")
    # editing the score of a recorded run does not make it count
    run_json = store.root / "runs/bot" / low / "run.json"
    run_json.write_text(run_json.read_text().replace('"score": 0.5', '"score": 0.99'))
    result = pv("promote", "bot@0.1.0", "--to", "production")
    assert result.code == 1 and f"run {low} was edited after it was recorded" in result.err
    assert pv("verify").code == 1
    show = json.loads(pv("show", "bot@0.1.0", "--json").out)
    assert "latest_eval_run" not in show.get("deployment", {}) or not show["deployment"]["latest_eval_run"]
    good = write_run(store, manifest, 0.93, run_id="20261126T140000Z-good", finished="2026-11-26T14:00:00Z")
    cases = store.root / "runs/bot" / good / "cases.jsonl"
    cases.write_text(cases.read_text() + '{"id": "b", "pass": true}\n')
    result = pv("promote", "bot@0.1.0", "--to", "production")
    assert result.code == 1 and f"run {good} was edited after it was recorded" in result.err
    cases.write_text('{"id": "a", "pass": true}\n')  # restored byte for byte: it counts again
    result = pv("promote", "bot@0.1.0", "--to", "production", "--json")
    assert result.code == 0 and json.loads(result.out)["eval_runs"] == [good]


def test_show_alias_counts_only_recorded_runs(protected: Store, pv) -> None:
    manifest = protected.manifest("bot", "0.2.0")
    recorded = write_run(
        protected, manifest, 0.8, run_id="20261126T100000Z-rec", finished="2026-11-26T10:00:00Z"
    )
    write_run(protected, manifest, 0.99, run_id="20261126T150000Z-hand", recorded=False)
    assert pv("approve", "bot@0.2.0", "--by", REVIEWER).code == 0
    assert pv("promote", "bot@0.2.0", "--to", "production").code == 0
    d = json.loads(pv("show", "bot@production", "--json").out)["deployment"]
    assert d["latest_eval_run"]["id"] == recorded and d["evals"][0]["latest_run"]["id"] == recorded


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (
            '\n[aliases.production]\napprovals = 1\napprovers = ["ana@example.com"]\n',
            "1 approvals are required from ana@example.com, but only 0 of them may approve",
        ),
        (
            "\n[aliases.production]\napprovals = 0\nmin_eval_score = 0.8\n",
            "but bot@0.1.0 declares no eval dataset",
        ),
    ],
)
def test_a_policy_that_cannot_be_satisfied(
    project: Path, store: Store, pv, policy: str, message: str
) -> None:
    set_policy(project, policy)
    if "min_eval_score" in policy:  # drop the eval dataset from the bundle
        path = project / "bundles/bot/bundle.toml"
        text = path.read_text()
        start = text.index("[evals.golden]")
        path.write_text(text[:start] + text[text.index("[aliases.") :])
        (project / "bundles/bot/evals/golden.jsonl").unlink()
    new_version(store, project)
    before = tree_state(store.root)
    result = pv("promote", "bot@0.1.0", "--to", "production")
    assert result.code == 1 and "the policy of production cannot be satisfied for bot@0.1.0" in result.err
    assert message in result.err, result.err
    assert tree_state(store.root) == before


def test_a_version_cannot_drop_its_own_protection(protected: Store, project: Path, pv) -> None:
    assert pv("approve", "bot@0.1.0", "--by", REVIEWER).code == 0
    assert pv("promote", "bot@0.1.0", "--to", "production").code == 0
    set_policy(project, "")
    new_version(protected, project, text="no more review\n")  # 0.3.0 declares no policy
    result = pv("promote", "bot@0.3.0", "--to", "production")
    assert result.code == 1 and "1 approval by someone other than the author" in result.err
    assert pv("alias", "set", "bot", "production", "0.3.0").code == 1
    assert pv("approve", "bot@0.3.0", "--by", AUTHOR).code == 1  # production still forbids it
    assert pv("approve", "bot@0.3.0", "--by", REVIEWER).code == 0
    assert pv("promote", "bot@0.3.0", "--to", "production").code == 0
    # now 0.3.0 serves, and its (absent) policy applies from here on
    new_version(protected, project, text="unprotected\n")
    assert pv("alias", "set", "bot", "production", "0.4.0").code == 0


def test_rollback_of_a_protected_alias_needs_no_new_approval(protected: Store, pv) -> None:
    for version in ("0.1.0", "0.2.0"):
        assert pv("approve", f"bot@{version}", "--by", REVIEWER).code == 0
        assert pv("promote", f"bot@{version}", "--to", "production").code == 0
    result = pv("rollback", "bot", "production", "-m", "0.2.0 answers in French")
    assert result.code == 0 and protected.resolve("bot", "production").version == "0.1.0"


def test_show_alias_answers_the_five_questions(protected: Store, pv) -> None:
    manifest = protected.manifest("bot", "0.2.0")
    write_run(protected, manifest, 0.875, run_id="20261126T150000Z-abc123")
    assert pv("approve", "bot@0.2.0", "--by", REVIEWER, "--note", "ok").code == 0
    assert pv("promote", "bot@0.2.0", "--to", "production", "-m", "weekly release").code == 0
    details = json.loads(pv("show", "bot@production", "--json").out)
    d = details["deployment"]
    assert details["model"]["name"] == "gpt-4o-mini" and details["model"]["params"]["temperature"] == 0.2
    golden = d["evals"][0]
    assert golden["name"] == "golden" and golden["path"] == "evals/golden.jsonl"
    assert golden["digest"] == "sha256:" + manifest.file_map()["evals/golden.jsonl"].digest
    assert d["latest_eval_run"]["id"] == "20261126T150000Z-abc123" and d["latest_eval_run"]["score"] == 0.875
    assert d["git"] == {
        "commit": manifest.provenance.get("git_commit"),
        "dirty": manifest.provenance.get("git_dirty"),
        "repository": manifest.provenance.get("git_repository"),
    }
    assert d["moved"]["by"] == "Tess Tester <tess@example.com>" and d["moved"]["action"] == "promote"
    assert d["moved"]["reason"] == "weekly release" and d["log_agrees"]
    assert [(a["actor"], a["note"]) for a in d["approvals"]] == [(REVIEWER, "ok")]
    assert (
        d["policy"]["satisfied"]
        and d["policy"]["requirements"] == "1 approval by someone other than the author"
    )
    text = pv("show", "bot@production").out
    for expected in (
        "bot@production = 0.2.0",
        "openai/gpt-4o-mini (temperature=0.2, max_tokens=400)",
        "latest recorded run 20261126T150000Z-abc123 on golden by model:openai:gpt-4o-mini: score 0.875",
        "promote from (none)",
        "weekly release",
        f"{REVIEWER} ",
        "(met)",
    ):
        assert expected in text, (expected, text)


def _before_the_shipped_promotion(store: Path) -> None:
    """The shipped store as it was before support-bot@production (docs/examples.md): the
    model run, the approval and the promotion that end its log taken off again."""
    log = store / "bundles" / "support-bot" / "log.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    events = [json.loads(line) for line in lines]
    first = next(n for n, e in enumerate(events) if e["event"] == "eval" and e["target"].startswith("model:"))
    assert [e["event"] for e in events[first:]] == ["eval", "review", "alias"]
    log.write_bytes(b"".join(lines[:first]))
    (store / "bundles" / "support-bot" / "aliases.json").unlink()
    shutil.rmtree(store / "runs" / "support-bot" / events[first]["run"])


def test_the_example_store_through_aliases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pv) -> None:
    """The shipped support-bot history: staging and production, show, rollback, audit."""
    import shutil

    from tests.conftest import ROOT

    shutil.copytree(
        ROOT / ".promptver", tmp_path / ".promptver", ignore=shutil.ignore_patterns("cache", "locks", "tmp")
    )
    shutil.copytree(ROOT / "bundles", tmp_path / "bundles")
    _before_the_shipped_promotion(tmp_path / ".promptver")
    monkeypatch.chdir(tmp_path)
    versions = [m["version"] for m in json.loads(pv("log", "support-bot", "--json").out)][::-1]
    assert versions[-2:] == ["2.1.0", "2.2.0"]  # 2.1.0 is the first version that protects production
    authors = {"2.1.0": "Ana Ruiz <ana@example.com>", "2.2.0": "Marco Bianchi <marco@example.com>"}
    for protected, author in authors.items():
        result = pv("promote", f"support-bot@{protected}", "--to", "production")
        assert result.code == 1
        assert f"1 approval by someone other than the author ({author})" in result.err
        assert f"no recorded complete run of support-bot@{protected}" in result.err
    versions = versions[:-2]
    for version in versions[-3:]:
        assert (
            pv(
                "promote", f"support-bot@{version}", "--to", "production", "-m", f"ship {version}", "--create"
            ).code
            == 0  # these versions predate [aliases.production]: the first promotion makes it, on purpose
        )
    assert pv("alias", "set", "support-bot", "staging", "latest").code == 0
    assert pv("rollback", "support-bot", "production", "-m", "regression").code == 0
    details = json.loads(pv("show", "support-bot@production", "--json").out)
    d = details["deployment"]
    assert d["version"] == versions[-2] and d["moved"]["action"] == "rollback"
    assert d["corpus"]["path"] == "corpus" and d["corpus"]["files"] >= 20
    assert d["evals"][0]["name"] == "golden" and d["evals"][0]["digest"].startswith("sha256:")
    assert d["policy"] is None and d["approvals"] == []
    trail = json.loads(pv("audit", "support-bot", "--alias", "production", "--json").out)
    assert [e["action"] for e in trail["events"]] == ["promote", "promote", "promote", "rollback"]
    assert trail["chain_ok"] and pv("verify").code == 0
