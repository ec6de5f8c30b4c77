"""Review decisions: who approved (or asked for changes to) which pair of versions.

A decision is an event in the bundle's append-only, hash-chained audit log
(``store.append_event``), so "who approved it" is answered by the log itself:

    {"event": "review", "decision": "approved", "actor": "Ana <ana@example.com>",
     "time": "2026-11-26T15:20:00Z", "bundle": "support-bot",
     "old": {"version": "1.2.0", "digest": "sha256:..."},
     "new": {"version": null, "digest": "sha256:..."}, "note": "ship it"}

``new.version`` is null when the reviewed side is a working copy; its digest still pins
the exact content that was reviewed. ``promptver approve`` (``promptver.approvals``)
writes the same event, and alias promotion counts decisions from both by digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from promptver.errors import ConfigError, ConflictError, PolicyError

if TYPE_CHECKING:
    from promptver.store import Store

Decision = Literal["approved", "changes_requested"]
DECISIONS: tuple[str, ...] = ("approved", "changes_requested")
EVENT = "review"


@dataclass(frozen=True)
class Reviewed:
    """One side of the reviewed change: its version (None: working copy) and digest."""

    version: str | None
    digest: str

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "digest": self.digest}


def resolve_reviewer(explicit: str | None = None, *, folder: Path | None = None) -> str:
    """The reviewer: ``--reviewer``, else ``PROMPTVER_USER``, else git's user (the same
    identity a bump records as its author)."""
    from promptver.gitinfo import identity

    if explicit is not None:
        if not explicit.strip():
            raise ConfigError("--reviewer is empty", hint="pass --reviewer NAME")
        return explicit.strip()
    return identity(folder)


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
    """The audit event of one decision (validated, not yet written)."""
    if decision not in DECISIONS:
        raise ConfigError(f"unknown review decision {decision!r}", hint=f"use one of {', '.join(DECISIONS)}")
    if not reviewer.strip():
        raise ConfigError("the reviewer name is empty", hint="pass --reviewer NAME")
    when = (now or datetime.now(UTC)).astimezone(UTC)
    return {
        "event": EVENT,
        "decision": decision,
        "actor": reviewer.strip(),
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "bundle": bundle,
        "old": old.to_json(),
        "new": new.to_json(),
        "note": note.strip() if note and note.strip() else None,
    }


def record_review(
    store: Store,
    bundle: str,
    decision: str,
    reviewer: str,
    old: Reviewed,
    new: Reviewed,
    note: str | None = None,
) -> dict[str, Any]:
    """Append a review decision to the bundle's audit log; returns the event as written.

    When the reviewed side is a stored version, the rules of ``promptver approve`` apply
    (``promptver.approvals``): an author may not approve a version a protected alias says
    they cannot, and a person's decision is not recorded twice in a row. A working copy
    has no author or alias yet: its decision is recorded as it is.
    """
    event = review_event(bundle, decision, reviewer, old, new, note)
    with store.lock(bundle):
        if new.version is not None:
            _check_like_approve(store, bundle, decision, event["actor"], new)
        return store.append_event(bundle, event)


def _check_like_approve(store: Store, bundle: str, decision: str, actor: str, new: Reviewed) -> None:
    from promptver.aliases import log_events
    from promptver.approvals import APPROVED, decisions, same_person
    from promptver.promotion import self_approval_forbidden_by

    assert new.version is not None
    manifest = store.manifest(bundle, new.version)
    if manifest.digest != new.digest:
        raise ConflictError(
            f"{manifest.ref} is not the content that was reviewed (digest differs)",
            hint="open the review again",
        )
    if decision == APPROVED and same_person(actor, manifest.author):
        forbidding = self_approval_forbidden_by(store, manifest)
        if forbidding:
            raise PolicyError(
                f"{actor} is the author of {manifest.ref} and cannot approve it: the policy"
                f" of alias {', '.join(forbidding)} requires an approver other than the author",
                hint="ask someone else to review it",
            )
    for previous in decisions(log_events(store, bundle, EVENT), manifest.digest):
        if same_person(previous.actor, actor) and previous.decision == decision:
            verb = "approved" if decision == APPROVED else "requested changes to"
            raise ConflictError(
                f"{previous.actor} already {verb} {manifest.ref} (event {previous.seq}, {previous.time})",
                hint="nothing to do",
            )


def reviews(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The review decisions among a bundle's audit events, oldest first."""
    return [e for e in events if e.get("event") == EVENT]
