"""Large objects kept as spans of packs, so a new version of a large eval set stores only
the lines that changed.

A file of at least `PACK_FROM` bytes is still named by the sha256 of its whole content,
but ``objects/<ab>/<rest>`` then holds a *recipe* instead of the bytes:

    b"PVR1\\n" + JSON {"size": N, "packs": [pack, ...], "spans": [i, gap, length, ...]}

Each span is ``length`` bytes at ``offset`` (the end of the previous span in that pack,
plus ``gap``) of ``packs/<ab>/<rest>``, the ``i``-th pack listed (a pack is named by the
sha256 of its content); the spans, in order, rebuild the file. A first version's pack is
the file itself. A later version that a bump compared with its previous one
(`promptver.store.linewalk`) is written as spans of the previous version's packs for the
stretches the walk found equal, plus one new pack with the rest: a re-bump that changed 1%
of the cases writes about 1% of the bytes, and a store committed to git gains one pack and
one small recipe per version, not a file per change.

Every read rebuilds the whole file and checks its sha256, so a wrong or damaged span can
never serve wrong bytes (it is reported as a corrupted object, naming the damaged pack).
An object file whose content hashes to its own name is plain content, even if it starts
with the recipe marker (a file that happens to begin with it).
"""

from __future__ import annotations

import bisect
import hashlib
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from promptver.errors import IntegrityError
from promptver.store.atomic import remove_quietly, write_all, write_failed
from promptver.store.digests import is_hex_digest, short


class Store(Protocol):
    """What packs need of a store (`promptver.store.store.Store`, which calls this module:
    typed by what it offers, not by its class)."""

    root: Path

    def object_path(self, hexdigest: str) -> Path: ...


MAGIC = b"PVR1\n"
# A later version's pack starts with this and the digest of the object it was written for,
# so two versions never share a pack (the same new bytes twice are two packs): a recipe
# this store writes then uses each pack byte at most once, which bounds what it may ask for.
PACK_HEAD = b"PVP1 "
PACK_FROM = 4 << 20  # files of at least 4 MiB are kept in packs
RECIPE_LIMIT = 64 << 20  # a recipe larger than this is not one (refused, never parsed)
READ = 1 << 20  # bytes read from a pack at a time

Span = tuple[str, int, int]  # (pack hex, offset, length)


class Recipe:
    """The spans that rebuild one large object, in order."""

    def __init__(self, size: int, spans: list[Span]):
        self.size = size
        self.spans = spans
        self._starts: list[int] = []
        position = 0
        for _, _, length in spans:
            self._starts.append(position)
            position += length

    def dumps(self) -> bytes:
        """Spans as one flat list ``[i, gap, length, ...]``: ``gap`` is the offset less the
        end of the previous span in the same pack, so a recipe is mostly small numbers
        (it compresses well in git)."""
        packs = sorted(self.packs())
        number = {pack: i for i, pack in enumerate(packs)}
        ends = [0] * len(packs)
        flat: list[int] = []
        for pack, offset, length in self.spans:
            i = number[pack]
            flat += (i, offset - ends[i], length)
            ends[i] = offset + length
        body = {"size": self.size, "packs": packs, "spans": flat}
        return MAGIC + json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def parse(cls, data: bytes, where: Path) -> Recipe:
        try:
            raw = json.loads(data[len(MAGIC) :])
            size, packs, flat = raw["size"], raw["packs"], raw["spans"]
            valid = (
                isinstance(size, int)
                and isinstance(flat, list)
                and len(flat) % 3 == 0
                and all(isinstance(x, int) for x in flat)
                and all(isinstance(p, str) and is_hex_digest(p) for p in packs)
            )
            spans: list[Span] = []
            ends = [0] * len(packs)
            for k in range(0, len(flat) if valid else 0, 3):
                i, gap, length = flat[k : k + 3]
                offset = ends[i] + gap
                spans.append((packs[i], offset, length))
                ends[i] = offset + length
                valid = valid and i >= 0 and offset >= 0 and length > 0
            valid = valid and sum(n for _, _, n in spans) == size
        except (ValueError, KeyError, TypeError, IndexError):
            valid = False
        if not valid:
            raise IntegrityError(
                "object recipe is damaged (not a list of pack spans adding up to its size)",
                location=str(where),
                hint="restore the store from git or pull from a remote",
            )
        return cls(size, spans)

    def packs(self) -> set[str]:
        return {pack for pack, _, _ in self.spans}

    def locate(self, start: int, length: int) -> list[Span]:
        """The pack spans holding bytes ``start`` .. ``start + length`` of the file."""
        found: list[Span] = []
        index = bisect.bisect_right(self._starts, start) - 1
        while length > 0:
            pack, offset, span_length = self.spans[index]
            skip = start - self._starts[index]
            take = min(span_length - skip, length)
            found.append((pack, offset + skip, take))
            start += take
            length -= take
            index += 1
        return found


