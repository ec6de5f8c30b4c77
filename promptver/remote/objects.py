"""Objects on the remote: compressed, and large files cut by content into shared packs.

A file is still named by the sha256 of its whole, uncompressed content; only its encoding
on the remote differs:

    objects/<hex>   b"PVZ1" + one zstd frame of the whole file          (small files)
                    b"PVC1" + zstd(JSON recipe)                          (large files)
    packs/<sha256>  zstd frames of content-defined chunks (create-only, named by content)

A recipe lists the spans that rebuild the file in order: ``[pack, frame_offset,
frame_length, start, length]``: take ``length`` bytes at ``start`` of the decompressed
frame at ``frame_offset`` in ``packs/<pack>``. Pushing a new version of a large file cuts
both it and its base (the same path in the parent version) with FastCDC; chunks the base
already has are referenced where the base's recipe stores them, and only new chunks go into
a new pack. So a version of a 65 MB eval set with 1% of its cases changed adds a few
percent, not another 65 MB. Adjacent spans merge, so recipes stay small.

Every fetched object is checked against its name before it is used.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from promptver.errors import IntegrityError
from promptver.store.digests import short

from .transport import RemoteError, Transport

WHOLE = b"PVZ1"
CHUNKED = b"PVC1"
CHUNK_FROM = 1 << 20  # files of at least 1 MiB are chunked
AVG_CHUNK = 1024  # FastCDC target (actual average about avg + min): small, as cases are small
FRAME = 1 << 20  # raw bytes per zstd frame in a pack: the unit of a ranged read
PACK_LIMIT = 256 << 20  # raw bytes per pack
LEVEL = 9  # zstd level: written once, read many times

Span = list[Any]  # [pack, frame_offset, frame_length, start, length]


def object_key(hexdigest: str) -> str:
    return f"objects/{hexdigest}"


def pack_key(name: str) -> str:
    return f"packs/{name}"


def _compressor() -> Any:
    import zstandard

    return zstandard.ZstdCompressor(level=LEVEL, write_content_size=True)


def _decompress(data: bytes, what: str, limit: int) -> bytes:
    """The zstd data decompressed, never more than ``limit`` bytes (what the manifest
    recorded): a frame claiming or producing more is refused before it is allocated."""
    import zstandard

    try:
        claimed = zstandard.frame_content_size(data)
        if claimed > limit:
            raise _too_large(what, f"its header claims {claimed:,} bytes, at most {limit:,} expected")
        with zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True) as reader:
            out = bytearray()
            while len(out) <= limit:
                block = reader.read(min(limit + 1 - len(out), 1 << 20))
                if not block:
                    break
                out += block
    except zstandard.ZstdError as exc:
        raise IntegrityError(
            f"{what} on the remote cannot be decompressed: {exc}",
            hint="the remote copy is damaged; push it again from a store that has it",
        ) from None
    if len(out) > limit:
        raise _too_large(what, f"it decompresses to more than the {limit:,} bytes expected")
    return bytes(out)


def _too_large(what: str, why: str) -> IntegrityError:
    return IntegrityError(
        f"{what} on the remote is refused: {why}",
        hint="the remote copy was replaced (a decompression bomb?); push a good copy from a store with it",
    )


def _chunks(data: bytes | memoryview) -> list[tuple[int, int]]:
    """(offset, length) of the content-defined chunks of ``data``."""
    from pyfastcdc.cy import FastCDC

    return [(c.offset, c.length) for c in FastCDC(AVG_CHUNK).cut_buf(data)]


# ---- writing -------------------------------------------------------------------------------


def encode_whole(data: bytes) -> bytes:
    return WHOLE + _compressor().compress(data)


def push_object(
    transport: Transport,
    hexdigest: str,
    data: bytes,
    base: tuple[bytes, list[Span]] | None = None,
) -> int:
    """Upload one object (create-only); returns the bytes written to the remote.

    ``base``: the content and recipe of a similar object already on the remote (the same
    file in the parent version): chunks it has are referenced, not uploaded again."""
    if len(data) < CHUNK_FROM:
        blob = encode_whole(data)
        return len(blob) if transport.put_create(object_key(hexdigest), blob) else 0
    spans, packs = _plan(data, base)
    written = 0
    for name, pack in packs:
        if transport.put_create(pack_key(name), pack):
            written += len(pack)
    recipe = json.dumps({"size": len(data), "spans": spans}, separators=(",", ":")).encode()
    blob = CHUNKED + _compressor().compress(recipe)
    if transport.put_create(object_key(hexdigest), blob):
        written += len(blob)
    return written


def _plan(data: bytes, base: tuple[bytes, list[Span]] | None) -> tuple[list[Span], list[tuple[str, bytes]]]:
    """Spans rebuilding ``data`` and the new packs they need."""
    view = memoryview(data)
    known: dict[bytes, int] = {}
    base_index: _SpanIndex | None = None
    if base is not None:
        base_data, base_spans = base
        base_view = memoryview(base_data)
        for offset, length in _chunks(base_view):
            known.setdefault(hashlib.sha256(base_view[offset : offset + length]).digest(), offset)
        base_index = _SpanIndex(base_spans)
    # Which chunks are new, and which ranges of the base the rest come from.
    pieces: list[tuple[str, int, int]] = []  # ("new"|"base", offset, length)
    for offset, length in _chunks(view):
        at = known.get(hashlib.sha256(view[offset : offset + length]).digest()) if known else None
        if at is None:
            pieces.append(("new", offset, length))
        else:
            pieces.append(("base", at, length))
    # New chunks, in file order, fill frames; frames fill packs.
    frames: list[bytes] = []
    frame_of: list[tuple[int, int]] = []  # per new piece: (frame number, start in frame)
    current = bytearray()
    for kind, offset, length in pieces:
        if kind != "new":
            continue
        if len(current) + length > FRAME and current:
            frames.append(bytes(current))
            current = bytearray()
        frame_of.append((len(frames), len(current)))
        current += view[offset : offset + length]
    if current:
        frames.append(bytes(current))
    compressor_level = LEVEL
    with ThreadPoolExecutor(max_workers=4) as pool:
        compressed = list(pool.map(lambda raw: _compress_level(raw, compressor_level), frames))
    packs: list[tuple[str, bytes]] = []
    placement: list[tuple[str, int, int]] = []  # per frame: (pack name, offset, length)
    group: list[bytes] = []
    raw_in_group = 0

    def close_group() -> None:
        blob = b"".join(group)
        name = hashlib.sha256(blob).hexdigest()
        position = 0
        for frame in group:
            placement.append((name, position, len(frame)))
            position += len(frame)
        packs.append((name, blob))

    for raw, frame in zip(frames, compressed, strict=True):
        if group and raw_in_group + len(raw) > PACK_LIMIT:
            close_group()
            group, raw_in_group = [], 0
        group.append(frame)
        raw_in_group += len(raw)
    if group:
        close_group()
    spans: list[Span] = []
    new_number = 0
    for kind, offset, length in pieces:
        if kind == "new":
            frame_no, start = frame_of[new_number]
            new_number += 1
            pack, frame_offset, frame_length = placement[frame_no]
            _add_span(spans, [pack, frame_offset, frame_length, start, length])
        else:
            assert base_index is not None
            for span in base_index.slice(offset, length):
                _add_span(spans, span)
    return spans, packs


def _compress_level(raw: bytes, level: int) -> bytes:
    import zstandard

    return bytes(zstandard.ZstdCompressor(level=level, write_content_size=True).compress(raw))


def _add_span(spans: list[Span], span: Span) -> None:
    if spans:
        last = spans[-1]
        if last[:3] == span[:3] and last[3] + last[4] == span[3]:
            last[4] += span[4]
            return
    spans.append(span)


class _SpanIndex:
    """Maps byte ranges of a chunked file to the spans that hold them."""

    def __init__(self, spans: list[Span]):
        self.spans = spans
        self.starts: list[int] = []
        position = 0
        for span in spans:
            self.starts.append(position)
            position += span[4]

    def slice(self, offset: int, length: int) -> list[Span]:
        out: list[Span] = []
        i = bisect.bisect_right(self.starts, offset) - 1
        while length > 0:
            span = self.spans[i]
            inside = offset - self.starts[i]
            take = min(length, span[4] - inside)
            out.append([span[0], span[1], span[2], span[3] + inside, take])
            offset += take
            length -= take
            i += 1
        return out


# ---- reading -------------------------------------------------------------------------------


def read_recipe(transport: Transport, hexdigest: str, size: int) -> list[Span] | None:
    """The spans of a chunked object of ``size`` bytes on the remote, or None (absent or
    not chunked)."""
    found = transport.get(object_key(hexdigest))
    if found is None or not found[0].startswith(CHUNKED):
        return None
    return _parse_recipe(found[0], hexdigest, size)


FRAME_LIMIT = 2 * FRAME + 4096  # a frame's raw bytes: FRAME plus at most one large chunk
RECIPE_LIMIT = 1 << 16  # a recipe's JSON: 64 KiB, or its file's size when larger


def _parse_recipe(blob: bytes, hexdigest: str, size: int) -> list[Span]:
    """A recipe rebuilding exactly ``size`` bytes from frames of bounded size: checked
    before anything it names is fetched or allocated."""
    what = f"object {short(hexdigest)}"
    try:
        recipe = json.loads(_decompress(blob[4:], what, max(RECIPE_LIMIT, size)))
        spans = list(recipe["spans"])
        recorded = recipe["size"]
    except (ValueError, KeyError, TypeError, RecursionError):
        raise _corrupted(hexdigest, "its recipe is not valid") from None
    if recorded != size:
        raise _corrupted(hexdigest, f"its recipe rebuilds {recorded} bytes, the manifest says {size}")
    total = 0
    frames: dict[tuple[str, int], int] = {}
    for span in spans:
        if not (
            isinstance(span, list)
            and len(span) == 5
            and isinstance(span[0], str)
            and len(span[0]) == 64
            and all(type(x) is int and x >= 0 for x in span[1:])
            and 0 < span[2] <= FRAME_LIMIT
            and span[3] + span[4] <= FRAME_LIMIT
        ):
            raise _corrupted(hexdigest, "its recipe has a malformed span")
        total += span[4]
        frames[(span[0], span[1])] = span[2]
    if total != size:
        raise _corrupted(hexdigest, f"its recipe rebuilds {total:,} bytes, the manifest says {size:,}")
    if sum(frames.values()) > 4 * size + (64 << 20):
        raise _corrupted(hexdigest, "its recipe reads far more than the file holds")
    return spans


def fetch_object(
    transport: Transport, hexdigest: str, progress: Callable[[int], None] | None = None, *, size: int
) -> bytes:
    """An object's content from the remote, verified against its name. ``size``: what the
    manifest naming it recorded; nothing larger is ever decoded or allocated."""
    found = transport.get(object_key(hexdigest))
    if found is None:
        raise RemoteError(
            f"object {short(hexdigest)} is not on remote {transport.url}",
            hint="push it from a store that has it (`promptver push`)",
        )
    blob = found[0]
    if blob.startswith(WHOLE):
        data = _decompress(blob[4:], f"object {short(hexdigest)}", size)
    elif blob.startswith(CHUNKED):
        data = _assemble(transport, _parse_recipe(blob, hexdigest, size), size, hexdigest)
    else:
        raise _corrupted(hexdigest, "it has no known header")
    if len(data) != size or hashlib.sha256(data).hexdigest() != hexdigest:
        raise _corrupted(hexdigest, "its content does not match its hash")
    if progress:
        progress(len(data))
    return data


def _assemble(transport: Transport, spans: list[Span], size: int, hexdigest: str) -> bytes:
    """The file rebuilt from its (checked) recipe, each frame decoded and copied into place
    at once, so memory stays the file plus a few frames."""
    wanted: dict[str, dict[tuple[int, int], list[tuple[int, int, int]]]] = {}
    position = 0
    for pack, frame_offset, frame_length, start, length in spans:
        uses = wanted.setdefault(pack, {}).setdefault((frame_offset, frame_length), [])
        uses.append((position, start, length))
        position += length
    out = bytearray(size)
    view = memoryview(out)

    def load(pack: str) -> None:
        ranges = sorted(wanted[pack])
        for first in range(0, len(ranges), 8):
            batch = ranges[first : first + 8]
            blobs = transport.get_ranges(pack_key(pack), [(o, o + n) for o, n in batch])
            for (offset, n), blob in zip(batch, blobs, strict=True):
                frame = _decompress(blob, f"pack {pack[:12]} of object {short(hexdigest)}", FRAME_LIMIT)
                for at, start, length in wanted[pack][(offset, n)]:
                    piece = frame[start : start + length]
                    if len(piece) != length:
                        raise _corrupted(hexdigest, "a span reaches past the end of its frame")
                    view[at : at + length] = piece

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(load, wanted))
    return bytes(out)


def check_remote_object(transport: Transport, hexdigest: str, size: int) -> str | None:
    """For ``verify --remote``: None when the object rebuilds to its hash, else the problem."""
    try:
        fetch_object(transport, hexdigest, size=size)
    except (IntegrityError, RemoteError) as exc:
        return exc.message
    return None


def _corrupted(hexdigest: str, why: str) -> IntegrityError:
    return IntegrityError(
        f"object {short(hexdigest)} on the remote is corrupted: {why}",
        location=object_key(hexdigest),
        hint="push it again from a store that has a good copy (`promptver push`), or restore the remote",
    )
