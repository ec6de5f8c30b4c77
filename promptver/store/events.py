"""Reading a bundle's audit log (``bundles/<name>/log.jsonl``) and event timestamps.

Writing stays with ``Store.append_event`` (it holds the chain); this module is the one
place where higher layers (aliases, approvals, eval records) read events by kind.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import accumulate, count, repeat
from operator import itemgetter
from pathlib import Path
from typing import Any, Protocol, cast

from promptver.errors import IntegrityError
from promptver.store import jsontext


class Store(Protocol):
    """What reading a bundle's log needs of a store (`promptver.store.store.Store`, which
    imports this module: typed by what it offers, not by its class)."""

    def log_path(self, name: str) -> Path: ...


# Signs an event as the one after ``after`` (the id of the log's last event, `last_event_id`)
# in ``bundle``'s log; made by ``governance/signing.signer`` and handed down to writers below
# governance (a bump, an eval record).
Signer = Callable[[dict[str, Any], str, "str | None"], dict[str, Any]]


def utc_now() -> str:
    """The event time format: ``2026-11-26T15:20:00Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


POSITION_FIELDS = ("seq", "prev")


def event_id(event: dict[str, Any]) -> str:
    """An event's identity, independent of its place in the log: the sha256 of its canonical
    JSON without ``seq`` and ``prev``. A pull puts unpushed local events after the remote's
    (re-linking ``seq`` and ``prev``); their ids do not change, so citations by id and the
    git anchor (promptver/governance/anchor.py) still find them."""
    import hashlib

    known = _IDS.get(id(event))
    if known is not None and known[0] is event:
        return known[1]
    body = dict(event)
    for position in POSITION_FIELDS:
        body.pop(position, None)
    plain = _NO_FLOAT.get(id(event)) is event  # parsed from a line without a float
    if not plain and _PENDING and _walked_enough():
        plain = _NO_FLOAT.get(id(event)) is event
    canonical = _encoder()[0].encode(body) if plain else canonical_json(body)
    identity = "sha256:" + hashlib.sha256(canonical).hexdigest()
    if len(_IDS) >= _IDS_KEPT:
        _IDS.clear()
    _IDS[id(event)] = (event, identity)
    return identity


_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))
_PLAIN = frozenset((str, int, bool, type(None)))


def canonical_json(value: Any) -> bytes:
    """``json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))`` as
    UTF-8, the bytes an event id is the hash of. msgspec writes the same bytes three times
    faster for values made of dicts, lists, strings, integers, booleans and null (it writes
    floats in another notation, ``1e16`` for ``1e+16``, and infinity as null): those go to
    ``json``, as does anything msgspec refuses."""
    stack = [value]
    pop, push = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is dict:
            push(item.values())
        elif kind is list:
            push(item)
        elif kind not in _PLAIN:
            return _CANONICAL.encode(value).encode()
    encoder, refused = _encoder()
    try:
        return encoder.encode(value)
    except refused:
        return _CANONICAL.encode(value).encode()


@functools.cache
def _encoder() -> tuple[Any, tuple[type[BaseException], ...]]:
    import msgspec

    return msgspec.json.Encoder(order="sorted"), (msgspec.EncodeError, TypeError, ValueError, OverflowError)


# The id of each event computed in this process, by the event object (held, so its id() is
# not reused): the trail check, the audit's citations and the signatures' places ask for
# the same events' ids, and events are read-only once parsed (the parse cache below
# shares them), so each id is computed once per process.
_IDS: dict[int, tuple[dict[str, Any], str]] = {}
_IDS_KEPT = 1 << 18  # then forgotten all at once: a bound on what it holds

# The events parsed from lines that held no float (msgspec's float hook was not called),
# by the event object (held, so its id() is not reused): made only of dicts, lists,
# strings, integers, booleans and null, so `event_id` writes their canonical JSON with
# msgspec without first walking every value to look for a float.
_NO_FLOAT: dict[int, dict[str, Any]] = {}
_FLOATS_SEEN: list[None] = []  # one entry per float the parsing decoder met
# Batches of such events not yet in _NO_FLOAT: indexing 100,000 events takes a twelfth of
# a whole log's check, which most commands (no signature, no git anchor) never repay.
# `event_id` walks the first events it is asked about for floats; past WALKED it indexes
# the batches (many ids are wanted: the index is cheaper than a walk per event).
_PENDING: list[tuple[int, Callable[[], list[dict[str, Any]]]]] = []  # (events, their plain ones)
_WALKS: list[None] = []  # one entry per event walked while batches were pending
WALKED = 1024


