"""End-to-end runs against the fake server: storage, cache, errors, targets, resume."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from promptver.errors import ConfigError, PromptverError
from promptver.evals import EvalOptions, RunInterrupted, evaluate
from promptver.evals.execution.bundle import folder_view
from promptver.evals.runs.storage import RunStore, read_run
from tests.evals.conftest import openai_model, write_bundle
from tests.fakeserver import FakeLLMServer

CAPITALS = [
    {"id": "fr", "vars": {"question": "capital of France"}, "expected": "Paris", "tags": ["europe"]},
    {"id": "jp", "vars": {"question": "capital of Japan"}, "expected": "Tokyo", "tags": ["asia"]},
    {"id": "it", "vars": {"question": "capital of Italy"}, "expected": "Rome", "tags": ["europe"]},
]
DEFAULT = 'assert = [{ type = "icontains", value = "{{ expected }}" }]'


def scripted(server: FakeLLMServer) -> None:
    server.add(match="France", reply="Paris")
    server.add(match="Japan", reply="Tokyo")
    server.add(match="Italy", reply="Milan")


def project(
    tmp_path: Path, server: FakeLLMServer, cases: list[dict[str, Any]] = CAPITALS, **kwargs: Any
) -> Path:
    kwargs.setdefault("model", openai_model(server))
    kwargs.setdefault("dataset_extra", DEFAULT)
    return write_bundle(tmp_path, cases, **kwargs)


def run(folder: Path, **options: Any) -> Any:
    kwargs = {k: options.pop(k) for k in ("save", "resume", "on_record", "env") if k in options}
    return evaluate(
        folder_view(folder), EvalOptions(**options), store_root=folder.parent.parent / ".promptver", **kwargs
    )


def test_run_is_scored_and_stored(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str]
) -> None:
    scripted(llm_server)
    folder = project(tmp_path, llm_server)
    result = run(folder)
    meta = result.meta
    assert meta["status"] == "complete" and meta["bundle"] == "demo"
    assert meta["digest"].startswith("sha256:") and meta["dataset"]["digest"].startswith("sha256:")
    assert meta["target"] == "model:openai:gpt-4o-mini"
    summary = meta["summary"]
    assert (summary["cases"], summary["passed"], summary["failed"]) == (3, 2, 1)
    assert summary["score"] == pytest.approx(2 / 3)
    assert summary["latency_ms"]["p50"] is not None and summary["cost"] > 0
    record = {r["id"]: r for r in result.records}["it"]
    assert record["output"] == "Milan" and not record["pass"]
    assert record["messages"][0] == {"role": "system", "content": "You are a terse assistant."}
    assert record["messages"][1]["content"] == "Q: capital of Italy"
    assert record["asserts"][0]["reason"] == "output lacks 'Rome'"
    assert record["tokens"] == {"input": 4, "output": 1, "estimated": False}
    stored = read_run(result.path)
    assert stored.meta == meta and len(stored.records) == 3
    for path in tmp_path.rglob("*"):
        if path.is_file() and ".promptver" in path.parts:
            text = path.read_text()
            assert all(key not in text for key in api_keys.values()), path


def test_cache_answers_identical_requests(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str]
) -> None:
    scripted(llm_server)
    folder = project(tmp_path, llm_server)
    first = run(folder)
    assert llm_server.count() == 3 and first.meta["summary"]["requests"] == 3
    second = run(folder)
    assert llm_server.count() == 3, "an unchanged re-run must not call the API"
    assert second.meta["summary"]["cached"] == 3 and second.meta["summary"]["requests"] == 0
    assert second.meta["summary"]["score"] == first.meta["summary"]["score"]
    run(folder, cache=False)
    assert llm_server.count() == 6
    (folder / "prompts" / "answer.j2").write_text("Question: {{ question }}")
    run(folder)
    assert llm_server.count() == 9, "changed messages are a cache miss"


def test_case_errors_are_recorded_and_never_abort(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str]
) -> None:
    llm_server.add(match="five hundred", status=500)
    llm_server.add(match="broken", malformed=True)
    llm_server.add(match="stall", stall=1.0)
    cases = [
        {"id": "ok", "vars": {"question": "fine"}},
        {"id": "e500", "vars": {"question": "five hundred"}},
        {"id": "json", "vars": {"question": "broken"}},
        {"id": "timeout", "vars": {"question": "stall"}},
    ]
    folder = project(tmp_path, llm_server, cases, dataset_extra="")
    result = run(folder, retries=1, timeout=0.3)
    by_id = {r["id"]: r for r in result.records}
    assert result.meta["status"] == "complete"
    assert result.meta["summary"]["errors"] == 3 and by_id["ok"]["pass"]
    assert "HTTP 500" in by_id["e500"]["error"] and by_id["e500"]["attempts"] == 2
    assert "malformed JSON" in by_id["json"]["error"]
    assert "timed out" in by_id["timeout"]["error"]
    assert all(not r["pass"] and r["score"] == 0.0 for i, r in by_id.items() if i != "ok")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": '[model]\nprovider = "mystery"\nname = "m"\n'}, "unknown provider"),
        ({"env": {}}, "OPENAI_API_KEY"),
        ({"cases": [{"id": "a", "vars": {}, "template": "nope"}]}, "unknown template 'nope'"),
        # a case without a variable its template needs: the bundle is invalid (as `check` says)
        ({"cases": [{"id": "a", "vars": {"other": 1}}]}, "case 'a': template 'answer' needs question"),
        ({"dataset_extra": 'assert = [{ type = "equal", value = "x" }]'}, "did you mean"),
        ({"dataset_extra": 'assert = [{ type = "llm-judge", value = "x" }]'}, "grader"),
        ({"options": {"dataset": "silver"}}, "no eval dataset 'silver'"),
        ({"options": {"target": "python:no_such_mod_q:f"}}, "cannot import"),
        ({"options": {"target": "shell"}}, "unknown target"),
        ({"options": {"concurrency": 0}}, "concurrency"),
        ({"cases_raw": '{"id": "a", "vars": {}}\nnot json\n'}, "golden.jsonl:2"),
    ],
)
def test_configuration_errors_stop_before_any_call(
    tmp_path: Path,
    llm_server: FakeLLMServer,
    api_keys: dict[str, str],
    change: dict[str, Any],
    message: str,
) -> None:
    cases = change.get("cases", CAPITALS)
    kwargs = {k: change[k] for k in ("model", "dataset_extra") if k in change}
    folder = project(tmp_path, llm_server, cases, **kwargs)
    if "cases_raw" in change:
        (folder / "evals" / "golden.jsonl").write_text(change["cases_raw"])
    options = dict(change.get("options", {}))
    if "env" in change:
        options["env"] = change["env"]
    with pytest.raises(PromptverError) as info:
        run(folder, **options)
    assert message in str(info.value)
    assert llm_server.count() == 0
    assert not any((tmp_path / ".promptver" / "runs").iterdir())


def test_tokens_estimated_and_cost_from_config(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str]
) -> None:
    llm_server.add(match="", reply="Paris is the capital of France.", usage=False)
    folder = project(tmp_path, llm_server, CAPITALS[:1], model=openai_model(llm_server, name="house-model"))
    (tmp_path / ".promptver" / "config.toml").write_text(
        '[evals.prices]\n"house-model" = { input = 1000.0, output = 2000.0 }\n'
    )
    record = run(folder).records[0]
    tokens = record["tokens"]
    assert tokens["estimated"] and tokens["input"] > 4 and tokens["output"] == 7
    assert record["cost"] == pytest.approx((tokens["input"] * 1000 + 7 * 2000) / 1e6)
    (tmp_path / ".promptver" / "config.toml").write_text('[evals.prices]\n"x" = 3\n')
    with pytest.raises(ConfigError, match="input"):
        run(folder)


def test_python_targets(tmp_path: Path, llm_server: FakeLLMServer) -> None:
    cases = [
        {"id": "a", "vars": {"question": "why"}, "expected": "Q: WHY"},
        {"id": "boom", "vars": {"question": "x"}, "expected": "?"},
    ]
    folder = project(
        tmp_path, llm_server, cases, dataset_extra='assert = [{ type = "equals", value = "{{ expected }}" }]'
    )
    sync = run(folder, target="python:evals_scorers:echo_target")
    assert {r["id"]: r["pass"] for r in sync.records} == {"a": True, "boom": False}
    assert sync.meta["target"] == "python:evals_scorers:echo_target"
    rich = run(folder, target="python:evals_scorers:rich_target", limit=1)
    record = rich.records[0]
    assert json.loads(record["output"]) == {"answer": "why"}
    assert record["tokens"] == {"input": 10, "output": 5, "estimated": False}
    assert record["sources"] == ["faq.md"]
    seen = json.loads(
        run(folder, target="python:evals_scorers:introspect_target", limit=1).records[0]["output"]
    )
    assert seen == {
        "templates": ["answer"],
        "variables": ["question"],
        "has_dataset": True,
        "model": "gpt-4o-mini",
        "version": None,
        "digest": "sha256:",
        "rag": None,
    }
    failing = run(folder, target="python:evals_scorers:failing_target")
    errors = {r["id"]: r["error"] for r in failing.records}
    assert errors == {"a": None, "boom": "application crashed"}
    assert llm_server.count() == 0


def test_filter_limit_repeat(tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str]) -> None:
    scripted(llm_server)
    folder = project(tmp_path, llm_server)
    europe = run(folder, tags=["europe"], cache=False)
    assert sorted(r["id"] for r in europe.records) == ["fr", "it"]
    assert len(run(folder, limit=1).records) == 1
    before = llm_server.count()
    repeated = run(folder, repeat=2)
    assert sorted((r["id"], r["repeat"]) for r in repeated.records) == [
        ("fr", 0),
        ("fr", 1),
        ("it", 0),
        ("it", 1),
        ("jp", 0),
        ("jp", 1),
    ]
    # repeat 0 of "fr" was cached by the --limit 1 run; every repeat 1 is a new sample
    assert llm_server.count() - before == 2 + 3
    again = run(folder, repeat=2)
    assert again.meta["summary"]["cached"] == 6 and llm_server.count() - before == 5


def test_concurrency_and_rate_limit(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str]
) -> None:
    llm_server.latency = 0.2
    cases = [{"id": f"c{i}", "vars": {"question": str(i)}} for i in range(10)]
    folder = project(tmp_path, llm_server, cases, dataset_extra="")
    start = time.perf_counter()
    run(folder, concurrency=10, cache=False)
    assert time.perf_counter() - start < 1.0, "10 cases of 200 ms at concurrency 10"
    llm_server.latency = 0.0
    start = time.perf_counter()
    run(folder, concurrency=10, cache=False, rate_limit=1200)  # one start every 50 ms
    assert time.perf_counter() - start >= 0.45


def test_interrupted_run_resumes(tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str]) -> None:
    llm_server.latency = 0.02
    cases = [{"id": f"c{i}", "vars": {"question": f"q{i}"}} for i in range(8)]
    folder = project(tmp_path, llm_server, cases, dataset_extra="")

    def ctrl_c_after_three(record: dict[str, Any], done: int, total: int) -> None:
        if done == 3:
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(RunInterrupted) as info:
        run(folder, concurrency=1, on_record=ctrl_c_after_three)
    run_id = info.value.run_id
    assert f"--resume {run_id}" in str(info.value)
    kept = RunStore(tmp_path / ".promptver" / "runs").load(run_id)
    assert kept.meta["status"] == "interrupted" and 3 <= len(kept.records) < 8
    before = llm_server.count()
    resumed = run(folder, resume=run_id, concurrency=4)
    assert resumed.id == run_id and resumed.meta["status"] == "complete"
    assert sorted(r["id"] for r in resumed.records) == sorted(c["id"] for c in cases)
    assert llm_server.count() - before == 8 - len(kept.records)
    with pytest.raises(ConfigError, match="already complete"):
        run(folder, resume=run_id)


def test_resume_refuses_changed_dataset_and_drops_torn_line(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str]
) -> None:
    folder = project(tmp_path, llm_server, CAPITALS, dataset_extra="")
    done = run(folder)
    lines = (done.path / "cases.jsonl").read_text().splitlines(keepends=True)
    (done.path / "cases.jsonl").write_text("".join(lines[:2]) + lines[2][:15])
    meta = json.loads((done.path / "run.json").read_text())
    meta["status"] = "interrupted"
    (done.path / "run.json").write_text(json.dumps(meta))
    assert len(read_run(done.path).records) == 2
    resumed = run(folder, resume=done.id)
    assert len(resumed.records) == 3 and resumed.meta["status"] == "complete"
    meta["status"] = "interrupted"
    (done.path / "run.json").write_text(json.dumps(meta))
    (folder / "evals" / "golden.jsonl").write_text(json.dumps(CAPITALS[0]) + "\n")
    with pytest.raises(ConfigError, match="dataset changed"):
        run(folder, resume=done.id)


def test_unsaved_run_leaves_no_trace(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str]
) -> None:
    folder = project(tmp_path, llm_server)
    result = run(folder, save=False)
    assert result.meta["summary"]["cases"] == 3
    assert not any((tmp_path / ".promptver" / "runs").iterdir())
