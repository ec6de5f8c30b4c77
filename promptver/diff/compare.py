"""Resolve what to compare (stored versions or working copies) and diff it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from promptver.diff.model import BundleDiff, Side

if TYPE_CHECKING:
    from promptver.store.store import Store
    from promptver.store.tree import Tree

WORKING = None  # a reference of None means the bundle's working copy


def side(store: Store, name: str, ref: str | None) -> tuple[Tree, Side]:
    """The tree and description of ``name`` at ``ref`` (a version, ``latest``, an alias),
    or of its working copy when ``ref`` is None.

    ``latest`` of a bundle that has a folder but no versions yet is the empty bundle
    (digest ``""``): a new bundle's first diff or review shows everything as added."""
    if ref is None:
        tree = store.work_tree(name)
        return tree, Side(name, None, tree.digest, f"{name} (working copy)")
    if ref == "latest" and not store.version_names(name) and store.bundle_dir(name).is_dir():
        from promptver.store.tree import MemoryTree

        label = f"{name} (no versions yet)"
        return MemoryTree({}, label), Side(name, None, "", label)
    manifest = store.resolve(name, ref)
    return store.tree(manifest), Side(name, manifest.version, manifest.digest, f"{name}@{manifest.version}")


def diff_bundle(
    store: Store,
    name: str,
    old_ref: str | None = "latest",
    new_ref: str | None = WORKING,
    new_name: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BundleDiff:
    """``name@old_ref`` against ``new_name@new_ref`` (default: the latest version against
    the working copy of the same bundle)."""
    from promptver.diff.engine import diff_trees

    old_tree, old_side = side(store, name, old_ref)
    new_tree, new_side = side(store, new_name or name, new_ref)
    return diff_trees(old_tree, new_tree, old_side, new_side, progress)
