"""Eval runs in the audit log: what makes a stored run evidence.

When a saved run of a stored version completes, an ``eval`` event is appended to the
bundle's hash-chained log with the sha256 of the run's final ``run.json`` and
``cases.jsonl``. A run whose files still match its event is *recorded*; only recorded runs
count for promotion policies and ``show NAME@ALIAS``. ``promptver verify`` reports a
recorded run that is missing or was edited after it was recorded. Runs without an event
(older runs, working-copy runs) are not an error, they are just not evidence.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from promptver.errors import IntegrityError
from promptver.store.digests import sha256_file
from promptver.store.store import Store, check_name

if TYPE_CHECKING:
    from promptver.store.events import Signer


class _Run(Protocol):
    """A loaded run (`promptver.evals.runs.storage.StoredRun`, whose module reads the records
    this one keeps: typed by what it holds, not by its class)."""

    path: Path
    meta: dict[str, Any]

    @property
    def id(self) -> str: ...


StoredRun = TypeVar("StoredRun", bound=_Run)

EVENT = "eval"
RUN_FILES = ("run.json", "cases.jsonl")


def run_folder(store: Store, name: str, run_id: str) -> Path:
    return store.root / "runs" / check_name(name) / run_id


def _hashes(folder: Path) -> dict[str, str] | None:
    """The sha256 of each run file, or None when one is missing or unreadable."""
    try:
        return {f: sha256_file(folder / f)[0] for f in RUN_FILES}  # streamed: runs can be large
    except OSError:
        return None


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def eval_event(meta: dict[str, Any], folder: Path, actor: str, time: str) -> dict[str, Any] | None:
    """The event recording a completed run (None when its files cannot be read)."""
    hashes = _hashes(folder)
    if hashes is None:
        return None
    summary = _table(meta.get("summary"))
    dataset = _table(meta.get("dataset"))
    return {
        "event": EVENT,
        "time": time,
        "actor": actor,
        "bundle": meta.get("bundle"),
        "version": meta.get("version"),
        "digest": meta.get("digest"),
        "run": meta.get("id"),
        "dataset": dataset.get("name"),
        "dataset_digest": dataset.get("digest"),
        "target": meta.get("target"),
        "score": summary.get("score"),
        "pass_rate": summary.get("pass_rate"),
        "run_sha256": hashes["run.json"],
        "cases_sha256": hashes["cases.jsonl"],
    }


def record_run(
    store: Store, meta: dict[str, Any], folder: Path, sign: Signer | None = None
) -> dict[str, Any] | None:
    """Append the ``eval`` event of a saved run once it is complete; call it after the run's
    last write. A working-copy run (no version) or an unfinished one records nothing.
    ``sign``: the event is signed (it holds the run files' hashes, so the signature covers
    the run)."""
    from promptver.store.events import last_event_id, utc_now
    from promptver.versions.provenance import identity

    name = meta.get("bundle")
    if meta.get("status") != "complete" or not meta.get("version") or not isinstance(name, str):
        return None
    from promptver.evals.execution.redact import redact_json

    event = eval_event(meta, folder, identity(store.project_root), utc_now())
    if event is None:
        return None
    event = redact_json(event)
    with store.lock(name):
        if sign is not None:
            event = sign(event, name, last_event_id(store, name))
        return store.append_event(name, event)


def recorded_events(store: Store, name: str) -> dict[str, dict[str, Any]]:
    """The last ``eval`` event of each run id in a bundle's log."""
    from promptver.store.events import log_events

    return {str(e.get("run")): e for e in log_events(store, name, EVENT) if e.get("run")}


def run_problem(store: Store, name: str, event: dict[str, Any]) -> str | None:
    """Why a recorded run's files no longer match its event (None: they match)."""
    run_id = str(event.get("run"))
    folder = run_folder(store, name, run_id)
    if not all((folder / f).is_file() for f in RUN_FILES):
        return f"{name}: run {run_id} recorded in the audit log is missing ({folder})"
    hashes = _hashes(folder)
    if hashes is None:
        return f"{name}: run {run_id} recorded in the audit log cannot be read ({folder})"
    keys = ("run_sha256", "cases_sha256")
    edited = [f for f, key in zip(RUN_FILES, keys, strict=True) if event.get(key) != hashes[f]]
    if edited:
        return f"{name}: run {run_id} was edited after it was recorded ({', '.join(edited)} differ)"
    return None


def why_not_counted(store: Store, name: str, run_id: str, events: dict[str, dict[str, Any]]) -> str | None:
    """Why a stored run is no eval evidence: unrecorded, edited or missing (None: it counts)."""
    event = events.get(run_id)
    if event is None:
        return f"run {run_id} is not recorded in the audit log"
    problem = run_problem(store, name, event)
    if problem is None:
        return None
    return problem.split(": ", 1)[1].split(" (", 1)[0]


def check_run(store: Store, run: StoredRun) -> StoredRun:
    """A loaded run, or `IntegrityError` when its audit event records other files (it was
    edited after it was recorded): what a command shows or gates on, it checks first."""
    name = run.meta.get("bundle")
    if not isinstance(name, str):
        return run
    event = recorded_events(store, name).get(run.id)
    problem = run_problem(store, name, event) if event is not None else None
    if problem is not None:
        raise IntegrityError(
            problem.split(": ", 1)[1],
            location=str(run.path),
            hint="restore the run from git (`git checkout -- .promptver/runs`) or run the eval again",
        )
    return run
