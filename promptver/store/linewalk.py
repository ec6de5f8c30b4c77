"""Two versions of a line-oriented file (a JSONL eval set) walked side by side, in place.

One walk serves three readers during a bump, so a 100,000-case set is compared once:

- the case-level diff (`promptver.diff.evals`) takes the lines that differ;
- the eval-set check (`promptver.bundle.check`) validates only those lines, since every
  other line is byte-identical to a line of a version that passed;
- the store (`promptver.store.packs`) keeps the new version as the old one's bytes plus
  the new ones (``shared`` says which stretches are the old one's).

Both sides are held in memory. Stretches of equal bytes are found with memcmp
(``bytes.startswith`` on a memoryview) and their lines counted in C; only differing lines
become bytes objects. After `OUT_OF_STEP` differing lines in a row (a case inserted or
removed shifts every line after it), the common tail of what is left is found by bytes
from the end (its lines are unchanged), and only the lines before it are walked one by
one.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain, zip_longest
from typing import IO

OUT_OF_STEP = 64  # differing lines in a row after which the in-place walk hands over
BLOCK = 8 << 20  # bytes split into lines at a time when walking line by line

Line = tuple[int, bytes]  # (line number, the line without its newline)


@dataclass
class Walk:
    """What walking ``old`` and ``new`` side by side found.

    ``unchanged``: non-blank lines equal to the other side's line at the same position,
    or in the common tail; ``old_rest`` and ``new_rest``: every other line of each side,
    numbered (blank ones too); ``shared``: stretches of equal bytes (whole lines, or the
    unchanged start and end of an edited line), as ``(old offset, new offset, length)``,
    in order on both sides."""

    unchanged: int = 0
    old_rest: list[Line] = field(default_factory=list)
    new_rest: list[Line] = field(default_factory=list)
    shared: list[tuple[int, int, int]] = field(default_factory=list)


def walk(old: bytes | bytearray, new: bytes | bytearray) -> Walk:
    """Walk two files held in memory (see the module docstring)."""
    result = Walk()
    o, n, number, run = _walk_in_place(old, new, result)
    if o < len(old) or n < len(new):
        if run is not None:  # out of step: the run of differing lines is walked again below
            o, n, number, pairs, shared = run
            del result.old_rest[len(result.old_rest) - pairs :]
            del result.new_rest[len(result.new_rest) - pairs :]
            del result.shared[shared:]
        tail = _common_tail(old, o, new, n)
        old_end, new_end = len(old) - tail, len(new) - tail
        unchanged, old_rest, new_rest = walk_lines(
            lines_between(old, o, old_end), lines_between(new, n, new_end), number
        )
        result.unchanged += unchanged + nonblank_lines(new, new_end, len(new))
        result.old_rest += old_rest
        result.new_rest += new_rest
        if tail:
            result.shared.append((old_end, new_end, tail))
    return result


def walk_lines(
    old_lines: Iterator[bytes], new_lines: Iterator[bytes], first: int = 1
) -> tuple[int, list[Line], list[Line]]:
    """Non-blank lines equal to the other side's line at the same position (a count),
    and every other line of each side with its line number (``first`` is the first's)."""
    unchanged = 0
    old_rest: list[Line] = []
    new_rest: list[Line] = []
    for number, (old, new) in enumerate(zip_longest(old_lines, new_lines), start=first):
        if old == new:
            unchanged += bool(old.strip())
            continue
        if old is not None:
            old_rest.append((number, old))
        if new is not None:
            new_rest.append((number, new))
    return unchanged, old_rest, new_rest


def blocks(handle: IO[bytes], progress: Callable[[int], None] | None = None) -> Iterator[list[bytes]]:
    """A stream's lines in blocks (split in C); every line, blank ones too, so positions
    count line numbers. ``progress(n)`` is told of each block's bytes."""
    rest = b""
    while block := handle.read(BLOCK):
        if progress is not None:
            progress(len(block))
        lines = block.split(b"\n")
        if rest:  # the line cut by the previous block (not ``rest + block``: no copy)
            lines[0] = rest + lines[0]
        rest = lines.pop()
        yield lines
    if rest:
        yield [rest]


def lines_between(data: bytes | bytearray, start: int, end: int) -> Iterator[bytes]:
    """The lines of ``data[start:end]``, as `blocks` gives a file's."""
    if start >= end:
        return iter(())
    whole = start == 0 and end == len(data)
    return chain.from_iterable(blocks(io.BytesIO(data if whole else data[start:end])))


def nonblank_lines(data: bytes | bytearray, start: int, end: int) -> int:
    """Lines of ``data[start:end]`` (which starts a line) that are not blank."""
    if start >= end:
        return 0
    lines = data.count(b"\n", start, end)
    last = data.rfind(b"\n", start, end) + 1  # a last line without its newline
    if last < end:
        lines += bool(data[max(last, start) : end].strip())
    return lines - blank_lines(data, start, end)


# A line that is blank, found by the newline before it (the first line is looked at apart).
_BLANK_AFTER_NEWLINE = re.compile(rb"\n(?=[ \t\r\x0b\x0c]*\n)")


# Where a run of differing lines began: (old offset, new offset, line number, pairs of
# lines in it, how many shared stretches there were before it).
Run = tuple[int, int, int, int, int]


def _walk_in_place(
    old: bytes | bytearray, new: bytes | bytearray, result: Walk
) -> tuple[int, int, int, Run | None]:
    """Walk while the two sides stay in step; returns where it stopped: ``(old offset,
    new offset, next line number)`` (the end of either file, or `OUT_OF_STEP` differing
    lines in a row), and, in the second case, where that run began."""
    view = memoryview(old)
    o = n = 0
    number = 1
    apart = 0
    run: Run = (0, 0, 1, 0, 0)
    while o < len(old) and n < len(new) and apart < OUT_OF_STEP:
        same = _common_length(view, o, new, n)
        end = new.rfind(b"\n", n, n + same)  # the last whole line of the equal stretch
        if end >= 0:
            lines = new.count(b"\n", n, end + 1)
            result.unchanged += lines - blank_lines(new, n, end + 1)
            result.shared.append((o, n, end + 1 - n))
            number += lines
            o += end + 1 - n
            n = end + 1
            apart = 0
            if o >= len(old) or n >= len(new):
                break
        old_end = old.find(b"\n", o)
        old_end = len(old) if old_end < 0 else old_end
        new_end = new.find(b"\n", n)
        new_end = len(new) if new_end < 0 else new_end
        old_line, new_line = bytes(old[o:old_end]), bytes(new[n:new_end])
        if old_line == new_line:  # an equal stretch cut short by the end of a file
            result.unchanged += bool(new_line.strip())
            result.shared.append((o, n, new_end - n))
        else:
            if apart == 0:
                run = (o, n, number, 0, len(result.shared))
            result.old_rest.append((number, old_line))
            result.new_rest.append((number, new_line))
            _share_within(result, o, old_line, old_end < len(old), n, new_line, new_end < len(new))
            apart += 1
        o, n, number = old_end + 1, new_end + 1, number + 1
    if apart < OUT_OF_STEP:
        return o, n, number, None
    return o, n, number, (*run[:3], apart, run[4])


WITHIN = 32  # the shortest start or end of an edited line worth sharing


def _share_within(
    result: Walk, o: int, old_line: bytes, old_newline: bool, n: int, new_line: bytes, new_newline: bool
) -> None:
    """An edited line shares its unchanged start and end (with the newline after it) with
    the line it replaces: a case whose answer grew by a word stores the word."""
    head = _common_length(memoryview(old_line), 0, new_line, 0)
    limit = min(len(old_line), len(new_line)) - head
    tail = _common_length(memoryview(old_line[::-1]), 0, new_line[::-1], 0) if limit > 0 else 0
    tail = min(tail, limit)
    if head >= WITHIN:
        result.shared.append((o, n, head))
    if tail >= WITHIN or (tail and old_newline and new_newline):
        newline = int(old_newline and new_newline)
        result.shared.append((o + len(old_line) - tail, n + len(new_line) - tail, tail + newline))


def _common_length(old: memoryview, o: int, new: bytes | bytearray, n: int) -> int:
    """How many bytes from ``old[o:]`` and ``new[n:]`` are equal: doubling steps, then
    halving the step that differs."""
    limit = min(len(old) - o, len(new) - n)
    good, size = 0, 256
    while good < limit:
        step = min(size, limit - good)
        if not new.startswith(old[o + good : o + good + step], n + good):
            low, high = good, good + step  # equal up to low; a difference before high
            while high - low > 1:
                middle = (low + high) // 2
                if new.startswith(old[o + low : o + middle], n + low):
                    low = middle
                else:
                    high = middle
            return low
        good += step
        size *= 2
    return good


def _common_tail(old: bytes | bytearray, o: int, new: bytes | bytearray, n: int) -> int:
    """The length of the longest run of whole lines that ends both ``old[o:]`` and
    ``new[n:]`` (a case inserted or removed in the middle leaves the rest equal)."""
    old_view = memoryview(old)

    def same(start: int, end: int) -> bool:  # the bytes from ``end`` to ``start`` before the ends
        piece = old_view[len(old) - end : len(old) - start]  # memcmp (a memoryview's == is slow)
        return new.startswith(piece, len(new) - end)

    limit = min(len(old) - o, len(new) - n)
    good, size = 0, 256
    while good < limit:
        step = min(size, limit - good)
        if not same(good, good + step):
            low, high = good, good + step
            while high - low > 1:
                middle = (low + high) // 2
                if same(low, middle):
                    low = middle
                else:
                    high = middle
            good = low
            break
        good += step
        size *= 2
    if good == 0:
        return 0
    start = len(new) - good  # the tail must start a line on both sides
    old_start = len(old) - good
    aligned = (start == n or new[start - 1 : start] == b"\n") and (
        old_start == o or old[old_start - 1 : old_start] == b"\n"
    )
    if not aligned:  # the tail's bytes are the same on both sides: after its first
        cut = new.find(b"\n", start)  # newline, it starts a line on both
        good = 0 if cut < 0 else len(new) - (cut + 1)
    return good


def blank_lines(data: bytes | bytearray, start: int, end: int) -> int:
    """Blank (whitespace-only) lines among the whole lines of ``data[start:end]``."""
    first = data.find(b"\n", start, end)
    blank = int(not data[start:first].strip()) if first >= 0 else 0
    return blank + sum(1 for _ in _BLANK_AFTER_NEWLINE.finditer(data, start, end))