def _walked_enough() -> bool:
    """Count a walk; once there were WALKED, index the pending batches (True)."""
    _WALKS.append(None)
    if len(_WALKS) < WALKED:
        return False
    for _, plain in _PENDING:
        batch = plain()
        if len(_NO_FLOAT) + len(batch) > _IDS_KEPT:
            _NO_FLOAT.clear()
        _NO_FLOAT.update(zip(map(id, batch), batch, strict=True))
    _PENDING.clear()
    _WALKS.clear()
    return True


def _float_seen(text: str) -> float:
    _FLOATS_SEEN.append(None)
    return float(text)


def _mark_plain(count: int, plain: Callable[[], list[dict[str, Any]]]) -> None:
    """Note ``count`` events just decoded, ``plain()`` listing those decoded without a float
    (when many ids are wanted)."""
    if sum(n for n, _ in _PENDING) + count > _IDS_KEPT:  # a bound on what is held
        _PENDING.clear()
    if count <= _IDS_KEPT:
        _PENDING.append((count, plain))


CHUNK = 256  # lines decoded by one mapped call (`_decode_chunks`)


def _decode_chunks(lines: list[bytes]) -> tuple[list[Any], list[Any]]:
    """Lines decoded (msgspec, a mapped call per `CHUNK` lines: no Python step per line),
    and those of the chunks in which the decoder met no float (a float in a chunk leaves
    its events to `event_id`'s walk). Raises what the decoder raises for a line."""
    decode, floats = _decoder()[0].decode, _FLOATS_SEEN.__len__
    decoded: list[Any] = []
    plain: list[Any] = []
    for at in range(0, len(lines), CHUNK):
        met = floats()
        part = list(map(decode, lines[at : at + CHUNK]))
        decoded += part
        if floats() == met:
            plain += part
    return decoded, plain


def parse_event(line: bytes, where: str) -> dict[str, Any]:
    """One log line as its event; IntegrityError (at ``where``, ``file:line``) for a line that
    is not JSON or is JSON but not an object (``[1,2]``, ``null``): the log was edited."""
    try:
        event = jsontext.loads(line)
    except ValueError as exc:
        event = None
        what = f"is not JSON ({str(exc).split(':')[0]})"
    else:
        what = f"is JSON but not an event object ({type(event).__name__})"
    if not isinstance(event, dict):
        raise IntegrityError(
            f"audit log line {what}",
            location=where,
            hint="the log was edited by hand; run `promptver verify`",
        )
    return event


def fast_event(line: bytes) -> dict[str, Any] | None:
    """One log line parsed by msgspec (three times faster than ``json.loads``), or None
    when msgspec refuses it, it is not an object, or it holds a surrogate escape (which
    ``jsontext`` must judge): then `parse_event` decides and names the line. msgspec
    accepts a subset of what ``json.loads`` does and decodes it to the same values."""
    if b"\\u" in line and jsontext.has_surrogate_escape(line):
        return None
    decoder, refused = _decoder()
    floats = len(_FLOATS_SEEN)
    try:
        event = decoder.decode(line)
    except refused:
        return None
    if not isinstance(event, dict):
        return None
    if len(_FLOATS_SEEN) == floats and len(_NO_FLOAT) < _IDS_KEPT:
        _NO_FLOAT[id(event)] = event
    return event


@functools.cache
def _decoder() -> tuple[Any, tuple[type[BaseException], ...]]:
    """msgspec's decoder and what it raises for a line it refuses (its DecodeError is a
    ValueError only from msgspec 0.19 on)."""
    import msgspec

    return msgspec.json.Decoder(float_hook=_float_seen), (msgspec.DecodeError, ValueError, RecursionError)


# The events of a log parsed line by offset, or, for a log whose every line was parsed in
# one pass (`_all_lines`), its lines and their events: the offsets are worked out when a
# later read asks (`_parsed_before`), which a command reading the log once never does.
_Parsed = dict[int, dict[str, Any]] | tuple[list[bytes], list[dict[str, Any]]]
# The events parsed from each log, by the offset of their line, kept with the bytes they
# were parsed from: a later read of the same log (or of the log grown by appends) parses
# only the lines it has not seen, so the several readers of one command (the trail check,
# the alias replay, the decisions) parse each line once. The events are shared between
# callers: treat them as read-only.
_SEEN: dict[str, tuple[bytes, _Parsed]] = {}
_SEEN_LOGS = 8
# The whole of `log_lines`'s answer for the bytes it read, by log: the trail check and the
# replays of one command read the same unchanged log several times.
_LINES: dict[str, tuple[bytes, list[tuple[bytes, dict[str, Any] | IntegrityError]]]] = {}


