"""Read-only access to stored eval run summaries, for promotion policies and ``show``.

Runs are written by the eval runner (``promptver.evals``) as
``runs/<bundle>/<run id>/run.json``: ``id``, ``bundle``, ``version``, ``digest`` (the
version's), ``dataset`` (``name``, ``path``, ``digest``), ``status`` (``complete`` when
every case ran), ``started``, ``finished`` and ``summary`` (``score``, ``pass_rate``,
``cases``, ...). Only ``run.json`` is read here (and the run files of recorded runs are
hashed), so this needs nothing from the evals package.

Evidence (promotion policies, ``show NAME@ALIAS``) is only a *recorded* run: one whose
files match an ``eval`` event of the audit log (``promptver.evals.runs.records``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from promptver.store.store import Store, check_name


def run_summaries(store: Store, name: str) -> list[dict[str, Any]]:
    """Every readable run of a bundle, newest first."""
    return read_run_metas(store.root / "runs" / check_name(name), name)


def evidence(store: Store, name: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The runs of a bundle that count as eval evidence (newest first), and why each other
    run does not (run id -> reason: not recorded, edited after it was recorded, missing)."""
    from promptver.evals.runs.records import recorded_events, why_not_counted

    events = recorded_events(store, name)
    counted, rejected = [], {}
    for run in run_summaries(store, name):
        run_id = str(run.get("id"))
        why = why_not_counted(store, name, run_id, events)
        if why is None:
            counted.append(run)
        else:
            rejected[run_id] = why
    return counted, rejected


def read_run_metas(folder: Path, name: str) -> list[dict[str, Any]]:
    """The ``run.json`` of every run in a bundle's runs folder, newest first (by finish,
    then start time); unreadable ones (being written, damaged) are skipped."""
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
    """The newest complete, scored run of a version (by digest), on ``dataset`` if given."""
    return latest_complete(runs if runs is not None else run_summaries(store, name), digest, dataset)


def latest_complete(
    runs: list[dict[str, Any]], digest: str, dataset: str | None = None, target: str | None = None
) -> dict[str, Any] | None:
    """The first (newest) complete, scored run of a version, on ``dataset`` and with the
    ``target`` (``run_target``: ``model``, ``rag``, ``retrieval``, ...) when given."""
    for run in runs:
        if run.get("digest") != digest or run.get("status") != "complete" or score_of(run) is None:
            continue
        if model_override(run):
            continue  # a model-matrix run scored another model, not this version's configuration
        if target is not None and run_target(run) != target:
            continue
        ran_on = run.get("dataset")
        if dataset is None or (isinstance(ran_on, dict) and ran_on.get("name") == dataset):
            return run
    return None


def target_kind(meta: dict[str, Any]) -> str:
    """The target as asked for (``model``, ``rag``, ``retrieval``, ``python:...``; a model
    override of a matrix run as ``model=NAME``), not its resolved label: the label names the
    version's own model or top_k, which is what a history follows across versions, and what
    two compared runs must share."""
    options = meta.get("options")
    options = options if isinstance(options, dict) else {}
    override = options.get("model")
    if override:
        return f"model={override}"
    return str(options.get("target") or "model")


def run_target(meta: dict[str, Any]) -> str:
    """What a run evaluated: ``model`` (the default), ``rag``, ``retrieval``,
    ``retrieval:configured`` or ``python:...``, as asked for with ``--target``. Two runs are
    compared only when they share it (a model override still evaluates a model)."""
    options = meta.get("options")
    target = options.get("target") if isinstance(options, dict) else None
    return str(target or "model")


def model_override(run: dict[str, Any]) -> str | None:
    """The ``--model`` a run was made with instead of the version's own model, if any."""
    options = run.get("options")
    value = options.get("model") if isinstance(options, dict) else None
    return str(value) if value else None


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
        "errors": summary.get("errors"),
        "cost": summary.get("cost"),
        "status": run.get("status"),
    }


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def describe_run(run: dict[str, Any]) -> str:
    """One line naming what a run evaluated and how: its target, dataset, score, errors
    and cost (``brief`` fields)."""
    score = run.get("score")
    scored = f"score {score:.3f}" if isinstance(score, int | float) else "no score"
    cases, errors = run.get("cases"), run.get("errors")
    passed = f", {run.get('passed')}/{cases} passed" if cases is not None else ""
    errored = f", {errors} errored" if isinstance(errors, int) else ", errors unknown"
    cost = run.get("cost")
    spent = f", cost ${cost:.4f}" if isinstance(cost, int | float) else ", cost unknown"
    signed = f"; signed by {run['signed_by']}" if run.get("signed_by") else ""
    return (
        f"run {run.get('id')} on {run.get('dataset')} by {run.get('target') or 'an unknown target'}:"
        f" {scored}{passed}{errored}{spent}{signed}"
    )
