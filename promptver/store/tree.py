"""A `Tree` is a bundle's set of files: path -> (digest, size), readable by path.

Two kinds: `WorkTree`, a folder on disk (the working copy), and the store's version trees
(`promptver.store.store.StoreTree`). Diffs, checks and the runtime only see this interface.
"""

from __future__ import annotations

import fnmatch
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from promptver.errors import NotFoundError, Problem
from promptver.store.digests import sha256_file, tree_digest
from promptver.store.stat_cache import StatCache

DEFAULT_IGNORES = (
    ".git",
    "__pycache__",
    "*.pyc",
    "*.swp",
    "*~",
    ".DS_Store",
    ".promptver",
)
IGNORE_FILE = ".promptverignore"


@dataclass(frozen=True)
class FileEntry:
    path: str  # POSIX, relative to the bundle folder
    digest: str  # hex sha256
    size: int

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "digest": "sha256:" + self.digest, "size": self.size}


class Tree:
    """Files of one bundle state. Subclasses fill ``entries`` and implement ``open``."""

    label: str
    entries: dict[str, FileEntry]

    @property
    def digest(self) -> str:
        return tree_digest((e.path, e.digest) for e in self.entries.values())

    def open(self, path: str) -> BinaryIO:
        raise NotImplementedError

    def read_bytes(self, path: str) -> bytes:
        with self.open(path) as handle:
            return handle.read()

    def read_text(self, path: str) -> str:
        return self.read_bytes(path).decode("utf-8")

    def has(self, path: str) -> bool:
        return normalize(path) in self.entries

    def entry(self, path: str) -> FileEntry:
        try:
            return self.entries[normalize(path)]
        except KeyError:
            raise NotFoundError(f"{self.label}: no file {path!r}") from None


def normalize(path: str) -> str:
    return str(PurePosixPath(path))


def unsafe_path_reason(path: str) -> str | None:
    """Why a bundle-relative path may not be used, or None when it is safe."""
    if not path or path.strip() != path:
        return "is empty or has surrounding spaces"
    if "\\" in path or "\x00" in path:
        return "contains a backslash or NUL"
    pure = PurePosixPath(path)
    if pure.is_absolute() or (len(path) > 1 and path[1] == ":"):
        return "is absolute"
    if ".." in pure.parts:
        return "climbs out with '..'"
    return None


class WorkTree(Tree):
    """A bundle folder on disk, scanned once; digests come from the stat cache when valid."""

    def __init__(
        self,
        folder: Path,
        cache: StatCache | None = None,
        label: str = "working copy",
        hasher: Callable[[Path], str] | None = None,
    ):
        self.folder = folder
        self.label = label
        self._hasher = hasher
        self.problems: list[Problem] = []  # symlinks leading outside, unreadable files
        self._cache = cache
        self.entries = {}
        self._scan()

    def _scan(self) -> None:
        root = self.folder.resolve()
        ignores = DEFAULT_IGNORES + _read_ignore_file(self.folder / IGNORE_FILE)
        for dirpath, dirnames, filenames in os.walk(self.folder):
            rel_dir = os.path.relpath(dirpath, self.folder)
            dirnames[:] = sorted(d for d in dirnames if not _ignored(rel_dir, d, ignores))
            for name in sorted(filenames):
                if _ignored(rel_dir, name, ignores):
                    continue
                full = Path(dirpath, name)
                rel = name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/")
                if full.is_symlink():
                    target = full.resolve()
                    if not target.is_relative_to(root):
                        self.problems.append(
                            Problem(
                                f"symlink leads outside the bundle (to {target})",
                                file=rel,
                                hint="copy the file into the bundle instead of linking to it",
                            )
                        )
                        continue
                    if not target.is_file():
                        continue
                self._add(rel, full)
        if self._cache is not None:
            self._cache.keep_only(set(self.entries))
            self._cache.save()

    def _add(self, rel: str, full: Path) -> None:
        try:
            stat = full.stat()
        except OSError as exc:
            self.problems.append(Problem(f"cannot read: {exc.strerror}", file=rel))
            return
        hexdigest = self._cache.lookup(rel, stat) if self._cache else None
        if hexdigest is None:
            try:
                hexdigest = self._hasher(full) if self._hasher else sha256_file(full)[0]
            except OSError as exc:
                self.problems.append(Problem(f"cannot read: {exc.strerror}", file=rel))
                return
            if self._cache is not None:
                self._cache.record(rel, stat, hexdigest)
        self.entries[rel] = FileEntry(rel, hexdigest, stat.st_size)

    def path_of(self, path: str) -> Path:
        return self.folder / self.entry(path).path

    def open(self, path: str) -> BinaryIO:
        return open(self.path_of(path), "rb")


class MemoryTree(Tree):
    """A tree held in memory (tests, exported archives)."""

    def __init__(self, files: dict[str, bytes], label: str = "memory"):
        from promptver.store.digests import sha256_bytes

        self.label = label
        self._files = {normalize(p): data for p, data in files.items()}
        self.entries = {p: FileEntry(p, sha256_bytes(data), len(data)) for p, data in self._files.items()}

    def open(self, path: str) -> BinaryIO:
        self.entry(path)
        return io.BytesIO(self._files[normalize(path)])


def _read_ignore_file(path: Path) -> tuple[str, ...]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return ()
    return tuple(s for line in lines if (s := line.strip()) and not s.startswith("#"))


def _ignored(rel_dir: str, name: str, patterns: tuple[str, ...]) -> bool:
    rel = name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/")
    match: Callable[[str, str], bool] = fnmatch.fnmatchcase
    return any(match(name, p) or match(rel, p.rstrip("/")) for p in patterns)
