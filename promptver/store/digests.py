"""Content digests: streamed sha256 of files and the canonical digest of a file tree."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

PREFIX = "sha256:"
CHUNK = 1 << 20


def sha256_bytes(data: bytes | bytearray | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


class Writer(Protocol):
    def write(self, data: bytes, /) -> int: ...


def sha256_file(path: Path, copy_to: Writer | None = None) -> tuple[str, int]:
    """Hex digest and size of a file, read once in chunks (optionally copied while read)."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if copy_to is not None:
                copy_to.write(chunk)
    return digest.hexdigest(), size


def tree_digest(entries: Iterable[tuple[str, str]]) -> str:
    """``sha256:`` of the canonical listing of (path, hex digest) pairs.

    The listing is what ``sha256sum`` prints for the files, sorted by path:
    ``<hex>  <path>\\n`` per file, UTF-8. Same content, same digest, whatever the version.
    The listing is injective: a path holding a newline (refused by ``check``, but a
    manifest could list one) is written the way ``sha256sum`` escapes it, so no file set
    can spell another's listing. Paths without a newline are written as they are.
    """
    listing = "".join(listing_line(path, hexdigest) for path, hexdigest in sorted(entries))
    return PREFIX + sha256_bytes(listing.encode("utf-8", "surrogatepass"))


def listing_line(path: str, hexdigest: str) -> str:
    """One line of the canonical listing. A path with a newline gets ``sha256sum``'s
    escaped form: a leading backslash, then ``\\\\`` for a backslash and ``\\n`` for a
    newline, so the line cannot be confused with a plain one or split in two."""
    if "\n" in path:
        escaped = path.replace("\\", "\\\\").replace("\n", "\\n")
        return f"\\{hexdigest}  {escaped}\n"
    return f"{hexdigest}  {path}\n"


def short(digest: str, length: int = 8) -> str:
    """``sha256:ab12cd34`` from a full digest."""
    return PREFIX + digest.removeprefix(PREFIX)[:length]


def is_hex_digest(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)
