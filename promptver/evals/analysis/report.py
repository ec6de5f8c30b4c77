"""Reports of a run (and optionally its comparison): text, JSON, Markdown, JUnit XML.

Pure functions returning strings or JSON-ready dicts; the CLI prints them.
"""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET

from promptver.evals.analysis.compare import Comparison
from promptver.evals.analysis.stats import p_text
from promptver.safetext import md_code, md_text, one_line, xml

FORMATS = ("text", "json", "markdown", "junit")


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def _cost(value: float | None) -> str:
    return "-" if value is None else f"${value:.4f}"


def _signed(value: float | None, unit: str = "", scale: float = 1.0, digits: int = 3) -> str:
    """``+1.5 pt``, ``-0.020``; a change that rounds to zero is ``0`` (never ``-0``)."""
    if value is None:
        return "-"
    scaled = round(value * scale, digits)
    return f"{0:.{digits}f}{unit}" if scaled == 0 else f"{scaled:+.{digits}f}{unit}"


def run_title(meta: dict[str, Any]) -> str:
    version = meta.get("version") or "working copy"
    return f"{meta['bundle']}@{version} on {meta['dataset']['name']} ({meta['target']})"


def makes_requests(meta: dict[str, Any]) -> bool:
    """Whether the run's target calls a model or an endpoint (so request counts mean something)."""
    return str(meta.get("target", "model")) in ("model", "rag", "retrieval:configured")


def summary_lines(meta: dict[str, Any]) -> list[str]:
    s = meta.get("summary") or {}
    tokens = s.get("tokens") or {}
    estimate = " (estimated)" if tokens.get("estimated") else ""
    lat = s.get("latency_ms") or {}
    cost = _cost(s.get("cost"))
    if s.get("cost") is not None and not s.get("cost_complete", True):
        cost += " (partial: some cases have no price)"
    # targets that call no model (retrieval, python:) send no request of their own
    requests = s.get("requests", 0)
    sent = f"  requests {requests}" if requests or makes_requests(meta) else ""
    return [
        f"run {meta['id']}  {run_title(meta)}  [{meta.get('status')}]",
        f"  cases {s.get('cases', 0)}  passed {s.get('passed', 0)}  failed {s.get('failed', 0)}"
        f"  errors {s.get('errors', 0)}  pass rate {_pct(s.get('pass_rate', 0.0))}"
        f"  score {s.get('score', 0.0):.3f}",
        f"  latency p50 {_ms(lat.get('p50'))}  p95 {_ms(lat.get('p95'))}"
        f"  tokens {tokens.get('input', 0)} in / {tokens.get('output', 0)} out{estimate}"
        f"  cost {cost}  cached {s.get('cached', 0)}{sent}",
        *retrieval_lines(s.get("retrieval")),
        *_rag_judged(s.get("rag_judged")),
    ]


def _rag_judged(metrics: dict[str, Any] | None) -> list[str]:
    from promptver.evals.retrieval.ragjudge import lines

    return lines(metrics)


def retrieval_lines(metrics: dict[str, Any] | None) -> list[str]:
    """hit@k, recall@k, MRR and nDCG@k of a run that retrieves (nothing otherwise)."""
    if not metrics:
        return []
    k = metrics.get("k")
    return [
        f"  retrieval ({metrics.get('cases', 0)} cases with expected sources)"
        f"  hit@{k} {metrics['hit']:.3f}  recall@{k} {metrics['recall']:.3f}"
        f"  MRR {metrics['mrr']:.3f}  nDCG@{k} {metrics['ndcg']:.3f}"
    ]


