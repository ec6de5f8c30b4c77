"""Retrieval metrics against tables computed by hand from the textbook definitions."""

from __future__ import annotations

import math

import pytest

from promptver.evals.retrieval.ragmetrics import case_metrics, rank_changes, ranks, run_metrics

L2, L3, L4 = math.log2(2), math.log2(3), math.log2(4)

# expected, retrieved documents (best first), k -> hit, recall, MRR, nDCG
TABLE = [
    (["a.md"], ["corpus/a.md", "corpus/b.md", "corpus/c.md"], 3, 1.0, 1.0, 1.0, 1.0),
    (["a.md"], ["corpus/b.md", "corpus/a.md", "corpus/c.md"], 3, 1.0, 1.0, 0.5, (1 / L3) / (1 / L2)),
    (["a.md"], ["corpus/b.md", "corpus/c.md"], 3, 0.0, 0.0, 0.0, 0.0),
    # two relevant, found at ranks 1 and 3: DCG = 1 + 1/log2(4), IDCG = 1 + 1/log2(3)
    (["a.md", "c.md"], ["x/a.md", "x/b.md", "x/c.md"], 3, 1.0, 1.0, 1.0, (1 + 1 / L4) / (1 + 1 / L3)),
    # one of two found, at rank 2
    (["a.md", "d.md"], ["x/b.md", "x/a.md", "x/c.md"], 3, 1.0, 0.5, 0.5, (1 / L3) / (1 + 1 / L3)),
    # k cuts the list: a at rank 3 is outside k = 2
    (["a.md"], ["x/b.md", "x/c.md", "x/a.md"], 2, 0.0, 0.0, 0.0, 0.0),
    # three expected, k = 2: the ideal has only two slots
    (["a.md", "b.md", "c.md"], ["x/a.md", "x/b.md"], 2, 1.0, 2 / 3, 1.0, 1.0),
]


@pytest.mark.parametrize(("expected", "retrieved", "k", "hit", "recall", "mrr", "ndcg"), TABLE)
def test_case_metrics_match_the_hand_computed_table(
    expected: list[str], retrieved: list[str], k: int, hit: float, recall: float, mrr: float, ndcg: float
) -> None:
    m = case_metrics(expected, retrieved, k)
    assert m is not None
    assert (m["hit"], m["recall"], m["mrr"]) == pytest.approx((hit, recall, mrr))
    assert m["ndcg"] == pytest.approx(ndcg)


def test_documents_count_once_and_names_match_by_file() -> None:
    assert ranks(["a.md", "b.md"], ["c/a.md", "c/a.md", "d/b.md"]) == {"a.md": 1, "b.md": 2}
    assert case_metrics([], ["a.md"], 3) is None


def test_run_metrics_are_means_over_cases_with_expected_sources() -> None:
    records = [
        {"retrieval": case_metrics(["a.md"], ["a.md"], 2)},
        {"retrieval": case_metrics(["a.md"], ["b.md", "a.md"], 2)},
        {"id": "no-expected-sources"},
    ]
    m = run_metrics(records)
    assert m is not None and m["cases"] == 2 and m["k"] == 2
    assert m["hit"] == 1.0 and m["mrr"] == pytest.approx(0.75)
    assert m["ndcg"] == pytest.approx((1 + 1 / L3) / 2)
    assert run_metrics([{"id": "x"}]) is None


def test_rank_changes_in_words() -> None:
    before = {"ranks": {"refunds.md": 1, "sso.md": None, "plans.md": 2}}
    after = {"ranks": {"refunds.md": 5, "sso.md": 3, "plans.md": None}}
    assert rank_changes(before, after) == [
        "expected source refunds.md fell from rank 1 to rank 5",
        "expected source sso.md now found at rank 3",
        "expected source plans.md no longer retrieved (was rank 2)",
    ]
    assert rank_changes(after, after) == []
