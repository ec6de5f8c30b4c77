"""Issue 12: signed decisions (OpenSSH `ssh-keygen -Y`), eval evidence that names its
target, and approvals of working copies. Keys are throw-away, made in a temporary folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from promptver.governance.approvals import Reviewed, record_review
from promptver.store.store import Store
from tests.alias_support import AUTHOR, OTHER, REVIEWER, new_version, set_policy, write_run
from tests.signing_support import make_key

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH's ssh-keygen")


@pytest.fixture
def keys(tmp_path: Path, store: Store) -> dict[str, Path]:
    """Keys for the reviewer, another person and a stranger; the first two are allowed."""
    folder = tmp_path / "keys"
    rui, rui_pub = make_key(folder, "rui")
    olga, olga_pub = make_key(folder, "olga")
    stranger, _ = make_key(folder, "stranger")
    ana, ana_pub = make_key(folder, "ana")
    (store.root / "allowed_signers").write_text(
        f"rui@example.com {rui_pub}\nolga@example.com {olga_pub}\nana@example.com {ana_pub}\n"
    )
    return {"rui": rui, "olga": olga, "stranger": stranger, "ana": ana}


SIGNED_POLICY = """
[aliases.production]
approvals = 1
require_signed = true
"""


def test_only_signed_approvals_count_where_required(
    project: Path, store: Store, pv, keys: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack: approve as someone else with a free-text --by (or PROMPTVER_USER)."""
    set_policy(project, SIGNED_POLICY)
    new_version(store, project, key=keys["ana"])  # the author is a signed identity
    assert pv("approve", "bot@0.1.0", "--by", REVIEWER).code == 0  # forged: no key
    result = pv("promote", "bot@0.1.0", "--to", "production")
    assert result.code == 1
    assert "Rui Reviewer <rui@example.com>, unsigned (the policy requires signed decisions)" in result.err
    # signed, but with a key that is not allowed
    monkeypatch.setenv("PROMPTVER_USER", OTHER)
    assert pv("approve", "bot@0.1.0", "--key", str(keys["stranger"])).code == 0
    result = pv("promote", "bot@0.1.0", "--to", "production")
    assert result.code == 1 and "not in the allowed-signers file" in result.err
    result = pv("verify")  # not an edit: the decision simply does not count
    assert result.code == 0 and "signature not accepted: signed by a key that is not in" in result.out
    # signed by an allowed key that belongs to someone else than the named actor
    monkeypatch.setenv("PROMPTVER_USER", REVIEWER)
    assert pv("reject", "bot@0.1.0").code == 0  # reset Rui's unsigned approval
    assert pv("approve", "bot@0.1.0", "--key", str(keys["olga"])).code == 0
    result = pv("promote", "bot@0.1.0", "--to", "production")
    assert result.code == 1 and "signed by olga@example.com, but the event names Rui" in result.err
    # the real thing; the key may also come from the environment
    monkeypatch.setenv("PROMPTVER_SIGNING_KEY", str(keys["rui"]))
    assert pv("reject", "bot@0.1.0").code == 0
    result = pv("approve", "bot@0.1.0")
    assert result.code == 0 and "signed" in result.out
    result = pv("promote", "bot@0.1.0", "--to", "production", "--dry-run")
    assert result.code == 0, result.err
    assert "signed by rui@example.com" in result.out
    monkeypatch.delenv("PROMPTVER_SIGNING_KEY")
    result = pv("promote", "bot@0.1.0", "--to", "production", "--key", str(keys["rui"]))
    assert result.code == 0 and "signed" in result.out
    show = pv("show", "bot@production")
    assert "signed by rui@example.com" in show.out
    audit = pv("audit", "bot", "--json")
    signed = [e for e in json.loads(audit.out)["events"] if e.get("signed_by")]
    assert [e["event"] for e in signed] == ["bump", "review", "review", "alias"]  # reject, approve, promote


def test_an_edited_signed_event_is_caught(project: Path, store: Store, pv, keys: dict[str, Path]) -> None:
    """Attack: a well-formed review event appended by hand (right seq and prev) with a
    signature copied from another decision."""
    set_policy(project, SIGNED_POLICY)
    new_version(store, project)
    second = new_version(store, project)
    assert pv("approve", "bot@0.1.0", "--by", REVIEWER, "--key", str(keys["rui"])).code == 0
    result = pv("verify")
    assert result.code == 0 and "signed by rui@example.com" in result.out
    signed = [e for e in store.events("bot") if e.get("event") == "review"][-1]
    forged = {k: v for k, v in signed.items() if k not in ("seq", "prev")}
    forged["new"] = {"version": "0.2.0", "digest": second.digest}
    store.append_event("bot", forged)
    result = pv("verify")
    assert result.code == 1 and "the same signature as event 3: the line was replayed" in result.out
    result = pv("promote", "bot@0.2.0", "--to", "production")
    assert result.code == 1 and "the audit trail of bot does not verify" in result.err
    # the signed approval itself edited in place (its line made the last again: the chain holds)
    log = store.log_path("bot")
    lines = log.read_bytes().splitlines()[:3]
    event = json.loads(lines[-1])
    event["note"] = "ship it"
    lines[-1] = json.dumps(event, sort_keys=True, ensure_ascii=False).encode()
    log.write_bytes(b"\n".join(lines) + b"\n")
    result = pv("verify")
    assert result.code == 1 and "does not verify (the event was edited after signing)" in result.out
    result = pv("promote", "bot@0.1.0", "--to", "production")
    assert result.code == 1 and "edited after signing" in result.err