def comparison_lines(comparison: Comparison) -> list[str]:
    d = comparison.deltas
    base = comparison.base
    lines = [
        f"compared with run {base['id']} ({base['bundle']}@{base.get('version') or 'working copy'}"
        f" on {base['dataset']['name']} ({base.get('target')}))",
        f"  pass rate {_signed(d.get('pass_rate'), ' pt', 100, 1)}"
        f"  score {_signed(d.get('score'))}"
        f"  latency p50 {_signed(d.get('latency_p50_ms'), ' ms', digits=0)}"
        f"  p95 {_signed(d.get('latency_p95_ms'), ' ms', digits=0)}"
        f"  cost {_signed(d.get('cost'), '', 1, 4)}",
        f"  regressed {len(comparison.regressed)}  improved {len(comparison.improved)}"
        f"  unchanged {comparison.unchanged}  added {len(comparison.added)}"
        f"  removed {len(comparison.removed)}",
        *confidence_lines(comparison),
    ]
    if d.get("retrieval_hit") is not None or d.get("retrieval_mrr") is not None:
        lines.append(
            f"  retrieval hit@k {_signed(d.get('retrieval_hit'))}"
            f"  recall@k {_signed(d.get('retrieval_recall'))}"
            f"  MRR {_signed(d.get('retrieval_mrr'))}  nDCG@k {_signed(d.get('retrieval_ndcg'))}"
            f"  retrieved sources changed in {len(comparison.sources_changed)} cases"
        )
    if any(key.startswith("rag_") and value is not None for key, value in d.items()):
        lines.append(
            f"  judged RAG faithfulness {_signed(d.get('rag_faithfulness'))}"
            f"  answer relevancy {_signed(d.get('rag_answer_relevancy'))}"
            f"  context precision {_signed(d.get('rag_context_precision'))}"
            f"  context recall {_signed(d.get('rag_context_recall'))}"
        )
    for label, changes in (("regressed", comparison.regressed), ("improved", comparison.improved)):
        for c in changes:
            lines.append(
                f"  {label:9} {one_line(c.id)}: {'pass' if c.base_pass else 'fail'} "
                f"{c.base_score:.3f} -> {'pass' if c.head_pass else 'fail'} "
                f"{c.head_score:.3f}"
            )
    for case_id, moved in comparison.rank_changes.items():
        lines += [f"  retrieval {one_line(case_id)}: {one_line(change)}" for change in moved]
    lines += [f"  reproducibility: {one_line(line)}" for line in comparison.reproducibility]
    return lines


def confidence_lines(comparison: Comparison) -> list[str]:
    """The verdict with its p-value and interval, over the cases both runs share."""
    stats = comparison.stats
    if stats is None:
        return ["  verdict: no shared cases to compare"]
    return [
        f"  verdict: {stats.describe()}",
        f"    paired over {stats.cases} shared cases ({stats.pairs} pass/fail pairs: "
        f"{stats.base_only} passed only before, {stats.head_only} only after); "
        f"score delta {_signed(stats.delta, ' pts', 100, 1)}",
    ]


def flaky_lines(records: list[dict[str, Any]], limit: int = 20) -> list[str]:
    """With repeats: the cases that passed in some repeats and failed in others, flakiest first."""
    from promptver.evals.analysis.stats import flaky_cases

    if not any(r.get("repeat") for r in records):
        return []
    flaky = flaky_cases(records)
    if not flaky:
        return ["flaky cases: none (every case passed in all or none of its repeats)"]
    lines = [f"flaky cases ({len(flaky)}), flakiest first:"]
    lines += [f"  {one_line(r.id)}: passed {r.passed}/{r.runs} ({_pct(r.rate)})" for r in flaky[:limit]]
    if len(flaky) > limit:
        lines.append(f"  ... and {len(flaky) - limit} more")
    return lines


def failing_lines(records: list[dict[str, Any]], limit: int = 20) -> list[str]:
    lines = []
    failing = [r for r in records if not r.get("pass")]
    for r in failing[:limit]:
        label = one_line(str(r["id"])) + (f" #{r['repeat'] + 1}" if r.get("repeat") else "")
        if r.get("error"):
            lines.append(f"  ERROR {label}: {one_line(str(r['error']))}")
            continue
        reasons = [f"{a['type']}: {a['reason']}" for a in r.get("asserts", []) if not a["pass"]]
        lines.append(f"  FAIL  {label}: {one_line('; '.join(reasons))}")
    if len(failing) > limit:
        lines.append(f"  ... and {len(failing) - limit} more")
    return lines


