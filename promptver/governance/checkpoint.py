"""What the checks of a log found, kept for the next command: the re-check of every alias
move (``checks.bad_moves``) and the chain and signature check (``verify._verify_log``).

Re-checking every move of a long log against the policy in force at its point, and every
line's chain link and signature, is the costly part of `verify`, `audit`, a promotion and
`show NAME@ALIAS`. What they find about a line depends only on the log up to it (and on the
versions it names, which the log pins by digest), the allowed signers and promptver's
rules. So after a whole check, what it found is kept in
``.promptver/cache/checkpoints/<bundle>.<kind>.json`` (local, never committed or pulled)
with: the log's first B bytes' sha256, the number of events in them, the allowed-signers
file's digest and promptver's version. A later command whose log starts with exactly those
bytes, under the same signers and version, checks only the events after them (and parses
nothing when there are none).

The file is a hint, never trusted: it carries an HMAC (SHA-256) under a key of the user's
own, outside the project (``$XDG_CACHE_HOME/promptver/checkpoint.key``, else
``~/.cache/promptver/``; made once, mode 0600, and not used unless it is the user's alone).
A file that does not parse, is for other bytes, other signers or another version, or
whose HMAC does not verify (edited, written by someone else, copied from another machine,
committed by mistake) is a miss: everything is checked again. A log edited anywhere in the
checked prefix no longer has its sha256: a miss too. `promptver verify --full` ignores the
checkpoints. Moves that could not be checked (a version missing, as in a store whose
objects are fetched lazily) are never kept: the next command checks them."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptver.errors import PromptverError
from promptver.store.events import log_bytes as events_log_bytes
from promptver.store.events import on_forget
from promptver.store.store import Store

FORMAT = 2
KEY_BYTES = 32

MOVES, LOG = "moves", "log"  # the kinds of check kept: the moves' re-check, the log's chain


def key_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or (
        os.path.join(os.environ["LOCALAPPDATA"], "promptver", "Cache")
        if os.name == "nt" and os.environ.get("LOCALAPPDATA")
        else os.path.expanduser("~/.cache")
    )
    return Path(base) / "promptver" / "checkpoint.key"


def _own(path: Path) -> bool:
    """The key file is the user's alone (POSIX): anyone else who could write it could make
    checkpoints this user believes."""
    if os.name == "nt":
        return True
    info = path.stat()
    return info.st_uid == os.getuid() and info.st_mode & 0o077 == 0


def _key() -> bytes | None:
    """The user's HMAC key (made on first use); None when it cannot be read or made: then
    no checkpoint is read or written."""
    path = key_path()
    for _ in range(2):
        try:
            key = path.read_bytes()
            return key if len(key) == KEY_BYTES and _own(path) else None
        except FileNotFoundError:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue  # made by another process meanwhile: read it
            except OSError:
                return None
            try:
                os.write(fd, secrets.token_bytes(KEY_BYTES))
            finally:
                os.close(fd)
        except OSError:
            return None
    return None


def _path(store: Store, name: str, kind: str) -> Path:
    return store.root / "cache" / "checkpoints" / f"{name}.{kind}.json"


def context(store: Store) -> str:
    """What the verdicts also depend on: the allowed signers and promptver's rules."""
    from promptver.about import __version__
    from promptver.governance.signing import allowed_signers_path

    try:
        signers = hashlib.sha256(allowed_signers_path(store).read_bytes()).hexdigest()
    except OSError:
        signers = "none"
    return f"format {FORMAT}; promptver {__version__}; allowed signers {signers}"


# (length of the bytes, size of the prefix) -> (the bytes, its sha256, its lines, the hasher)
_FACTS: dict[tuple[int, int], tuple[bytes, str, int, Any]] = {}


def _prefix(data: bytes, size: int) -> tuple[str, int]:
    """The sha256 of ``data[:size]`` and its number of lines, worked out once per command
    for the same bytes (the checkpoints of one log are read by several of its checks); a
    longer prefix of the same bytes goes on from the hash of a shorter one (a command that
    read a checkpoint and writes the next hashes the log once, not twice)."""
    known = _FACTS.get((len(data), size))
    if known is not None and (known[0] is data or known[0] == data):
        return known[1], known[2]
    start, hasher, lines = 0, None, 0
    for (length, done), (seen, _, counted, state) in _FACTS.items():
        if length == len(data) and start < done < size and (seen is data or seen == data):
            start, hasher, lines = done, state, counted
    hasher = hasher.copy() if hasher is not None else hashlib.sha256()
    hasher.update(memoryview(data)[start:size])
    facts = hasher.hexdigest(), lines + data.count(b"\n", start, size)
    for stale in [k for k, v in _FACTS.items() if v[0] is not data and v[0] != data][:-1]:
        del _FACTS[stale]  # the facts of one log's bytes (prefix and whole), and the last before
    _FACTS[(len(data), size)] = (data, *facts, hasher)
    return facts


