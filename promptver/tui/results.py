"""Eval results of the two reviewed versions, from the store's runs (Textual-free).

A run belongs to a version by digest; for each eval dataset the newest complete run of
each side is compared case by case (``promptver.evals.analysis.compare``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from promptver.tui.model import CaseOutcome, EvalHistory, EvalsBody, MetricRow, Side, Unit

if TYPE_CHECKING:
    from promptver.evals.analysis.compare import Comparison
    from promptver.evals.runs.storage import StoredRun
    from promptver.store.store import Store

# (label, path in the run summary, higher is better, unit); cost has its own row (_cost)
METRICS: tuple[tuple[str, tuple[str, ...], bool, Unit], ...] = (
    ("pass rate", ("pass_rate",), True, "percent"),
    ("score", ("score",), True, "number"),
    ("cases", ("cases",), True, "number"),
    ("errors", ("errors",), False, "number"),
    ("latency p50 ms", ("latency_ms", "p50"), False, "number"),
    ("latency p95 ms", ("latency_ms", "p95"), False, "number"),
    ("tokens in", ("tokens", "input"), False, "number"),
    ("tokens out", ("tokens", "output"), False, "number"),
)


def eval_results(
    store: Store, bundle: str, old: Side, new: Side, datasets: list[str]
) -> dict[str, EvalsBody]:
    """Per dataset: the comparison of the newest complete runs of both sides, or why not."""
    from promptver.evals.runs.storage import RunStore
    from promptver.evals.runs.summaries import run_target

    runs = RunStore(store.root / "runs")
    out: dict[str, EvalsBody] = {}
    for dataset in datasets:
        head = runs.latest(bundle, digest=new.digest, dataset=dataset) if new.digest else None
        target = run_target(head.meta) if head is not None else None  # like with like
        base = runs.latest(bundle, digest=old.digest, dataset=dataset, target=target) if old.digest else None
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
        body = compare(base, head)
        out[dataset] = replace(
            body,
            history=eval_history(store, bundle, head.meta, (old, new)),
            old_about=about(store, bundle, base),
            new_about=about(store, bundle, head),
        )
    return out


def compare(base: StoredRun, head: StoredRun) -> EvalsBody:
    """Two complete runs of one dataset side by side: metrics, cases, retrieval."""
    from promptver.evals.analysis.compare import compare_runs

    comparison = compare_runs(base, head)
    old_summary = base.meta.get("summary") or {}
    new_summary = head.meta.get("summary") or {}
    return EvalsBody(
        metrics=[
            *_metrics(old_summary, new_summary),
            _cost(old_summary, new_summary),
            *_rag_judged(old_summary.get("rag_judged"), new_summary.get("rag_judged")),
        ],
        outcomes=_outcomes(comparison, base, head),
        old_run=base.id,
        new_run=head.id,
        old_target=_target(base.meta),
        new_target=_target(head.meta),
        retrieval=_retrieval(old_summary.get("retrieval"), new_summary.get("retrieval")),
        retrieval_cases=(_cases(old_summary.get("retrieval")), _cases(new_summary.get("retrieval"))),
        verdict=comparison.stats.describe() if comparison.stats is not None else None,
    )


def _outcomes(comparison: Comparison, base: StoredRun, head: StoredRun) -> list[CaseOutcome]:
    """Regressed and improved cases, then the cases only one run has, then those that kept
    their verdict but retrieved other sources; each with how its sources' ranks moved."""
    outputs_old, outputs_new = _outputs(base), _outputs(head)
    moved = {case_id: "; ".join(changes) for case_id, changes in comparison.rank_changes.items()}
    sources = set(comparison.sources_changed)

    def outcome(case_id: str, verdict: str, old: bool | None, new: bool | None) -> CaseOutcome:
        return CaseOutcome(
            case_id,
            verdict,  # type: ignore[arg-type]
            old,
            new,
            outputs_old.get(case_id, ""),
            outputs_new.get(case_id, ""),
            moved.get(case_id, "retrieved sources changed" if case_id in sources else ""),
            case_id in sources,
        )

    out = [
        outcome(c.id, verdict, c.base_pass, c.head_pass)
        for verdict, changes in (("regressed", comparison.regressed), ("improved", comparison.improved))
        for c in changes
    ]
    passed_old, passed_new = _passed(base), _passed(head)
    out += [outcome(i, "added", None, passed_new.get(i)) for i in comparison.added]
    out += [outcome(i, "removed", passed_old.get(i), None) for i in comparison.removed]
    listed = {o.id for o in out}
    out += [
        outcome(i, "sources", passed_old.get(i), passed_new.get(i))
        for i in comparison.sources_changed
        if i not in listed
    ]
    return out