# A log's bytes by its path, with the (device, inode, size, mtime, ctime) they were read
# at: the several readers of one command (the checks, the replays, the checkpoints) read a
# long log once while it does not change. An append changes its size, any write its
# times; as in git's "racy" rule, bytes read within RACY of the file's last change are
# not kept (a same-size rewrite in the same clock tick would keep those times).
# Bytes read within RACY are kept too, not to be trusted but to be shared: read again, and
# equal, the new copy is dropped for the one kept (a command right after a write held one
# 33 MB copy per reader, and each reader's caches missed the others' by identity).
# While this process holds a bundle's lock no other promptver process writes its log, so
# bytes read under the lock are read again only when their stat key changes, even within
# RACY (a promotion right after another write read its 33 MB log nine times: 0.1 s).
_BYTES: dict[str, tuple[tuple[int, ...], bytes, bool, int | None]] = {}  # (stat key, bytes, settled, holding)
RACY = 2_000_000_000  # ns
_HELD: dict[str, int] = {}  # log path -> the holding of its bundle's lock (a new number each time)
_HOLDINGS = count(1)


@contextmanager
def writers_excluded(path: Path) -> Iterator[None]:
    """While this process holds the lock of the bundle whose log is ``path`` (`Store.lock`)."""
    key = str(path)
    _HELD[key] = next(_HOLDINGS)
    try:
        yield
    finally:
        _HELD.pop(key, None)


def log_bytes(path: Path) -> bytes:
    """A log's bytes (FileNotFoundError when there is none), read again only when the file
    changed since the last read in this process, or was changed just before it."""
    key = str(path)
    before = _stat_key(path)
    known = _BYTES.get(key)
    held = _HELD.get(key)
    if known is not None and known[0] == before and (known[2] or (held is not None and known[3] == held)):
        return known[1]
    data = path.read_bytes()
    if known is not None and known[1] == data:
        data = known[1]
    settled = time.time_ns() - max(before[3], before[4]) > RACY
    unchanged = _stat_key(path) == before  # not written while it was read
    _BYTES.pop(key, None)
    while len(_BYTES) >= _SEEN_LOGS:
        del _BYTES[next(iter(_BYTES))]
    _BYTES[key] = (before, data, settled and unchanged, held if unchanged else None)
    return data


def _stat_key(path: Path) -> tuple[int, ...]:
    info = os.stat(path)
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns


# What higher layers keep of a log for the rest of a command, dropped with the parsed events.
_FORGET: list[Callable[[], None]] = []


def on_forget(forget: Callable[[], None]) -> None:
    """Have `forget_parsed` call ``forget`` too."""
    _FORGET.append(forget)


def forget_parsed() -> None:
    """Drop the parsed events kept from earlier reads, and what was worked out from them
    (benchmarks and tests measure a new command)."""
    for forget in _FORGET:
        forget()
    _SEEN.clear()
    _LINES.clear()
    _KINDS.clear()
    _BYTES.clear()
    _TOKENS.clear()
    _IDS.clear()
    _NO_FLOAT.clear()
    _PENDING.clear()
    _WALKS.clear()
    _SOUND.clear()


def last_line(path: Path) -> bytes | None:
    """A log's last line (None: the log is empty or absent), read back from its end."""
    try:
        with open(path, "rb") as handle:
            end = handle.seek(0, 2)
            if end == 0:
                return None
            back = min(end, 1 << 16)
            while True:
                handle.seek(end - back)
                lines = handle.read(back).rstrip(b"\n").split(b"\n")
                if len(lines) > 1 or back == end:
                    return lines[-1]
                back = min(end, back * 4)
    except FileNotFoundError:
        return None


def chain_tip(store: Store, name: str) -> str | None:
    """The ``prev`` the next event of a bundle's log gets (sha256 of its last line; None:
    the log is empty)."""
    from promptver.store.digests import sha256_bytes

    line = last_line(store.log_path(name))
    return sha256_bytes(line) if line else None


