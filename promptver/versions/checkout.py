"""The working copy against the store: status and checkout (restore a version's files)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from promptver.errors import ConflictError, IntegrityError
from promptver.store.atomic import atomic_write
from promptver.store.manifest import Manifest
from promptver.store.store import Store
from promptver.store.tree import Tree, unsafe_path_reason
from promptver.versions.base import record_base, working_base


@dataclass(frozen=True)
class Status:
    bundle: str
    base: Manifest | None  # the version the working copy came from (None before the first bump)
    digest: str  # of the working copy
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    latest: str | None = None  # the newest version, when it is not the base

    @property
    def clean(self) -> bool:
        return not (self.added or self.removed or self.modified)

    def describe(self) -> str:
        """``matches 0.1.0``, ``changed since 0.1.0``, ``no versions yet``; and the newest
        version when the working copy is on an older one."""
        if self.base is None:
            text = "no versions yet"
        else:
            text = f"{'matches' if self.clean else 'changed since'} {self.base.version}"
        return text + (f" (latest is {self.latest})" if self.latest else "")

    def to_json(self) -> dict[str, object]:
        return {
            "bundle": self.bundle,
            "base": self.base.version if self.base else None,
            "base_digest": self.base.digest if self.base else None,
            "latest": self.latest,
            "digest": self.digest,
            "clean": self.clean,
            "added": self.added,
            "removed": self.removed,
            "modified": self.modified,
        }


def compare_files(old: Tree | Manifest | None, new: Tree) -> tuple[list[str], list[str], list[str]]:
    """(added, removed, modified) paths from ``old`` to ``new``, sorted."""
    before = {} if old is None else old.file_map() if isinstance(old, Manifest) else old.entries
    after = new.entries
    added = sorted(p for p in after if p not in before)
    removed = sorted(p for p in before if p not in after)
    modified = sorted(p for p in after if p in before and before[p].digest != after[p].digest)
    return added, removed, modified


def status(store: Store, name: str) -> Status:
    """The working copy against the version it came from (``versions/base.py``)."""
    tree = store.work_tree(name)
    base = working_base(store, name, tree.digest)
    added, removed, modified = compare_files(base, tree)
    names = store.version_names(name)
    latest = str(names[-1]) if names and base is not None and str(names[-1]) != base.version else None
    return Status(name, base, tree.digest, added, removed, modified, latest)


def checkout(store: Store, manifest: Manifest, to: Path | None = None, force: bool = False) -> Path:
    """Restore a version's files byte for byte, into its bundle folder or into ``to``.

    Into the bundle folder, a working copy that matches no stored version holds work that
    would be lost, so it is refused unless ``force``. Files are written atomically and
    checked against their digests; files the version does not have are removed.
    """
    for entry in manifest.files:
        if reason := unsafe_path_reason(entry.path):
            raise IntegrityError(
                f"{manifest.ref}: file path {entry.path!r} {reason}",
                hint="the manifest was tampered with; run `promptver verify`",
            )
    target = to if to is not None else store.bundle_dir(manifest.bundle)
    if to is not None:
        if target.exists() and any(target.iterdir()) and not force:
            raise ConflictError(f"{target} is not empty", hint="choose an empty folder or pass --force")
        current = None
    else:
        current = store.work_tree(manifest.bundle) if target.exists() else None
        if current is not None and current.entries and not force:
            known = {m.digest for m in store.versions(manifest.bundle)}
            if current.digest not in known:
                added, removed, modified = compare_files(store.latest(manifest.bundle), current)
                changed = ", ".join((added + removed + modified)[:5])
                raise ConflictError(
                    f"{target} has changes that are in no stored version ({changed})",
                    hint="bump or snapshot them first, or pass --force to discard them",
                )
    data = {e.path: store.read_object(e.digest) for e in manifest.files}  # verify all first
    target.mkdir(parents=True, exist_ok=True)
    tmp_dir = store.tmp_dir
    for path, content in data.items():
        destination = target / path
        if destination.is_symlink():
            destination.unlink()
        atomic_write(destination, content, tmp_dir=tmp_dir)
    if current is not None:
        for path in current.entries:
            if path not in data:
                (target / path).unlink(missing_ok=True)
                _remove_empty_parents(target / path, target)
    if to is None:
        record_base(store, manifest)  # edits from here bump on this version's line
    return target


def _remove_empty_parents(path: Path, stop: Path) -> None:
    folder = path.parent
    while folder != stop and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def copy_tree(tree: Tree, target: Path) -> None:
    """Write every file of a tree under ``target`` (used by exports and tests)."""
    for path in tree.entries:
        destination = target / path
        os.makedirs(destination.parent, exist_ok=True)
        with tree.open(path) as source, open(destination, "wb") as out:
            shutil.copyfileobj(source, out)