def test_eval_evidence_names_its_target(project: Path, store: Store, pv) -> None:
    """Attack: a stub `python:` target that always answers right scored 1.0 and satisfied
    min_eval_score; a run whose every case errored counted as complete."""
    set_policy(
        project,
        '\n[aliases.production]\napprovals = 0\neval = { dataset = "golden", min_score = 0.9 }\n',
    )
    manifest = new_version(store, project)
    write_run(store, manifest, 1.0, run_id="20261126T100000Z-stub", target="python:echo:run")
    result = pv("promote", "bot@0.1.0", "--to", "production")
    assert result.code == 1
    assert (
        "run 20261126T100000Z-stub evaluated python:echo:run, not the version's model"
        " (model:openai:gpt-4o-mini)" in result.err
    )
    write_run(
        store, manifest, 0.95, run_id="20261126T110000Z-errs", errors=2, finished="2026-11-26T13:00:00Z"
    )
    result = pv("promote", "bot@0.1.0", "--to", "production")
    assert result.code == 1 and "2 of 2 cases errored (none may)" in result.err
    good = write_run(store, manifest, 0.95, run_id="20261126T120000Z-good", finished="2026-11-26T12:00:00Z")
    result = pv("promote", "bot@0.1.0", "--to", "production", "--dry-run")
    assert result.code == 0, result.err
    assert (
        f"eval: run {good} on golden by model:openai:gpt-4o-mini: score 0.950, 2/2 passed, 0 errored,"
        " cost $0.0012" in result.out
    )
    assert pv("promote", "bot@0.1.0", "--to", "production").code == 0
    show = pv("show", "bot@production")
    assert f"run {good} on golden by model:openai:gpt-4o-mini" in show.out and "0 errored" in show.out
    # a python: target counts only where the policy names it exactly
    set_policy(
        project,
        '\n[aliases.production]\napprovals = 0\neval = { dataset = "golden", target = "python:echo:run",'
        " min_score = 0.9 }\n",
    )
    assert pv("check", "bot").code == 0


def test_check_validates_the_eval_table(project: Path, pv) -> None:
    set_policy(
        project,
        '\n[aliases.production]\neval = { dataset = "silver", target = "model", min_score = 0.9 }\n',
    )
    result = pv("check", "bot")
    assert result.code == 1
    assert "aliases.production.eval.dataset names no [evals.silver] table" in result.out
    set_policy(project, '\n[aliases.production]\neval = { target = "echo", min_score = 0.9 }\n')
    result = pv("check", "bot")
    assert result.code == 1 and "'model', 'retrieval' or 'python:module:function'" in result.out


def test_working_copy_approval_by_its_author_does_not_count(project: Path, store: Store, pv) -> None:
    """Attack: the author approves their own working copy in the review UI, then bumps it;
    on old main the approval was listed and counted."""
    from promptver.versions.bump import bump

    # even where the author's approval of a stored version would count
    set_policy(project, "\n[aliases.production]\napprovals = 1\napprover_not_author = false\n")
    base = new_version(store, project)
    (project / "bundles/bot/prompts/system.j2").write_text("new wording\n")
    digest = store.work_tree("bot").digest
    old = Reviewed(base.version, base.digest)
    record_review(store, "bot", "approved", AUTHOR, old, Reviewed(None, digest))
    manifest = bump(store, "bot", "minor", author=AUTHOR).manifest
    assert manifest.digest == digest
    result = pv("promote", "bot@0.2.0", "--to", "production")
    assert result.code == 1 and "the author, approving their own working copy" in result.err
    record_review(store, "bot", "approved", REVIEWER, old, Reviewed(None, digest))
    result = pv("promote", "bot@0.2.0", "--to", "production", "--dry-run")
    assert result.code == 0 and "approved before bump" in result.out


def test_review_eval_pane_names_target_errors_cost_and_evidence(project: Path, store: Store) -> None:
    from promptver.evals.runs.storage import RunStore
    from promptver.tui.results import about

    manifest = new_version(store, project)
    good = write_run(store, manifest, 0.9, run_id="20261126T120000Z-good")
    loose = write_run(store, manifest, 0.9, run_id="20261126T130000Z-loose", recorded=False, errors=1)
    runs = RunStore(store.root / "runs")
    assert about(store, "bot", runs.load(good)) == (
        "model:openai:gpt-4o-mini on golden, 0 errored, cost $0.0012; recorded"
    )
    assert about(store, "bot", runs.load(loose)).endswith(
        "1 errored, cost $0.0012; not evidence: run 20261126T130000Z-loose is not recorded in the audit log"
    )
