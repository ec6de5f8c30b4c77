"""Compare two runs case by case (matched by id) and gate on the result."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptver.evals.runs.storage import StoredRun

if TYPE_CHECKING:
    from promptver.evals.analysis.stats import PairedStats

EPSILON = 1e-6
_DELTA_KEYS = ("pass_rate", "score", "cost")


@dataclass(frozen=True)
class CaseChange:
    id: str
    base_pass: bool
    head_pass: bool
    base_score: float
    head_score: float

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "base": {"pass": self.base_pass, "score": self.base_score},
            "head": {"pass": self.head_pass, "score": self.head_score},
        }


@dataclass
class Comparison:
    base: dict[str, Any]  # run metadata (with summary)
    head: dict[str, Any]
    deltas: dict[str, float | None]
    regressed: list[CaseChange] = field(default_factory=list)
    improved: list[CaseChange] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    # runs that retrieve: per case, how its expected sources' ranks moved, in words, and
    # the cases whose retrieved sources changed at all
    rank_changes: dict[str, list[str]] = field(default_factory=dict)
    sources_changed: list[str] = field(default_factory=list)
    stats: PairedStats | None = None  # how sure: bootstrap CI and McNemar (evals/analysis/stats.py)
    # where the two runs' seeds, system fingerprints or served model versions differ
    reproducibility: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        def brief(meta: dict[str, Any]) -> dict[str, Any]:
            return {k: meta.get(k) for k in ("id", "bundle", "version", "digest", "target", "summary")}

        return {
            "base": brief(self.base),
            "head": brief(self.head),
            "deltas": self.deltas,
            "regressed": [c.to_json() for c in self.regressed],
            "improved": [c.to_json() for c in self.improved],
            "added": self.added,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "rank_changes": self.rank_changes,
            "sources_changed": self.sources_changed,
            "stats": self.stats.to_json() if self.stats is not None else None,
            "reproducibility": self.reproducibility,
        }


def by_case(records: list[dict[str, Any]]) -> dict[str, tuple[bool, float]]:
    """Per case id over its repeats: passes when every repeat passed; mean score."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(record["id"], []).append(record)
    return {
        case_id: (all(r.get("pass") for r in rs), sum(float(r.get("score", 0.0)) for r in rs) / len(rs))
        for case_id, rs in groups.items()
    }


def _delta(a: Any, b: Any) -> float | None:
    if a is None or b is None:
        return None
    return float(b) - float(a)


def compare_runs(base: StoredRun, head: StoredRun, *, alpha: float | None = None) -> Comparison:
    """Case-by-case deltas of two runs, with their paired statistics (``alpha``: the
    significance level, default 0.05; the interval's confidence is ``1 - alpha``). Runs of
    different targets (a BM25 retrieval run and a RAG run) are refused: like with like."""
    refuse_mixed_targets(base.meta, head.meta)
    result = _case_deltas(base, head)
    result.stats = _paired(base, head, alpha)
    result.reproducibility = fact_changes(base.records, head.records)
    return result


def refuse_mixed_targets(base: dict[str, Any], head: dict[str, Any]) -> None:
    from promptver.errors import ConfigError
    from promptver.evals.runs.summaries import run_target

    old, new = run_target(base), run_target(head)
    if old != new:
        raise ConfigError(
            f"run {base.get('id')} is a {old} run ({base.get('target')}) and run {head.get('id')}"
            f" a {new} run ({head.get('target')}): a comparison needs two runs of one target",
            hint=f"compare runs of one target (--target {old} or --target {new}), running the missing"
            " one with `promptver eval NAME@VERSION --target T`",
        )


FACTS = {
    "seed": "the request seed",
    "system_fingerprint": "the provider's system_fingerprint",
    "model": "the model version served",
}


def fact_changes(base: list[dict[str, Any]], head: list[dict[str, Any]]) -> list[str]:
    """One line per reproducibility fact whose values differ between the runs: answers
    may then differ for reasons outside the bundle."""

    def values(records: list[dict[str, Any]], name: str) -> set[str]:
        found = set()
        for record in records:
            facts = record.get("facts")
            if isinstance(facts, dict) and facts.get(name) is not None:
                # from the provider: shown in terminals and Markdown, so plain characters only
                found.add(re.sub(r"[^\w.:-]", "?", str(facts[name]))[:64])
        return found

    lines = []
    for name, label in FACTS.items():
        old, new = values(base, name), values(head, name)
        if old != new:
            lines.append(
                f"{label} differs: {', '.join(sorted(old)) or 'none'} -> {', '.join(sorted(new)) or 'none'}"
            )
    return lines


def _paired(base: StoredRun, head: StoredRun, alpha: float | None) -> PairedStats | None:
    from promptver.evals.analysis.stats import DEFAULT_ALPHA, paired_stats

    return paired_stats(base.records, head.records, alpha=DEFAULT_ALPHA if alpha is None else alpha)


