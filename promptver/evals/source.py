"""Find what ``promptver eval NAME[@VERSION]`` names: a stored version or a working copy."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from promptver.errors import ConfigError, NotFoundError
from promptver.evals.bundle import BundleView, folder_view, tree_view

if TYPE_CHECKING:
    from promptver.evals.storage import StoredRun
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


def find_run(store: Store, ref: str, *, bundle: str | None = None, dataset: str | None = None) -> StoredRun:
    """A stored run by id, or the newest complete run of ``[NAME@]VERSION`` on a dataset."""
    from promptver.evals.records import check_run
    from promptver.evals.storage import RunStore

    runs = RunStore(store.root / "runs")
    try:
        return check_run(store, runs.load(ref))
    except NotFoundError:
        pass
    if "@" not in ref:
        if bundle is None:
            raise NotFoundError(f"no run {ref!r}", hint="give a run id or NAME@VERSION")
        ref = f"{bundle}@{ref}"
    view = open_bundle(ref, store)
    name = dataset or view.dataset(None).name
    run = runs.latest(view.name, digest=view.digest, dataset=name)
    if run is None:
        raise NotFoundError(
            f"no complete run of {ref} on dataset {name!r}",
            hint=f"run `promptver eval {ref} --dataset {name}` first",
        )
    return check_run(store, run)


def cwd_on_path() -> None:
    """Let ``python:module:function`` targets and scorers import from the current folder."""
    import sys

    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