def _passed(run: StoredRun) -> dict[str, bool]:
    from promptver.evals.analysis.compare import by_case

    return {case_id: passed for case_id, (passed, _) in by_case(run.records).items()}


def _target(meta: dict[str, Any]) -> str | None:
    target = meta.get("target")
    return str(target) if target else None


def about(store: Store, bundle: str, run: StoredRun) -> str:
    """What a run evaluated and whether it is eval evidence: ``model:openai:gpt-4o-mini on
    golden, 0 errored, cost $0.0123; recorded`` (or why it does not count)."""
    from promptver.evals.runs.records import recorded_events, why_not_counted

    meta = run.meta
    summary: dict[str, Any] = meta["summary"] if isinstance(meta.get("summary"), dict) else {}
    dataset: dict[str, Any] = meta["dataset"] if isinstance(meta.get("dataset"), dict) else {}
    errors = summary.get("errors")
    cost = summary.get("cost")
    why = why_not_counted(store, bundle, run.id, recorded_events(store, bundle))
    return (
        f"{meta.get('target') or 'unknown target'} on {dataset.get('name')},"
        f" {errors if isinstance(errors, int) else '?'} errored,"
        f" cost {'$' + format(cost, '.4f') if isinstance(cost, int | float) else 'unknown'};"
        f" {'recorded' if why is None else 'not evidence: ' + why}"
    )


def eval_history(
    store: Store, bundle: str, head: dict[str, Any], sides: tuple[Side, Side]
) -> EvalHistory | None:
    """The history of the head run's dataset and target across versions (None: fewer than two)."""
    from promptver.errors import PromptverError
    from promptver.evals.analysis.trend import build_trend, target_kind

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
    for label, path, higher, unit in METRICS:
        a, b = _get(old, path), _get(new, path)
        if a is None and b is None:
            continue
        rows.append(MetricRow(label, a, b, higher, unit))
    return rows


def _cost(old: dict[str, Any], new: dict[str, Any]) -> MetricRow:
    """Always a row (the run may have no prices: then it says so), partial costs marked."""
    partial = [
        side
        for side, s in (("old", old), ("new", new))
        if s.get("cost") is not None and not s.get("cost_complete", True)
    ]
    note = f"partial on {' and '.join(partial)}" if partial else ""  # some requests had no price
    if _get(old, ("cost",)) is None and _get(new, ("cost",)) is None:
        note = "no prices known"
    return MetricRow("cost", _get(old, ("cost",)), _get(new, ("cost",)), False, "cost", note)


def _retrieval(old: Any, new: Any) -> list[MetricRow]:
    """hit@k, recall@k, MRR, nDCG@k of runs that retrieve, k written out when known."""
    from promptver.evals.retrieval.ragmetrics import LABELS, METRICS

    old = old if isinstance(old, dict) else {}
    new = new if isinstance(new, dict) else {}
    if not old and not new:
        return []
    k = new.get("k") or old.get("k")
    rows = []
    for name in METRICS:
        label = LABELS[name].replace("@k", f"@{k}") if isinstance(k, int) else LABELS[name]
        rows.append(MetricRow(label, _get(old, (name,)), _get(new, (name,)), True, "ratio"))
    return rows


def _rag_judged(old: Any, new: Any) -> list[MetricRow]:
    """Faithfulness, answer relevancy, context precision and recall of judged RAG runs."""
    from promptver.evals.retrieval.ragjudge import LABELS, METRICS

    old = old if isinstance(old, dict) else {}
    new = new if isinstance(new, dict) else {}
    rows = []
    for name in METRICS:
        a, b = _get(old, (name,)), _get(new, (name,))
        if a is not None or b is not None:
            rows.append(MetricRow(LABELS[name], a, b, True, "ratio"))
    return rows


def _cases(metrics: Any) -> int | None:
    value = metrics.get("cases") if isinstance(metrics, dict) else None
    return value if isinstance(value, int) else None


def _get(data: dict[str, Any], path: tuple[str, ...]) -> float | None:
    value: Any = data
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