def is_recipe(head: bytes) -> bool:
    return head.startswith(MAGIC)


def pack_path(store: Store, pack: str) -> Path:
    return store.root / "packs" / pack[:2] / pack[2:]


def load_recipe(store: Store, hexdigest: str) -> Recipe | None:
    """The recipe of an object kept in packs (None: a plain object, or none here)."""
    path = store.object_path(hexdigest)
    try:
        with open(path, "rb") as handle:
            if not is_recipe(handle.read(len(MAGIC))):
                return None
            if os.fstat(handle.fileno()).st_size > RECIPE_LIMIT:
                return None
            handle.seek(0)
            data = handle.read()
    except OSError:
        return None
    return recipe_in(data, hexdigest, path)


def recipe_in(data: bytes, hexdigest: str, path: Path) -> Recipe | None:
    """The recipe an object file's bytes hold; None for plain content (even content that
    begins with the marker: it hashes to its own name). A damaged recipe is an error."""
    if not is_recipe(data) or len(data) > RECIPE_LIMIT or hashlib.sha256(data).hexdigest() == hexdigest:
        return None
    return Recipe.parse(data, path)


# ---- reading -------------------------------------------------------------------------------


class RecipeReader(io.RawIOBase):
    """Streams an object kept in packs, one bounded read at a time, and checks the
    whole file's sha256 at the end; a missing pack, or a damaged one, is named."""

    def __init__(self, store: Store, hexdigest: str, recipe: Recipe):
        self._store = store
        self._expected = hexdigest
        self._recipe = recipe
        self._hash = hashlib.sha256()
        self._spans = iter(recipe.spans)
        self._current: tuple[int, int, int] | None = None  # fd, offset, remaining
        self._fds: dict[str, int] = {}
        self._checked = False

    def readable(self) -> bool:
        return True

    def _fd(self, pack: str) -> int:
        fd = self._fds.get(pack)
        if fd is None:
            path = pack_path(self._store, pack)
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                raise IntegrityError(
                    f"object {short(self._expected)} cannot be rebuilt: its pack {short(pack)} is missing",
                    location=str(path),
                    hint="restore the store from git or pull from a remote",
                ) from None
            except OSError as exc:
                raise IntegrityError(
                    f"object {short(self._expected)}: cannot read its pack {short(pack)} ({exc.strerror})",
                    location=str(path),
                ) from None
            self._fds[pack] = fd
        return fd

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while True:
            if self._current is None or self._current[2] == 0:
                span = next(self._spans, None)
                if span is None:
                    self._finish()
                    return 0
                pack, offset, length = span
                self._current = (self._fd(pack), offset, length)
            fd, offset, remaining = self._current
            want = min(len(view), remaining, READ)
            got = read_at(fd, view[:want], offset)
            if got <= 0:
                self._fail()
            self._hash.update(view[:got])
            self._current = (fd, offset + got, remaining - got)
            return got

    def _finish(self) -> None:
        if self._checked:
            return
        self._checked = True
        if self._hash.hexdigest() != self._expected:
            self._fail()

    def _fail(self) -> None:
        """The rebuilt bytes are wrong: name the damaged pack when one is."""
        self._checked = True
        for pack in sorted(self._recipe.packs()):
            path = pack_path(self._store, pack)
            if hash_file(path) != pack:
                raise IntegrityError(
                    f"object {short(self._expected)} is corrupted: its pack {short(pack)} does not"
                    " match its hash",
                    location=str(path),
                    hint="restore the store from git or pull from a remote",
                )
        raise IntegrityError(
            f"object {short(self._expected)} is corrupted: its packs do not rebuild its content",
            location=str(self._store.object_path(self._expected)),
            hint="restore the store from git or pull from a remote",
        )

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        super().close()


