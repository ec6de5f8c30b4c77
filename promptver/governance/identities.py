"""Who is who: matching the free-text identities that events record (``Name <email>``)."""

from __future__ import annotations

import functools
import re

_EMAIL = re.compile(r"<\s*([^<>\s]+@[^<>\s]+)\s*>")


@functools.lru_cache(maxsize=1 << 16)  # a log names few people many times (the author per approval)
def person(identity: str) -> tuple[str, str | None]:
    """(lowercased name, lowercased email or None) of ``Name <email>``, ``email`` or ``Name``."""
    text = identity.strip()
    if "<" in text and (match := _EMAIL.search(text)):  # (most are a bare email: no search)
        return text[: match.start()].strip().lower(), match.group(1).lower()
    if "@" in text and " " not in text:
        return "", text.lower()
    return text.lower(), None


def same_person(a: str, b: str) -> bool:
    """Same email when both identities have one, else same name (case-insensitive), so
    ``Ana`` and ``Ana <ana@example.com>`` are the same person."""
    name_a, email_a = person(a)
    name_b, email_b = person(b)
    if email_a and email_b:
        return email_a == email_b
    return bool(name_a and name_a == name_b)
