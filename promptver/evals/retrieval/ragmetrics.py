"""Retrieval metrics of a case and of a run, from the cases' ``expected_sources``.

Relevance is binary and per document: a retrieved chunk counts through its document, a
document counts once (at its best rank), and an expected source matches a retrieved path
by file name, as the ``sources`` assertion does. With the ranked documents ``d1..dn`` of
the ``k`` retrieved chunks and the expected set ``E``:

    hit@k     1 when some di is in E, else 0
    recall@k  |{di} & E| / |E|
    MRR       1 / (rank of the first di in E), 0 when none is
    nDCG@k    DCG / IDCG, DCG = sum over di in E of 1 / log2(i + 1),
              IDCG = sum for i = 1..min(|E|, k) of 1 / log2(i + 1)

A case without ``expected_sources`` has no metrics; a run's figures are the means over the
cases that have them.
"""

from __future__ import annotations

import math
from typing import Any

METRICS = ("hit", "recall", "mrr", "ndcg")
LABELS = {"hit": "hit@k", "recall": "recall@k", "mrr": "MRR", "ndcg": "nDCG@k"}


def file_name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def ranks(expected: list[str], retrieved: list[str]) -> dict[str, int | None]:
    """The 1-based rank of each expected source among the retrieved documents (None: absent)."""
    order: dict[str, int] = {}
    for path in retrieved:
        order.setdefault(file_name(path), len(order) + 1)
    return {source: order.get(file_name(source)) for source in dict.fromkeys(expected)}


def case_metrics(expected: list[str], retrieved: list[str], k: int) -> dict[str, Any] | None:
    """hit@k, recall@k, reciprocal rank and nDCG@k of one case, with each expected
    source's rank; None when the case expects no source."""
    if not expected:
        return None
    found = {s: r for s, r in ranks(expected, retrieved).items()}
    within = sorted(r for r in found.values() if r is not None and r <= k)
    dcg = sum(1 / math.log2(r + 1) for r in within)
    ideal = sum(1 / math.log2(i + 1) for i in range(1, min(len(found), k) + 1))
    return {
        "k": k,
        "hit": 1.0 if within else 0.0,
        "recall": len(within) / len(found),
        "mrr": 1 / within[0] if within else 0.0,
        "ndcg": dcg / ideal if ideal else 0.0,
        "ranks": found,
    }


def run_metrics(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Means over the records that carry metrics (None when no record does)."""
    scored = [r["retrieval"] for r in records if isinstance(r.get("retrieval"), dict)]
    if not scored:
        return None
    out: dict[str, Any] = {"k": scored[0].get("k"), "cases": len(scored)}
    for name in METRICS:
        out[name] = sum(float(m.get(name, 0.0)) for m in scored) / len(scored)
    return out


def rank_changes(base: dict[str, Any] | None, head: dict[str, Any] | None) -> list[str]:
    """How each expected source's rank moved between two runs of a case, in words."""
    old = (base or {}).get("ranks") or {}
    new = (head or {}).get("ranks") or {}
    changes = []
    for source in dict.fromkeys([*old, *new]):
        a, b = old.get(source), new.get(source)
        if a == b:
            continue
        if a is None:
            changes.append(f"expected source {source} now found at rank {b}")
        elif b is None:
            changes.append(f"expected source {source} no longer retrieved (was rank {a})")
        else:
            verb = "fell" if b > a else "rose"
            changes.append(f"expected source {source} {verb} from rank {a} to rank {b}")
    return changes
