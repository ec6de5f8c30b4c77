"""Find what ``promptver eval NAME[@VERSION]`` names: a stored version or a working copy."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from promptver.errors import ConfigError, NotFoundError
from promptver.evals.execution.bundle import BundleView, folder_view, tree_view

if TYPE_CHECKING:
    from promptver.evals.runs.storage import StoredRun
    from promptver.store.store import Store


def split_ref(ref: str) -> tuple[str, str | None]:
    name, sep, version = ref.partition("@")
    if not name or (sep and not version):
        raise ConfigError(f"bad bundle reference {ref!r}", hint="use NAME or NAME@VERSION")
    return name, version or None


def find_store(override: str | None = None) -> Store | None:
    """The store (``--store``/``PROMPTVER_HOME``, else found walking up), or None."""
    from promptver.store.store import Store

    try:
        return Store.find(override=override)
    except NotFoundError:
        if override:
            raise
        return None


def open_bundle(ref: str, store: Store | None) -> BundleView:
    """``NAME@VERSION`` (a stored version, read through verified objects) or ``NAME`` (the
    working copy in the store's bundles folder, or a folder path holding a bundle.toml).
    The bundle is validated first: every problem is reported before anything runs."""
    name, version = split_ref(ref)
    if version is None:
        if store is not None and (store.bundles_dir / name / "bundle.toml").is_file():
            return tree_view(store.work_tree(name), version=None, name=name)
        if (Path(name) / "bundle.toml").is_file():
            return folder_view(Path(name))
        if store is None:
            raise NotFoundError(
                f"no bundle {name!r}: no store found and no folder {name!r}",
                hint="run inside a project (promptver init) or pass --store",
            )
        store.work_tree(name)  # raises the store's "unknown bundle" error with its hint
        raise NotFoundError(f"no bundle.toml in {store.bundle_dir(name)}")
    if store is None:
        raise NotFoundError(
            f"no store to find {ref!r} in", hint="run inside a project (promptver init) or pass --store"
        )
    manifest = store.resolve(name, version)
    return tree_view(store.tree(manifest), version=manifest.version, digest=manifest.digest, name=name)


def find_run(
    store: Store,
    ref: str,
    *,
    bundle: str | None = None,
    dataset: str | None = None,
    target: str | None = None,
) -> StoredRun:
    """A stored run by id, or the newest complete run of ``[NAME@]VERSION`` on a dataset
    (with ``target``, a run of that target only: ``model``, ``rag``, ``retrieval``, ...)."""
    from promptver.evals.runs.records import check_run
    from promptver.evals.runs.storage import RunStore
    from promptver.evals.runs.summaries import run_target

    runs = RunStore(store.root / "runs")
    try:
        run = runs.load(ref)
    except NotFoundError:
        pass
    else:
        if target is not None and run_target(run.meta) != target:
            raise ConfigError(
                f"run {ref} is a {run_target(run.meta)} run ({run.meta.get('target')}), not a {target} run",
                hint=f"give a run of target {target}, or NAME@VERSION for its newest one",
            )
        return check_run(store, run)
    if "@" not in ref:
        if bundle is None:
            raise NotFoundError(f"no run {ref!r}", hint="give a run id or NAME@VERSION")
        ref = f"{bundle}@{ref}"
    view = open_bundle(ref, store)
    name = dataset or view.dataset(None).name
    found = runs.latest(view.name, digest=view.digest or "", dataset=name, target=target)
    if found is None:
        of = f" with target {target}" if target else ""
        flag = f" --target {target}" if target and target != "model" else ""
        raise NotFoundError(
            f"no complete run of {ref} on dataset {name!r}{of}",
            hint=f"run `promptver eval {ref} --dataset {name}{flag}` first",
        )
    return check_run(store, found)


def find_pair(
    store: Store, base: str, head: str, *, dataset: str | None = None, target: str | None = None
) -> tuple[StoredRun, StoredRun]:
    """The two runs ``eval compare A B`` compares: like with like, one dataset and one target.
    Without ``target``: a run id's own target, else the newest target both versions ran."""
    if target is None:
        target = _common_target(store, base, head, dataset)
    old = find_run(store, base, dataset=dataset, target=target)
    from promptver.evals.runs.summaries import run_target

    new = find_run(
        store,
        head,
        bundle=old.meta["bundle"],
        dataset=dataset or old.meta["dataset"]["name"],
        target=target or run_target(old.meta),
    )
    return old, new


def _common_target(store: Store, base: str, head: str, dataset: str | None) -> str | None:
    """The target of a named run (A's first), else the newest target of B's complete runs
    that A has a run of too; None when nothing is shared (find_run then says what lacks)."""
    from promptver.evals.runs.storage import RunStore
    from promptver.evals.runs.summaries import latest_complete, run_target

    runs = RunStore(store.root / "runs")
    targets: list[list[str]] = []
    for ref in (base, head):
        try:
            return run_target(runs.load(ref).meta)
        except NotFoundError:
            pass
        if "@" not in ref:
            if "@" not in base:
                return None  # find_run names what is missing
            ref = f"{base.partition('@')[0]}@{ref}"  # B as a bare VERSION of A's bundle
        view = open_bundle(ref, store)
        name = dataset or view.dataset(None).name
        metas = runs.list(view.name)
        kinds = [run_target(m) for m in metas if latest_complete([m], view.digest or "", name) is m]
        targets.append(list(dict.fromkeys(kinds)))
    old_targets, new_targets = targets
    return next((t for t in new_targets if t in old_targets), None)


def cwd_on_path() -> None:
    """Let ``python:module:function`` targets and scorers import from the current folder."""
    import sys

    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
