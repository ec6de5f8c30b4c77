"""Pace a run's requests to the provider's limits instead of failing cases on them.

A ``Throttle`` is shared by every request to one provider in a run. Before each request
``acquire(tokens)`` waits for

- the user's caps, ``--rpm`` and ``--tpm``: request starts are spaced ``60/rpm`` seconds
  apart, and a request of ``t`` (estimated) tokens holds the token line for ``60*t/tpm``;
- the limit the provider announces: both providers send their per-minute request limit
  on every response (OpenAI ``x-ratelimit-limit-requests``, Anthropic
  ``anthropic-ratelimit-requests-limit``), and the run paces itself to it (or to the
  user's lower cap);
- a pause: when a response says no request or token is left (``...-remaining-...: 0``)
  every request waits until the matching reset, and a 429 pauses the whole run for its
  ``retry-after`` (or the reset), so one rate-limited answer does not become fifty.

Reset formats are the providers': OpenAI sends a Go duration (``"1s"``, ``"6m0s"``,
``"120ms"``), Anthropic an RFC 3339 time (``"2026-12-06T04:30:00Z"``).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from promptver.errors import ConfigError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
# 429s a request may wait out without using up its retries (each wait is bounded by the
# retry policy's max_retry_after): a limit is a reason to slow down, not to fail.
MAX_RATE_WAITS = 50


def parse_duration(value: str | None) -> float | None:
    """Seconds in a Go-style duration (``"1s"``, ``"6m0s"``, ``"1h2m3.5s"``, ``"12ms"``)."""
    if not value:
        return None
    text = value.strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


def parse_reset(value: str | None, now: float | None = None) -> float | None:
    """Seconds until a reset given as a duration (OpenAI), an RFC 3339 time (Anthropic)
    or plain seconds; None when it is none of these."""
    if not value:
        return None
    seconds = parse_duration(value)
    if seconds is not None:
        return seconds
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


class Limits:
    """What one response's headers say about the limits (None: not said)."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        get = headers.get
        if get("anthropic-ratelimit-requests-limit") is not None or any(
            get(f"anthropic-ratelimit-{kind}-remaining") is not None
            for kind in ("requests", "tokens", "input-tokens", "output-tokens")
        ):
            prefix, style = "anthropic-ratelimit-", "anthropic"
        else:
            prefix, style = "x-ratelimit-", "openai"

        def field(kind: str, what: str) -> str | None:
            name = f"{prefix}{kind}-{what}" if style == "anthropic" else f"{prefix}{what}-{kind}"
            return get(name)

        self.request_limit = _int(field("requests", "limit"))
        self.requests_left = _int(field("requests", "remaining"))
        self.requests_reset = parse_reset(field("requests", "reset"))
        kinds = ("tokens", "input-tokens", "output-tokens") if style == "anthropic" else ("tokens",)
        self.tokens_reset: float | None = None
        self.tokens_left: int | None = None
        for kind in kinds:  # the tightest of the token limits
            left = _int(field(kind, "remaining"))
            if left is not None and (self.tokens_left is None or left < self.tokens_left):
                self.tokens_left = left
                self.tokens_reset = parse_reset(field(kind, "reset"))

    def exhausted_for(self) -> float | None:
        """Seconds until a limit that is used up resets (the longest), else None."""
        pairs = ((self.requests_left, self.requests_reset), (self.tokens_left, self.tokens_reset))
        waits = [reset for left, reset in pairs if left is not None and left <= 0 and reset is not None]
        return max(waits) if waits else None


class Throttle:
    """Paces request starts: user caps, the provider's announced limit, and pauses."""

    def __init__(self, rpm: float | None = None, tpm: float | None = None) -> None:
        for name, value in (("--rpm", rpm), ("--tpm", tpm)):
            if value is not None and value <= 0:
                raise ConfigError(f"{name} must be positive, not {value:g}")
        self.rpm = rpm
        self.tpm = tpm
        self.announced_rpm: int | None = None
        self.waits = 0  # pauses the provider caused (for the run's record)
        self._next = 0.0  # earliest start of the next request
        self._next_tokens = 0.0  # when the token line is free again
        self._paused_until = 0.0

    @property
    def interval(self) -> float:
        rates = [r for r in (self.rpm, self.announced_rpm) if r]
        return 60.0 / min(rates) if rates else 0.0

    async def acquire(self, tokens: int = 0) -> None:
        """Wait for this request's turn."""
        while True:
            now = time.monotonic()
            if self._paused_until > now:
                await asyncio.sleep(self._paused_until - now)
                continue
            slot = max(now, self._next, self._next_tokens if self.tpm else 0.0)
            self._next = slot + self.interval
            if self.tpm and tokens:
                self._next_tokens = slot + 60.0 * tokens / self.tpm
            if slot > now:
                await asyncio.sleep(slot - now)
            if self._paused_until <= time.monotonic():
                return

    def pause(self, seconds: float) -> None:
        """Hold every request of this provider for ``seconds`` from now."""
        until = time.monotonic() + max(0.0, seconds)
        if until > self._paused_until:
            self._paused_until = until
            self.waits += 1

    def observe(self, headers: Mapping[str, str]) -> Limits:
        """Learn from a response's rate-limit headers (any status)."""
        limits = Limits(headers)
        if limits.request_limit is not None and limits.request_limit > 0:
            self.announced_rpm = limits.request_limit
        wait = limits.exhausted_for()
        if wait is not None and wait > 0:
            self.pause(wait)
        return limits

    def to_json(self) -> dict[str, Any]:
        return {"rpm": self.rpm, "tpm": self.tpm, "announced_rpm": self.announced_rpm, "waits": self.waits}


def estimate_tokens(body: Mapping[str, Any]) -> int:
    """A request's token cost before it is sent, as providers count it for the limit: the
    prompt (about four characters a token) plus the most it may answer."""
    size = 0
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, Mapping) else None
        size += len(content) if isinstance(content, str) else len(str(content or ""))
    system = body.get("system")
    if isinstance(system, str):
        size += len(system)
    most = body.get("max_completion_tokens") or body.get("max_tokens") or 0
    return size // 4 + 1 + (int(most) if isinstance(most, int | float) else 0)
