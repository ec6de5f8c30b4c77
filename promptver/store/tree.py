"""A `Tree` is a bundle's set of files: path -> (digest, size), readable by path.

Two kinds: `WorkTree`, a folder on disk (the working copy), and the store's version trees
(`promptver.store.store.StoreTree`). Diffs, checks and the runtime only see this interface.
"""

from __future__ import annotations

import fnmatch
import io
import os
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO

from promptver.errors import NotFoundError, Problem
from promptver.store.digests import sha256_file, tree_digest
from promptver.store.names import collision_message, collisions, hidden_character
from promptver.store.stat_cache import StatCache

if TYPE_CHECKING:
    from promptver.store.linewalk import Walk

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

    def held(self, path: str) -> bytes | None:
        """The file's bytes when this tree holds them in memory already (no read, no
        copy), else None."""
        return None

    def read_buffer(self, path: str) -> bytes | bytearray:
        """`read_bytes`, as a buffer a large object may be rebuilt into (no second copy)."""
        return self.held(path) or self.read_bytes(path)

    def walk_of(self, path: str, old_digest: str) -> Walk | None:
        """The walk of ``path`` against the content ``old_digest`` that this tree's maker
        did already (a bump's check), else None."""
        return None

    def has(self, path: str) -> bool:
        return normalize(path) in self.entries

    def entry(self, path: str) -> FileEntry:
        try:
            return self.entries[normalize(path)]
        except KeyError:
            raise NotFoundError(f"{self.label}: no file {path!r}") from None


def normalize(path: str) -> str:
    return str(PurePosixPath(path))


def path_problem(path: str) -> str | None:
    """Why a bundle-relative path cannot be stored, listed and restored unambiguously, or
    None. One rule for bundles (``check``), archives and checkouts: a canonical POSIX path
    (`noncanonical_reason`), printable UTF-8, no backslash, no segment with surrounding
    spaces, nothing that shows as something else (`names.hidden_character`). Two different
    accepted paths always name two different files (on a case-insensitive file system,
    only if `names.collisions` finds no pair among them)."""
    if reason := noncanonical_reason(path):
        return reason
    if "\\" in path:
        return "contains a backslash"
    for char in path:
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            return "is not valid UTF-8"
        if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            return f"contains a control character (U+{code:04X})"
    for segment in path.split("/"):
        if segment.strip() != segment:
            return f"has leading or trailing spaces in {segment!r}"
    return hidden_character(path)


def noncanonical_reason(path: str) -> str | None:
    """Why a path is not the one canonical spelling of a file (``./a``, ``a//b``, ``a/``,
    ``/a``, ``..``), or None. Every manifest path must pass: otherwise two entries could
    name one file."""
    if not path:
        return "is empty"
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        return "is absolute"
    for segment in path.split("/"):
        if segment == "..":
            return "climbs out with '..'"
        if segment in ("", "."):
            return "is not canonical (an empty or '.' segment: '//', './' or a trailing '/')"
    return None


def unsafe_path_reason(path: str) -> str | None:
    """Why a path written in a bundle (a reference in ``bundle.toml``, an include) may not
    be used, or None when it stays inside the bundle. Lenient (``./a.j2`` is fine): stored
    file names follow the stricter `path_problem`."""
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
        self._kept: dict[str, bytes] = {}
        self._walks: dict[tuple[str, str], Walk] = {}
        self.entries = {}
        self._scan()

    def _scan(self) -> None:
        root = self.folder.resolve()
        ignores = DEFAULT_IGNORES + _read_ignore_file(self.folder / IGNORE_FILE)
        for dirpath, dirnames, filenames in os.walk(self.folder):
            rel_dir = os.path.relpath(dirpath, self.folder)
            kept = []
            for name in sorted(dirnames):
                if _ignored(rel_dir, name, ignores):
                    continue
                rel = _join(rel_dir, name)
                full = Path(dirpath, name)
                if reason := path_problem(rel):
                    self._bad_name(rel, reason)
                elif full.is_symlink():
                    # os.walk does not follow folder links; say so instead of skipping it.
                    target = full.resolve()
                    if not target.is_relative_to(root):
                        self._outside(rel, target, "folder")
                    else:
                        self.problems.append(
                            Problem(
                                "is a symlink to a folder; promptver does not follow folder links",
                                file=rel,
                                hint="replace the link with the folder itself",
                            )
                        )
                else:
                    kept.append(name)
            dirnames[:] = kept
            for name in sorted(filenames):
                if _ignored(rel_dir, name, ignores):
                    continue
                full = Path(dirpath, name)
                rel = _join(rel_dir, name)
                if reason := path_problem(rel):
                    self._bad_name(rel, reason)
                    continue
                if full.is_symlink():
                    target = full.resolve()
                    if not target.is_relative_to(root):
                        self._outside(rel, target, "file")
                        continue
                    if not target.is_file():
                        continue
                self._add(rel, full)
        for first, second, why in collisions(self.entries):
            self.problems.append(
                Problem(
                    f"file name {collision_message(first, second, why)}",
                    file=printable(second),
                    hint="rename or remove one of them",
                )
            )
        if self._cache is not None:
            self._cache.keep_only(set(self.entries))
            self._cache.save()

    def _outside(self, rel: str, target: Path, kind: str) -> None:
        self.problems.append(
            Problem(
                f"symlink leads outside the bundle (to {target})",
                file=rel,
                hint=f"copy the {kind} into the bundle instead of linking to it",
            )
        )

    def _bad_name(self, rel: str, reason: str) -> None:
        self.problems.append(
            Problem(
                f"file name {reason}: it cannot be versioned unambiguously",
                file=printable(rel),
                hint="rename it: letters, digits, '-', '_', '.', '/' and inner spaces are safe",
            )
        )

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

    def keep(self, path: str, data: bytes, hexdigest: str) -> None:
        """Serve ``path`` from ``data`` (read and hashed by the caller) from now on, when
        ``hexdigest`` is the digest the tree lists for it: the exact bytes that were hashed."""
        entry = self.entries.get(path)
        if entry is not None and entry.digest == hexdigest:
            self._kept[path] = data

    def keep_walk(self, path: str, old_digest: str, walked: Walk) -> None:
        """Hand ``walked`` (``path``'s kept bytes against ``old_digest``) to later readers."""
        if path in self._kept:
            self._walks[(path, old_digest)] = walked

    def walk_of(self, path: str, old_digest: str) -> Walk | None:
        return self._walks.get((normalize(path), old_digest))

    def path_of(self, path: str) -> Path:
        return self.folder / self.entry(path).path

    def open(self, path: str) -> BinaryIO:
        data = self.held(path)
        if data is not None:
            return io.BytesIO(data)
        return open(self.path_of(path), "rb")

    def read_bytes(self, path: str) -> bytes:
        data = self.held(path)
        return data if data is not None else super().read_bytes(path)

    def held(self, path: str) -> bytes | None:
        return self._kept.get(normalize(path))


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

    def held(self, path: str) -> bytes | None:
        return self._files.get(normalize(path))


def printable(path: str) -> str:
    """A path as it can be shown on one line: control characters, backslashes and
    undecodable bytes escaped the way Python writes them."""
    return repr(path)[1:-1] if path_problem(path) else path


def _join(rel_dir: str, name: str) -> str:
    return name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/")


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
