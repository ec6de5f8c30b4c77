"""Eval results of the two reviewed versions, from the store's runs (Textual-free).

A run belongs to a version by digest; for each eval dataset the newest complete run of
each side is compared case by case (``promptver.evals.compare``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from promptver.tui.model import CaseOutcome, EvalHistory, EvalsBody, MetricRow, Side

if TYPE_CHECKING:
    from promptver.evals.storage import StoredRun
    from promptver.store.store import Store

# (label, path in the run summary, higher is better)
METRICS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("pass rate", ("pass_rate",), True),
    ("score", ("score",), True),
    ("cases", ("cases",), True),
    ("errors", ("errors",), False),
    ("latency p50 ms", ("latency_ms", "p50"), False),
    ("latency p95 ms", ("latency_ms", "p95"), False),
    ("tokens in", ("tokens", "input"), False),
    ("tokens out", ("tokens", "output"), False),
    ("cost", ("cost",), False),
)


def eval_results(
    store: Store, bundle: str, old: Side, new: Side, datasets: list[str]
) -> dict[str, EvalsBody]:
    """Per dataset: the comparison of the newest complete runs of both sides, or why not."""
    from promptver.evals.compare import compare_runs
    from promptver.evals.storage import RunStore

    runs = RunStore(store.root / "runs")
    out: dict[str, EvalsBody] = {}
    for dataset in datasets:
        base = runs.latest(bundle, digest=old.digest, dataset=dataset) if old.digest else None
        head = runs.latest(bundle, digest=new.digest, dataset=dataset) if new.digest else None
        missing = [side for side, run in ((old, base), (new, head)) if run is None]
        if base is None or head is None:
            labels = " and ".join(side.label for side in missing)
            hint = " and ".join(
                f"`promptver eval {bundle}@{side.version} --dataset {dataset}`"
                for side in missing
                if side.version
            )
            out[dataset] = EvalsBody(
                missing=f"no complete run of {labels} on {dataset!r}" + (f"; run {hint}" if hint else "")
            )
            continue
        comparison = compare_runs(base, head)
        outputs_old, outputs_new = _outputs(base), _outputs(head)
        outcomes = [
            CaseOutcome(
                c.id,
                verdict,  # type: ignore[arg-type]
                c.base_pass,
                c.head_pass,
                outputs_old.get(c.id, ""),
                outputs_new.get(c.id, ""),
            )
            for verdict, changes in (
                ("regressed", comparison.regressed),
                ("improved", comparison.improved),
            )
            for c in changes
        ]
        out[dataset] = EvalsBody(
            metrics=_metrics(base.meta.get("summary") or {}, head.meta.get("summary") or {}),
            outcomes=outcomes,
            old_run=base.id,
            new_run=head.id,
            verdict=comparison.stats.describe() if comparison.stats is not None else None,
            history=eval_history(store, bundle, head.meta, (old, new)),
        )
    return out


def eval_history(
    store: Store, bundle: str, head: dict[str, Any], sides: tuple[Side, Side]
) -> EvalHistory | None:
    """The history of the head run's dataset and target across versions (None: fewer than two)."""
    from promptver.errors import PromptverError
    from promptver.evals.trend import build_trend, target_kind

    try:
        trend = build_trend(
            store.root / "runs", bundle, dataset=str(head["dataset"]["name"]), target=target_kind(head)
        )
    except PromptverError:
        return None
    if len(trend.points) < 2:
        return None
    versions = [p.version for p in trend.points]
    return EvalHistory(
        title=f"{trend.dataset} ({trend.target})",
        versions=versions,
        score=[p.score * 100 for p in trend.points],
        pass_rate=[p.pass_rate * 100 for p in trend.points],
        marks=[s.version for s in sides if s.version in versions],
    )


def _outputs(run: StoredRun) -> dict[str, str]:
    """The output of each case's first repeat (or its error)."""
    outputs: dict[str, str] = {}
    for record in run.records:
        case_id = str(record.get("id"))
        if case_id in outputs:
            continue
        if record.get("error"):
            outputs[case_id] = f"error: {record['error']}"
        else:
            output = record.get("output")
            outputs[case_id] = output if isinstance(output, str) else _json(output)
    return outputs


def _json(value: Any) -> str:
    import json

    return "" if value is None else json.dumps(value, indent=2, ensure_ascii=False)


def _metrics(old: dict[str, Any], new: dict[str, Any]) -> list[MetricRow]:
    rows: list[MetricRow] = []
    for label, path, higher in METRICS:
        a, b = _get(old, path), _get(new, path)
        if a is None and b is None:
            continue
        rows.append(MetricRow(label, a, b, higher))
    return rows


def _get(data: dict[str, Any], path: tuple[str, ...]) -> float | None:
    value: Any = data
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
