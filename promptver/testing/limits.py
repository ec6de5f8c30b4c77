"""A rate limit the test server enforces, with the providers' real headers.

Requests and tokens are token buckets that refill continuously at ``rpm``/``tpm`` a minute
and hold ``burst`` seconds of it (one second by default, so a run cannot beat the limit's
theoretical time by much). Every chat answer carries the headers its provider sends:

- OpenAI: ``x-ratelimit-limit-requests``, ``x-ratelimit-remaining-requests``,
  ``x-ratelimit-reset-requests`` (a Go duration such as ``"1s"``, ``"6m0s"``, ``"120ms"``:
  the time until the bucket is full again), and the same three for ``tokens``;
- Anthropic: ``anthropic-ratelimit-requests-limit``, ``-remaining``, ``-reset`` (an RFC 3339
  time), and the same for ``tokens``.

A request over the limit gets a 429 with ``retry-after`` (whole seconds, rounded up) and
the same headers. The server counts what it refused in ``rejected``.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime


def go_duration(seconds: float) -> str:
    """Seconds as Go prints a duration: ``"120ms"``, ``"1s"``, ``"1.5s"``, ``"6m0s"``."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    rest = round(rest, 3)
    text = f"{rest:g}s"
    if minutes >= 60:
        hours, minutes = divmod(minutes, 60)
        return f"{int(hours)}h{int(minutes)}m{text}"
    return f"{int(minutes)}m{text}" if minutes else text


@dataclass
class _Bucket:
    per_minute: float
    burst: float

    def __post_init__(self) -> None:
        self.capacity = max(1.0, self.per_minute * self.burst / 60)
        self.level = self.capacity
        self.stamp = time.monotonic()

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.per_minute / 60)
        self.stamp = now

    def until(self, amount: float) -> float:
        """Seconds until ``amount`` is available."""
        return max(0.0, (amount - self.level) * 60 / self.per_minute)

    def full_in(self) -> float:
        return self.until(self.capacity)


@dataclass
class ServerLimit:
    rpm: float | None = None
    tpm: float | None = None
    burst: float = 1.0  # seconds of the rate a full bucket holds
    rejected: int = 0
    served: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._requests = _Bucket(self.rpm, self.burst) if self.rpm else None
        self._tokens = _Bucket(self.tpm, self.burst) if self.tpm else None

    def take(self, kind: str, tokens: int) -> tuple[bool, dict[str, str]]:
        """Spend one request and ``tokens``; (allowed, response headers)."""
        with self._lock:
            now = time.monotonic()
            buckets = [(b, n) for b, n in ((self._requests, 1), (self._tokens, tokens)) if b is not None]
            for bucket, _ in buckets:
                bucket.refill(now)
            allowed = all(bucket.level >= min(n, bucket.capacity) for bucket, n in buckets)
            if allowed:
                for bucket, n in buckets:
                    bucket.level -= min(n, bucket.capacity)
                self.served += 1
            else:
                self.rejected += 1
            headers = self._headers(kind)
            if not allowed:
                wait = max(bucket.until(min(n, bucket.capacity)) for bucket, n in buckets)
                headers["retry-after"] = str(max(1, math.ceil(wait)))
            return allowed, headers

    def _headers(self, kind: str) -> dict[str, str]:
        headers: dict[str, str] = {}
        for name, bucket in (("requests", self._requests), ("tokens", self._tokens)):
            if bucket is None:
                continue
            limit, left, reset = str(int(bucket.per_minute)), str(int(bucket.level)), bucket.full_in()
            if kind == "anthropic":
                when = datetime.fromtimestamp(time.time() + reset, UTC)
                headers[f"anthropic-ratelimit-{name}-limit"] = limit
                headers[f"anthropic-ratelimit-{name}-remaining"] = left
                headers[f"anthropic-ratelimit-{name}-reset"] = when.isoformat(
                    timespec="milliseconds"
                ).replace("+00:00", "Z")
            else:
                headers[f"x-ratelimit-limit-{name}"] = limit
                headers[f"x-ratelimit-remaining-{name}"] = left
                headers[f"x-ratelimit-reset-{name}"] = go_duration(reset)
        return headers
