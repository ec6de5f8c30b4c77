"""``promptver ci-report``: one Markdown comment for a pull request.

What changed (the semantic diff and its suggested bump) and what it did to the evals (the
comparison of the two versions' stored runs, with its confidence), regressions first. The
comment stays within GitHub's limit (65,536 characters; we count UTF-8 bytes, which is
never fewer): long sections are folded in ``<details>`` and, when still too long, cut with a
note saying which command prints them whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from promptver.errors import ConfigError
from promptver.evals.analysis.stats import p_text
from promptver.safetext import md_code, md_text

if TYPE_CHECKING:
    from promptver.diff.model import BundleDiff
    from promptver.evals.analysis.compare import Comparison
    from promptver.store.store import Store

GITHUB_COMMENT_LIMIT = 65_536
MARKER = "<!-- promptver-ci-report -->"  # lets a CI step find and update its earlier comment


@dataclass
class CiReport:
    bundle: str
    base_ref: str
    head_ref: str
    diff: BundleDiff
    comparison: Comparison | None
    eval_note: str | None = None  # why there is no comparison
    dataset: str | None = None
    target: str | None = None  # the target both compared runs used (model, rag, retrieval, ...)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "bundle": self.bundle,
            "base": self.base_ref,
            "head": self.head_ref,
            "diff": self.diff.to_json(),
            "dataset": self.dataset,
            "target": self.target,
            "comparison": self.comparison.to_json() if self.comparison is not None else None,
            "eval_note": self.eval_note,
        }


def default_base(store: Store, name: str, head: str | None) -> str:
    """The base of a report: the parent of a stored head version, else the latest version."""
    if head is None:
        return "latest"
    manifest = store.resolve(name, head)
    if manifest.parent is None:
        raise ConfigError(
            f"{name}@{manifest.version} has no parent version to compare with",
            hint=f"name one: promptver ci-report {name}@{manifest.version} BASE",
        )
    return manifest.parent


def build_report(
    store: Store,
    name: str,
    head: str | None,
    base: str | None = None,
    *,
    dataset: str | None = None,
    target: str | None = None,
    alpha: float | None = None,
) -> CiReport:
    """The diff of ``base`` -> ``head`` (None: the working copy) and the comparison of the
    newest complete runs of both on one dataset and target."""
    from promptver.diff.compare import diff_bundle

    base = base or default_base(store, name, head)
    result = diff_bundle(store, name, base, head)
    report = CiReport(name, _side(result.old.version), _side(result.new.version), result, None)
    _attach_comparison(store, report, dataset, target, alpha)
    return report


def _side(version: str | None) -> str:
    return version if version is not None else "working copy"


def _attach_comparison(
    store: Store, report: CiReport, dataset: str | None, target: str | None, alpha: float | None
) -> None:
    """The newest complete runs of both sides on one dataset and one target (like with like):
    ``target``/``dataset`` when given, else the newest pair the head's runs allow."""
    from promptver.evals.analysis.compare import compare_runs
    from promptver.evals.runs.storage import RunStore
    from promptver.evals.runs.summaries import latest_complete, read_run_metas, run_target

    runs = RunStore(store.root / "runs")
    metas = read_run_metas(runs.root / report.bundle, report.bundle)
    head_digest, base_digest = report.diff.new.digest or "", report.diff.old.digest or ""
    heads: dict[tuple[str, str], dict[str, Any]] = {}  # newest first, one per (dataset, target)
    for meta in metas:
        if latest_complete([meta], head_digest, dataset, target) is meta:
            heads.setdefault((meta["dataset"]["name"], run_target(meta)), meta)
    if not heads:
        on = f" on {dataset}" if dataset else ""
        of = f" with target {target}" if target else ""
        report.eval_note = f"no complete eval run of {report.head_ref}{on}{of}"
        return
    pairs = [(h, latest_complete(metas, base_digest, d, t)) for (d, t), h in heads.items()]
    head_meta, base_meta = next(((h, b) for h, b in pairs if b is not None), pairs[0])
    report.dataset = str(head_meta["dataset"]["name"])
    report.target = run_target(head_meta)
    if base_meta is None:
        report.eval_note = (
            f"no complete eval run of {report.base_ref} on {report.dataset} with target {report.target}"
        )
        return
    report.comparison = compare_runs(runs.load(base_meta["id"]), runs.load(head_meta["id"]), alpha=alpha)