def last_event_id(store: Store, name: str) -> str | None:
    """The id (`event_id`) of a bundle's last event (None: the log is empty): what a
    signature made now is bound to (``after``, governance/signing.py), which a pull's
    re-linking does not change."""
    line = last_line(store.log_path(name))
    if not line:
        return None
    return event_id(parse_event(line, f"{store.log_path(name)}:last line"))


def chained(texts: list[bytes], events: list[dict[str, Any]], first: int, before: str | None) -> bool:
    """Whether the lines ``texts`` of a log (their ``events``, every one a dict; the first is
    line ``first``) each hold their line number as ``seq`` and the sha256 of the line before
    as ``prev`` (``before`` for the first): a chain checked in a few passes over lists (C)
    rather than a function call per line. False: a line-by-line pass names what is wrong."""
    import hashlib

    sha256 = hashlib.sha256
    hashes = [before, *[sha256(line).hexdigest() for line in texts[:-1]]]
    prevs = list(map(dict.get, events, repeat("prev")))  # dict.get mapped: no Python call per event
    seqs = list(map(dict.get, events, repeat("seq")))
    return prevs == hashes and seqs == list(range(first, first + len(texts)))


def has_escape(data: bytes) -> bool:
    """Whether ``data`` holds a ``\\u`` escape. A backslash is searched for first: one byte
    is found by memchr, fifteen times faster than the two bytes (2 against 30 ms in a 33 MB
    log), and a log with no escape mostly has no backslash at all."""
    return b"\\" in data and b"\\u" in data


def log_events(store: Store, name: str, *kinds: str) -> list[dict[str, Any]]:
    """The events of these kinds, in log order. Only the lines holding a ``"kind"`` token
    are found (by searching the whole file, not line by line) and parsed: logs only grow,
    moves replay them. Linear in the log's size: each byte is searched and counted once,
    each line parsed at most once per process while the log only grows."""
    path = store.log_path(name)
    try:
        data = log_bytes(path)
    except FileNotFoundError:
        return []
    tokens = [json.dumps(kind).encode() for kind in kinds]
    sound = _sound_of(str(path), data)
    if sound is None and _most_lines(data, tokens):
        _read_lines(path)  # one pass over every line: less than a search, then line by line
        sound = _sound_of(str(path), data)
    if sound is not None:
        return _of_kinds(str(path), data, sound[2], kinds)
    found = _events_with(path, data, tokens)
    return [event for event in found if event.get("event") in kinds]


_SAMPLE = 1 << 22  # the start of a log looked at to guess how many lines hold a token


def _most_lines(data: bytes, tokens: list[bytes]) -> bool:
    """Whether four lines in five or more seem to be events of the kinds ``tokens`` name
    (as a promotion's reviews and moves are nearly all of a long log), judged by the
    ``"event": KIND`` pairs of its first 4 MiB: then a whole parse costs less than searching
    for each token and parsing the lines found one by one (0.25 s rather than 0.6 s at
    100,000 events; for half the lines the search is still cheaper, and keeps half the
    objects). Only the cost depends on the guess, never the answer; a log the whole parse
    finds unsound is read by the search."""
    if b"\r" in data or has_escape(data):  # the whole parse would be the careful one
        return False
    hits = sum(data.count(b'"event": ' + token, 0, _SAMPLE) for token in tokens)  # as events are written
    return hits * 5 >= data.count(b"\n", 0, _SAMPLE) * 4


# The places of each kind's events in a sound log's lines, by log, with the bytes they were
# found in: the several readers of one command (decisions, versions, runs) ask for a kind
# or two each, and a pass over every event for each would cost more than all of them. (One
# loop over the events: a pass per kind mapped in C touches every event again, each a
# dict elsewhere in memory, and costs as much as the loop for each kind.)
_KINDS: dict[str, tuple[bytes, dict[str, list[int]]]] = {}


def _of_kinds(
    key: str, data: bytes, events: list[dict[str, Any]], kinds: tuple[str, ...]
) -> list[dict[str, Any]]:
    """The events of these kinds among a sound log's ``events``, in order."""
    return [events[place] for place in _places(key, data, events, kinds)]