def read_at(fd: int, into: memoryview, offset: int) -> int:
    """Read into ``into`` from ``offset`` of ``fd``; the count read (0: the end)."""
    if hasattr(os, "preadv"):  # Linux, the BSDs: straight into the buffer
        return os.preadv(fd, [into], offset)
    data = os.pread(fd, len(into), offset)  # elsewhere (macOS): one copy more
    into[: len(data)] = data
    return len(data)


def hash_file(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while block := handle.read(READ):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def read_all(store: Store, hexdigest: str, recipe: Recipe) -> bytes | bytearray:
    """The whole object, rebuilt and verified, in one buffer (no second copy)."""
    check_size(store, hexdigest, recipe)
    data = _whole_pack(store, recipe)
    if data is not None and hashlib.sha256(data).hexdigest() == hexdigest:
        return data  # else the reader below names the problem
    out = bytearray(recipe.size)
    view = memoryview(out)
    with RecipeReader(store, hexdigest, recipe) as reader:
        filled = 0
        while filled < recipe.size and (got := reader.readinto(view[filled:])):
            filled += got
        if filled != recipe.size or reader.readinto(bytearray(1)) != 0:
            reader._fail()
    return out


def _whole_pack(store: Store, recipe: Recipe) -> bytes | None:
    """A first version's bytes (one span: a whole pack), read as they are (fresh memory is
    dear: a zero-filled buffer costs a second pass); None when the recipe is not that or
    the pack is not its size (the callers' readers name the problem)."""
    if len(recipe.spans) != 1 or recipe.spans[0][1] != 0:
        return None
    try:
        with open(pack_path(store, recipe.spans[0][0]), "rb") as handle:
            data = handle.read(recipe.size + 1)
    except OSError:
        return None
    return data if len(data) == recipe.size else None


def read_unchecked(store: Store, hexdigest: str, recipe: Recipe) -> bytes | bytearray:
    """The bytes the spans rebuild, NOT checked against ``hexdigest``: for a caller that
    hashes them itself while it starts using them (a bump's read-ahead). A missing or
    short pack is the same error a checked read gives."""
    check_size(store, hexdigest, recipe)
    if len(recipe.spans) == 1 and recipe.spans[0][1] == 0:
        data = _whole_pack(store, recipe)
        return data if data is not None else read_all(store, hexdigest, recipe)  # names the problem
    out = bytearray(recipe.size)
    view = memoryview(out)
    fds: dict[str, int] = {}
    position = 0
    try:
        for pack, offset, length in recipe.spans:
            if pack not in fds:
                fds[pack] = os.open(pack_path(store, pack), os.O_RDONLY)
            while length:
                got = read_at(fds[pack], view[position : position + min(length, READ)], offset)
                if got <= 0:
                    raise OSError("short pack")
                position, offset, length = position + got, offset + got, length - got
    except OSError:
        return read_all(store, hexdigest, recipe)  # names the problem
    finally:
        for fd in fds.values():
            os.close(fd)
    return out


def check_size(store: Store, hexdigest: str, recipe: Recipe) -> None:
    """Refuse a recipe that asks for more bytes than its packs hold, before anything is
    allocated. A recipe this store writes uses each pack byte at most once (a version is
    the previous one's bytes, in order, plus new ones in a pack of its own: `PACK_HEAD`),
    so a larger one is not ours: one span repeated a million times would otherwise make a
    few kilobytes ask for terabytes."""
    held = 0
    for pack in recipe.packs():
        try:
            held += os.stat(pack_path(store, pack)).st_size
        except OSError:
            return  # the read names the missing pack
    if recipe.size > held:
        raise IntegrityError(
            f"object {short(hexdigest)}: its recipe is damaged (it asks for {recipe.size:,} bytes;"
            f" its packs hold {held:,})",
            location=str(store.object_path(hexdigest)),
            hint="restore the store from git or pull from a remote",
        )


# ---- writing -------------------------------------------------------------------------------


class PackedWrite:
    """The recipe of ``data`` (hashed by the caller to ``hexdigest``) and the new pack,
    written to ``tmp``, that holds what ``base`` does not share.

    ``base``: the digest of the version ``data`` was compared with and the stretches the
    walk found equal, ``(base offset, offset in data, length)`` in order. Their spans are
    taken from the base's recipe; the bytes between them go into the new pack, written
    straight from ``data``. Without a usable base (none, or one that is not in packs
    here) the pack is ``data`` itself, named by ``hexdigest``. ``pack`` is None when
    nothing new was written."""

    def __init__(
        self,
        store: Store,
        data: bytes | bytearray,
        hexdigest: str,
        base: tuple[str, Iterable[tuple[int, int, int]]] | None,
        tmp: Path,
    ):
        self.pack: tuple[Path, str] | None = None
        known = _usable(store, base[0]) if base is not None else None
        shared = list(base[1]) if base is not None and known is not None else []
        spans: list[list[Any]] = []
        runs: list[tuple[int, int]] = []  # (offset in data, length) of the new bytes, in order
        written = 0

        def take(pack: str, offset: int, length: int) -> None:
            last = spans[-1] if spans else None
            if last is not None and last[0] == pack and last[1] + last[2] == offset:
                last[2] += length
            else:
                spans.append([pack, offset, length])

        def new_bytes(start: int, end: int) -> None:
            nonlocal written
            if end > start:
                runs.append((start, end - start))
                take("", written, end - start)
                written += end - start

        position = old_end = 0
        for old, at, length in shared:
            if at < position or old < old_end or length <= 0 or known is None or old + length > known.size:
                continue  # out of order or out of the base: those bytes are written new
            new_bytes(position, at)
            for pack, offset, count in known.locate(old, length):
                take(pack, offset, count)
            position, old_end = at + length, old + length
        new_bytes(position, len(data))
        if runs:
            whole = runs == [(0, len(data))]  # a first version: the pack is the file itself
            head = b"" if whole else PACK_HEAD + hexdigest.encode() + b"\n"
            self.pack = (tmp, _write_pack(tmp, head, data, runs, hexdigest if whole else None))
            for span in spans:
                if span[0] == "":
                    span[0], span[1] = self.pack[1], span[1] + len(head)
        self.recipe = Recipe(len(data), [(p, o, n) for p, o, n in spans])
        self.new_bytes = written


def _usable(store: Store, base: str) -> Recipe | None:
    """The recipe of ``base`` when every pack it names is here; None: do not build on it."""
    try:
        recipe = load_recipe(store, base)
    except IntegrityError:
        return None  # a damaged base: the new version stands alone
    if recipe is None or not all(pack_path(store, pack).is_file() for pack in recipe.packs()):
        return None
    return recipe


def _write_pack(
    tmp: Path, head: bytes, data: bytes | bytearray, runs: list[tuple[int, int]], name: str | None
) -> str:
    """Write ``head`` and the runs of ``data`` to ``tmp``; returns the pack's name (its
    sha256, or ``name`` when the caller knows it)."""
    view = memoryview(data)
    digest = hashlib.sha256(head)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise write_failed(tmp, exc) from None
    try:
        write_all(fd, head)
        for offset, length in runs:
            piece = view[offset : offset + length]
            if name is None:
                digest.update(piece)
            write_all(fd, piece)
    except OSError as exc:
        os.close(fd)
        remove_quietly(tmp)
        raise write_failed(tmp, exc) from None
    os.close(fd)
    return name or digest.hexdigest()