# ---- Markdown -------------------------------------------------------------------------


def _pct(value: Any) -> str:
    return "-" if value is None else f"{float(value) * 100:.1f}%"


def _num(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{float(value):.{digits}f}"


def _signed(value: float | None, scale: float = 1.0, digits: int = 3, unit: str = "") -> str:
    return "-" if value is None else f"{value * scale:+.{digits}f}{unit}"


def headline(report: CiReport) -> list[str]:
    suggested = report.diff.suggested
    bump = suggested.value if suggested else "none"
    lines = [
        MARKER,
        f"## promptver: {md_text(report.bundle)} {md_text(report.base_ref)} → {md_text(report.head_ref)}",
        "",
    ]
    verdict = "no eval comparison"
    comparison = report.comparison
    if comparison is not None and comparison.stats is not None:
        stats = comparison.stats
        mark = {"better": "🟢", "worse": "🔴"}.get(stats.verdict, "⚪")
        verdict = f"{mark} **{stats.describe()}**"
    elif comparison is not None:
        verdict = "no shared eval cases"
    elif report.eval_note:
        verdict = f"no eval comparison ({md_text(report.eval_note)})"
    lines += [f"**Suggested bump: {bump}** · Evals: {verdict}", ""]
    from promptver.diff.render import security_markdown

    return lines + security_markdown(report.diff)


def regressions(comparison: Comparison) -> list[str]:
    if not comparison.regressed:
        return ["### Regressions", "", "None: no case got worse.", ""]
    lines = [
        f"### Regressions ({len(comparison.regressed)})",
        "",
        "| case | before | after |",
        "| --- | --- | --- |",
    ]
    for c in comparison.regressed:
        lines.append(
            f"| {md_code(c.id, table=True)} | {'pass' if c.base_pass else 'fail'} {c.base_score:.3f} | "
            f"{'pass' if c.head_pass else 'fail'} {c.head_score:.3f} |"
        )
    return [*lines, ""]


def eval_table(comparison: Comparison, dataset: str | None) -> list[str]:
    from promptver.evals.runs.summaries import run_target

    base, head = comparison.base.get("summary") or {}, comparison.head.get("summary") or {}
    d = comparison.deltas
    lat_b, lat_h = base.get("latency_ms") or {}, head.get("latency_ms") or {}
    lines = [
        f"### Evals on {md_code(str(dataset))}, target {md_code(str(run_target(comparison.head)))}",
        "",
        f"Runs {md_code(str(comparison.base.get('id')))} ({md_text(str(comparison.base.get('target')))})"
        f" → {md_code(str(comparison.head.get('id')))} ({md_text(str(comparison.head.get('target')))}).",
        "",
        "| | before | after | change |",
        "| --- | ---: | ---: | ---: |",
        f"| cases | {base.get('cases', 0)} | {head.get('cases', 0)} | "
        f"+{len(comparison.added)} / -{len(comparison.removed)} |",
        f"| score | {_num(base.get('score'))} | {_num(head.get('score'))} | {_signed(d.get('score'))} |",
        f"| pass rate | {_pct(base.get('pass_rate'))} | {_pct(head.get('pass_rate'))} | "
        f"{_signed(d.get('pass_rate'), 100, 1, ' pt')} |",
        f"| latency p50 | {_num(lat_b.get('p50'), 1)} ms | {_num(lat_h.get('p50'), 1)} ms | "
        f"{_signed(d.get('latency_p50_ms'), 1, 1, ' ms')} |",
        f"| latency p95 | {_num(lat_b.get('p95'), 1)} ms | {_num(lat_h.get('p95'), 1)} ms | "
        f"{_signed(d.get('latency_p95_ms'), 1, 1, ' ms')} |",
        f"| cost | {_num(base.get('cost'), 4)} | {_num(head.get('cost'), 4)} | "
        f"{_signed(d.get('cost'), 1, 4)} |",
        "",
    ]
    stats = comparison.stats
    if stats is not None:
        lines += [
            f"Paired over the {stats.cases} shared cases: "
            f"score change {_signed(stats.delta, 100, 1, ' pts')}, "
            f"{stats.interval()} (bootstrap, {stats.resamples:,} resamples, seed {stats.seed}); "
            f"exact McNemar {p_text(stats.p_value)} ({stats.base_only} passed only before, "
            f"{stats.head_only} only after; α = {stats.alpha:g}).",
            "",
        ]
    return lines


def case_lists(comparison: Comparison) -> list[str]:
    out: list[str] = []
    for title, ids in (
        (f"Improved cases ({len(comparison.improved)})", [c.id for c in comparison.improved]),
        (f"Added cases ({len(comparison.added)})", comparison.added),
        (f"Removed cases ({len(comparison.removed)})", comparison.removed),
    ):
        if ids:
            out += [
                f"<details><summary>{title}</summary>",
                "",
                *(f"- {md_code(i)}" for i in ids),
                "",
                "</details>",
                "",
            ]
    return out


def diff_section(diff: BundleDiff) -> list[str]:
    from promptver.diff.render import markdown

    body = markdown(diff).splitlines()
    if body and body[0].startswith("### "):
        body = body[1:]  # the headline already names both sides
    while body and not body[0].strip():
        body = body[1:]
    return ["<details><summary>Semantic diff</summary>", "", *body, "", "</details>", ""]


def render_markdown(report: CiReport, *, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """The comment, regressions first, at most ``limit`` UTF-8 bytes."""
    sections: list[list[str]] = [headline(report)]
    if report.comparison is not None:
        sections += [
            regressions(report.comparison),
            eval_table(report.comparison, report.dataset),
            case_lists(report.comparison),
        ]
    sections.append(diff_section(report.diff))
    return fit(sections, limit, footer=_footer(report))


def _footer(report: CiReport) -> str:
    command = md_code(f"promptver diff {report.bundle}")
    return f"<sub>promptver ci-report {md_text(report.bundle)} · full diff: {command}</sub>\n"


def _size(text: str) -> int:
    return len(text.encode())


def fit(sections: list[list[str]], limit: int, footer: str = "") -> str:
    """Join the sections; when too long, cut the last sections first, at a line boundary,
    closing an open ``<details>`` or code fence, with a note."""
    note = "\n_… cut to fit a pull-request comment; the full report: `promptver ci-report --json`._\n"
    sections = [s for s in sections if s]
    full = "\n".join("\n".join(s) for s in sections).rstrip() + "\n\n" + footer
    if _size(full) <= limit:
        return full
    budget = limit - _size(note) - _size(footer) - 64  # room for closing tags
    out: list[str] = []
    used = 0
    fence = ""  # the open code fence, if any (fences are as long as their content needs)
    details = 0
    for section in sections:
        for line in section:
            cost = _size(line) + 1
            if used + cost > budget:
                tail = [fence] if fence else []
                tail += ["</details>"] * details
                return "\n".join([*out, *tail]).rstrip() + "\n" + note + "\n" + footer
            out.append(line)
            used += cost
            if line.startswith("```"):
                run = line[: len(line) - len(line.lstrip("`"))]
                if not fence:
                    fence = run
                elif run == fence and not line[len(run) :].strip():
                    fence = ""
            if line.startswith("<details>"):
                details += 1
            if line.startswith("</details>"):
                details -= 1
    return "\n".join(out) + "\n" + footer  # pragma: no cover (full fitted)
