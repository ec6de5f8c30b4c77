"""Find what ``promptver eval NAME[@VERSION]`` names: a stored version or a working copy."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from promptver.errors import ConfigError, NotFoundError
from promptver.evals.bundle import BundleView, folder_view

STORE_DIR = ".promptver"


def split_ref(ref: str) -> tuple[str, str | None]:
    name, sep, version = ref.partition("@")
    if not name or (sep and not version):
        raise ConfigError(f"bad bundle reference {ref!r}", hint="use NAME or NAME@VERSION")
    return name, version or None


def find_store_root(override: str | None = None, start: Path | None = None) -> Path | None:
    """The ``.promptver`` folder: ``override`` (``--store``/``PROMPTVER_HOME``), else the
    nearest one walking up from ``start`` (default: cwd); None when there is none."""
    if override:
        path = Path(override)
        if path.name != STORE_DIR and (path / STORE_DIR).is_dir():
            return path / STORE_DIR
        return path
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / STORE_DIR).is_dir():
            return folder / STORE_DIR
    return None


def _core_store(store_root: Path) -> Any:
    try:
        from promptver.store import Store  # type: ignore[import-not-found]
    except ImportError:
        return None
    return Store.find(override=str(store_root))


def open_bundle(ref: str, store_root: Path | None) -> BundleView:
    """``NAME@VERSION`` (a stored version, verified) or ``NAME`` (the working copy: the
    store's ``bundles/NAME`` folder, or a folder path holding a bundle.toml)."""
    name, version = split_ref(ref)
    if version is None:
        candidate = Path(name)
        if (candidate / "bundle.toml").is_file():
            return folder_view(candidate)
        if store_root is None:
            raise NotFoundError(f"no bundle {name!r}: no store found and no folder {name!r}",
                                hint="run inside a project (promptver init) or pass --store")
        folder = store_root.parent / "bundles" / name
        if not (folder / "bundle.toml").is_file():
            raise NotFoundError(f"no bundle {name!r} in {store_root.parent / 'bundles'}")
        store = _core_store(store_root)
        if store is not None:
            tree = store.work_tree(name)
            return _tree_view(tree, version=None)
        return folder_view(folder)
    if store_root is None:
        raise NotFoundError(f"no store to find {ref!r} in",
                            hint="run inside a project (promptver init) or pass --store")
    store = _core_store(store_root)
    if store is None:
        raise ConfigError("stored versions need the promptver store module")
    manifest = store.resolve(name, version)
    return _tree_view(store.tree(manifest), version=str(manifest.version))


def _tree_view(tree: Any, *, version: str | None) -> BundleView:
    import tomllib

    config = tomllib.loads(tree.read_bytes("bundle.toml").decode("utf-8"))
    name = str((config.get("bundle") or {}).get("name") or "")
    return BundleView(name, config, tree.read_bytes, version=version, digest=str(tree.digest),
                      label=str(getattr(tree, "label", name)))


def cwd_on_path() -> None:
    """Let ``python:module:function`` targets and scorers import from the current folder."""
    import sys

    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)


def find_run(store_root: Path, ref: str, *, bundle: str | None = None,
             dataset: str | None = None) -> Any:
    """A stored run by id, or the newest complete run of ``[NAME@]VERSION`` on a dataset."""
    from promptver.evals.storage import RunStore

    runs = RunStore(store_root / "runs")
    try:
        return runs.load(ref)
    except NotFoundError:
        pass
    if "@" not in ref:
        if bundle is None:
            raise NotFoundError(f"no run {ref!r}", hint="give a run id or NAME@VERSION")
        ref = f"{bundle}@{ref}"
    view = open_bundle(ref, store_root)
    name = dataset or view.dataset(None).name
    run = runs.latest(view.name, digest=view.digest, dataset=name)
    if run is None:
        raise NotFoundError(f"no complete run of {ref} on dataset {name!r}",
                            hint=f"run `promptver eval {ref} --dataset {name}` first")
    return run
