"""An eval run from start to finish: `evaluate` prepares, runs (asyncio) and records it;
`RunInterrupted` when Ctrl-C stops it. Re-exported by ``promptver.evals``."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Any

from promptver.errors import PromptverError
from promptver.evals.execution.bundle import BundleView
from promptver.evals.execution.cache import SharedCache
from promptver.evals.runner import EvalOptions, OnRecord, check_resumable, execute, prepare
from promptver.evals.runs.storage import RunStore, StoredRun, read_run
from promptver.store.events import Signer


class RunInterrupted(PromptverError):
    """Ctrl-C stopped a run; its finished cases are kept (when it was saved)."""

    def __init__(self, run_id: str, finished: int, saved: bool) -> None:
        if saved:
            super().__init__(
                f"interrupted: run {run_id} keeps its {finished} finished cases",
                hint=f"continue it with --resume {run_id}",
            )
        else:
            super().__init__(f"interrupted after {finished} cases (the run was not saved)")
        self.run_id = run_id
        self.finished = finished


def _run(plan: Any, writer: Any, on_record: OnRecord | None, saved: bool) -> None:
    try:
        asyncio.run(execute(plan, writer, on_record))
    except KeyboardInterrupt:
        raise RunInterrupted(writer.id, len(writer.records), saved) from None


def _record(store_root: Path, run: StoredRun, sign: Signer | None = None) -> StoredRun:
    """Put a completed run of a stored version in the bundle's audit log (after its last
    write, so the recorded hashes are those of the final files), signed with ``sign``."""
    from promptver.evals.runs.records import record_run
    from promptver.store.store import Store

    record_run(Store(store_root), run.meta, run.path, sign)
    return run


def runs_folder(store_root: Path) -> Path:
    return store_root / "runs"


def evaluate(
    bundle: BundleView,
    options: EvalOptions,
    *,
    store_root: Path | None,
    save: bool = True,
    resume: str | None = None,
    on_record: OnRecord | None = None,
    env: dict[str, str] | None = None,
    shared_cache: SharedCache | None = None,
    on_batch: Any = None,
    sign: Signer | None = None,
) -> StoredRun:
    """Run (or resume) an eval and return the finished run.

    ``shared_cache``: a second call-cache layer many machines share (the CLI passes the
    remote's, `promptver.remote.callcache`); answers found there make no provider call.

    With ``save`` the run lives in the store's ``runs/`` folder; otherwise in a scratch
    folder that is removed afterwards. Ctrl-C (KeyboardInterrupt) propagates after the
    run is marked interrupted with its finished cases kept. ``sign`` (from
    ``governance/signing.signer``): the run's ``eval`` audit event is signed by that key, so
    a policy's ``signed_by`` can require it.
    """
    from promptver.evals import runner

    runs = RunStore(runs_folder(store_root)) if store_root is not None else None
    if resume is not None:
        if runs is None:
            from promptver.errors import NotFoundError

            raise NotFoundError(f"no store to find run {resume!r} in")
        writer = runs.reopen(resume)
        options = EvalOptions.from_json(
            {
                **writer.meta.get("options", {}),
                "concurrency": options.concurrency,
                "rate_limit": options.rate_limit,
                "tpm": options.tpm,
                "cache": options.cache,
            }
        )
        plan = prepare(bundle, options, store_root=store_root, env=env, shared=shared_cache)
        plan.on_batch = on_batch
        check_resumable(plan, writer)
        _run(plan, writer, on_record, True)
        assert store_root is not None  # runs is not None
        return _record(store_root, read_run(writer.folder, lazy=True), sign)
    if save and runs is None:
        from promptver.errors import ConfigError

        raise ConfigError("saving a run needs a store", hint="run inside a project or pass --store")
    plan = prepare(bundle, options, store_root=store_root, env=env, shared=shared_cache)
    plan.on_batch = on_batch
    scratch = None if save else Path(tempfile.mkdtemp(prefix="promptver-eval-"))
    try:
        writer = runner.start(plan, runs if save else None, scratch)
        _run(plan, writer, on_record, save)
        run = read_run(writer.folder, lazy=save)  # a scratch folder is removed below
        return _record(store_root, run, sign) if save and store_root is not None else run
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
