"""The call cache: model answers keyed by the content address of the whole request.

The key is the sha256 of the canonical JSON of everything that determines the answer:
provider, base URL (without credentials or query), model, parameters (temperature, seed,
tools, response format...), messages, the repeat's sample number, and for grading calls
the purpose ``judge``. It never holds a secret: API keys travel in headers and are not part
of it. Generation and judge calls live apart (``cache/evals/`` and ``cache/judge/``), so a
changed assertion re-grades without regenerating, and ``promptver cache stats`` counts
them apart.

An entry is JSON: the key it answers, the text (redacted), usage and original latency.
Files are written atomically. With a shared layer (the team remote, wired by the CLI:
`promptver.remote.callcache`), a local miss is looked up there, and every new answer is
written there too; an entry read from anywhere answers only the key it names.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from promptver.evals.execution.providers import Completion, Usage
from promptver.store.atomic import atomic_write

KINDS = {"generation": "evals", "judge": "judge"}
SHARED_THREADS = 32  # remote lookups in flight at once  # kind -> folder under the store's cache/


class SharedCache(Protocol):
    """A second cache layer many machines share (the remote). Errors are misses."""

    def get(self, kind: str, key: str) -> bytes | None: ...

    def put(self, kind: str, key: str, data: bytes) -> None: ...


def public_url(base_url: str | None) -> str | None:
    """The base URL without user info, query or fragment (where a secret could hide)."""
    if not base_url:
        return base_url
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def request_key(
    provider: str,
    base_url: str | None,
    model: str,
    params: dict[str, Any],
    messages: list[dict[str, str]],
    sample: int = 0,
    purpose: str = "generation",
) -> str:
    """``sample`` tells the repeats of one request apart (``--repeat``): each repeat is its
    own answer, and a re-run finds every one of them again."""
    request: dict[str, Any] = {
        "provider": provider,
        "base_url": public_url(base_url),
        "model": model,
        "params": params,
        "messages": messages,
    }
    if sample:
        request["sample"] = sample
    if purpose != "generation":
        request["purpose"] = purpose
    canonical = json.dumps(
        request,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def encode_entry(key: str, completion: Completion) -> bytes:
    from promptver.evals.execution.redact import redact

    data: dict[str, Any] = {
        "key": key,
        "text": redact(completion.text),
        "usage": completion.usage.to_json() if completion.usage else None,
        "latency_ms": completion.latency_ms,
    }
    if completion.facts:
        data["facts"] = completion.facts
    return json.dumps(data, ensure_ascii=False).encode()


def decode_entry(raw: bytes, key: str) -> Completion | None:
    """The answer in an entry, or None when it is unreadable or answers another key."""
    try:
        data = json.loads(raw)
        if data.get("key", key) != key:  # entries before the key was kept have none
            return None
        usage = data.get("usage")
        facts = data.get("facts")
        return Completion(
            text=str(data["text"]),
            usage=Usage(int(usage["input"]), int(usage["output"]), bool(usage.get("estimated", False)))
            if usage
            else None,
            latency_ms=float(data["latency_ms"]),
            facts={str(k): v for k, v in facts.items()} if isinstance(facts, dict) else None,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


class RequestCache:
    """One kind of call (``generation`` or ``judge``) in a local folder, over an optional
    shared layer."""

    def __init__(self, folder: Path, kind: str = "generation", shared: SharedCache | None = None) -> None:
        self.folder = folder
        self.kind = kind
        self.shared = shared
        self.hits = {"local": 0, "shared": 0}
        self._pool: Any = None

    async def run(self, function: Any, *args: Any) -> Any:
        """``function(*args)`` off the event loop, in this cache's own threads: a remote
        lookup is two round trips, and the loop's default pool (CPU count + 4 threads)
        would cap a run at a few of them at once."""
        import asyncio

        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=SHARED_THREADS, thread_name_prefix="callcache")
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    def get(self, key: str) -> Completion | None:
        path = self._path(key)
        try:
            found = decode_entry(path.read_bytes(), key)
        except OSError:
            found = None  # missing or unreadable entries are misses, never errors
        if found is not None:
            self.hits["local"] += 1
            try:
                os.utime(path)  # `cache prune` removes what was not used lately
            except OSError:
                pass
            return found
        if self.shared is None:
            return None
        raw = self.shared.get(self.kind, key)
        found = decode_entry(raw, key) if raw is not None else None
        if found is not None and raw is not None:
            self.hits["shared"] += 1
            self._write(key, raw)
        return found

    def put(self, key: str, completion: Completion) -> None:
        raw = encode_entry(key, completion)
        self._write(key, raw)
        if self.shared is not None:
            self.shared.put(self.kind, key, raw)

    def _write(self, key: str, raw: bytes) -> None:
        # Not fsynced: a cache entry lost to a power cut is only a miss (an unreadable
        # entry reads as one), and an fsync per answer would stall the event loop.
        try:
            atomic_write(self._path(key), raw, durable=False)
        except OSError:
            pass  # a read-only or full store: the answer is only not cached


def open_caches(store_root: Path, shared: SharedCache | None = None) -> dict[str, RequestCache]:
    """The generation and judge caches of a store."""
    return {kind: RequestCache(store_root / "cache" / folder, kind, shared) for kind, folder in KINDS.items()}


def _entries(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.glob("??/*.json") if p.is_file()]
    except OSError:
        return []


def stats(store_root: Path) -> dict[str, dict[str, int]]:
    """Entries and bytes of each kind of call in the store's local cache."""
    result = {}
    for kind, folder in KINDS.items():
        sizes = []
        for path in _entries(store_root / "cache" / folder):
            try:
                sizes.append(path.stat().st_size)
            except OSError:
                pass
        result[kind] = {"entries": len(sizes), "bytes": sum(sizes)}
    return result


def prune(store_root: Path, older_than_days: float) -> dict[str, int]:
    """Remove local entries not used (read or written) in ``older_than_days``; 0 removes
    all. The remote's entries are shared and stay."""
    import time

    cutoff = time.time() - older_than_days * 86400
    removed = freed = 0
    for folder in KINDS.values():
        for path in _entries(store_root / "cache" / folder):
            try:
                info = path.stat()
                if older_than_days > 0 and info.st_mtime >= cutoff:
                    continue
                path.unlink()
            except OSError:
                continue
            removed += 1
            freed += info.st_size
    return {"removed": removed, "bytes": freed}
