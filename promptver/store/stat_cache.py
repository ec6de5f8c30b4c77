"""Remember file digests by (size, mtime, ctime, inode) so unchanged files are not re-hashed.

Like git's index: a file whose stat data is unchanged is taken to have the same content.
A file modified within `RACY_NS` of being hashed could change again without its mtime
moving (coarse file-system clocks), so such entries are never trusted later.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

RACY_NS = 50_000_000  # 50 ms, well above the coarse clock tick of common file systems
FORMAT = 1


class StatCache:
    def __init__(self, path: Path):
        self.path = path
        self._entries: dict[str, list[int | str]] = {}
        self._dirty = False
        try:
            data = json.loads(path.read_bytes())
            if data.get("format") == FORMAT:
                self._entries = data["entries"]
        except (OSError, ValueError, KeyError, AttributeError, RecursionError):
            pass  # a missing or damaged cache only costs re-hashing

    @staticmethod
    def _key(stat: os.stat_result) -> list[int]:
        return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]

    def lookup(self, rel: str, stat: os.stat_result) -> str | None:
        entry = self._entries.get(rel)
        if entry is None or entry[:4] != self._key(stat):
            return None
        hashed_at = entry[5]
        if not isinstance(hashed_at, int) or hashed_at - stat.st_mtime_ns < RACY_NS:
            return None
        digest = entry[4]
        return digest if isinstance(digest, str) else None

    def record(self, rel: str, stat: os.stat_result, hexdigest: str) -> None:
        self._entries[rel] = [*self._key(stat), hexdigest, time.time_ns()]
        self._dirty = True

    def keep_only(self, paths: set[str]) -> None:
        """Forget files that are gone, so the cache does not grow forever."""
        for rel in [r for r in self._entries if r not in paths]:
            del self._entries[rel]
            self._dirty = True

    def save(self) -> None:
        """Write the cache atomically; failures are ignored (the cache is an optimisation)."""
        if not self._dirty:
            return
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({"format": FORMAT, "entries": self._entries}))
            os.replace(tmp, self.path)
            self._dirty = False
        except OSError:
            tmp.unlink(missing_ok=True)
