"""Line alignment for the side-by-side view: difflib opcodes turned into display rows.

Pure Python (no Textual import) so it is testable on its own and cheap to run in a worker.
A row holds one old line and/or one new line; ``replace`` rows also carry the character
spans of the words that changed inside the line. Long unchanged runs fold into one
display row (``fold_ranges``, ``display_rows``), as every diff viewer does.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

RowKind = Literal["equal", "delete", "insert", "replace"]
Span = tuple[int, int]

# Lines longer than this are compared as a whole (no word-level spans): word matching is
# quadratic in the worst case and a minified 100 kB line would stall the view.
INTRALINE_LIMIT = 4000
# Above this many lines difflib's "popular line" heuristic stays on, to keep it linear-ish.
AUTOJUNK_ABOVE = 5000

_TOKEN = re.compile(r"\w+|\s+|[^\w\s]", re.UNICODE)
_WS = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Row:
    """One display row: an old line, a new line, or both."""

    kind: RowKind
    old_no: int | None = None
    old: str | None = None
    new_no: int | None = None
    new: str | None = None
    old_spans: tuple[Span, ...] = ()
    new_spans: tuple[Span, ...] = ()


@dataclass(frozen=True, slots=True)
class UnifiedRow:
    """One row of the unified view: a single line with its old and/or new number."""

    kind: Literal["equal", "delete", "insert"]
    old_no: int | None
    new_no: int | None
    text: str
    spans: tuple[Span, ...] = ()


@dataclass(slots=True)
class AlignedDiff:
    rows: list[Row]
    hunks: list[int] = field(default_factory=list)  # index of the first row of each change
    added: int = 0
    removed: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.hunks)

    def unified(self) -> tuple[list[UnifiedRow], list[int]]:
        """The same diff as unified rows, with the row index where each change starts."""
        out: list[UnifiedRow] = []
        starts: list[int] = []
        pending_new: list[UnifiedRow] = []
        previous_kind = "equal"
        for row in self.rows:
            if row.kind == "equal":
                out.extend(pending_new)
                pending_new = []
                out.append(UnifiedRow("equal", row.old_no, row.new_no, row.old or ""))
            else:
                if previous_kind == "equal":
                    starts.append(len(out))
                if row.old is not None:
                    out.append(UnifiedRow("delete", row.old_no, None, row.old, row.old_spans))
                if row.new is not None:
                    pending_new.append(UnifiedRow("insert", None, row.new_no, row.new, row.new_spans))
            previous_kind = row.kind
        out.extend(pending_new)
        return out, starts


def split_lines(text: str) -> list[str]:
    """Lines without their endings; a trailing newline does not add an empty line."""
    return text.splitlines()


def _normalise(line: str) -> str:
    return _WS.sub(" ", line).strip()


def word_spans(old: str, new: str) -> tuple[tuple[Span, ...], tuple[Span, ...]]:
    """Character spans of the words that differ between two versions of one line."""
    if len(old) > INTRALINE_LIMIT or len(new) > INTRALINE_LIMIT:
        return ((0, len(old)),) if old else (), ((0, len(new)),) if new else ()
    a = _TOKEN.findall(old)
    b = _TOKEN.findall(new)
    a_pos = _offsets(a)
    b_pos = _offsets(b)
    old_spans: list[Span] = []
    new_spans: list[Span] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if i2 > i1:
            _add_span(old_spans, a_pos[i1], a_pos[i2])
        if j2 > j1:
            _add_span(new_spans, b_pos[j1], b_pos[j2])
    return tuple(old_spans), tuple(new_spans)


def _offsets(tokens: list[str]) -> list[int]:
    positions = [0]
    for token in tokens:
        positions.append(positions[-1] + len(token))
    return positions


def _add_span(spans: list[Span], start: int, end: int) -> None:
    if spans and spans[-1][1] == start:
        spans[-1] = (spans[-1][0], end)
    else:
        spans.append((start, end))


def align(old_text: str, new_text: str, *, ignore_whitespace: bool = False) -> AlignedDiff:
    """Align two texts into side-by-side rows.

    With ``ignore_whitespace`` lines that differ only in whitespace count as equal (and are
    shown as such); the displayed text is always the original.
    """
    a = split_lines(old_text)
    b = split_lines(new_text)
    keys_a = [_normalise(line) for line in a] if ignore_whitespace else a
    keys_b = [_normalise(line) for line in b] if ignore_whitespace else b
    autojunk = max(len(a), len(b)) > AUTOJUNK_ABOVE
    matcher = difflib.SequenceMatcher(None, keys_a, keys_b, autojunk=autojunk)
    result = AlignedDiff(rows=[])
    rows = result.rows
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for k in range(i2 - i1):
                rows.append(Row("equal", i1 + k + 1, a[i1 + k], j1 + k + 1, b[j1 + k]))
            continue
        result.hunks.append(len(rows))
        result.removed += i2 - i1
        result.added += j2 - j1
        if tag == "delete":
            rows.extend(Row("delete", old_no=i + 1, old=a[i]) for i in range(i1, i2))
        elif tag == "insert":
            rows.extend(Row("insert", new_no=j + 1, new=b[j]) for j in range(j1, j2))
        else:
            _pair_block(rows, a, b, i1, i2, j1, j2)
    return result


def _pair_block(rows: list[Row], a: list[str], b: list[str], i1: int, i2: int, j1: int, j2: int) -> None:
    """Pair the lines of a replaced block row by row; the longer side gets lone rows."""
    common = min(i2 - i1, j2 - j1)
    for k in range(common):
        old, new = a[i1 + k], b[j1 + k]
        old_spans, new_spans = word_spans(old, new)
        rows.append(Row("replace", i1 + k + 1, old, j1 + k + 1, new, old_spans, new_spans))
    for i in range(i1 + common, i2):
        rows.append(Row("delete", old_no=i + 1, old=a[i]))
    for j in range(j1 + common, j2):
        rows.append(Row("insert", new_no=j + 1, new=b[j]))


# -- folding ---------------------------------------------------------------------------------

CONTEXT = 3  # unchanged lines kept on each side of a change


class _Line(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def old_no(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Fold:
    """A run of unchanged rows shown as one row: ``rows[start:end]`` of a row list.

    ``key`` (the old line number of the first hidden line) names the fold in both the
    side-by-side and the unified rows, which fold the same unchanged lines.
    """

    start: int
    end: int
    key: int

    @property
    def count(self) -> int:
        return self.end - self.start

    @property
    def label(self) -> str:
        return f"⋯ {self.count} unchanged lines"


def fold_ranges(rows: Sequence[_Line], context: int = CONTEXT) -> list[Fold]:
    """The unchanged runs to fold: every equal row farther than ``context`` rows from a
    change, when that hides at least two rows (one fold row for one line would save
    nothing). A text with no change folds nothing: there is no change to give context to."""
    folds: list[Fold] = []
    count = len(rows)
    if all(row.kind == "equal" for row in rows):
        return folds
    start = 0
    while start < count:
        if rows[start].kind != "equal":
            start += 1
            continue
        end = start
        while end < count and rows[end].kind == "equal":
            end += 1
        hide_from = start + context if start > 0 else start
        hide_to = end - context if end < count else end
        if hide_to - hide_from >= 2:
            folds.append(Fold(hide_from, hide_to, rows[hide_from].old_no or 0))
        start = end
    return folds


@dataclass(slots=True)
class Display:
    """What a view shows: row indices, with each collapsed fold as one entry.

    ``position[i]`` is the display index of row ``i`` (of a hidden row: its fold's).
    """

    entries: list[int | Fold]
    position: list[int]

    def hidden(self, row: int) -> Fold | None:
        """The collapsed fold that hides ``row``, if any."""
        entry = self.entries[self.position[row]]
        return entry if isinstance(entry, Fold) else None


def display_rows(count: int, folds: Sequence[Fold], expanded: Collection[int] = ()) -> Display:
    """Lay out ``count`` rows with every fold whose key is not in ``expanded`` collapsed."""
    entries: list[int | Fold] = []
    position: list[int] = []
    row = 0
    for fold in folds:
        if fold.key in expanded:
            continue
        _shown(entries, position, row, fold.start)
        position.extend([len(entries)] * fold.count)
        entries.append(fold)
        row = fold.end
    _shown(entries, position, row, count)
    return Display(entries, position)


def _shown(entries: list[int | Fold], position: list[int], start: int, end: int) -> None:
    """Rows ``start..end`` shown one per entry."""
    first = len(entries)
    entries.extend(range(start, end))
    position.extend(range(first, first + end - start))
