"""Approvals: review decisions on a version, recorded as ``review`` events in the audit log.

The event is the one the TUI's review records (``promptver/reviews.py`` on the tui branch),
so the policy counts decisions from either source, matched by the version's digest:

    {"event": "review", "decision": "approved" | "changes_requested",
     "actor": "Ana <ana@example.com>", "time": "2026-11-26T15:20:00Z",
     "bundle": "support-bot", "old": {"version": "1.2.0", "digest": "sha256:..."},
     "new": {"version": "1.3.0", "digest": "sha256:..."}, "note": "ship it"}

From the CLI, ``new`` is the approved version and ``old`` its parent (both null for a first
version). A person's latest decision on a digest is the one that counts: a rejection after
an approval withdraws it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from promptver.errors import ConfigError, ConflictError, PolicyError, PromptverError
from promptver.manifest import Manifest
from promptver.store import Store

EVENT = "review"
APPROVED = "approved"
CHANGES_REQUESTED = "changes_requested"
_EMAIL = re.compile(r"<\s*([^<>\s]+@[^<>\s]+)\s*>")


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def person(identity: str) -> tuple[str, str | None]:
    """(lowercased name, lowercased email or None) of ``Name <email>``, ``email`` or ``Name``."""
    text = identity.strip()
    if match := _EMAIL.search(text):
        return text[: match.start()].strip().lower(), match.group(1).lower()
    if "@" in text and " " not in text:
        return "", text.lower()
    return text.lower(), None


def same_person(a: str, b: str) -> bool:
    """Same email when both identities have one, else same name (case-insensitive), so
    ``Ana`` and ``Ana <ana@example.com>`` are the same person."""
    name_a, email_a = person(a)
    name_b, email_b = person(b)
    if email_a and email_b:
        return email_a == email_b
    return bool(name_a and name_a == name_b)


@dataclass(frozen=True)
class Decision:
    actor: str
    decision: str
    time: str
    note: str | None
    seq: int | None
    version: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "decision": self.decision,
            "time": self.time,
            "note": self.note,
            "seq": self.seq,
            "version": self.version,
        }


def decisions(events: list[dict[str, Any]], digest: str) -> list[Decision]:
    """Each person's latest review decision on a digest, in log order."""
    latest: list[Decision] = []
    for event in events:
        if event.get("event") != EVENT or not isinstance(event.get("new"), dict):
            continue
        if event["new"].get("digest") != digest or not isinstance(event.get("actor"), str):
            continue
        found = Decision(
            actor=event["actor"],
            decision=str(event.get("decision")),
            time=str(event.get("time", "")),
            note=event.get("note"),
            seq=event.get("seq"),
            version=event["new"].get("version"),
        )
        latest = [d for d in latest if not same_person(d.actor, found.actor)] + [found]
    return latest


def review_event(
    manifest: Manifest, parent: Manifest | None, decision: str, actor: str, note: str | None
) -> dict[str, Any]:
    return {
        "event": EVENT,
        "decision": decision,
        "actor": actor,
        "time": utc_now(),
        "bundle": manifest.bundle,
        "old": {
            "version": parent.version if parent else None,
            "digest": parent.digest if parent else None,
        },
        "new": {"version": manifest.version, "digest": manifest.digest},
        "note": note.strip() if note and note.strip() else None,
    }


def decide(
    store: Store,
    name: str,
    ref: str,
    decision: str,
    actor: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Record an approval or a rejection of ``name@ref``; returns the event as written.

    Refused (nothing written) when the approver is the version's author and a protected
    alias forbids that, or when the person's latest decision on it is already this one.
    """
    from promptver.gitinfo import identity
    from promptver.promotion import self_approval_forbidden_by

    if decision not in (APPROVED, CHANGES_REQUESTED):
        raise ConfigError(f"unknown review decision {decision!r}")
    if actor is not None and not actor.strip():
        raise ConfigError("--by is empty", hint="pass --by 'Name <email>' or leave it out")
    who = actor.strip() if actor is not None else identity(store.project_root)
    with store.lock(name):
        manifest = store.resolve(name, ref)
        if decision == APPROVED and same_person(who, manifest.author):
            forbidding = self_approval_forbidden_by(store, manifest)
            if forbidding:
                raise PolicyError(
                    f"{who} is the author of {manifest.ref} and cannot approve it:"
                    f" the policy of alias {', '.join(forbidding)} requires an approver other"
                    " than the author",
                    hint=f"ask someone else to run `promptver approve {manifest.ref}`",
                )
        from promptver.aliases import log_events

        events = log_events(store, name, EVENT)
        for previous in decisions(events, manifest.digest):
            if same_person(previous.actor, who) and previous.decision == decision:
                verb = "approved" if decision == APPROVED else "requested changes to"
                raise ConflictError(
                    f"{previous.actor} already {verb} {manifest.ref} (event {previous.seq}, {previous.time})",
                    hint="nothing to do",
                )
        parent = None
        if manifest.parent:
            try:
                parent = store.manifest(name, manifest.parent)
            except PromptverError:  # a missing parent must not block a review of its child
                parent = None
        return store.append_event(name, review_event(manifest, parent, decision, who, note))