def _places(key: str, data: bytes, events: list[dict[str, Any]], kinds: tuple[str, ...]) -> list[int]:
    """The places of the events of these kinds among a sound log's ``events``, in order."""
    known = _KINDS.get(key)
    if known is None or known[0] is not data:
        index: dict[str, list[int]] = {}
        for place, event in enumerate(events):
            kind = event.get("event")
            if type(kind) is str:  # what no kind asked for (str) equals: left out
                index.setdefault(kind, []).append(place)
        _KINDS.pop(key, None)
        while len(_KINDS) >= _SEEN_LOGS:
            del _KINDS[next(iter(_KINDS))]
        _KINDS[key] = known = (data, index)
    places = [place for kind in dict.fromkeys(kinds) for place in known[1].get(kind, ())]
    if len(kinds) > 1:
        places.sort()
    return places


def kind_places(path: Path, data: bytes, kinds: tuple[str, ...]) -> list[int] | None:
    """The places (line numbers from 0) of the events of these kinds in a log parsed whole
    from these very bytes (`sound_lines`), in order; None when it was not."""
    sound = _sound_of(str(path), data)
    return _places(str(path), data, sound[2], kinds) if sound is not None else None


# The bytes of each log whose every line was parsed in one pass (`_all_lines`: each an
# event, no ``\r``, no ``\u`` escape): an event of a kind then always holds the kind's
# token, so `log_events` takes them from that parse rather than searching the bytes.
_SOUND: dict[str, tuple[bytes, list[bytes], list[dict[str, Any]]]] = {}  # with its lines and events


def sound_lines(path: Path, data: bytes) -> tuple[list[bytes], list[dict[str, Any]]] | None:
    """The lines of a log and their events, as two lists, when `read_lines` returned
    ``data`` (these very bytes) and every line is an event parsed in one pass (else None):
    its answer, cheaper to walk (shared: do not change them)."""
    sound = _sound_of(str(path), data)
    return (sound[1], sound[2]) if sound is not None else None


def _sound_of(key: str, data: bytes) -> tuple[bytes, list[bytes], list[dict[str, Any]]] | None:
    """The one-pass parse of a log kept for these bytes: the same object, or equal bytes
    read again (a log written less than `RACY` ago is read anew by each reader; comparing
    33 MB takes 3 ms, parsing them again 0.25 s). Equal bytes take the entry over, so the
    next reader finds it by identity."""
    sound = _SOUND.get(key)
    if sound is None or sound[0] is data:
        return sound
    if sound[0] != data:
        return None
    known = _KINDS.get(key)
    if known is not None and known[0] is sound[0]:
        _KINDS[key] = (data, known[1])
    _SOUND[key] = sound = (data, sound[1], sound[2])
    return sound


def alias_events(store: Store, name: str, alias: str) -> list[dict[str, Any]]:
    """The ``alias`` events of one alias, in log order: only the lines holding its name
    (as a JSON string) are parsed, so resolving ``NAME@production`` does not parse the
    moves of every other alias. A log with a ``\\u`` escape anywhere (a name could be
    spelt with escapes) is read by kind, as `log_events` reads it. A log parsed whole
    already gives them from its ``alias`` events (each holds its alias's name)."""
    path = store.log_path(name)
    try:
        data = log_bytes(path)
    except FileNotFoundError:
        return []
    sound = _sound_of(str(path), data)
    if sound is not None:
        return [e for e in _of_kinds(str(path), data, sound[2], ("alias",)) if e.get("alias") == alias]
    escaped = has_escape(data) and bool(_token_lines(str(path), data, b"\\u"))  # once per log state
    tokens = [json.dumps("alias").encode()] if escaped else [json.dumps(alias).encode()]
    found = _events_with(path, data, tokens)
    return [e for e in found if e.get("event") == "alias" and e.get("alias") == alias]


def _events_with(path: Path, data: bytes, tokens: list[bytes]) -> list[dict[str, Any]]:
    """The events of the lines of ``data`` holding any of ``tokens``, in log order."""
    starts: set[int] = set()
    for token in tokens:
        starts.update(_token_lines(str(path), data, token))
    parsed = _parsed_before(str(path), data)
    ordered = sorted(starts)
    todo = [start for start in ordered if start not in parsed]
    ends = [data.find(b"\n", start) for start in todo]
    lines = [data[start : end if end != -1 else len(data)] for start, end in zip(todo, ends, strict=True)]
    found = _decode_all(lines)
    if found is not None:  # every line a plain event: one pass
        parsed.update(zip(todo, found, strict=True))
        _keep(str(path), data, parsed)
        return [parsed[start] for start in ordered]
    number, counted = 1, 0  # line numbers counted forward once, not from the start per line
    try:  # kept with these bytes even when a bad line stops the read: they are what was parsed
        with jsontext.collector_paused():
            for start in ordered:
                if start in parsed:
                    continue
                line = _line_at(data, start)
                event = fast_event(line)
                if event is None:
                    number += data.count(b"\n", counted, start)
                    counted = start
                    event = parse_event(line, f"{path}:{number}")
                parsed[start] = event
    finally:
        _keep(str(path), data, parsed)
    return [parsed[start] for start in ordered]


