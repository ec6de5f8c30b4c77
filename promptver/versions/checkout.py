"""The working copy against the store: status and checkout (restore a version's files)."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from promptver.errors import ConflictError, IntegrityError, Problem
from promptver.store.atomic import (
    atomic_write,
    remove_quietly,
    tmp_name,
    write_all,
    write_failed,
    write_new,
)
from promptver.store.manifest import Manifest
from promptver.store.store import Store
from promptver.store.tree import Tree, path_problem, printable
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
    problems: list[Problem] = field(default_factory=list)  # links, unusable file names

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
            "problems": [p.to_json() for p in self.problems],
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
    return Status(name, base, tree.digest, added, removed, modified, latest, list(tree.problems))


def checkout(store: Store, manifest: Manifest, to: Path | None = None, force: bool = False) -> Path:
    """Restore a version's files byte for byte, into its bundle folder or into ``to``.

    Into the bundle folder, a working copy that matches no stored version holds work that
    would be lost, so it is refused unless ``force``. Files are written atomically and
    checked against their digests; files the version does not have are removed.
    """
    for entry in manifest.files:
        if reason := path_problem(entry.path):
            raise IntegrityError(
                f"{manifest.ref}: file path {printable(entry.path)!r} {reason}",
                hint="it cannot be written safely; fix the manifest or check out another version",
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
                base = working_base(store, manifest.bundle, current.digest)
                added, removed, modified = compare_files(base, current)
                changed = ", ".join((added + removed + modified)[:5])
                raise ConflictError(
                    f"{target} has changes that are in no stored version ({changed})",
                    hint="bump or snapshot them first, or pass --force to discard them",
                )
    data = {e.path: store.read_object(e.digest) for e in manifest.files}  # verify all first
    # a checkout into a new or empty folder that fails (a full disk) takes back what it wrote
    fresh = to is not None and not (target.exists() and any(target.iterdir()))
    created = to is not None and not target.exists()
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_failed(target, exc) from None
    for path in data:
        _check_no_links(target, path, force)  # refuse before anything is written
    tmp_dir = store.tmp_dir
    written: list[str] = []
    try:
        for path, content in data.items():
            written.append(path)  # before the write: its folders may exist when it fails
            write_inside(target, path, content, tmp_dir, force=force)
    except BaseException:
        if fresh:
            _take_back(target, written, created)
        raise
    if current is not None:
        for path in current.entries:
            if path not in data:
                (target / path).unlink(missing_ok=True)
                _remove_empty_parents(target / path, target)
    if to is None:
        record_base(store, manifest)  # edits from here bump on this version's line
    return target


def _take_back(target: Path, written: list[str], created: bool) -> None:
    """Remove the files a failed checkout wrote into a fresh folder (and the folder)."""
    for path in written:
        try:
            (target / path).unlink(missing_ok=True)
            _remove_empty_parents(target / path, target)
        except OSError:
            pass  # best effort: the error being raised says what went wrong
    if created:
        try:
            target.rmdir()
        except OSError:
            pass


def _check_no_links(root: Path, rel: str, force: bool, *, replace: bool = False) -> None:
    """Refuse (unless ``force``) a folder on the way to ``rel`` that is a symlink or a file:
    checkout never writes through a link, and a link to a folder could lead anywhere.
    ``replace``: with ``force``, remove such a link or file (never what a link points to)."""
    folder = root
    for segment in rel.split("/")[:-1]:
        folder = folder / segment
        if force and replace and (folder.is_symlink() or (folder.exists() and not folder.is_dir())):
            folder.unlink()
        if folder.is_symlink() and not force:
            raise ConflictError(
                f"{folder} is a symlink; checkout never writes through links",
                hint="remove the link (or pass --force to replace it with a real folder)",
            )
        if folder.exists() and not folder.is_symlink() and not folder.is_dir() and not force:
            raise ConflictError(
                f"{folder} is a file where the version has a folder",
                hint="move it away or pass --force to replace it",
            )


def write_inside(root: Path, rel: str, data: bytes, tmp_dir: Path, *, force: bool = False) -> None:
    """Write ``root/rel`` atomically without following any link below ``root``.

    Every folder on the way is opened relative to the previous one with ``O_NOFOLLOW``, and
    the file is renamed into the last one (a rename replaces a link, never follows it), so
    a link swapped in while we write still cannot redirect the write. With ``force`` a link
    or file in a folder's place is removed (the link itself, never its target)."""
    segments = rel.split("/")
    if os.open not in os.supports_dir_fd or os.rename not in os.supports_dir_fd:  # pragma: no cover
        _check_no_links(root, rel, force, replace=True)  # no race-free way here: check, then write
        atomic_write(root / rel, data, tmp_dir=tmp_dir)
        return
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(root, flags)
    except OSError as exc:
        raise write_failed(root, exc) from None
    try:
        here = root
        for segment in segments[:-1]:
            here = here / segment
            fd = _enter(fd, segment, here, flags | nofollow, force)
        tmp = tmp_dir / tmp_name(f".{segments[-1][:40]}")
        try:
            write_new(tmp, data)
            tmp_fd = os.open(tmp_dir, flags)
            try:
                try:
                    os.rename(tmp.name, segments[-1], src_dir_fd=tmp_fd, dst_dir_fd=fd)
                except OSError as exc:
                    if exc.errno != errno.EXDEV:
                        raise
                    _write_in_place(fd, segments[-1], data)  # tmp/ is on another disk
            finally:
                os.close(tmp_fd)
            os.fsync(fd)
        except IsADirectoryError:
            raise ConflictError(
                f"{root / rel} is a folder where the version has a file",
                hint="move it away and check out again",
            ) from None
        except OSError as exc:
            raise write_failed(root / rel, exc) from None
        finally:
            remove_quietly(tmp)
    finally:
        os.close(fd)


def _enter(parent: int, segment: str, path: Path, flags: int, force: bool) -> int:
    """Open (creating it if needed) the folder ``segment`` of ``parent``; closes ``parent``."""
    try:
        for _ in range(2):
            try:
                return os.open(segment, flags, dir_fd=parent)
            except FileNotFoundError:
                os.mkdir(segment, dir_fd=parent)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                if not force:
                    raise ConflictError(
                        f"{path} is a symlink or a file; checkout never writes through links",
                        hint="remove it (or pass --force to replace it with a real folder)",
                    ) from None
                os.unlink(segment, dir_fd=parent)  # the link itself, never its target
                os.mkdir(segment, dir_fd=parent)
        return os.open(segment, flags, dir_fd=parent)
    except OSError as exc:
        raise write_failed(path, exc) from None
    finally:
        os.close(parent)


def _write_in_place(folder: int, name: str, data: bytes) -> None:
    tmp = tmp_name(f".{name[:40]}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o666, dir_fd=folder)
    try:
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=folder)
        raise


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
