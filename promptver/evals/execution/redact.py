"""API keys never leave the process: every text promptver stores or prints from an eval run
passes through `redact` first.

The exact value of every key promptver read from the environment (``<NAME>_API_KEY`` of
any provider, remembered by `make_provider`, plus any ``*_API_KEY`` set in the environment
when redacting) is replaced by ``[redacted]``. Server error bodies also get a pattern pass
for keys that look like keys (``sk-...``, partly masked echoes), since a server may echo a
key promptver never read. Redact first, cut after: cutting first can leave the start of a
key that no longer matches.

This module knows nothing of the HTTP transport: providers call it on error bodies, the
runner on case errors, storage on records, the cache on entries, the CLI on messages.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

MASK = "[redacted]"
# Shorter values are not real secrets, and replacing them everywhere would garble records
# (a local server's key is often "1" or "none").
MIN_SECRET = 8
_KEY_SUFFIX = "_API_KEY"
_remembered: set[str] = set()
_LOOKS_LIKE_KEY = re.compile(r"\b(?:sk|key|api|token)[-_][A-Za-z0-9*_\-]{6,}", re.IGNORECASE)
EMAIL_MASK = "[email]"
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")


def remember(secret: str | None) -> None:
    """Redact this value from now on (a key read from the environment or a config)."""
    if secret and len(secret) >= MIN_SECRET:
        _remembered.add(secret)


def known_secrets(env: Mapping[str, str] | None = None) -> list[str]:
    """Every value to redact, longest first (so a key containing another goes first)."""
    env = os.environ if env is None else env
    found = set(_remembered)
    for name, value in env.items():
        if name.upper().endswith(_KEY_SUFFIX) and value and len(value) >= MIN_SECRET:
            found.add(value)
    return sorted(found, key=len, reverse=True)


def redact(text: str, *, patterns: bool = False) -> str:
    """``text`` with every known key replaced; ``patterns`` also masks key-looking words
    (for bodies a server sent, not for model answers, where it would mangle prose)."""
    for secret in known_secrets():
        if secret in text:
            text = text.replace(secret, MASK)
    if patterns:
        text = _LOOKS_LIKE_KEY.sub(MASK, text)
    return text


def redact_json(value: Any, *, patterns: bool = False, emails: bool = False) -> Any:
    """A JSON-like value with `redact` applied to every string in it (keys too).
    ``patterns`` as in `redact`; ``emails`` also replaces e-mail addresses with
    ``[email]`` (text from outside, such as production traces made into eval cases)."""
    found = known_secrets()
    if not found and not patterns and not emails:
        return value
    return _walk(value, found, patterns, emails)


def _walk(value: Any, found: list[str], patterns: bool = False, emails: bool = False) -> Any:
    if isinstance(value, str):
        for secret in found:
            if secret in value:
                value = value.replace(secret, MASK)
        if patterns:
            value = _LOOKS_LIKE_KEY.sub(MASK, value)
        if emails:
            value = _EMAIL.sub(EMAIL_MASK, value)
        return value
    if isinstance(value, dict):
        return {
            _walk(k, found, patterns, emails): _walk(v, found, patterns, emails) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_walk(v, found, patterns, emails) for v in value]
    return value


def cut(text: str, limit: int) -> str:
    """Redact (with patterns), then shorten to ``limit`` characters."""
    text = redact(text.strip(), patterns=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"
