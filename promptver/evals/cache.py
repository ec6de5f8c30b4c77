"""A local cache of model answers keyed by the whole request.

The key is the sha256 of the canonical JSON of (provider, base URL, model, parameters,
messages); the value is the answer with its usage and original latency. Files live under
the store's cache folder, written atomically, so a re-run of an unchanged version costs no
API calls.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from promptver.evals.providers import Completion, Usage
from promptver.store.atomic import atomic_write


def request_key(
    provider: str,
    base_url: str | None,
    model: str,
    params: dict[str, Any],
    messages: list[dict[str, str]],
    sample: int = 0,
) -> str:
    """``sample`` tells the repeats of one request apart (``--repeat``): each repeat is its
    own answer, and a re-run finds every one of them again."""
    request: dict[str, Any] = {
        "provider": provider,
        "base_url": base_url,
        "model": model,
        "params": params,
        "messages": messages,
    }
    if sample:
        request["sample"] = sample
    canonical = json.dumps(
        request,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class RequestCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> Completion | None:
        try:
            data = json.loads(self._path(key).read_text("utf-8"))
            usage = data.get("usage")
            return Completion(
                text=data["text"],
                usage=Usage(usage["input"], usage["output"], usage.get("estimated", False))
                if usage
                else None,
                latency_ms=float(data["latency_ms"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None  # missing or unreadable entries are misses, never errors

    def put(self, key: str, completion: Completion) -> None:
        from promptver.evals.redact import redact

        data = {
            "text": redact(completion.text),
            "usage": completion.usage.to_json() if completion.usage else None,
            "latency_ms": completion.latency_ms,
        }
        # Not fsynced: a cache entry lost to a power cut is only a miss (an unreadable
        # entry reads as one), and an fsync per answer would stall the event loop.
        try:
            atomic_write(self._path(key), json.dumps(data, ensure_ascii=False).encode(), durable=False)
        except OSError:
            pass  # a read-only or full store: the answer is only not cached
