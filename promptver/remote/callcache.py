"""The eval call cache on the team remote, shared by every machine that runs evals.

    cache/<kind>/<key[:2]>/<key>   the sha256 of the entry (64 hex characters), create-only
    objects/<sha256>               the entry itself, stored as every other object

An entry is fetched through `promptver.remote.objects.fetch_object`, so it is checked
against its hash before use; the eval side then checks that it names the key it was asked
for (`promptver.evals.execution.cache.decode_entry`), so a swapped index answers nothing. Any remote
problem (unreachable, missing, corrupted) is a miss: the case calls the provider and the
run goes on; the count of such problems is kept in ``problems``. Nothing here is ever
deleted: the remote is shared, objects are create-only.
"""

from __future__ import annotations

import hashlib
import re
import threading

from promptver.errors import PromptverError

from .objects import fetch_object, push_object
from .transport import Transport

_HEX = re.compile(rb"[0-9a-f]{64}")
_KIND = re.compile(r"^[a-z]{1,20}\Z")


def index_key(kind: str, key: str) -> str:
    if not _KIND.match(kind) or not re.fullmatch(r"[0-9a-f]{64}", key):
        raise ValueError(f"bad cache key {kind}/{key}")
    return f"cache/{kind}/{key[:2]}/{key}"


MAX_ENTRY = 64 << 20  # an answer larger than this is no cached call: never decoded


class RemoteCallCache:
    """`promptver.evals.execution.cache.SharedCache` over a remote transport."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.problems = 0
        self.reads = 0
        self.writes = 0
        self._lock = threading.Lock()

    def get(self, kind: str, key: str) -> bytes | None:
        try:
            found = self.transport.get(index_key(kind, key))
            with self._lock:
                self.reads += 1
            if found is None:
                return None
            digest, _, size = found[0].strip().partition(b" ")
            if not _HEX.fullmatch(digest) or not size.isdigit() or int(size) > MAX_ENTRY:
                raise ValueError("the index entry is not 'sha256 size'")
            return fetch_object(self.transport, digest.decode(), size=int(size))
        except (PromptverError, ValueError, OSError):
            with self._lock:
                self.problems += 1
            return None

    def put(self, kind: str, key: str, data: bytes) -> None:
        digest = hashlib.sha256(data).hexdigest()
        try:
            push_object(self.transport, digest, data)
            self.transport.put_create(index_key(kind, key), f"{digest} {len(data)}".encode())
            with self._lock:
                self.writes += 1
        except (PromptverError, ValueError, OSError):
            with self._lock:
                self.problems += 1

    def count(self, kind: str) -> int:
        return len(self.transport.list(f"cache/{kind}/"))


def for_store(store: object) -> RemoteCallCache | None:
    """The configured remote's cache (``origin``, or the only remote), or None without one."""
    from promptver.store.store import Store

    from .config import get_remote, remotes
    from .transport import open_transport

    assert isinstance(store, Store)
    known = remotes(store)
    if not known:
        return None
    return RemoteCallCache(open_transport(get_remote(store)))
