"""A run's records stay on disk: the writer keeps summary fields, a saved run reads lazily."""

from __future__ import annotations

import json
from pathlib import Path

from promptver.evals.runs.storage import RecordsOnDisk, RunStore, read_run
from tests.evals.conftest import openai_model, write_bundle
from tests.evals.test_evals_runner import run
from tests.fakeserver import FakeLLMServer


def test_records_on_disk_read_in_dataset_order(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    lines = [{"id": f"c{i}", "index": i, "repeat": r, "output": "x" * 50} for r in (1, 0) for i in (2, 0, 1)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"id": "torn", "ind')
    records = RecordsOnDisk(path)
    assert len(records) == 6
    assert [(r["repeat"], r["index"]) for r in records] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert records[4]["id"] == "c1" and [r["id"] for r in records[1:3]] == ["c1", "c2"]
    assert RecordsOnDisk(tmp_path / "missing.jsonl").__len__() == 0


def test_a_saved_run_keeps_summaries_in_memory_and_records_on_disk(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str]
) -> None:
    cases = [{"id": f"c{i}", "vars": {"question": f"q{i}"}} for i in range(5)]
    folder = write_bundle(tmp_path, cases, model=openai_model(llm_server))
    seen: list[dict] = []  # type: ignore[type-arg]
    result = run(folder, save=True, on_record=lambda record, done, total: seen.append(record))
    assert isinstance(result.records, RecordsOnDisk) and len(result.records) == 5
    assert result.records[0]["messages"] and result.records[0]["output"] == "echo: Q: q0"
    assert all("messages" in r for r in seen), "progress callbacks get the whole record"
    writer = RunStore(tmp_path / ".promptver" / "runs").reopen(result.id)
    assert set(writer.records[0]) <= {
        "id",
        "repeat",
        "pass",
        "score",
        "error",
        "latency_ms",
        "tokens",
        "cost",
        "cached",
        "attempts",
        "retrieval",
    }
    assert read_run(result.path).records == list(result.records)