# The starts of the lines holding each token, by log, with the bytes they were found in:
# the several readers of one command search an unchanged log once, a grown one from where
# the last search ended.
_TOKENS: dict[str, tuple[bytes, dict[bytes, list[int]]]] = {}


def _token_lines(key: str, data: bytes, token: bytes) -> list[int]:
    """The start offsets of the lines of ``data`` holding ``token``, in order."""
    seen = _TOKENS.get(key)
    if seen is not None and seen[0] is not data:
        old, found = seen
        if old == data:
            seen = (data, found)
        elif data.startswith(old):  # grown: lines up to the old last newline were searched
            done = old.rfind(b"\n") + 1
            grown = {t: [s for s in at if s < done] + _search(data, t, done) for t, at in found.items()}
            seen = (data, grown)
        else:
            seen = None
    if seen is None:
        seen = (data, {})
    _TOKENS.pop(key, None)
    while len(_TOKENS) >= _SEEN_LOGS:
        del _TOKENS[next(iter(_TOKENS))]
    _TOKENS[key] = seen
    found = seen[1]
    if token not in found:
        found[token] = _search(data, token, 0)
    return found[token]


def _search(data: bytes, token: bytes, start: int) -> list[int]:
    starts = []
    at = data.find(token, start)
    while at != -1:
        starts.append(data.rfind(b"\n", 0, at) + 1)
        end = data.find(b"\n", at)
        at = data.find(token, end if end != -1 else len(data))
    return starts


def read_log(path: Path) -> tuple[bytes, list[dict[str, Any]]]:
    """A log's bytes and its events, one per line (the events of `log_lines`, read from
    these very bytes; the list may be shared: do not change it); the `IntegrityError` of
    the first line that is not an event."""
    data, lines = _read_lines(path)
    sound = sound_lines(path, data)
    if sound is not None:
        return data, sound[1]
    events = [event for _, event in lines]
    if not all(type(event) is dict for event in events):
        raise next(event for event in events if isinstance(event, IntegrityError))
    return data, cast(list[dict[str, Any]], events)


def log_lines(path: Path) -> list[tuple[bytes, dict[str, Any] | IntegrityError]]:
    """Every line of a log (split as ``bytes.splitlines`` splits) with its event, or the
    `IntegrityError` naming the line that is not one; [] when there is no log. Lines
    parsed earlier in this process are not parsed again."""
    return list(_read_lines(path)[1])


def read_lines(path: Path) -> tuple[bytes, list[tuple[bytes, dict[str, Any] | IntegrityError]]]:
    """`log_lines` with the bytes they were split from (b"" when there is no log); the list
    is shared: do not change it."""
    return _read_lines(path)


def _read_lines(path: Path) -> tuple[bytes, list[tuple[bytes, dict[str, Any] | IntegrityError]]]:
    try:
        data = log_bytes(path)
    except FileNotFoundError:
        return b"", []
    whole = _LINES.get(str(path))
    if whole is not None and whole[0] == data:  # read already, unchanged: no line is looked at again
        return whole
    parsed = _parsed_before(str(path), data) if b"\r" not in data else {}
    quick = _all_lines(str(path), data, parsed)
    found: list[tuple[bytes, dict[str, Any] | IntegrityError]]
    found = list(zip(*quick, strict=True)) if quick is not None else _each_line(path, data, parsed)
    _remember(str(path), data, quick, found)
    return data, found


def _remember(
    key: str,
    data: bytes,
    quick: tuple[list[bytes], list[dict[str, Any]]] | None,
    found: list[tuple[bytes, dict[str, Any] | IntegrityError]],
) -> None:
    _SOUND.pop(key, None)
    if quick is not None:
        while len(_SOUND) >= _SEEN_LOGS:
            del _SOUND[next(iter(_SOUND))]
        _SOUND[key] = (data, *quick)
    _LINES.pop(key, None)
    while len(_LINES) >= _SEEN_LOGS:
        del _LINES[next(iter(_LINES))]
    _LINES[key] = (data, found)


