"""Line-level diffs with word-level segments, safe on binary files and huge lines."""

from __future__ import annotations

import difflib
import re

from promptver.diff.model import Hunk, Line, Row, Segment

CONTEXT = 3
MAX_LINE_CHARS = 2_000  # longer lines are shown cut, with the number of characters cut
WORD_DIFF_CHARS = 2_000  # longer line pairs are highlighted as a whole
SIMILARITY_CHARS = 20_000  # above this, rename similarity is computed on lines
ANALYSIS_CHARS = 1_000_000  # larger templates: text diff only (no Jinja2 parse, no tokens)

_WORD = re.compile(r"\s+|\w+|[^\w\s]")
_COMMENT = re.compile(r"\{#.*?#\}", re.S)


def decode(data: bytes | None) -> str | None:
    """UTF-8 text, or None when the bytes are not text (NUL byte or not UTF-8)."""
    if data is None or b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def normalized(text: str) -> str:
    """Text without Jinja2 comments and with whitespace collapsed: equal normalized texts
    differ only in whitespace or comments."""
    if "{#" in text:
        text = _COMMENT.sub("", text)
    return " ".join(text.split())  # str.split: whitespace runs collapsed in C


def similarity(old: str, new: str) -> float:
    """Content similarity in 0..1 (characters for small texts, lines for large ones)."""
    if old == new:
        return 1.0
    if len(old) <= SIMILARITY_CHARS and len(new) <= SIMILARITY_CHARS:
        matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    else:
        matcher = difflib.SequenceMatcher(None, old.splitlines(), new.splitlines())
    if matcher.real_quick_ratio() < 0.5:
        return matcher.real_quick_ratio()
    return matcher.ratio()


def _line(number: int, text: str, segments: tuple[Segment, ...] = ()) -> Line:
    if len(text) > MAX_LINE_CHARS:
        return Line(number, text[:MAX_LINE_CHARS], (), len(text) - MAX_LINE_CHARS)
    return Line(number, text, segments)


def _word_segments(old: str, new: str) -> tuple[tuple[Segment, ...], tuple[Segment, ...]]:
    """Segments of a replaced line pair: words present on one side only are ``changed``."""
    if len(old) > WORD_DIFF_CHARS or len(new) > WORD_DIFF_CHARS:
        return (Segment(old, True),), (Segment(new, True),)
    a, b = _WORD.findall(old), _WORD.findall(new)
    left: list[Segment] = []
    right: list[Segment] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        changed = tag != "equal"
        if i2 > i1:
            _append(left, "".join(a[i1:i2]), changed)
        if j2 > j1:
            _append(right, "".join(b[j1:j2]), changed)
    return tuple(left), tuple(right)


def _append(segments: list[Segment], text: str, changed: bool) -> None:
    if segments and segments[-1].changed == changed:
        segments[-1] = Segment(segments[-1].text + text, changed)
    else:
        segments.append(Segment(text, changed))


def hunks(old: str, new: str, context: int = CONTEXT) -> tuple[tuple[Hunk, ...], int, int]:
    """Hunks of a line diff, with the numbers of added and removed lines."""
    a, b = old.splitlines(), new.splitlines()
    matcher = difflib.SequenceMatcher(None, a, b)
    out: list[Hunk] = []
    added = removed = 0
    for group in matcher.get_grouped_opcodes(context):
        rows: list[Row] = []
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                rows += [
                    Row("equal", _line(i + 1, a[i]), _line(j + 1, b[j]))
                    for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
                ]
                continue
            removed += i2 - i1
            added += j2 - j1
            pairs = min(i2 - i1, j2 - j1) if tag == "replace" else 0
            for k in range(pairs):
                left, right = _word_segments(a[i1 + k], b[j1 + k])
                rows.append(
                    Row(
                        "replace",
                        _line(i1 + k + 1, a[i1 + k], left),
                        _line(j1 + k + 1, b[j1 + k], right),
                    )
                )
            rows += [Row("delete", _line(i + 1, a[i]), None) for i in range(i1 + pairs, i2)]
            rows += [Row("insert", None, _line(j + 1, b[j])) for j in range(j1 + pairs, j2)]
        first, last = group[0], group[-1]
        out.append(
            Hunk(
                old_start=first[1] + 1 if last[2] > first[1] else first[1],
                old_count=last[2] - first[1],
                new_start=first[3] + 1 if last[4] > first[3] else first[3],
                new_count=last[4] - first[3],
                rows=tuple(rows),
            )
        )
    return tuple(out), added, removed
