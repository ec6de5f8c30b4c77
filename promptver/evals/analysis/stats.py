"""How sure a comparison of two runs is: a paired bootstrap interval of the score delta
and an exact McNemar test on the pass/fail outcomes, plus per-case pass rates of repeats.

The exact McNemar test is the two-sided binomial test of the discordant pairs against
1/2: with ``b`` pairs that passed only in the base and ``c`` only in the head,
``p = min(1, 2 * P(X <= min(b, c)))`` for ``X ~ Binomial(b + c, 1/2)``, computed with
exact integers, so it needs no statistics library (scipy.stats costs
about 0.9 s to import here). The bootstrap resamples cases with replacement (numpy,
seeded: the same runs always give the same interval); repeats of a case stay together,
so the interval honours their correlation. numpy is imported only when an interval is
computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_ALPHA = 0.05
DEFAULT_RESAMPLES = 10_000
DEFAULT_SEED = 20261126


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for ``b`` and ``c`` discordant pairs."""
    if b < 0 or c < 0:
        raise ValueError("discordant pair counts must not be negative")
    n = b + c
    if n == 0:
        return 1.0
    tail, term = 0, 1  # sum of C(n, i) for i <= min(b, c), each term from the last
    for i in range(min(b, c) + 1):
        tail += term
        term = term * (n - i) // (i + 1)
    return min(1.0, 2 * tail / 2**n)  # int / int: correctly rounded, however large


def paired_bootstrap_ci(
    deltas: list[float],
    *,
    level: float = 1 - DEFAULT_ALPHA,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of paired differences (one per case)."""
    if not deltas:
        raise ValueError("no paired cases to resample")
    if not 0 < level < 1:
        raise ValueError("the confidence level must be between 0 and 1")
    import numpy as np

    values = np.asarray(deltas, dtype=float)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, 2_000_000 // len(values))  # bound memory: about 16 MB of indices at once
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        idx = rng.integers(0, len(values), size=(stop - start, len(values)))
        means[start:stop] = values[idx].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class PairedStats:
    """The paired comparison of the cases two runs share (head minus base)."""

    cases: int  # cases in both runs
    pairs: int  # pass/fail pairs: (case, repeat) present in both runs
    both_pass: int
    base_only: int  # passed in the base only (b)
    head_only: int  # passed in the head only (c)
    both_fail: int
    delta: float  # mean per-case score difference, 0..1 scale
    ci_low: float
    ci_high: float
    p_value: float
    alpha: float
    resamples: int
    seed: int

    @property
    def level(self) -> float:
        return 1 - self.alpha

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha

    @property
    def verdict(self) -> str:
        """``better``, ``worse`` or ``no detectable difference`` (by the McNemar test)."""
        if not self.significant:
            return "no detectable difference"
        return "better" if self.head_only > self.base_only else "worse"

    def describe(self) -> str:
        """``worse (p = 0.012, 95% CI -9.3..-1.2 pts)``."""
        return f"{self.verdict} ({p_text(self.p_value)}, {self.interval()})"

    def interval(self) -> str:
        return f"{self.level * 100:g}% CI {_pts(self.ci_low)}..{_pts(self.ci_high)} pts"

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "significant": self.significant,
            "alpha": self.alpha,
            "cases": self.cases,
            "pairs": self.pairs,
            "score_delta": self.delta,
            "ci": {"level": self.level, "low": self.ci_low, "high": self.ci_high},
            "mcnemar": {
                "p_value": self.p_value,
                "both_pass": self.both_pass,
                "base_only": self.base_only,
                "head_only": self.head_only,
                "both_fail": self.both_fail,
            },
            "bootstrap": {"resamples": self.resamples, "seed": self.seed, "method": "percentile"},
        }


def p_text(p: float) -> str:
    """``p = 0.41`` or ``p < 0.001``."""
    text = format_p(p)
    return f"p {text[0]} {text[1:]}" if text.startswith("<") else f"p = {text}"


def format_p(p: float) -> str:
    if p < 0.001:
        return "<0.001"
    return f"{p:.3f}" if p < 0.01 else f"{p:.2f}"


def _pts(value: float) -> str:
    text = f"{value * 100:+.1f}"
    return "0.0" if text in ("+0.0", "-0.0") else text


def _groups(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(str(record["id"]), []).append(record)
    for rs in groups.values():
        rs.sort(key=lambda r: int(r.get("repeat") or 0))
    return groups


def paired_stats(
    base: list[dict[str, Any]],
    head: list[dict[str, Any]],
    *,
    alpha: float = DEFAULT_ALPHA,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> PairedStats | None:
    """Paired statistics of two runs' case records (None when they share no case).

    Every sample counts: the McNemar pairs are (case, repeat) present in both runs, and a
    case's score on each side is the mean over its repeats."""
    if not 0 < alpha < 1:
        raise ValueError("alpha must be between 0 and 1")
    old, new = _groups(base), _groups(head)
    common = sorted(old.keys() & new.keys())
    if not common:
        return None
    counts = {(True, True): 0, (True, False): 0, (False, True): 0, (False, False): 0}
    deltas = []
    for case_id in common:
        a, b = old[case_id], new[case_id]
        for ra, rb in zip(a, b, strict=False):
            counts[(bool(ra.get("pass")), bool(rb.get("pass")))] += 1
        deltas.append(_mean_score(b) - _mean_score(a))
    low, high = paired_bootstrap_ci(deltas, level=1 - alpha, resamples=resamples, seed=seed)
    b_only, h_only = counts[(True, False)], counts[(False, True)]
    return PairedStats(
        cases=len(common),
        pairs=sum(counts.values()),
        both_pass=counts[(True, True)],
        base_only=b_only,
        head_only=h_only,
        both_fail=counts[(False, False)],
        delta=sum(deltas) / len(deltas),
        ci_low=low,
        ci_high=high,
        p_value=mcnemar_exact(b_only, h_only),
        alpha=alpha,
        resamples=resamples,
        seed=seed,
    )


def _mean_score(records: list[dict[str, Any]]) -> float:
    return sum(float(r.get("score") or 0.0) for r in records) / len(records)


@dataclass(frozen=True)
class CaseRate:
    """How often one case passed over its repeats."""

    id: str
    passed: int
    runs: int

    @property
    def rate(self) -> float:
        return self.passed / self.runs if self.runs else 0.0

    @property
    def flaky(self) -> bool:
        return 0 < self.passed < self.runs

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "passed": self.passed,
            "runs": self.runs,
            "pass_rate": self.rate,
            "flaky": self.flaky,
        }


def case_rates(records: list[dict[str, Any]]) -> list[CaseRate]:
    """Per-case pass rates over repeats, the flakiest first (pass rate nearest 1/2), then
    the steady failures, then the steady passes; ties in dataset order."""
    rates = [
        CaseRate(case_id, sum(1 for r in rs if r.get("pass")), len(rs))
        for case_id, rs in _groups(records).items()
    ]

    def order(item: tuple[int, CaseRate]) -> tuple[int, float, int]:
        position, rate = item
        if rate.flaky:
            return (0, abs(rate.rate - 0.5), position)
        return (1 if rate.passed == 0 else 2, 0.0, position)

    return [rate for _, rate in sorted(enumerate(rates), key=order)]


def flaky_cases(records: list[dict[str, Any]]) -> list[CaseRate]:
    """The cases that passed in some repeats and failed in others, flakiest first."""
    return [rate for rate in case_rates(records) if rate.flaky]
