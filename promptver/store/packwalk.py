"""Two stored versions of a large eval set compared through their recipes (`packs`).

Where both versions' recipes name the same bytes of the same pack, those bytes are the
same: a diff of two versions that share most of their packs need not look at the shared
bytes, except to count their lines. This gives the `linewalk.Walk` a diff needs from the
recipes, without rebuilding either file in memory and without comparing them:

- every byte of both versions is still hashed (span by span, straight from the packs)
  and checked against its name, so a damaged pack or recipe is never read as content
  (the walk gives up and the ordinary read names the damage);
- the shared stretches are cut to whole lines on both sides; the lines between them
  are the lines that differ, numbered as in their files.

Where the walk would see something else (moved lines, say) the diff's later steps match
what is left as multisets, so the counts are those of a full comparison.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
from collections.abc import Iterator

from promptver.errors import IntegrityError
from promptver.store.linewalk import Line, Walk, blank_lines
from promptver.store.packs import Recipe, Store, load_recipe, pack_path

MAX_SPANS = 1 << 20  # recipes with more spans than this are compared the ordinary way

Piece = tuple[int, int, int, str, int]  # (old position, new position, length, pack, pack offset)


def walk_packed(store: Store, old_hex: str, new_hex: str) -> Walk | None:
    """The walk of two objects kept in packs, from their recipes; None when either is not
    in packs here, or cannot be read whole and verified (the caller reads it the ordinary
    way, which reports why)."""
    try:
        old, new = load_recipe(store, old_hex), load_recipe(store, new_hex)
    except IntegrityError:
        return None
    if old is None or new is None or len(old.spans) + len(new.spans) > MAX_SPANS:
        return None
    data: dict[str, bytes] = {}
    try:
        for pack in sorted(old.packs() | new.packs()):
            data[pack] = pack_path(store, pack).read_bytes()
    except OSError:
        return None
    if any(o + k > len(data[p]) for recipe in (old, new) for p, o, k in recipe.spans):
        return None
    if any(recipe.size > sum(len(data[p]) for p in recipe.packs()) for recipe in (old, new)):
        return None  # not a recipe this store writes (`packs.check_size`): read it the ordinary way
    # The file with fewer spans is hashed in a second thread (a few long updates, each
    # releasing the GIL); this thread hashes the other (many short updates would each wait
    # for the GIL behind a walk) and then walks.
    (one, first), (two, second) = sorted(((old_hex, old), (new_hex, new)), key=lambda x: len(x[1].spans))
    hashed: dict[str, bool] = {}
    thread = threading.Thread(target=_rebuilds, args=(first, data, one, hashed))
    thread.start()
    _rebuilds(second, data, two, hashed)
    pieces = _pieces(old, new) if hashed[two] else None
    walked = None if pieces is None else _walk(old, new, data, pieces)
    thread.join()
    return walked if hashed.get(one) else None


def _rebuilds(recipe: Recipe, data: dict[str, bytes], hexdigest: str, out: dict[str, bool]) -> None:
    """Whether the spans rebuild content that hashes to ``hexdigest`` (into ``out``)."""
    digest = hashlib.sha256()
    for pack, offset, length in recipe.spans:
        digest.update(memoryview(data[pack])[offset : offset + length])
    out[hexdigest] = digest.hexdigest() == hexdigest


def _walk(old: Recipe, new: Recipe, data: dict[str, bytes], pieces: list[Piece]) -> Walk:
    result = Walk()
    o = n = 0  # where the part not yet walked starts, in each file
    old_number = new_number = 1
    for old_at, new_at, length, pack, offset in _whole_lines(old, new, data, pieces):
        old_number = _rest(old, data, o, old_at, old_number, result.old_rest)
        new_number = _rest(new, data, n, new_at, new_number, result.new_rest)
        lines = data[pack].count(b"\n", offset, offset + length)
        result.unchanged += lines - blank_lines(data[pack], offset, offset + length)
        result.shared.append((old_at, new_at, length))
        old_number += lines
        new_number += lines
        o, n = old_at + length, new_at + length
    _rest(old, data, o, old.size, old_number, result.old_rest)
    _rest(new, data, n, new.size, new_number, result.new_rest)
    return result


def _pieces(old: Recipe, new: Recipe) -> list[Piece] | None:
    """Stretches where the two recipes name the same pack bytes, in the new file's order,
    each further on than the last in the old file too. None: the recipes overlap
    themselves too much to be worth it (a hostile recipe must not cost quadratic time)."""
    by_pack: dict[str, list[tuple[int, int, int]]] = {}  # pack -> (offset, length, old position)
    position = 0
    for pack, offset, length in old.spans:
        by_pack.setdefault(pack, []).append((offset, length, position))
        position += length
    for spans in by_pack.values():
        spans.sort()
    starts = {pack: [s[0] for s in spans] for pack, spans in by_pack.items()}
    budget = 4 * (len(old.spans) + len(new.spans))  # overlaps looked at, at most
    found_pieces: list[Piece] = []
    old_end = 0
    position = 0
    for pack, offset, length in new.spans:
        found = by_pack.get(pack)
        if found:
            index = max(bisect.bisect_right(starts[pack], offset) - 1, 0)
            while index < len(found) and found[index][0] < offset + length:
                budget -= 1
                if budget < 0:
                    return None
                start, count, at = found[index]
                low, high = max(start, offset), min(start + count, offset + length)
                if high > low and at + (low - start) >= old_end:
                    found_pieces.append(
                        (at + (low - start), position + (low - offset), high - low, pack, low)
                    )
                    old_end = at + (high - start)
                index += 1
        position += length
    return found_pieces


def _whole_lines(old: Recipe, new: Recipe, data: dict[str, bytes], pieces: list[Piece]) -> Iterator[Piece]:
    """The pieces cut to whole lines in both files: each starts a line on both sides and
    ends with a newline (the lines cut off fall to the rest)."""
    for old_at, new_at, length, pack, offset in pieces:
        chunk = data[pack]
        skip = 0
        if not (_line_starts(old, data, old_at) and _line_starts(new, data, new_at)):
            cut = chunk.find(b"\n", offset, offset + length)
            if cut < 0:
                continue
            skip = cut + 1 - offset
        end = chunk.rfind(b"\n", offset + skip, offset + length)
        if end < 0:
            continue
        yield old_at + skip, new_at + skip, end + 1 - offset - skip, pack, offset + skip


def _line_starts(recipe: Recipe, data: dict[str, bytes], at: int) -> bool:
    if at == 0:
        return True
    ((pack, offset, _),) = recipe.locate(at - 1, 1)
    return data[pack][offset : offset + 1] == b"\n"


def _rest(recipe: Recipe, data: dict[str, bytes], start: int, end: int, number: int, out: list[Line]) -> int:
    """The lines of ``[start, end)`` of the file, numbered from ``number``, added to
    ``out``; returns the number after them."""
    if end <= start:
        return number
    text = b"".join(data[p][o : o + k] for p, o, k in recipe.locate(start, end - start))
    lines = text.split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # the last line's newline, not a line of its own
    for line in lines:
        out.append((number, line))
        number += 1
    return number
