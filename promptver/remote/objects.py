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


def _decompress(data: bytes, what: str) -> bytes:
    import zstandard

    try:
        return bytes(zstandard.ZstdDecompressor().decompress(data))
    except zstandard.ZstdError as exc:
        raise IntegrityError(
            f"{what} on the remote cannot be decompressed: {exc}",
            hint="the remote copy is damaged; push it again from a store that has it",
        ) from None


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


def read_recipe(transport: Transport, hexdigest: str) -> list[Span] | None:
    """The spans of a chunked object on the remote, or None (absent or not chunked)."""
    found = transport.get(object_key(hexdigest))
    if found is None or not found[0].startswith(CHUNKED):
        return None
    return _parse_recipe(found[0], hexdigest)[1]


def _parse_recipe(blob: bytes, hexdigest: str) -> tuple[int, list[Span]]:
    try:
        recipe = json.loads(_decompress(blob[4:], f"object {short(hexdigest)}"))
        return int(recipe["size"]), list(recipe["spans"])
    except (ValueError, KeyError, TypeError):
        raise _corrupted(hexdigest, "its recipe is not valid") from None


def fetch_object(
    transport: Transport, hexdigest: str, progress: Callable[[int], None] | None = None
) -> bytes:
    """An object's content from the remote, verified against its name."""
    found = transport.get(object_key(hexdigest))
    if found is None:
        raise RemoteError(
            f"object {short(hexdigest)} is not on remote {transport.url}",
            hint="push it from a store that has it (`promptver push`)",
        )
    blob = found[0]
    if blob.startswith(WHOLE):
        data = _decompress(blob[4:], f"object {short(hexdigest)}")
    elif blob.startswith(CHUNKED):
        size, spans = _parse_recipe(blob, hexdigest)
        data = _assemble(transport, spans, size, hexdigest)
    else:
        raise _corrupted(hexdigest, "it has no known header")
    if hashlib.sha256(data).hexdigest() != hexdigest:
        raise _corrupted(hexdigest, "its content does not match its hash")
    if progress:
        progress(len(data))
    return data


def _assemble(transport: Transport, spans: list[Span], size: int, hexdigest: str) -> bytes:
    wanted: dict[str, set[tuple[int, int]]] = {}
    for pack, frame_offset, frame_length, _start, _length in spans:
        wanted.setdefault(pack, set()).add((frame_offset, frame_length))
    frames: dict[tuple[str, int], bytes] = {}

    def load(pack: str) -> None:
        ranges = sorted(wanted[pack])
        blobs = transport.get_ranges(pack_key(pack), [(o, o + n) for o, n in ranges])
        for (offset, _n), blob in zip(ranges, blobs, strict=True):
            frames[(pack, offset)] = _decompress(blob, f"pack {pack[:12]} of object {short(hexdigest)}")

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(load, wanted))
    out = bytearray()
    for pack, frame_offset, _frame_length, start, length in spans:
        out += frames[(pack, frame_offset)][start : start + length]
    if len(out) != size:
        raise _corrupted(hexdigest, f"it rebuilds to {len(out)} bytes, not {size}")
    return bytes(out)


def check_remote_object(transport: Transport, hexdigest: str) -> str | None:
    """For ``verify --remote``: None when the object rebuilds to its hash, else the problem."""
    try:
        fetch_object(transport, hexdigest)
    except (IntegrityError, RemoteError) as exc:
        return exc.message
    return None


def _corrupted(hexdigest: str, why: str) -> IntegrityError:
    return IntegrityError(
        f"object {short(hexdigest)} on the remote is corrupted: {why}",
        location=object_key(hexdigest),
        hint="push it again from a store that has a good copy (`promptver push`), or restore the remote",
    )
