"""Comparisons, gates, summaries and report formats from hand-made runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from promptver.errors import NotFoundError
from promptver.evals import Gate, compare_runs
from promptver.evals.analysis.report import render
from promptver.evals.analysis.summary import percentile, summarize
from promptver.evals.runs.storage import RunStore, StoredRun


def rec(case_id: str, passed: bool, score: float, repeat: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "id": case_id,
        "repeat": repeat,
        "pass": passed,
        "score": score,
        "latency_ms": extra.pop("latency_ms", 100.0),
        "asserts": [],
        "error": None,
        **extra,
    }


def stored(records: list[dict[str, Any]], run_id: str = "r1") -> StoredRun:
    meta = {
        "id": run_id,
        "bundle": "b",
        "version": "1.0.0",
        "digest": "sha256:x",
        "dataset": {"name": "golden"},
        "target": "model:openai:m",
        "status": "complete",
        "summary": summarize(records),
    }
    return StoredRun(Path("."), meta, records)


def test_compare_matches_by_id_over_repeats() -> None:
    base = stored(
        [
            rec("a", True, 1.0),
            rec("b", True, 1.0),
            rec("c", False, 0.5),
            rec("gone", True, 1.0),
            rec("d", True, 0.9),
            rec("d", True, 0.9, 1),
        ]
    )
    head = stored(
        [
            rec("a", True, 1.0),
            rec("b", False, 0.0),
            rec("c", False, 0.8),
            rec("new", True, 1.0),
            rec("d", True, 0.9),
            rec("d", False, 0.3, 1),
        ],
        "r2",
    )
    result = compare_runs(base, head)
    assert [c.id for c in result.regressed] == ["b", "d"]
    assert [c.id for c in result.improved] == ["c"]
    assert result.added == ["new"] and result.removed == ["gone"] and result.unchanged == 1
    assert result.deltas["score"] == pytest.approx(
        head.meta["summary"]["score"] - base.meta["summary"]["score"]
    )
    gate = Gate(fail_under=0.5, max_regressions=1, max_score_drop=0.01)
    reasons = gate.failures(head.meta["summary"], result)
    assert any("2 cases regressed" in r for r in reasons)
    assert any("score dropped" in r for r in reasons)
    assert Gate().failures(head.meta["summary"], result) == []


def test_summary_figures() -> None:
    records = [
        rec("a", True, 1.0, latency_ms=10.0, tokens={"input": 5, "output": 2}, cost=0.5, cached=True),
        rec("b", False, 0.0, latency_ms=30.0, tokens={"input": 1, "output": 1, "estimated": True}, cost=None),
        {**rec("c", False, 0.0), "error": "boom", "latency_ms": None},
    ]
    summary = summarize(records)
    assert summary["pass_rate"] == pytest.approx(1 / 3) and summary["errors"] == 1
    assert summary["latency_ms"] == {"p50": 10.0, "p95": 30.0}
    assert summary["tokens"] == {"input": 6, "output": 3, "estimated": True}
    assert summary["cost"] == 0.5 and summary["cost_complete"] is False
    assert summary["cached"] == 1
    assert percentile([], 50) is None and percentile([1, 2, 3, 4], 50) == 2


def test_report_formats() -> None:
    failing = rec(
        "b|x",
        False,
        0.0,
        output="nope",
        asserts=[{"type": "equals", "pass": False, "reason": "expected 'x'"}],
    )
    run = stored([rec("a", True, 1.0), failing, {**rec("c", False, 0.0), "error": "HTTP 500"}])
    text = render("text", run.meta, run.records)
    assert "FAIL  b|x: equals: expected 'x'" in text and "ERROR c: HTTP 500" in text
    data = json.loads(render("json", run.meta, run.records, None, []))
    assert data["gate"] == {"passed": True, "failures": []} and len(data["cases"]) == 3
    markdown = render("markdown", run.meta, run.records)
    assert "| `b|x` | equals: expected 'x' |".replace("b|x", "b|x") in markdown.replace("\\|", "|")
    suite = ET.fromstring(render("junit", run.meta, run.records).split("\n", 1)[1])
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")


def test_run_store_refuses_paths(tmp_path: Path) -> None:
    runs = RunStore(tmp_path)
    for bad in ("../x", "", "..", "a/b"):
        with pytest.raises(NotFoundError):
            runs.find(bad)


def test_report_wording_zero_changes_unknown_cost_and_requests() -> None:
    """No `-0 ms`, no `- (partial)`, no request count for targets that send none."""
    from promptver.evals.analysis.report import _signed, summary_lines

    assert _signed(-0.3, " ms", digits=0) == "0 ms" and _signed(0.0004) == "0.000"
    assert _signed(-1.6, " ms", digits=0) == "-2 ms" and _signed(0.015, " pt", 100, 1) == "+1.5 pt"
    summary = {
        "cases": 2,
        "passed": 2,
        "pass_rate": 1.0,
        "score": 1.0,
        "requests": 0,
        "cost": None,
        "cost_complete": False,
        "latency_ms": {"p50": 1.0, "p95": 2.0},
    }
    meta = {
        "id": "r1",
        "bundle": "b",
        "version": "1.0.0",
        "dataset": {"name": "golden"},
        "target": "python:m:f",
        "status": "complete",
        "summary": summary,
    }
    text = "\n".join(summary_lines(meta))
    assert "cost -" in text and "(partial" not in text and "requests" not in text
    model = "\n".join(summary_lines({**meta, "target": "model"}))
    assert "requests 0" in model
    priced = "\n".join(summary_lines({**meta, "summary": {**summary, "cost": 0.5}}))
    assert "cost $0.5000 (partial: some cases have no price)" in priced
