"""The summary of a run's case records: pass rate, score, latency percentiles, tokens, cost."""

from __future__ import annotations

import math
from typing import Any


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of a list, or None when it is empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any]
    count = len(records)
    passed = sum(1 for r in records if r.get("pass"))
    errors = sum(1 for r in records if r.get("error"))
    latencies = [
        float(r["latency_ms"]) for r in records if r.get("latency_ms") is not None and not r.get("error")
    ]
    tokens_in = tokens_out = 0
    estimated = False
    for r in records:
        tokens = r.get("tokens")
        if tokens:
            tokens_in += int(tokens.get("input", 0))
            tokens_out += int(tokens.get("output", 0))
            estimated = estimated or bool(tokens.get("estimated"))
    costs = [r.get("cost") for r in records if not r.get("error")]
    known = [float(c) for c in costs if c is not None]
    from promptver.evals.retrieval.ragmetrics import run_metrics

    summary = {
        "cases": count,
        "passed": passed,
        "failed": count - passed,
        "errors": errors,
        "pass_rate": passed / count if count else 0.0,
        "score": sum(float(r.get("score", 0.0)) for r in records) / count if count else 0.0,
        "latency_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)},
        "tokens": {"input": tokens_in, "output": tokens_out, "estimated": estimated},
        "cost": sum(known) if known else None,
        "cost_complete": len(known) == len(costs),
        "cached": sum(1 for r in records if r.get("cached")),
        "requests": sum(int(r.get("attempts", 0)) for r in records),
    }
    retrieval = run_metrics(records)
    if retrieval is not None:
        summary["retrieval"] = retrieval
    from promptver.evals.retrieval.ragjudge import run_metrics as judged_metrics

    if (judged := judged_metrics(records)) is not None:
        summary["rag_judged"] = judged
    return summary
