"""Eval runs on disk, under the store's ``runs/`` folder.

    runs/<bundle>/<run id>/run.json     metadata, options and summary (atomic rewrites)
    runs/<bundle>/<run id>/cases.jsonl  one record per finished case, appended as it ends

Appending each finished case means an interrupted run keeps what it finished; a torn last
line (the process died mid-write) is dropped when the run is read or resumed.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import msgspec

from promptver.errors import NotFoundError, StoreFormatError
from promptver.evals.execution.redact import known_secrets, redact_json
from promptver.store.atomic import atomic_write, write_all, write_failed

FORMAT = 1


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


@dataclass
class StoredRun:
    path: Path
    meta: dict[str, Any]
    records: list[dict[str, Any]]

    @property
    def id(self) -> str:
        return str(self.meta["id"])


class RunStore:
    def __init__(self, root: Path) -> None:
        self.root = root  # the store's runs/ folder

    def create(self, meta: dict[str, Any]) -> RunWriter:
        folder = self.root / meta["bundle"] / meta["id"]
        folder.mkdir(parents=True, exist_ok=False)
        writer = RunWriter(folder, {"format": FORMAT, **meta}, [])
        writer.save_meta()
        return writer

    def reopen(self, run_id: str) -> RunWriter:
        """Open an existing run to add cases to it (``--resume``)."""
        run = self.load(run_id)
        writer = RunWriter(run.path, run.meta, [slim(r) for r in run.records])
        secrets = encoded_secrets()
        lines = b"".join(encode_record(r, secrets)[1] + b"\n" for r in run.records)
        atomic_write(run.path / "cases.jsonl", lines)  # drops a torn last line
        return writer

    def find(self, run_id: str) -> Path:
        if "/" in run_id or "\\" in run_id or run_id in ("", ".", ".."):
            raise NotFoundError(f"no run {run_id!r}")
        matches = [p for p in self.root.glob(f"*/{run_id}") if (p / "run.json").is_file()]
        if not matches:
            raise NotFoundError(f"no run {run_id!r}", hint="list runs with `promptver runs NAME`")
        return matches[0]

    def load(self, run_id: str, *, lazy: bool = False) -> StoredRun:
        return read_run(self.find(run_id), lazy=lazy)

    def list(self, bundle: str) -> list[dict[str, Any]]:
        """Run metadata of a bundle, newest first."""
        from promptver.evals.runs.summaries import read_run_metas

        return read_run_metas(self.root / bundle, bundle)

    def latest(
        self, bundle: str, *, digest: str, dataset: str, target: str | None = None
    ) -> StoredRun | None:
        """The newest complete run of a version (by digest) on a dataset (with a target kind)."""
        from promptver.evals.runs.summaries import latest_complete

        meta = latest_complete(self.list(bundle), digest, dataset, target)
        return self.load(meta["id"]) if meta is not None else None


def read_run(folder: Path, *, lazy: bool = False) -> StoredRun:
    """A stored run; ``lazy`` leaves its records on disk (`RecordsOnDisk`), read one at a
    time when they are used, so a 100,000-case run is not held in memory at once."""
    try:
        meta = json.loads((folder / "run.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise NotFoundError(f"unreadable run metadata in {folder}: {exc}") from exc
    if int(meta.get("format", 0)) > FORMAT:
        raise StoreFormatError(
            f"run {folder.name} was written by a newer promptver", hint="upgrade promptver"
        )
    if lazy:
        return StoredRun(folder, meta, RecordsOnDisk(folder / "cases.jsonl"))  # type: ignore[arg-type]
    records = list(_records(folder / "cases.jsonl"))
    # appended in completion order; read back in dataset order
    records.sort(key=lambda r: (r.get("repeat", 0), r.get("index", 0)))
    return StoredRun(folder, meta, records)


class RecordsOnDisk(Sequence[dict[str, Any]]):
    """A run's records in dataset order, read from ``cases.jsonl`` when used: memory holds
    one (repeat, index, offset) triple per record, not the record."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._index()

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            info = self.path.stat()
        except OSError:
            return None
        return (info.st_ino, info.st_size, info.st_mtime_ns)

    def _index(self) -> None:
        places: list[tuple[int, int, int]] = []
        decoder = msgspec.json.Decoder(_Place)
        offset = 0
        self._seen = self._stamp()
        if self._seen is not None:
            with self.path.open("rb") as handle:
                for line in handle:
                    if not line.endswith(b"\n"):
                        break  # torn write: the process stopped mid-line
                    try:
                        place = decoder.decode(line)
                    except (msgspec.DecodeError, msgspec.ValidationError):
                        break
                    places.append((place.repeat, place.index, offset))
                    offset += len(line)
        places.sort()
        self._offsets = [offset for _, _, offset in places]

    def _current(self) -> list[int]:
        """The offsets, indexed again when the file was rewritten (``--resume``) since."""
        if self._stamp() != self._seen:
            self._index()
        return self._offsets

    def __len__(self) -> int:
        return len(self._current())

    def _read(self, handle: Any, offset: int) -> dict[str, Any]:
        handle.seek(offset)
        record: dict[str, Any] = json.loads(handle.readline())
        return record

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        offsets = self._current()
        with self.path.open("rb") as handle:
            if isinstance(index, slice):
                return [self._read(handle, offset) for offset in offsets[index]]
            return self._read(handle, offsets[index])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        offsets = self._current()
        with self.path.open("rb") as handle:
            for offset in offsets:
                yield self._read(handle, offset)