def text(
    meta: dict[str, Any],
    records: list[dict[str, Any]],
    comparison: Comparison | None = None,
    gate: list[str] | None = None,
) -> str:
    lines = summary_lines(meta)
    failing = failing_lines(records)
    if failing:
        lines += ["failing cases:", *failing]
    lines += flaky_lines(records)
    if comparison is not None:
        lines += comparison_lines(comparison)
    for reason in gate or []:
        lines.append(f"gate failed: {reason}")
    return "\n".join(lines)


def as_json(
    meta: dict[str, Any],
    records: list[dict[str, Any]],
    comparison: Comparison | None = None,
    gate: list[str] | None = None,
) -> str:
    data: dict[str, Any] = {"run": meta, "cases": list(records)}
    if any(r.get("repeat") for r in records):
        from promptver.evals.analysis.stats import case_rates

        data["case_pass_rates"] = [rate.to_json() for rate in case_rates(records)]
    if comparison is not None:
        data["comparison"] = comparison.to_json()
    if gate is not None:
        data["gate"] = {"passed": not gate, "failures": gate}
    return json.dumps(data, indent=2, ensure_ascii=False)


def markdown(
    meta: dict[str, Any],
    records: list[dict[str, Any]],
    comparison: Comparison | None = None,
    gate: list[str] | None = None,
) -> str:
    s = meta.get("summary") or {}
    lat = s.get("latency_ms") or {}
    tokens = s.get("tokens") or {}
    lines = [
        f"## Eval: {md_text(run_title(meta))}",
        "",
        f"Run {md_code(str(meta['id']))}, digest {md_code(str(meta.get('digest')))}, "
        f"status {md_text(str(meta.get('status')))}.",
        "",
        "| cases | passed | failed | errors | pass rate | score | p50 | p95 | tokens in/out | cost |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {s.get('cases', 0)} | {s.get('passed', 0)} | {s.get('failed', 0)} | "
        f"{s.get('errors', 0)} | {_pct(s.get('pass_rate', 0.0))} | {s.get('score', 0.0):.3f} | "
        f"{_ms(lat.get('p50'))} | {_ms(lat.get('p95'))} | "
        f"{tokens.get('input', 0)}/{tokens.get('output', 0)} | {_cost(s.get('cost'))} |",
    ]
    metrics = s.get("retrieval")
    if metrics:
        k = metrics.get("k")
        lines += [
            "",
            f"| hit@{k} | recall@{k} | MRR | nDCG@{k} | cases with expected sources |",
            "| ---: | ---: | ---: | ---: | ---: |",
            f"| {metrics['hit']:.3f} | {metrics['recall']:.3f} | {metrics['mrr']:.3f} | "
            f"{metrics['ndcg']:.3f} | {metrics.get('cases', 0)} |",
        ]
    failing = [r for r in records if not r.get("pass")]
    if failing:
        lines += ["", "### Failing cases", "", "| case | reason |", "| --- | --- |"]
        for r in failing:
            reason = r.get("error") or "; ".join(
                f"{a['type']}: {a['reason']}" for a in r.get("asserts", []) if not a["pass"]
            )
            lines.append(f"| {md_code(str(r['id']), table=True)} | {md_text(str(reason))} |")
    lines += flaky_markdown(records)
    if comparison is not None:
        d = comparison.deltas
        lines += [
            "",
            f"### Compared with {md_code(str(comparison.base['id']))}"
            f" ({md_text(str(comparison.base.get('target')))})",
            "",
            f"- pass rate {_signed(d.get('pass_rate'), ' pt', 100, 1)}, "
            f"score {_signed(d.get('score'))}, "
            f"p50 {_signed(d.get('latency_p50_ms'), ' ms', digits=0)}",
            *confidence_markdown(comparison),
            f"- regressed: {', '.join(md_code(c.id) for c in comparison.regressed) or 'none'}",
            f"- improved: {', '.join(md_code(c.id) for c in comparison.improved) or 'none'}",
        ]
        lines += [
            f"- {md_code(case_id)}: {md_text(change)}"
            for case_id, moved in comparison.rank_changes.items()
            for change in moved
        ]
        lines += [f"- reproducibility: {md_text(line)}" for line in comparison.reproducibility]
    if gate:
        lines += ["", *(f"**Gate failed:** {md_text(reason)}" for reason in gate)]
    return "\n".join(lines)