def adopt(path: Path, lines: list[bytes], events: list[dict[str, Any]]) -> bytes:
    """The log made of ``lines`` (each ended by a newline), its events (``events``, parsed
    from those lines by `parse_lines`) kept as the parse of the log at ``path`` once it
    holds these bytes: a pull that writes the log it has just checked, whose re-check of
    the moves would parse the same 100,000 lines again. Kept only for a log with no
    ``\\r`` and no ``\\u`` escape, which one pass parses as `parse_lines` does; a reader
    of other bytes parses them."""
    data = b"".join(line + b"\n" for line in lines)
    if b"\r" not in data and not has_escape(data) and len(lines) == len(events):
        key = str(path)
        _keep(key, data, (lines, events))
        _remember(key, data, (lines, events), list(zip(lines, events, strict=True)))
    return data


def _all_lines(
    key: str, data: bytes, parsed: dict[int, dict[str, Any]]
) -> tuple[list[bytes], list[dict[str, Any]]] | None:
    """Every line of a log that holds no ``\\r`` and no ``\\u`` escape, and their events
    (two lists), parsed in one pass (msgspec, lines parsed before reused), when each is an
    event object; None otherwise: then `_each_line` parses line by line and names the bad
    one. Its answer is the same: without a ``\\u`` escape no line can hold a surrogate
    escape, and msgspec decodes what it accepts to what ``json.loads`` does."""
    if b"\r" in data or has_escape(data):
        return None
    lines = data.splitlines()
    if len(parsed) * 2 < len(lines):  # a few parsed before (one alias's moves): cheaper parsed again
        parsed = {}  # than each line looked up by its offset
    starts = _starts(lines) if parsed else None  # (offsets only to find the lines parsed before)
    decoder, refused = _decoder()
    decode, get, floats = decoder.decode, parsed.get, _FLOATS_SEEN.__len__
    _FLOATS_SEEN.clear()
    try:
        with jsontext.collector_paused():
            if starts is None:
                events, plain = _decode_chunks(lines)
            else:
                found = [  # (event, floats met so far; -1: parsed before)
                    (known, -1) if (known := get(start)) is not None else (decode(line), floats())
                    for start, line in zip(starts, lines, strict=True)
                ]
                events = list(map(itemgetter(0), found))
    except refused:  # the careful pass decides and names the line
        return None
    if not set(map(type, events)) <= {dict}:  # (every one a dict: mapped, no Python step per event)
        return None
    _mark_plain(len(events), (lambda: plain) if starts is None else functools.partial(_plain, found))
    if starts is None:
        _keep(key, data, (lines, events))
    else:
        parsed.update(zip(starts, events, strict=True))
        _keep(key, data, parsed)
    return lines, events


def _starts(lines: list[bytes]) -> list[int]:
    """The offset of each line of a log split at ``\\n`` alone."""
    return [0, *accumulate([len(line) + 1 for line in lines[:-1]])] if lines else []


def _decode_all(lines: list[bytes]) -> list[dict[str, Any]] | None:
    """Lines holding no ``\\u`` escape decoded in one pass (msgspec), when each is an event
    object; None otherwise (then they are parsed one by one, with care)."""
    if any(map(bytes.__contains__, lines, repeat(b"\\u"))):  # (mapped: no Python step per line)
        return None
    refused = _decoder()[1]
    _FLOATS_SEEN.clear()
    try:
        with jsontext.collector_paused():
            events, plain = _decode_chunks(lines)
    except refused:
        return None
    if not set(map(type, events)) <= {dict}:
        return None
    _mark_plain(len(events), lambda: plain)
    return events


def _plain(found: list[tuple[dict[str, Any], int]]) -> list[dict[str, Any]]:
    """The new events of the lines after which no more floats had been met."""
    counts = [0, *(seen for _, seen in found if seen >= 0)]
    new = [event for event, seen in found if seen >= 0]
    return [
        event for event, before, after in zip(new, counts[:-1], counts[1:], strict=True) if before == after
    ]


def _each_line(
    path: Path, data: bytes, parsed: dict[int, dict[str, Any]]
) -> list[tuple[bytes, dict[str, Any] | IntegrityError]]:
    """Every line of a log with its event, or the `IntegrityError` naming the line."""
    found: list[tuple[bytes, dict[str, Any] | IntegrityError]] = []
    start = 0
    try:
        with jsontext.collector_paused():
            for number, line in enumerate(data.splitlines(), start=1):
                event: dict[str, Any] | IntegrityError | None = parsed.get(start)
                if event is None:
                    event = fast_event(line)
                    if event is None:
                        try:
                            event = parse_event(line, f"{path}:{number}")
                        except IntegrityError as exc:
                            event = exc
                    if isinstance(event, dict):
                        parsed[start] = event
                found.append((line, event))
                start += len(line) + 1
    finally:
        if b"\r" not in data:  # offsets are only right when lines end in \n alone
            _keep(str(path), data, parsed)
    return found


