"""Review decisions: who approved (or asked for changes to) which pair of versions.

A decision is an event in the bundle's append-only, hash-chained audit log
(``store.append_event``), so "who approved it" is answered by the log itself.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from promptver.errors import ConfigError

Decision = Literal["approved", "changes_requested"]
DECISIONS: tuple[str, ...] = ("approved", "changes_requested")
EVENT_TYPE = "review"


class EventLog(Protocol):
    def append_event(self, name: str, event: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Reviewed:
    """One side of the reviewed change: its version label (None: working copy) and digest."""

    version: str | None
    digest: str

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "digest": self.digest}


def resolve_reviewer(explicit: str | None = None, *, cwd: Path | None = None) -> str:
    """The reviewer's name: ``--reviewer``, else ``PROMPTVER_USER``, else git's user.

    git's ``user.name`` and ``user.email`` are combined as ``Name <email>`` when both are set.
    """
    for candidate in (explicit, os.environ.get("PROMPTVER_USER")):
        if candidate and candidate.strip():
            return candidate.strip()
    name = _git_config("user.name", cwd)
    email = _git_config("user.email", cwd)
    if name and email:
        return f"{name} <{email}>"
    if name or email:
        return name or email or ""
    raise ConfigError(
        "cannot tell who the reviewer is",
        hint="pass --reviewer NAME, set PROMPTVER_USER, or `git config user.name NAME`",
    )


def _git_config(key: str, cwd: Path | None) -> str | None:
    try:
        done = subprocess.run(
            ["git", "config", "--get", key],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = done.stdout.strip()
    return value if done.returncode == 0 and value else None


def review_event(
    bundle: str,
    decision: str,
    reviewer: str,
    old: Reviewed,
    new: Reviewed,
    note: str | None = None,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The audit event of one decision (validated; not yet written)."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}, not {decision!r}")
    if not reviewer.strip():
        raise ConfigError("the reviewer name is empty", hint="pass --reviewer NAME")
    when = (now or datetime.now(UTC)).astimezone(UTC)
    return {
        "type": EVENT_TYPE,
        "bundle": bundle,
        "decision": decision,
        "reviewer": reviewer.strip(),
        "time": when.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "old": old.to_json(),
        "new": new.to_json(),
        "note": note.strip() if note and note.strip() else None,
    }


def record_review(
    log: EventLog,
    bundle: str,
    decision: str,
    reviewer: str,
    old: Reviewed,
    new: Reviewed,
    note: str | None = None,
) -> dict[str, Any]:
    """Append a review decision to the bundle's audit log; returns the event as written."""
    return log.append_event(bundle, review_event(bundle, decision, reviewer, old, new, note))


def reviews(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The review decisions among a bundle's audit events, oldest first."""
    return [e for e in events if e.get("type") == EVENT_TYPE]
