"""Review decisions: who approved (or asked for changes to) which version, as ``review``
events in the bundle's append-only, hash-chained audit log:

    {"event": "review", "decision": "approved" | "changes_requested",
     "actor": "Ana <ana@example.com>", "time": "2026-11-26T15:20:00Z",
     "bundle": "support-bot", "old": {"version": "1.2.0", "digest": "sha256:..."},
     "new": {"version": "1.3.0", "digest": "sha256:..."}, "note": "ship it"}

Two front doors write the same event: ``promptver approve``/``reject`` (``decide``: ``new`` is
the version, ``old`` its parent) and the review UI (``record_review``: any pair of sides;
``new.version`` is null when the reviewed side is a working copy, its digest still pins the
exact content). Both apply the same rules (``_refuse``). A person's latest decision on a
digest is the one that counts: a rejection after an approval withdraws it.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import compress, count, islice, repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptver.errors import ConfigError, ConflictError, PolicyError, PromptverError
from promptver.governance.identities import person, same_person
from promptver.governance.policy import self_approval_forbidden_by
from promptver.store.events import log_events, on_forget, utc_now
from promptver.store.jsontext import collector_paused
from promptver.store.manifest import Manifest
from promptver.store.store import Store

if TYPE_CHECKING:
    from promptver.governance.signing import Verdict

EVENT = "review"
APPROVED = "approved"
CHANGES_REQUESTED = "changes_requested"
DECISIONS: tuple[str, ...] = (APPROVED, CHANGES_REQUESTED)


@dataclass(frozen=True)
class Reviewed:
    """One side of the reviewed change: its version (None: working copy) and digest."""

    version: str | None
    digest: str

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "digest": self.digest}


@dataclass(frozen=True)
class Decision:
    actor: str
    decision: str
    time: str
    note: str | None
    seq: int | None
    version: str | None
    event: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    signed_by: str | None = None  # set by `with_signature`: the allowed signer, verified
    signature_problem: str | None = None
    signing_key: str | None = None  # the fingerprint of the key that signed it (good ones)

    @classmethod
    def of(cls, event: dict[str, Any]) -> Decision:
        """The decision a review event records (its signature not checked yet). Made
        without the frozen dataclass's ``__init__``, which sets each field through
        ``object.__setattr__``: three times slower, a tenth of a second at 50,000."""
        decision = object.__new__(cls)
        decision.__dict__.update(
            actor=event["actor"],
            decision=str(event.get("decision")),
            time=str(event.get("time", "")),
            note=event.get("note"),
            seq=event.get("seq"),
            version=event["new"].get("version"),
            event=event,
            signed_by=None,
            signature_problem=None,
            signing_key=None,
        )
        return decision

    @property
    def verdict(self) -> Verdict:
        from promptver.governance.signing import Verdict

        return Verdict(signer=self.signed_by, problem=self.signature_problem, key=self.signing_key)

    def to_json(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "decision": self.decision,
            "time": self.time,
            "note": self.note,
            "seq": self.seq,
            "version": self.version,
            "before_bump": self.version is None,
            "signed": "signature" in self.event,
            "signed_by": self.signed_by,
            "signature_problem": self.signature_problem,
        }

    def with_signature(self, store: Store, bundle: str) -> Decision:
        """This decision (an event of ``bundle``'s log) with its signature checked
        (``signed_by`` or ``signature_problem``)."""
        if "signature" not in self.event:
            return self  # nothing to check: neither signed_by nor a problem
        from dataclasses import replace

        from promptver.governance.signing import check

        verdict = check(store, self.event, bundle)
        return replace(
            self, signed_by=verdict.signer, signature_problem=verdict.problem, signing_key=verdict.key
        )


@collector_paused()
def decisions(
    events: list[dict[str, Any]],
    digest: str,
    log: Callable[[], list[dict[str, Any]]] | None = None,
) -> list[Decision]:
    """Each person's latest review decision on a digest, in log order.

    The latest is decided by the (signed) ``time``, then by ``after`` (the one signed when
    the log was longer: the event it followed is later), then by log position; so a signed
    approval moved after the same person's later signed rejection does not count again, and
    a pull that puts local events after a teammate's changes nothing. ``log``: the whole
    log, read only for a tie within one second when ``events`` holds some kinds only.

    Linear after one sort: in that order a decision replaces the earlier ones of the same
    person (``same_person``: the same email, or the same name where one side has no email),
    found through indexes by email and by name rather than by comparing it with every
    decision kept so far."""
    found = _on_digest(events, digest)
    ordered = any("after" in event for _, event in found)  # signatures of format 3
    if ordered:  # the order may depend on the rest of the log (`log`): worked out each time
        return _decisions(found, ordered, events, log)
    key = (digest, tuple([place for place, _ in found]), tuple([id(event) for _, event in found]))
    for counted, _, kept in _COUNTED:
        if counted == key:
            return list(kept)
    ran = _RAN.get(digest)  # a re-check's running count of these very events, if any
    handed = ran[0].counted(found) if ran is not None else None
    kept = handed if handed is not None else _decisions(found, ordered, events, log)
    _COUNTED.insert(0, (key, found, kept))  # its events are kept alive with it: their ids stay theirs
    del _COUNTED[_COUNTS_KEPT:]
    return list(kept)


def _on_digest(events: list[dict[str, Any]], digest: str) -> list[tuple[int, dict[str, Any]]]:
    """The review events deciding on ``digest`` (with an actor), each with its place."""
    return [  # (`_place`, written out: a call per event cost a fifth)
        (seq if isinstance(seq := event.get("seq"), int) and not isinstance(seq, bool) else index, event)
        for index, event in enumerate(events)
        if event.get("event") == EVENT
        and isinstance(new := event.get("new"), dict)
        and new.get("digest") == digest
        and isinstance(event.get("actor"), str)
    ]


# The last decisions worked out, by digest and the very events (parsed objects, by id) and
# places they came from: one command often counts a version's decisions twice over the same
# parse (re-checking the moves to it, then its own policy check), 0.2 s at 50,000.
_COUNTED: list[
    tuple[tuple[str, tuple[int, ...], tuple[int, ...]], list[tuple[int, dict[str, Any]]], list[Decision]]
] = []
_COUNTS_KEPT = 4
on_forget(_COUNTED.clear)
# The running decisions a re-check offered (`RunningDecisions.offer`), by digest, with the
# review events they took in.
_RAN: dict[str, tuple[RunningDecisions, list[dict[str, Any]]]] = {}
on_forget(_RAN.clear)


def _decisions(
    found: list[tuple[int, dict[str, Any]]],
    ordered: bool,
    events: list[dict[str, Any]],
    log: Callable[[], list[dict[str, Any]]] | None,
) -> list[Decision]:
    """`decisions` of the review events ``found`` on the digest, with their places."""
    seconds = Counter(str(event.get("time", "")) for _, event in found) if ordered else Counter()
    places: dict[str, int] = {}

    def anchor(event: dict[str, Any], place: int) -> int:
        after = event.get("after")
        if seconds[str(event.get("time", ""))] < 2 or not isinstance(after, str):
            return place - 1  # as if signed right after the event before it
        if not places:
            from promptver.store.events import event_id

            every = log() if log is not None else events
            places.update((event_id(e), _place(e, i)) for i, e in enumerate(every))
        return places.get(after, place - 1)

    if ordered:
        found.sort(key=lambda pair: (str(pair[1].get("time", "")), anchor(pair[1], pair[0]), pair[0]))
    else:  # no signature of format 3: the order is by time, then place
        times = [str(event.get("time", "")) for _, event in found]
        at = [place for place, _ in found]
        if not (_ascending(times) and _ascending(at)):  # already so in an appended log
            keyed = sorted(zip(times, at, range(len(found)), strict=True))  # compared in C
            found = [found[n] for _, _, n in keyed]
    people = [person(event["actor"]) for _, event in found]
    if all(email for _, email in people):  # everyone with an email: each email's last decision
        last: dict[str | None, tuple[int, dict[str, Any]]] = {}
        for (_, email), pair in zip(people, found, strict=True):
            last.pop(email, None)  # re-inserted: the dict keeps the order of the last ones
            last[email] = pair
        return _in_log_order(list(last.values()))
    latest: dict[int, tuple[int, dict[str, Any]]] = {}  # the live decisions, by sorted position
    by_email: dict[str, int] = {}  # the live decision of this email (a later one replaces it)
    by_bare_name: dict[str, int] = {}  # the live decision of this name given without email
    by_name: dict[str, list[int]] = {}  # every decision of this name, with or without email
    for number, ((place, event), (name, email)) in enumerate(zip(found, people, strict=True)):
        if email:  # same email, or an earlier actor without one and the same name
            old = by_email.get(email)
            if old is not None:
                latest.pop(old, None)
            if name and (old := by_bare_name.get(name)) is not None:
                latest.pop(old, None)
            by_email[email] = number
        elif name:  # an actor without email is everyone of the same name
            for old in by_name.pop(name, ()):
                latest.pop(old, None)
            by_bare_name[name] = number
        if name:
            by_name.setdefault(name, []).append(number)
        latest[number] = (place, event)
    return _in_log_order(list(latest.values()))


class RunningDecisions:
    """Each person's latest decision on one digest, kept up to date as the review events on
    it are taken in, in log order: what `decisions` says of the reviews taken so far. A
    re-check of a log's moves asks at every promotion to the version; counted anew each
    time, that is every approval times every promotion (50,000 approvals, ten promotions).

    Kept only in `decisions`'s simple case: every decider gave an email, no event carries
    ``after`` (a signature of format 3) and times and places never go back, so each email's
    last event is its latest decision. Past that ``simple`` turns False for good and the
    caller counts with `decisions`."""

    def __init__(self, digest: str) -> None:
        self.digest = digest
        self.simple = True
        self.latest: dict[str, dict[str, Any]] = {}  # email -> its latest review event, in log order
        self.rejecting: set[str] = set()  # the emails whose latest decision is a change request
        self._taken = 0
        self.every = True  # every decision taken has a seq (its place in `decisions` too)
        self._time = ""
        self._place: int | None = None

    def take(self, reviews: list[dict[str, Any]]) -> None:
        """Take in the events of ``reviews`` not taken yet (the list only grows; a place is
        an event's ``seq``, else its index in the list, as in `decisions`)."""
        if not self.simple:
            return
        latest, rejecting, digest = self.latest, self.rejecting, self.digest
        last_time, last_place = self._time, self._place
        for index, event in enumerate(reviews[self._taken :], start=self._taken):
            new, actor = event.get("new"), event.get("actor")
            if not (
                event.get("event") == EVENT
                and type(new) is dict
                and new.get("digest") == digest
                and isinstance(actor, str)
            ):
                continue  # not a decision on the digest: `decisions` skips it too
            email = person(actor)[1]
            when, seq = str(event.get("time", "")), event.get("seq")
            place = seq if type(seq) is int else index  # (`_place`, written out)
            if type(seq) is not int:
                self.every = False
            if (
                "after" in event
                or not email
                or when < last_time
                or (last_place is not None and place < last_place)
            ):
                self.simple = False
                return
            last_time, last_place = when, place
            latest.pop(email, None)  # re-inserted: the dict keeps the order of the last ones
            latest[email] = event
            if event.get("decision") == CHANGES_REQUESTED:
                rejecting.add(email)
            elif rejecting:
                rejecting.discard(email)
        self._time, self._place = last_time, last_place
        self._taken = len(reviews)

    def offer(self, reviews: list[dict[str, Any]]) -> None:
        """Take in the rest of ``reviews``, every review event on the digest in a log, and
        keep the answer for `decisions` of the same events: a cold ``show NAME@ALIAS``
        re-checks the log's moves (counting as it goes), then lists the version's
        decisions (a count anew: 0.15 s at 50,000)."""
        self.take(reviews)
        if self.simple:
            _RAN.pop(self.digest, None)
            while len(_RAN) >= _COUNTS_KEPT:
                del _RAN[next(iter(_RAN))]
            _RAN[self.digest] = (self, reviews)

    def counted(self, found: list[tuple[int, dict[str, Any]]]) -> list[Decision] | None:
        """`decisions` of the events ``found`` on the digest (with their places), when they
        are the very events offered, each a decision on the digest with a ``seq`` (the
        place both count by), all taken in the simple case; else None."""
        offered = _RAN.get(self.digest)
        if offered is None or offered[0] is not self or not (self.simple and self.every):
            return None
        reviews = offered[1]
        if len(found) != self._taken or not all(
            map(operator.is_, reviews, map(operator.itemgetter(1), found))
        ):
            return None  # not the events taken in
        of = Decision.of
        return [of(event) for event in self.latest.values()]


def first_latest(
    events: list[dict[str, Any]], digest: str, wanted: Callable[[dict[str, Any]], bool], count_: int
) -> list[dict[str, Any]] | None:
    """The first ``count_`` approvals in log order that are their person's latest decision
    on ``digest`` and that ``wanted`` accepts (what `decisions` then a filter would give,
    the first of them), found by functions mapped over lists (C) and a look, for each
    approval taken, at whether the same person decided again later (`_may_be`'s substring
    test over all later actors at once, then `same_person`), rather than counting 50,000
    people. None when this cannot tell: times or places out of order, a signature of
    format 3 (``after``), a change request on the digest (it may stand), a signed approval
    (its signature decides whether it counts), more than `TRIES` approvals looked at, or
    fewer found: the caller counts them all."""
    get = dict.get  # (a pass per field: a few ms each at 50,000; a tuple of fields per event costs more)
    events = list(compress(events, map(operator.eq, map(get, events, repeat("event")), repeat(EVENT))))
    news: list[Any] = list(map(get, events, repeat("new")))
    if set(map(type, news)) - {dict}:
        return None
    found = list(compress(events, map(operator.eq, map(get, news, repeat("digest")), repeat(digest))))
    fields: list[list[Any]] = [list(map(get, found, repeat(k))) for k in ("actor", "seq", "time", "decision")]
    actors, seqs, times, decided = fields
    if (
        set(map(type, actors)) - {str}
        or set(map(type, seqs)) - {int}
        or set(map(type, times)) - {str}
        or any(map(dict.__contains__, found, repeat("after")))
        or not (_ascending(times) and _ascending(seqs))
        or CHANGES_REQUESTED in decided
    ):
        return None
    lowered = list(map(str.lower, actors))
    first: list[dict[str, Any]] = []
    for tries, at in enumerate(compress(count(), map(operator.eq, decided, repeat(APPROVED)))):
        if len(first) == count_ or tries == TRIES or "signature" in found[at]:
            break
        if not _decided_again(at, actors, lowered) and wanted(found[at]):
            first.append(found[at])
    return first if len(first) == count_ else None


TRIES = 64  # approvals `first_latest` looks at before leaving it to the whole count


def _decided_again(at: int, actors: list[str], lowered: list[str]) -> bool:
    """Whether someone after ``actors[at]`` is the same person (``lowered``: the actors in
    lower case; only those holding their email or name are compared)."""
    name, email = person(actors[at])
    for part in filter(None, (email, name)):
        holding = map(operator.contains, islice(lowered, at + 1, None), repeat(part))
        if any(same_person(actors[later], actors[at]) for later in compress(count(at + 1), holding)):
            return True
    return False


def _in_log_order(kept: list[tuple[int, dict[str, Any]]]) -> list[Decision]:
    """The decisions of the kept (place, event) pairs, in sorted order, by place."""
    if not _ascending([place for place, _ in kept]):
        kept.sort(key=lambda pair: pair[0])
    of = Decision.of
    return [of(event) for _, event in kept]


def _ascending(values: list[Any]) -> bool:
    """Whether ``values`` never decrease (compared in C, no sort)."""
    return all(map(operator.le, values, values[1:]))


def _place(event: dict[str, Any], index: int) -> int:
    """An event's line in its log (its ``seq``, which `verify` checks), else its index."""
    seq = event.get("seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else index


def reviews(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The review decisions among a bundle's audit events, oldest first."""
    return [e for e in events if e.get("event") == EVENT]


def resolve_reviewer(explicit: str | None = None, *, folder: Path | None = None) -> str:
    """The reviewer: ``--reviewer``, else ``PROMPTVER_USER``, else git's user (the same
    identity a bump records as its author)."""
    from promptver.versions.provenance import identity

    if explicit is not None:
        if not explicit.strip():
            raise ConfigError("--reviewer is empty", hint="pass --reviewer NAME")
        return explicit.strip()
    return identity(folder)


def review_event(
    bundle: str, decision: str, reviewer: str, old: Reviewed | None, new: Reviewed, note: str | None = None
) -> dict[str, Any]:
    """The audit event of one decision (validated, not yet written)."""
    if decision not in DECISIONS:
        raise ConfigError(f"unknown review decision {decision!r}", hint=f"use one of {', '.join(DECISIONS)}")
    if not reviewer.strip():
        raise ConfigError("the reviewer name is empty", hint="pass --reviewer NAME")
    return {
        "event": EVENT,
        "decision": decision,
        "actor": reviewer.strip(),
        "time": utc_now(),
        "bundle": bundle,
        "old": old.to_json() if old else {"version": None, "digest": None},
        "new": new.to_json(),
        "note": note.strip() if note and note.strip() else None,
    }


@collector_paused()
def decide(
    store: Store,
    name: str,
    ref: str,
    decision: str,
    actor: str | None = None,
    note: str | None = None,
    key: Path | None = None,
) -> dict[str, Any]:
    """Record an approval or a rejection of ``name@ref``; returns the event as written
    (signed with ``key``, an SSH key, when given).

    Refused (nothing written) when the approver is the version's author and a protected
    alias forbids that, or when the person's latest decision on it is already this one.
    """
    from promptver.versions.provenance import identity

    if actor is not None and not actor.strip():
        raise ConfigError("--by is empty", hint="pass --by 'Name <email>' or leave it out")
    who = actor.strip() if actor is not None else identity(store.project_root)
    with store.lock(name):
        manifest = store.resolve(name, ref)
        parent = None
        if manifest.parent:
            try:
                parent = store.manifest(name, manifest.parent)
            except PromptverError:  # a missing parent must not block a review of its child
                parent = None
        old = Reviewed(parent.version, parent.digest) if parent else None
        event = review_event(name, decision, who, old, Reviewed(manifest.version, manifest.digest), note)
        _refuse(
            store,
            manifest,
            decision,
            event["actor"],
            f"ask someone else to run `promptver approve {manifest.ref}`",
        )
        from promptver.governance.signing import append_signed

        return append_signed(store, name, event, key)


@collector_paused()
def record_review(
    store: Store,
    bundle: str,
    decision: str,
    reviewer: str,
    old: Reviewed | None,
    new: Reviewed,
    note: str | None = None,
    key: Path | None = None,
) -> dict[str, Any]:
    """Append a review decision made in the review UI (``old`` None: a first version,
    reviewed against nothing); returns the event as written (signed with ``key`` when given).

    When the reviewed side is a stored version, the rules of ``decide`` apply. A working
    copy has no author or alias yet: its decision is recorded as it is.
    """
    event = review_event(bundle, decision, reviewer, old, new, note)
    with store.lock(bundle):
        if new.version is not None:
            manifest = store.manifest(bundle, new.version)
            if manifest.digest != new.digest:
                raise ConflictError(
                    f"{manifest.ref} is not the content that was reviewed (digest differs)",
                    hint="open the review again",
                )
            _refuse(store, manifest, decision, event["actor"], "ask someone else to review it")
        from promptver.governance.signing import append_signed

        return append_signed(store, bundle, event, key)


def _may_be(identity: str, actor: str) -> bool:
    """Whether ``identity`` could be ``same_person`` as ``actor``: it holds their email or
    their name (a substring test, cheaper than parsing 50,000 identities)."""
    name, email = person(actor)
    folded = identity.lower()
    return bool(email and email in folded) or bool(name and name in folded)


def _refuse(store: Store, manifest: Manifest, decision: str, actor: str, hint: str) -> None:
    """The rules both front doors share: no self-approval where a protected alias forbids
    it, and no repeat of a person's latest decision."""
    if decision == APPROVED and same_person(actor, manifest.author):
        forbidding = self_approval_forbidden_by(store, manifest)
        if forbidding:
            raise PolicyError(
                f"{actor} is the author of {manifest.ref} and cannot approve it: the policy"
                f" of alias {', '.join(forbidding)} requires an approver other than the author",
                hint=hint,
            )
    events = log_events(store, manifest.bundle, EVENT)
    if not any(  # no such decision of theirs at all: none can be their latest (no count)
        e.get("decision") == decision
        and isinstance(e.get("new"), dict)
        and e["new"].get("digest") == manifest.digest
        and isinstance(e.get("actor"), str)
        and _may_be(e["actor"], actor)
        and same_person(e["actor"], actor)
        for e in events
    ):
        return
    for previous in decisions(events, manifest.digest):
        if same_person(previous.actor, actor) and previous.decision == decision:
            verb = "approved" if decision == APPROVED else "requested changes to"
            raise ConflictError(
                f"{previous.actor} already {verb} {manifest.ref} (event {previous.seq}, {previous.time})",
                hint="nothing to do",
            )