def _case_deltas(base: StoredRun, head: StoredRun) -> Comparison:
    old, new = by_case(base.records), by_case(head.records)
    bs, hs = base.meta.get("summary") or {}, head.meta.get("summary") or {}
    deltas = {key: _delta(bs.get(key), hs.get(key)) for key in _DELTA_KEYS}
    for q in ("p50", "p95"):
        deltas[f"latency_{q}_ms"] = _delta(
            (bs.get("latency_ms") or {}).get(q), (hs.get("latency_ms") or {}).get(q)
        )
    for side in ("input", "output"):
        deltas[f"tokens_{side}"] = _delta(
            (bs.get("tokens") or {}).get(side), (hs.get("tokens") or {}).get(side)
        )
    br, hr = bs.get("retrieval") or {}, hs.get("retrieval") or {}
    if br or hr:
        from promptver.evals.retrieval.ragmetrics import METRICS

        for name in METRICS:
            deltas[f"retrieval_{name}"] = _delta(br.get(name), hr.get(name))
    bj, hj = bs.get("rag_judged") or {}, hs.get("rag_judged") or {}
    if bj or hj:
        from promptver.evals.retrieval.ragjudge import METRICS as JUDGED

        for name in JUDGED:
            deltas[f"rag_{name}"] = _delta(bj.get(name), hj.get(name))
    result = Comparison(base.meta, head.meta, deltas)
    retrieval_changes(result, base.records, head.records)
    for case_id in sorted(old.keys() | new.keys()):
        if case_id not in old:
            result.added.append(case_id)
            continue
        if case_id not in new:
            result.removed.append(case_id)
            continue
        (bp, bscore), (hp, hscore) = old[case_id], new[case_id]
        change = CaseChange(case_id, bp, hp, round(bscore, 6), round(hscore, 6))
        if (bp and not hp) or (bp == hp and hscore < bscore - EPSILON):
            result.regressed.append(change)
        elif (hp and not bp) or (bp == hp and hscore > bscore + EPSILON):
            result.improved.append(change)
        else:
            result.unchanged += 1
    return result


def retrieval_changes(result: Comparison, base: list[dict[str, Any]], head: list[dict[str, Any]]) -> None:
    """Fill ``rank_changes`` and ``sources_changed`` from the first repeat of each case."""
    from promptver.evals.retrieval.ragmetrics import rank_changes

    def first(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {r["id"]: r for r in records if not r.get("repeat") and "retrieved" in r}

    old, new = first(base), first(head)
    for case_id in sorted(old.keys() & new.keys()):
        a, b = old[case_id], new[case_id]
        if [x["source"] for x in a["retrieved"]] != [x["source"] for x in b["retrieved"]]:
            result.sources_changed.append(case_id)
        moved = rank_changes(a.get("retrieval"), b.get("retrieval"))
        if moved:
            result.rank_changes[case_id] = moved


@dataclass(frozen=True)
class Gate:
    fail_under: float | None = None  # minimum score (0..1)
    max_regressions: int | None = None  # regressed cases allowed against --compare
    max_score_drop: float | None = None  # score drop allowed against --compare
    fail_if_worse: bool = False  # a statistically significant regression (McNemar at alpha)

    def failures(self, summary: dict[str, Any], comparison: Comparison | None) -> list[str]:
        """Why the gate fails (empty: it passes)."""
        reasons = []
        score = float(summary.get("score", 0.0))
        if self.fail_under is not None and score < self.fail_under:
            reasons.append(f"score {score:.3f} is under {self.fail_under:g}")
        if comparison is not None:
            count = len(comparison.regressed)
            if self.max_regressions is not None and count > self.max_regressions:
                reasons.append(f"{count} cases regressed (at most {self.max_regressions} allowed)")
            drop = -(comparison.deltas.get("score") or 0.0)
            if self.max_score_drop is not None and drop > self.max_score_drop + EPSILON:
                reasons.append(f"score dropped by {drop:.3f} (at most {self.max_score_drop:g})")
            reasons += self._worse(comparison)
        return reasons

    def _worse(self, comparison: Comparison) -> list[str]:
        stats = comparison.stats
        if not self.fail_if_worse or stats is None or stats.verdict != "worse":
            return []
        return [f"significantly worse at alpha {stats.alpha:g}: {stats.describe()}"]


def retrieval_changes_between(
    runs_folder: Path, bundle: str, old_digest: str, new_digest: str
) -> dict[str, dict[str, Any]]:
    """For `promptver diff`: per dataset where both versions have a complete run that
    retrieves, which cases changed their retrieved sources and how expected sources' ranks
    moved. Datasets without such a pair of runs are left out."""
    from promptver.evals.runs.storage import RunStore

    store = RunStore(runs_folder)
    datasets = sorted({str((m.get("dataset") or {}).get("name")) for m in store.list(bundle)})
    found: dict[str, dict[str, Any]] = {}
    for dataset in datasets:
        from promptver.evals.runs.summaries import run_target

        head = store.latest(bundle, digest=new_digest, dataset=dataset)
        if head is None:
            continue
        base = store.latest(bundle, digest=old_digest, dataset=dataset, target=run_target(head.meta))
        if base is None or not _retrieves(base) or not _retrieves(head):
            continue
        comparison = _case_deltas(base, head)
        found[dataset] = {
            "base_run": base.meta.get("id"),
            "head_run": head.meta.get("id"),
            "sources_changed": comparison.sources_changed,
            "rank_changes": comparison.rank_changes,
        }
    return found


def _retrieves(run: StoredRun) -> bool:
    return bool((run.meta.get("summary") or {}).get("retrieval"))