def confidence_markdown(comparison: Comparison) -> list[str]:
    stats = comparison.stats
    if stats is None:
        return ["- verdict: no shared cases to compare"]
    return [
        f"- **{stats.verdict}**: {p_text(stats.p_value)} (exact McNemar, "
        f"{stats.base_only} passed only before, {stats.head_only} only after), "
        f"{stats.interval()} of the score delta, paired over {stats.cases} shared cases",
    ]


def flaky_markdown(records: list[dict[str, Any]]) -> list[str]:
    from promptver.evals.analysis.stats import flaky_cases

    if not any(r.get("repeat") for r in records):
        return []
    flaky = flaky_cases(records)
    if not flaky:
        return ["", "No flaky cases: every case passed in all or none of its repeats."]
    lines = ["", "### Flaky cases (flakiest first)", "", "| case | passed | pass rate |"]
    lines.append("| --- | ---: | ---: |")
    lines += [f"| {md_code(r.id, table=True)} | {r.passed}/{r.runs} | {_pct(r.rate)} |" for r in flaky]
    return lines


def junit(
    meta: dict[str, Any],
    records: list[dict[str, Any]],
    comparison: Comparison | None = None,
    gate: list[str] | None = None,
) -> str:
    s = meta.get("summary") or {}
    suite = ET.Element(
        "testsuite",
        {
            "name": xml(run_title(meta), lines=False),
            "tests": str(len(records)),
            "failures": str(sum(1 for r in records if not r.get("pass") and not r.get("error"))),
            "errors": str(sum(1 for r in records if r.get("error"))),
            "time": f"{sum(float(r.get('latency_ms') or 0) for r in records) / 1000:.3f}",
        },
    )
    props = ET.SubElement(suite, "properties")
    for key in ("id", "version", "digest"):
        ET.SubElement(props, "property", {"name": f"run.{key}", "value": xml(str(meta.get(key)))})
    ET.SubElement(props, "property", {"name": "score", "value": f"{s.get('score', 0.0):.6f}"})
    for r in records:
        name = r["id"] + (f" #{r['repeat'] + 1}" if r.get("repeat") else "")
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": xml(f"{meta['bundle']}.{meta['dataset']['name']}", lines=False),
                "name": xml(name, lines=False),
                "time": f"{float(r.get('latency_ms') or 0) / 1000:.3f}",
            },
        )
        if r.get("error"):
            ET.SubElement(case, "error", {"message": xml(str(r["error"]))})
        elif not r.get("pass"):
            reasons = [f"{a['type']}: {a['reason']}" for a in r.get("asserts", []) if not a["pass"]]
            failure = ET.SubElement(case, "failure", {"message": xml("; ".join(reasons))})
            failure.text = xml(str(r.get("output")))
    if gate:
        case = ET.SubElement(suite, "testcase", {"classname": "promptver.gate", "name": "gate"})
        ET.SubElement(case, "failure", {"message": xml("; ".join(gate))})
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode")


RENDERERS = {"text": text, "json": as_json, "markdown": markdown, "junit": junit}


def render(
    fmt: str,
    meta: dict[str, Any],
    records: list[dict[str, Any]],
    comparison: Comparison | None = None,
    gate: list[str] | None = None,
) -> str:
    return RENDERERS[fmt](meta, records, comparison, gate)