def _keep(key: str, data: bytes, parsed: _Parsed) -> None:
    _SEEN.pop(key, None)
    while len(_SEEN) >= _SEEN_LOGS:
        del _SEEN[next(iter(_SEEN))]
    _SEEN[key] = (data, parsed)


def _parsed_before(key: str, data: bytes) -> dict[int, dict[str, Any]]:
    """The events parsed earlier from a prefix of ``data`` (the log has only grown since),
    else none. A last line without its newline may have grown too: it is parsed again."""
    seen = _SEEN.get(key)
    if seen is None or not data.startswith(seen[0]):
        return {}
    old, kept = seen
    if isinstance(kept, tuple):  # every line of ``old``, parsed in one pass
        lines, events = kept
        parsed = dict(zip(_starts(lines), events, strict=True))
        _SEEN[key] = (old, parsed)
    else:
        parsed = kept
    if old.endswith(b"\n"):
        return parsed
    last = old.rfind(b"\n") + 1
    return {start: event for start, event in parsed.items() if start < last}


def _line_at(data: bytes, start: int) -> bytes:
    end = data.find(b"\n", start)
    return data[start : end if end != -1 else len(data)]


CREATION_KINDS = ("bump", "import")


def creation_events(store: Store, name: str) -> dict[str, dict[str, Any]]:
    """The first event that created each version (``bump`` or ``import``), by version."""
    found: dict[str, dict[str, Any]] = {}
    for event in log_events(store, name, *CREATION_KINDS):
        version = event.get("version")
        if isinstance(version, str) and version not in found:
            found[version] = event
    return found


def alias_heads(store: Store, name: str) -> dict[str, dict[str, Any]]:
    """The last ``alias`` event of each alias (what it points at now: its ``to``)."""
    heads: dict[str, dict[str, Any]] = {}
    for event in log_events(store, name, "alias"):
        if isinstance(event.get("alias"), str):
            heads[event["alias"]] = event
    return heads


def pointer_conflict(
    path: str, alias: str, entry: dict[str, Any] | None, head: dict[str, Any] | None
) -> str | None:
    """Why an ``aliases.json`` entry cannot be trusted (None: it agrees with the log, or it
    is older than the log's last move of the alias: an interrupted move, the log wins)."""
    file_version = entry.get("version") if entry else None
    log_version = head.get("to") if head else None
    if file_version == log_version:
        return None
    seq = entry.get("seq") if entry else None
    if head is not None and (entry is None or (isinstance(seq, int) and seq < int(head.get("seq") or 0))):
        return None
    if head is None:
        return (
            f"{path} says {alias} is {file_version}, but the audit log has no move of {alias}"
            " (edited by hand?)"
        )
    return (
        f"{path} says {alias} is {file_version}, but the audit log's last move of {alias}"
        f" (event {head.get('seq')}) set it to {log_version or 'nothing'} (edited by hand?)"
    )


def parse_lines(lines: list[bytes], where: str, first: int = 1) -> list[dict[str, Any]]:
    """Log lines from outside this store (a remote's log, split by its reader) as their
    events: one msgspec pass when none holds a ``\\u`` escape and each is an event object,
    else line by line (msgspec, then ``jsontext``), the first that is not an event an
    `IntegrityError` at ``where:number`` (``lines[0]`` is line ``first`` of the log). The
    events are not kept in this module's caches: the caller's are freed with its list."""
    decoder, refused = _decoder()
    if not any(map(bytes.__contains__, lines, repeat(b"\\u"))):
        try:
            with jsontext.collector_paused():
                found = [decoder.decode(line) for line in lines]
        except refused:
            found = None
        finally:
            _FLOATS_SEEN.clear()
        if found is not None and all(type(event) is dict for event in found):
            return found
    events = []
    with jsontext.collector_paused():
        for number, line in enumerate(lines, start=first):
            event = fast_event(line)
            events.append(event if event is not None else parse_event(line, f"{where}:{number}"))
    return events
