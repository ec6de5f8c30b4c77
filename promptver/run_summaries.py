"""Read-only access to stored eval run summaries, for promotion policies and ``show``.

Runs are written by the eval runner (``promptver.evals``) as
``runs/<bundle>/<run id>/run.json``: ``id``, ``bundle``, ``version``, ``digest`` (the
version's), ``dataset`` (``name``, ``path``, ``digest``), ``status`` (``complete`` when
every case ran), ``started``, ``finished`` and ``summary`` (``score``, ``pass_rate``,
``cases``, ...). Only ``run.json`` is read here, never the case records, so this stays
cheap and needs nothing from the evals package.
"""

from __future__ import annotations

import json
from typing import Any

from promptver.store import Store, check_name


def run_summaries(store: Store, name: str) -> list[dict[str, Any]]:
    """Every readable run of a bundle, newest first (by finish, then start time)."""
    folder = store.root / "runs" / check_name(name)
    runs = []
    for path in folder.glob("*/run.json") if folder.is_dir() else []:
        try:
            meta = json.loads(path.read_bytes())
        except (OSError, ValueError):
            continue  # a run being written or damaged is no evidence either way
        if isinstance(meta, dict) and meta.get("bundle", name) == name:
            runs.append(meta)
    return sorted(
        runs, key=lambda m: (str(m.get("finished") or ""), str(m.get("started") or "")), reverse=True
    )


def score_of(run: dict[str, Any]) -> float | None:
    summary = run.get("summary")
    score = summary.get("score") if isinstance(summary, dict) else None
    return float(score) if isinstance(score, int | float) and not isinstance(score, bool) else None


def latest_run(
    store: Store, name: str, digest: str, dataset: str | None = None, runs: list[dict[str, Any]] | None = None
) -> dict[str, Any] | None:
    """The newest complete run of a version (by digest), on ``dataset`` if given."""
    for run in runs if runs is not None else run_summaries(store, name):
        if run.get("digest") != digest or run.get("status") != "complete" or score_of(run) is None:
            continue
        ran_on = run.get("dataset")
        if dataset is None or (isinstance(ran_on, dict) and ran_on.get("name") == dataset):
            return run
    return None


def brief(run: dict[str, Any]) -> dict[str, Any]:
    """The fields of a run that a report shows."""
    summary = _table(run.get("summary"))
    dataset = _table(run.get("dataset"))
    return {
        "id": run.get("id"),
        "dataset": dataset.get("name"),
        "dataset_digest": dataset.get("digest"),
        "target": run.get("target"),
        "finished": run.get("finished"),
        "score": score_of(run),
        "pass_rate": summary.get("pass_rate"),
        "cases": summary.get("cases"),
        "passed": summary.get("passed"),
    }


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
