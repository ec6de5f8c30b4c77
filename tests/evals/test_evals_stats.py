"""Statistics of comparisons, checked against published values and exact distributions."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptver.evals.analysis.stats import (
    case_rates,
    flaky_cases,
    format_p,
    mcnemar_exact,
    paired_bootstrap_ci,
    paired_stats,
)


def test_mcnemar_matches_fagerland_2013() -> None:
    # Fagerland, Lydersen & Laake (2013), BMC Med Res Methodol 13:91, Table 1 example
    # (airway hyper-responsiveness before/after stem cell transplantation): b = 1, c = 7,
    # exact conditional McNemar p = 0.070.
    assert round(mcnemar_exact(1, 7), 3) == 0.070
    assert round(mcnemar_exact(7, 1), 3) == 0.070


@pytest.mark.parametrize(
    ("b", "c", "one_sided_table_value"),
    [
        # cumulative binomial tables, p = 0.5: P(X <= k) for n = b + c
        (2, 8, 0.0547),  # n = 10, k = 2
        (1, 9, 0.0107),  # n = 10, k = 1
        (5, 15, 0.0207),  # n = 20, k = 5
        (2, 10, 0.0193),  # n = 12, k = 2
        (8, 17, 0.0539),  # n = 25, k = 8
    ],
)
def test_mcnemar_is_twice_the_binomial_table_tail(b: int, c: int, one_sided_table_value: float) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(2 * one_sided_table_value, abs=2e-4)


def test_mcnemar_edges() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(0, 1) == 1.0  # 2 * 1/2
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


@given(st.integers(0, 60), st.integers(0, 60))
def test_mcnemar_is_symmetric_and_a_probability(b: int, c: int) -> None:
    p = mcnemar_exact(b, c)
    n = b + c
    assert p == min(1.0, 2 * sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n)
    assert p == mcnemar_exact(c, b)
    assert 0 < p <= 1
    if b != c:  # more evidence, smaller p
        assert mcnemar_exact(min(b, c), max(b, c) + 1) <= p


def _binomial_quantile(n: int, p: float, q: float) -> int:
    total = 0.0
    for k in range(n + 1):
        total += math.comb(n, k) * p**k * (1 - p) ** (n - k)
        if total >= q:
            return k
    return n


def test_bootstrap_of_a_proportion_matches_the_binomial_quantiles() -> None:
    # Resampling 100 zeros and ones with 30 ones: the bootstrap mean is Binomial(100, 0.3)/100,
    # whose 2.5% and 97.5% quantiles are exact.
    values = [1.0] * 30 + [0.0] * 70
    low, high = paired_bootstrap_ci(values, resamples=20_000)
    assert low == pytest.approx(_binomial_quantile(100, 0.3, 0.025) / 100, abs=0.011)
    assert high == pytest.approx(_binomial_quantile(100, 0.3, 0.975) / 100, abs=0.011)


def test_bootstrap_is_seeded_and_degenerate_when_constant() -> None:
    values = [0.1, -0.2, 0.0, 0.5, 0.3, -0.1]
    assert paired_bootstrap_ci(values) == paired_bootstrap_ci(values)
    varied = [((i * 37) % 101) / 100 - 0.5 for i in range(40)]
    assert paired_bootstrap_ci(varied, seed=1) != paired_bootstrap_ci(varied, seed=2)
    assert paired_bootstrap_ci([0.25] * 9) == pytest.approx((0.25, 0.25))
    with pytest.raises(ValueError):
        paired_bootstrap_ci([])
    with pytest.raises(ValueError):
        paired_bootstrap_ci([1.0], level=1.5)


def _records(outcomes: dict[str, list[bool]]) -> list[dict[str, object]]:
    return [
        {"id": case_id, "repeat": r, "pass": ok, "score": 1.0 if ok else 0.0}
        for case_id, runs in outcomes.items()
        for r, ok in enumerate(runs)
    ]


def test_paired_stats_counts_discordant_pairs_and_gives_a_verdict() -> None:
    base = _records({f"c{i}": [i < 20] for i in range(30)})  # c0..c19 pass
    head = _records({f"c{i}": [i < 11] for i in range(30)})  # c11..c19 now fail
    stats = paired_stats(base, head)
    assert stats is not None
    assert (stats.both_pass, stats.base_only, stats.head_only, stats.both_fail) == (11, 9, 0, 10)
    assert stats.p_value == pytest.approx(2 / 2**9)
    assert stats.verdict == "worse"
    assert stats.delta == pytest.approx(-0.3)
    assert stats.ci_low < stats.delta < stats.ci_high <= 0
    assert stats.describe().startswith("worse (p = 0.004, 95% CI -")
    reverse = paired_stats(head, base)
    assert reverse is not None and reverse.verdict == "better"


def test_paired_stats_no_detectable_difference_reads_like_the_issue() -> None:
    base = _records({f"c{i}": [i % 3 != 0] for i in range(31)})
    head = _records({f"c{i}": [i % 3 != 0 or i in (3, 6, 9)] for i in range(31)})
    head[13]["pass"], head[13]["score"] = False, 0.0  # c13 regressed: 3 improved, 1 regressed
    stats = paired_stats(base, head)
    assert stats is not None
    assert stats.verdict == "no detectable difference"
    text = stats.describe()
    assert text.startswith("no detectable difference (p = ")
    assert "95% CI " in text and text.endswith(" pts)")


def test_paired_stats_uses_every_repeat_and_only_shared_cases() -> None:
    base = _records({"a": [True, True, True], "b": [True, False, True], "gone": [True]})
    head = _records({"a": [False, True, False], "b": [True, True, True], "new": [False]})
    stats = paired_stats(base, head, alpha=0.1)
    assert stats is not None
    assert (stats.cases, stats.pairs) == (2, 6)
    assert (stats.base_only, stats.head_only) == (2, 1)
    assert stats.delta == pytest.approx(((1 / 3 - 1) + (1 - 2 / 3)) / 2)
    assert stats.level == pytest.approx(0.9)
    assert stats.to_json()["ci"]["level"] == pytest.approx(0.9)
    assert paired_stats(_records({"x": [True]}), _records({"y": [True]})) is None
    with pytest.raises(ValueError):
        paired_stats(base, head, alpha=0)


def test_case_rates_put_the_flakiest_first() -> None:
    records = _records(
        {
            "steady": [True, True, True, True],
            "broken": [False, False, False, False],
            "one-miss": [True, True, True, False],
            "coin": [True, False, True, False],
            "rare": [False, False, True, False],
        }
    )
    assert [r.id for r in case_rates(records)] == ["coin", "one-miss", "rare", "broken", "steady"]
    flaky = flaky_cases(records)
    assert [(r.id, r.passed, r.runs) for r in flaky] == [("coin", 2, 4), ("one-miss", 3, 4), ("rare", 1, 4)]
    assert flaky[0].to_json() == {"id": "coin", "passed": 2, "runs": 4, "pass_rate": 0.5, "flaky": True}


def test_format_p() -> None:
    assert format_p(0.41) == "0.41"
    assert format_p(0.0703) == "0.07"
    assert format_p(0.0039) == "0.004"
    assert format_p(0.0001) == "<0.001"
