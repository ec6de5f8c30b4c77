"""What a remote's audit log proves: the only thing read from a bucket that is trusted.

Anyone who can write to the bucket can replace any file there. So a client believes a
pointer (``aliases.json``) or a manifest (``versions/<v>.json``) only where the bundle's
hash-chained log agrees with it: a version exists when its bump (or import) event does,
and its manifest is the file whose sha256 that event recorded; an alias points where the
log's last move of it says. Objects are named by their hash and checked on arrival.

The log itself can be replaced whole by an older genuine copy (a rollback) or a rewritten
one; every client remembers the newest log it verified per bundle and refuses a log that
does not extend it (`check_extends`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

from promptver.errors import IntegrityError
from promptver.semver import Version
from promptver.store.digests import sha256_bytes

CREATION_KINDS = ("bump", "import")


def log_key(name: str) -> str:
    return f"bundles/{name}/log.jsonl"


def aliases_key(name: str) -> str:
    return f"bundles/{name}/aliases.json"


def manifest_key(name: str, version: str) -> str:
    return f"bundles/{name}/versions/{version}.json"


def lines_of(data: bytes) -> list[bytes]:
    return [line for line in data.split(b"\n") if line]


def check_chain(
    lines: list[bytes], where: str, first: int = 1, previous: bytes | None = None
) -> list[dict[str, Any]]:
    """The events of a log whose hash chain holds (seq 1, 2, ...; each ``prev`` the sha256
    of the line before), else `IntegrityError` at the first broken line. The lines are
    parsed in one pass (msgspec, `store.events.parse_lines`); a line that is not an event
    is named by its number. Of a log's tail: ``lines[0]`` is line ``first``, after the
    line ``previous``."""
    if any(map(bytes.__contains__, lines, repeat(b"\r"))):  # (JSON escapes it: no promptver writes one)
        number = next(n for n, line in enumerate(lines, start=first) if b"\r" in line)
        raise IntegrityError(
            "remote log line holds a carriage return, which no promptver writes (the log here"
            " would be read as two lines there)",
            location=f"{where}:{number}",
            hint="restore the remote's log from a clone that has it, then push",
        )
    from promptver.store.events import chained

    events = _parse(lines, where, first)
    if chained(lines, events, first, sha256_bytes(previous) if previous is not None else None):
        return events  # (else the loop below names the first broken line)
    for number, (line, event) in enumerate(zip(lines, events, strict=True), start=first):
        expected = sha256_bytes(previous) if previous is not None else None
        if event.get("seq") != number or event.get("prev") != expected:
            raise IntegrityError(
                "the remote log's hash chain is broken: an event was edited, removed or reordered",
                location=f"{where}:{number}",
                hint="restore the remote's log from a clone that has it, then push",
            )
        previous = line
    return events


def _parse(lines: list[bytes], where: str, first: int) -> list[dict[str, Any]]:
    from promptver.store.events import parse_lines

    try:
        return parse_lines(lines, where, first)
    except IntegrityError as exc:
        raise IntegrityError(
            "remote log line is not a JSON event",
            location=exc.location,
            hint="restore the remote's log from a clone that has it, then push",
        ) from None


def check_extends(name: str, seen: list[bytes], lines: list[bytes], where: str) -> None:
    """Refuse a remote log that is older than, or rewrites, the one this machine verified
    before (``seen``): a bucket writer serving an old snapshot, or a forged history."""
    if len(lines) < len(seen):
        raise IntegrityError(
            f"the remote's history for {name} is older than what this machine has seen:"
            f" {len(lines)} events, seen {len(seen)}",
            location=where,
            hint="someone rolled the remote back: restore its log from a clone that has the newer"
            " history (`promptver push` from it), and find out who can write to the bucket",
        )
    for number, (mine, theirs) in enumerate(zip(seen, lines, strict=False), start=1):
        if mine != theirs:
            raise IntegrityError(
                f"the remote's history for {name} differs at event {number} from what this machine"
                f" has seen: it was rewritten",
                location=f"{where}:{number}",
                hint="restore the remote's log from a clone that has the history, and find out who"
                " can write to the bucket",
            )


@dataclass
class Proven:
    """A bundle's verified remote log and what follows from it."""

    name: str
    lines: list[bytes]
    events: list[dict[str, Any]]
    created: dict[str, dict[str, Any]] = field(default_factory=dict)  # version -> its event
    heads: dict[str, dict[str, Any]] = field(default_factory=dict)  # alias -> its last move

    @classmethod
    def of(cls, name: str, lines: list[bytes], where: str) -> Proven:
        proven = cls(name, lines, check_chain(lines, where))
        for event in proven.events:
            kind = event.get("event")
            version = event.get("version")
            if kind in CREATION_KINDS and isinstance(version, str) and version not in proven.created:
                proven.created[version] = event
            elif kind == "alias" and isinstance(event.get("alias"), str):
                proven.heads[event["alias"]] = event
        return proven

    def version(self, ref: str) -> str | None:
        """The version a version string names (``1.2.0`` finds ``1.2.0+b.5`` too), ``latest``
        the highest, or an alias its current target; None: the log has no such thing."""
        if ref in ("", "latest"):
            valid = [Version.parse(v) for v in self.created if Version.is_valid(v)]
            return str(max(valid)) if valid else None
        if Version.is_valid(ref):
            if ref in self.created:
                return ref
            wanted = Version.parse(ref)
            for version in self.created:
                if Version.is_valid(version) and not wanted.build and Version.parse(version) == wanted:
                    return version
            return None
        head = self.heads.get(ref)
        to = head.get("to") if head else None
        return to if isinstance(to, str) else None

    def digest_of(self, ref: str) -> str | None:
        """The digest an alias's last move recorded (None for a version reference)."""
        head = self.heads.get(ref)
        digest = head.get("to_digest") if head else None
        return digest if isinstance(digest, str) else None


def pointer_mismatches(proven: Proven, data: bytes | None, where: str) -> list[str]:
    """For ``verify --remote``: each entry of a remote ``aliases.json`` that no move in the
    log accounts for (a pointer a bucket writer edited)."""
    try:
        raw = json.loads(data) if data is not None else {}
    except (ValueError, RecursionError):
        return [f"{where}: not valid JSON (the log's moves are what counts)"]
    if not isinstance(raw, dict):
        return [f"{where}: not a JSON object"]
    problems = []
    for alias in sorted(set(raw) | set(proven.heads), key=str):
        entry = raw.get(alias)
        version = entry.get("version") if isinstance(entry, dict) else entry
        head = proven.heads.get(alias)
        logged = head.get("to") if head else None
        if version == logged or (entry is None and logged is None):
            continue
        if head is None:
            problems.append(f"{where}: {alias} points at {version}, but the log has no move of {alias}")
        else:
            problems.append(
                f"{where}: {alias} points at {version}, but the log's last move of {alias}"
                f" (event {head.get('seq')}) set it to {logged or 'nothing'}"
            )
    return problems
