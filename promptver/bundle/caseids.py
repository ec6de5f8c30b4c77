"""The case ids of validated eval sets, kept so a new case needs no pass over the whole set.

A bump validates only the lines that changed (`check.EvalPrevalidator`); a changed line
whose id is not among the ids of the lines it replaces (a new case) must not take an id
an unchanged line has. Instead of reading every id of the new file again, the ids of the
stored version are kept here (``cache/ids/<digest>``, local like the rest of ``cache/``):

- a set validated whole keeps its full list: ``{"ids": [...]}``;
- a set validated by its changes keeps only those: ``{"base": <digest>, "removed": [...],
  "added": [...]}``, a few bytes for an edit of 1,000 cases;

so reading a set's ids is its newest full list plus the changes after it (at most
`DEPTH` of them; a longer or broken chain is not known, and the next set is checked whole,
which starts a new list).
"""

from __future__ import annotations

import os
from pathlib import Path

from promptver.store.atomic import remove_quietly, write_new
from promptver.store.digests import is_hex_digest

DEPTH = 32  # changes followed back to a full list, at most
KEPT_FULL = 4  # full lists kept (the newest); the changes lists are a few bytes each


class CaseIds:
    """The ids index of one store's eval sets (``folder`` is ``cache/ids``; None: none)."""

    def __init__(self, folder: Path | None):
        self.folder = folder

    def ids(self, digest: str) -> set[str] | None:
        """The ids of the set with this digest, when they were kept."""
        chain: list[tuple[list[str], list[str]]] = []
        for _ in range(DEPTH + 1):
            entry = self._read(digest)
            if entry is None:
                return None
            if "ids" in entry:
                found = set(entry["ids"])  # a list of str (checked when read)
                for removed, added in reversed(chain):
                    found.difference_update(removed)
                    found.update(added)
                return found
            chain.append((list(entry["removed"]), list(entry["added"])))
            digest = str(entry["base"])
        return None

    def keep_all(self, digest: str, ids: set[str]) -> None:
        self._write(digest, {"ids": list(ids)})  # unsorted: sorting 100,000 ids cost 30 ms
        self._prune()

    def keep_changes(self, digest: str, base: str, removed: set[str], added: set[str]) -> None:
        self._write(digest, {"base": base, "removed": sorted(removed), "added": sorted(added)})

    def _read(self, digest: str) -> dict[str, list[str] | str] | None:
        import msgspec

        if self.folder is None or not is_hex_digest(digest):
            return None
        try:
            raw = (self.folder / digest).read_bytes()
            entry = msgspec.json.decode(raw, type=dict[str, list[str] | str])  # checked in C
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            return None  # not kept, or damaged: not known
        if set(entry) == {"ids"} and isinstance(entry["ids"], list):
            return entry
        changes = set(entry) == {"base", "removed", "added"}
        if (
            changes
            and isinstance(entry["base"], str)
            and is_hex_digest(entry["base"])
            and isinstance(entry["removed"], list)
            and isinstance(entry["added"], list)
        ):
            return entry
        return None

    def _write(self, digest: str, entry: dict[str, object]) -> None:
        import msgspec

        if self.folder is None:
            return
        path = self.folder / digest
        tmp = path.with_name(f".{digest}.{os.getpid()}")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_new(tmp, msgspec.json.encode(entry), durable=False)
            os.replace(tmp, path)
        except OSError:
            remove_quietly(tmp)  # a cache: the next set is checked whole

    def _prune(self) -> None:
        """Keep the newest `KEPT_FULL` full lists (100,000 ids are about 1.5 MB each)."""
        assert self.folder is not None
        try:
            full = [p for p in self.folder.iterdir() if p.stat().st_size > 4096]
            full.sort(key=lambda p: p.stat().st_mtime_ns, reverse=True)
        except OSError:
            return
        for path in full[KEPT_FULL:]:
            remove_quietly(path)