def _mac(key: bytes, record: dict[str, Any]) -> str:
    body = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def read(store: Store, name: str, kind: str, data: bytes, ctx: str) -> tuple[int, Any] | None:
    """(events in the checked prefix of ``data``, what the ``kind`` of check found in it),
    or None: no checkpoint applies (missing, unreadable, forged, for other bytes or another
    context)."""
    key = _key()
    if key is None or b"\r" in data:
        return None
    try:
        record = json.loads(_path(store, name, kind).read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("mac"), str):
        return None
    mac = record.pop("mac")
    if not hmac.compare_digest(mac, _mac(key, record)):
        return None
    size, digest, events = (record.get(k) for k in ("bytes", "sha256", "events"))
    if (
        record.get("format") != FORMAT
        or record.get("bundle") != name
        or record.get("kind") != kind
        or record.get("context") != ctx
        or not isinstance(size, int)
        or not 0 < size <= len(data)
        or not isinstance(events, int)
        or data[size - 1 : size] != b"\n"
        or _prefix(data, size) != (digest, events)
    ):
        return None
    return events, record.get("found")


def write(store: Store, name: str, kind: str, data: bytes, events: int, found: Any, ctx: str) -> None:
    """Keep what the ``kind`` of check found in the whole of ``data`` (its ``events``
    lines); silently nothing when the key or the cache folder cannot be written."""
    key = _key()
    if key is None or b"\r" in data or not data.endswith(b"\n") or _prefix(data, len(data))[1] != events:
        return
    record: dict[str, Any] = {
        "format": FORMAT,
        "bundle": name,
        "kind": kind,
        "context": ctx,
        "bytes": len(data),
        "sha256": _prefix(data, len(data))[0],
        "events": events,
        "found": found,
    }
    record["mac"] = _mac(key, record)
    from promptver.store.atomic import atomic_write

    path = _path(store, name, kind)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(record, ensure_ascii=False).encode(), durable=False)
    except (OSError, PromptverError):
        pass  # a read-only store: checked again next time


@dataclass
class Moves:
    """What the re-check of the moves of a log's first ``events`` events found."""

    events: int
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # (seq, alias, why)
    exact: list[int] = field(default_factory=list)  # promotions whose recorded seqs are exact
    heads: dict[str, tuple[str | None, Any]] = field(default_factory=dict)  # alias -> (held, last seq)
    pairs: list[tuple[str, str]] = field(default_factory=list)  # every (version, digest) moved to

    def to_json(self) -> dict[str, Any]:
        return {
            "problems": [list(p) for p in self.problems],
            "exact": self.exact,
            "heads": {alias: list(head) for alias, head in self.heads.items()},
            "pairs": [list(p) for p in self.pairs],
        }


def read_moves(store: Store, name: str, data: bytes, ctx: str) -> Moves | None:
    kept = read(store, name, MOVES, data, ctx)
    if kept is None or not isinstance(kept[1], dict):
        return None
    found = kept[1]
    try:
        return Moves(
            kept[0],
            [(int(s), str(a), str(w)) for s, a, w in found["problems"]],
            [int(seq) for seq in found["exact"]],
            {str(a): (None if v is None else str(v), seq) for a, (v, seq) in found["heads"].items()},
            [(str(v), str(d)) for v, d in found["pairs"]],
        )
    except (TypeError, ValueError, KeyError, AttributeError):
        return None


def write_moves(store: Store, name: str, data: bytes, moves: Moves, ctx: str, *, full: bool = False) -> None:
    """Keep what the moves' re-check of the whole of ``data`` found: in the file, and for
    the rest of this process (``full``: every move was checked, none taken from a
    checkpoint)."""
    _COMPUTED[(str(store.root), name)] = (data, moves, full)
    write(store, name, MOVES, data, moves.events, moves.to_json(), ctx)


# The last whole re-check of each log's moves made in this process, with the bytes it
# checked: `verify` checks the aliases' pointers with what its re-check of the moves just
# found, `--full` too when that re-check was full, rather than replaying the log again.
_COMPUTED: dict[tuple[str, str], tuple[bytes, Moves, bool]] = {}
on_forget(_COMPUTED.clear)


def computed_moves(store: Store, name: str, data: bytes, *, full: bool = False) -> Moves | None:
    """What this process's last re-check of the moves of all of ``data`` found (``full``:
    only a full one); None when it checked other bytes, or none was made."""
    known = _COMPUTED.get((str(store.root), name))
    if known is None or (full and not known[2]) or not (known[0] is data or known[0] == data):
        return None
    return known[1]


def whole(data: bytes, events: int) -> bool:
    """Whether a checkpoint of ``events`` lines covers all of ``data``."""
    return data.endswith(b"\n") and _prefix(data, len(data))[1] == events


def log_bytes(store: Store, name: str) -> bytes:
    try:
        return events_log_bytes(store.log_path(name))
    except FileNotFoundError:
        return b""