class _Place(msgspec.Struct):
    """The two fields of a record its place depends on (the rest is skipped unparsed)."""

    repeat: int = 0
    index: int = 0


def _records(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        return
    with path.open("rb") as handle:
        for line in handle:
            if not line.endswith(b"\n"):
                break  # torn write: the process stopped mid-line
            try:
                yield json.loads(line)
            except ValueError:
                break


def encoded_secrets() -> list[bytes]:
    """Every known key as it appears inside a JSON string (looked up once per run: reading
    the environment for each record cost a run 0.13 ms a case)."""
    return [msgspec.json.encode(secret)[1:-1] for secret in known_secrets()]


def encode_record(record: dict[str, Any], secrets: list[bytes] | None = None) -> tuple[dict[str, Any], bytes]:
    """A case record with every API key redacted, and its JSON line. The encoded bytes are
    searched first, so a record holding no key (nearly all of them) is not copied."""
    line = msgspec.json.encode(record)
    if any(secret in line for secret in (encoded_secrets() if secrets is None else secrets)):
        record = redact_json(record)
        line = msgspec.json.encode(record)
    return record, line


# What a finished run keeps of each record in memory: what its summary and a resume need.
# The whole record is on disk (cases.jsonl); keeping only this is what bounds a 100,000-case
# run's memory (docs/architecture.md has the figures).
SUMMARY_FIELDS = (
    "id",
    "repeat",
    "pass",
    "score",
    "error",
    "latency_ms",
    "tokens",
    "cost",
    "cached",
    "attempts",
    "retrieval",
    "rag_judged",
)


def slim(record: dict[str, Any]) -> dict[str, Any]:
    return {key: record[key] for key in SUMMARY_FIELDS if key in record}


class RunWriter:
    def __init__(self, folder: Path, meta: dict[str, Any], records: list[dict[str, Any]]):
        self.folder = folder
        self.meta = meta
        self.records = records
        self._fd: int | None = None
        self._secrets: list[bytes] | None = None  # looked up at the first record: the keys are read by then

    @property
    def id(self) -> str:
        return str(self.meta["id"])

    def save_meta(self) -> None:
        data = json.dumps(redact_json(self.meta), indent=2, ensure_ascii=False).encode() + b"\n"
        atomic_write(self.folder / "run.json", data)

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        """Append one case line, whole: a failed write is cut back and raised as
        `WriteError` (no torn line; ``--resume`` continues after the last whole one).
        Returns the record as written (keys redacted); ``records`` keeps its summary
        fields only (`slim`)."""
        path = self.folder / "cases.jsonl"
        if self._secrets is None:
            self._secrets = encoded_secrets()
        record, line = encode_record(record, self._secrets)
        line += b"\n"
        try:
            if self._fd is None:
                self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            start = os.fstat(self._fd).st_size
            try:
                write_all(self._fd, line)
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, start)
                raise
        except OSError as exc:
            raise write_failed(path, exc) from None
        self.records.append(slim(record))
        return record

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
