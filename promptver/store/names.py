"""Names that are what they look like: the one rule for file paths, bundle names and alias
names against text that displays as something else.

- ``hidden_character``: a bidirectional control (U+202A-202E, U+2066-2069, U+200E/F,
  U+061C) reorders how a name is shown (``evil\u202etxt.j2`` reads as ``evil2j.txt``);
  an invisible character (zero-width U+200B-200D, word joiner U+2060, U+FEFF, soft
  hyphen, the other format characters, and blank letters such as U+3164) makes two names
  that look the same different. Either is refused, with the character named.
- ``collisions``: two names that differ only in case, or only in Unicode normalisation
  (``café`` in NFC and in NFD), are one file on macOS and Windows checkouts: one would
  silently replace the other. A set of paths with such a pair is refused; a folder counts
  too (``Docs/a`` and ``docs/b`` would merge into one folder).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

_BIDI = frozenset(
    [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)  # ALM, LRM, RLM, embeddings and overrides, isolates
# Letters and marks that draw nothing (category Lo/Mn, so not caught as format characters).
_BLANK = frozenset([0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0])


def hidden_character(text: str) -> str | None:
    """Why ``text`` does not show what it is (a bidirectional control or an invisible
    character, named with its code point), or None."""
    for char in text:
        code = ord(char)
        if code in _BIDI:
            return f"contains U+{code:04X} {_name(char)}, a bidirectional control that reorders the text"
        if code in _BLANK or (unicodedata.category(char) == "Cf" and not 0xD800 <= code <= 0xDFFF):
            return f"contains U+{code:04X} {_name(char)}, an invisible character"
    return None


def fold(name: str) -> str:
    """The key under which case-insensitive, normalising file systems see a name."""
    return unicodedata.normalize("NFC", name).casefold()


def collisions(paths: Iterable[str]) -> list[tuple[str, str, str]]:
    """Pairs of different spellings, among the paths and their folders, that name one
    file or folder when case is ignored or Unicode is normalised: (first, second, why),
    sorted. Linear in the paths (a dict by `fold`)."""
    seen: dict[str, str] = {}
    found: set[tuple[str, str, str]] = set()
    for path in paths:
        parts = path.split("/")
        for end in range(1, len(parts) + 1):
            spelling = "/".join(parts[:end])
            key = fold(spelling)
            first = seen.setdefault(key, spelling)
            if first != spelling:
                a, b = sorted((first, spelling))
                found.add((a, b, _why(a, b)))
    return sorted(found)


def collision_message(first: str, second: str, why: str) -> str:
    """One sentence for a pair of `collisions` (NFC/NFD pairs shown escaped: they look alike)."""
    if "normalisation" in why:
        first, second = ascii(first)[1:-1], ascii(second)[1:-1]
    return f"{first!r} and {second!r} {why}: on macOS and Windows they are one name, and one hides the other"


def _why(a: str, b: str) -> str:
    if unicodedata.normalize("NFC", a) == unicodedata.normalize("NFC", b):
        return "are the same name in different Unicode normalisations (NFC and NFD)"
    return "differ only in case"


def _name(char: str) -> str:
    return unicodedata.name(char, "unnamed character")
