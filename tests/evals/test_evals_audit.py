"""Eval runs in the audit log: the ``eval`` event, verify, resume, working copies."""

from __future__ import annotations

import hashlib
import json
import signal
from pathlib import Path
from typing import Any

import pytest

from promptver.evals import EvalOptions, RunInterrupted, evaluate
from promptver.evals.source import open_bundle
from promptver.governance.audit import audit, summary
from promptver.governance.verify import verify_store
from promptver.store.store import Store
from promptver.versions.bump import bump
from tests.evals.conftest import openai_model, write_bundle
from tests.fakeserver import FakeLLMServer

CASES = [
    {"id": "fr", "vars": {"question": "capital of France"}, "expected": "Paris"},
    {"id": "jp", "vars": {"question": "capital of Japan"}, "expected": "Tokyo"},
]
DEFAULT = 'assert = [{ type = "icontains", value = "{{ expected }}" }]'


@pytest.fixture
def store(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Store:
    """demo@0.1.0 stored; its working copy unchanged."""
    monkeypatch.setenv("PROMPTVER_USER", "Eve Evaluator <eve@example.com>")
    llm_server.add(match="France", reply="Paris")
    llm_server.add(match="Japan", reply="Osaka")
    write_bundle(tmp_path, CASES, model=openai_model(llm_server), dataset_extra=DEFAULT)
    store = Store(tmp_path / ".promptver")
    bump(store, "demo", "minor")
    return store


def run(store: Store, ref: str, **options: Any) -> Any:
    kwargs = {k: options.pop(k) for k in ("save", "resume", "on_record") if k in options}
    return evaluate(open_bundle(ref, store), EvalOptions(**options), store_root=store.root, **kwargs)


def eval_events(store: Store) -> list[dict[str, Any]]:
    return [e for e in store.events("demo") if e["event"] == "eval"]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_completed_run_is_recorded_with_its_file_hashes(store: Store) -> None:
    result = run(store, "demo@0.1.0")
    [event] = eval_events(store)
    assert event["run"] == result.id and event["version"] == "0.1.0"
    assert event["digest"] == result.meta["digest"] and event["bundle"] == "demo"
    assert event["dataset"] == "golden" and event["dataset_digest"] == result.meta["dataset"]["digest"]
    assert event["target"] == result.meta["target"] and event["actor"] == "Eve Evaluator <eve@example.com>"
    assert event["score"] == pytest.approx(0.5) and event["pass_rate"] == pytest.approx(0.5)
    assert event["run_sha256"] == sha(result.path / "run.json")
    assert event["cases_sha256"] == sha(result.path / "cases.jsonl")
    assert event["seq"] == 2 and event["prev"] is not None  # chained after the bump
    report = verify_store(store)
    assert report.ok, report.problems
    trail = audit(store, "demo", kinds=("eval",))
    assert [e["run"] for e in trail.events] == [result.id] and not trail.chain_problems
    assert summary(event) == (
        f"eval 0.1.0 on golden (model:openai:gpt-4o-mini): score 0.500, 50% passed, run {result.id}"
    )


@pytest.mark.parametrize("name", ["run.json", "cases.jsonl"])
def test_an_edited_run_is_caught_by_verify(store: Store, name: str) -> None:
    result = run(store, "demo@0.1.0")
    path = result.path / name
    if name == "run.json":
        meta = json.loads(path.read_text())
        meta["summary"]["score"] = 1.0
        path.write_text(json.dumps(meta, indent=2) + "\n")
    else:
        path.write_text(path.read_text().replace('"Osaka"', '"Tokyo"'))
    report = verify_store(store)
    assert report.problems == [f"demo: run {result.id} was edited after it was recorded ({name} differ)"]
    assert audit(store, "demo").chain_problems == report.problems


def test_a_removed_run_is_reported_missing(store: Store) -> None:
    import shutil

    result = run(store, "demo@0.1.0")
    shutil.rmtree(result.path)
    [problem] = verify_store(store).problems
    assert f"run {result.id} recorded in the audit log is missing" in problem


def test_unrecorded_runs_are_no_verify_error(store: Store) -> None:
    run(store, "demo")  # the working copy, saved: no event
    assert run(store, "demo", save=True).meta["status"] == "complete"
    assert eval_events(store) == [] and verify_store(store).ok


def test_a_resumed_run_is_recorded_once_when_it_completes(store: Store, llm_server: FakeLLMServer) -> None:
    llm_server.latency = 0.02
    cases = [{"id": f"c{i}", "vars": {"question": f"q{i}"}} for i in range(6)]
    folder = store.bundles_dir / "demo"
    (folder / "evals" / "golden.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases))
    bump(store, "demo", "minor")

    def ctrl_c_after_two(record: dict[str, Any], done: int, total: int) -> None:
        if done == 2:
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(RunInterrupted) as info:
        run(store, "demo@0.2.0", concurrency=1, on_record=ctrl_c_after_two)
    assert eval_events(store) == []  # interrupted: not evidence yet
    resumed = run(store, "demo@0.2.0", resume=info.value.run_id, concurrency=2)
    [event] = eval_events(store)
    assert event["run"] == resumed.id and event["version"] == "0.2.0"
    assert event["run_sha256"] == sha(resumed.path / "run.json")
    assert event["cases_sha256"] == sha(resumed.path / "cases.jsonl")
    assert verify_store(store).ok


def test_audit_cli_filters_and_shows_eval_events(
    store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.evals.test_evals_cli import cli

    monkeypatch.chdir(store.project_root)
    result = run(store, "demo@0.1.0")
    code, out, _ = cli(capsys, "audit", "demo", "--event", "eval")
    assert code == 0 and "eval 0.1.0 on golden" in out and "bump" not in out
    assert "1 of 2 events; hash chain intact" in out
    code, out, _ = cli(capsys, "audit", "demo", "--event", "eval", "--json")
    assert code == 0 and [e["run"] for e in json.loads(out)["events"]] == [result.id]
