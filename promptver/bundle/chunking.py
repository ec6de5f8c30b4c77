"""How a ``[rag]`` corpus is cut into chunks (``[rag.chunking]``): the retrieval targets
index these chunks and ``promptver diff`` counts them, so both layers share this module.

Units: ``tokens`` (counted with the offline ``cl100k_base``, so chunks never depend on a
download or on the machine; chunks end between words), ``characters``, ``sentences`` and
``paragraphs``; ``size`` and ``overlap`` count that unit. Without ``[rag.chunking]`` every
document is one chunk.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from promptver.errors import ConfigError, did_you_mean

UNITS = ("tokens", "characters", "sentences", "paragraphs")
TEXT_SUFFIXES = (".md", ".markdown", ".txt", ".rst", ".html", ".htm", ".json", ".jsonl", ".csv")

_WORD = re.compile(r"\S+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Chunking:
    unit: str | None  # None: one chunk per document
    size: int = 0
    overlap: int = 0

    @classmethod
    def from_config(cls, table: Any, where: str) -> Chunking:
        if not table:
            return cls(None)
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: [rag.chunking] must be a table")
        unit = table.get("unit", "tokens")
        if unit not in UNITS:
            raise ConfigError(
                f"{where}: [rag.chunking] unit {unit!r} is not supported by the retrieval target",
                hint=did_you_mean(str(unit), UNITS) or f"units: {', '.join(UNITS)}",
            )
        size, overlap = table.get("size"), table.get("overlap", 0)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError(f"{where}: [rag.chunking] size must be a whole number >= 1")
        if isinstance(overlap, bool) or not isinstance(overlap, int) or not 0 <= overlap < size:
            raise ConfigError(f"{where}: [rag.chunking] overlap must be a whole number from 0 to size - 1")
        return cls(str(unit), size, overlap)

    def split(self, text: str) -> list[str]:
        """The chunks of one document, in order; empty chunks are dropped."""
        if self.unit is None:
            pieces = [text.strip()]
        elif self.unit == "characters":
            step = self.size - self.overlap
            last = max(len(text) - self.overlap, 1)
            pieces = [text[i : i + self.size].strip() for i in range(0, last, step)]
        else:
            spans = self._spans(text)
            costs = _token_costs(text, spans) if self.unit == "tokens" else [1] * len(spans)
            pieces = [text[spans[a][0] : spans[b - 1][1]].strip() for a, b in self._windows(costs)]
        return [p for p in pieces if p]

    def _windows(self, costs: list[int]) -> list[tuple[int, int]]:
        """[start, end) unit ranges costing at most ``size`` (at least one unit each), each
        starting with the last units of the previous one that cost at most ``overlap``."""
        windows: list[tuple[int, int]] = []
        start, count = 0, len(costs)
        while start < count:
            end, total = start, 0
            while end < count and (end == start or total + costs[end] <= self.size):
                total += costs[end]
                end += 1
            windows.append((start, end))
            if end == count:
                break
            back, shared = end, 0
            while back - 1 > start and shared + costs[back - 1] <= self.overlap:
                shared += costs[back - 1]
                back -= 1
            start = back
        return windows

    def _spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) offsets of the units (words, sentences or paragraphs) of ``text``."""
        if self.unit == "tokens":
            return [m.span() for m in _WORD.finditer(text)]
        breaks = _SENTENCE_END if self.unit == "sentences" else _PARAGRAPH_BREAK
        spans: list[tuple[int, int]] = []
        start = 0
        for match in breaks.finditer(text):
            if text[start : match.start()].strip():
                spans.append((start, match.start()))
            start = match.end()
        if text[start:].strip():
            spans.append((start, len(text)))
        return spans


@dataclass(frozen=True)
class Chunk:
    path: str  # the document's path in the bundle
    title: str
    index: int  # position of the chunk in its document
    text: str


def _token_costs(text: str, spans: list[tuple[int, int]]) -> list[int]:
    """Tokens of each word (with its leading space) in the offline ``cl100k_base``; one per
    word when tiktoken is unusable."""
    from promptver.bundle.tokens import offline_counter

    count = offline_counter()
    if count is None:
        return [1] * len(spans)
    known: dict[str, int] = {}
    costs = []
    for a, b in spans:
        word = text[a:b]
        if word not in known:
            known[word] = max(1, count(" " + word))
        costs.append(known[word])
    return costs


def document_title(path: str, text: str) -> str:
    """The first Markdown ``# heading``, else the file name without its suffix."""
    match = _HEADING.search(text)
    if match:
        return match.group(1)
    name = path.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] if "." in name else name


def count_chunks(paths: Iterable[str], read: Callable[[str], bytes], table: Any) -> int | None:
    """How many chunks the text documents among ``paths`` make with the ``[rag.chunking]``
    ``table``; None when the chunking is invalid or a document is not UTF-8 (``check`` and
    the eval say why)."""
    try:
        chunking = Chunking.from_config(table, "rag")
    except ConfigError:
        return None
    total = 0
    for path in paths:
        if not path.lower().endswith(TEXT_SUFFIXES):
            continue
        try:
            total += len(chunking.split(read(path).decode("utf-8")))
        except UnicodeDecodeError:
            return None
    return total
