"""The audit trail of a bundle: its hash-chained events, filtered, with the chain checked."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from promptver.errors import ConfigError
from promptver.store.jsontext import collector_paused
from promptver.store.store import Store, check_name

CITED_NAMED = 10  # the approvals a promotion cites, named in its one-line summary
KINDS = ("bump", "alias", "review", "import", "eval", "calibration")
_WHEN = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?Z?)?\Z")


def parse_time(text: str, *, end: bool = False) -> str:
    """``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM[:SS][Z]`` (UTC) as the log's time format.
    A bare date given as an end bound covers that whole day."""
    import datetime as dt

    match = _WHEN.match(text.strip())
    if not match:
        raise ConfigError(f"{text!r} is not a date", hint="use YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] (UTC)")
    year, month, day, hour, minute, second = match.groups()
    try:
        when = dt.datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)
        )
    except ValueError as exc:
        raise ConfigError(f"{text!r} is not a date: {exc}") from None
    if end and hour is None:
        when = when.replace(hour=23, minute=59, second=59)
    elif end and second is None:
        when = when.replace(second=59)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class AuditTrail:
    bundle: str
    events: list[dict[str, Any]]
    total: int
    chain_problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "bundle": self.bundle,
            "total": self.total,
            "shown": len(self.events),
            "chain_ok": not self.chain_problems,
            "chain_problems": self.chain_problems,
            "events": self.events,
        }


@collector_paused()
def audit(
    store: Store,
    name: str,
    *,
    alias: str | None = None,
    actor: str | None = None,
    since: str | None = None,
    until: str | None = None,
    kinds: tuple[str, ...] = (),
) -> AuditTrail:
    """A bundle's events, oldest first, that match every filter given; the hash chain (and
    the pointers of aliases) are checked over the whole log, whatever the filters."""
    check_name(name)
    if alias is not None:
        from promptver.governance.aliases import check_alias

        check_alias(alias)
    start = parse_time(since) if since else None
    stop = parse_time(until, end=True) if until else None
    if start and stop and start > stop:
        raise ConfigError(f"--since {since} is after --until {until}", hint="swap them")
    if name not in store.bundle_names():
        store.resolve(name, "latest")  # unknown bundle: the error with suggestions
    # by tokens: the check's verdict first, it decides; else the whole parse first, and the
    # check's reads by kind take from it
    by_tokens = (alias is not None or kinds) and actor is None and start is None and stop is None
    problems = chain_problems(store, name) if by_tokens else None
    found = _by_tokens(store, name, alias, kinds) if by_tokens and not problems else None
    if found is not None:
        shown, total = found
        events: Callable[[], list[dict[str, Any]]] = functools.partial(store.events, name)
    else:
        every = store.events(name)
        if problems is None:
            problems = chain_problems(store, name)
        shown, total, events = every, len(every), lambda: every
        if kinds or alias is not None or actor is not None or start or stop:
            shown = [
                e
                for e in every
                if (not kinds or e.get("event") in kinds)
                and (alias is None or (e.get("event") == "alias" and e.get("alias") == alias))
                and (actor is None or actor.lower() in str(e.get("actor", "")).lower())
                and (start is None or str(e.get("time", "")) >= start)
                and (stop is None or str(e.get("time", "")) <= stop)
            ]
    # after the check, which keeps the checkpoint saying which promotions' citations hold
    positions = _Positions(events, exact=lambda: _exact_citations(store, name))
    # one pass: most events cite nothing and are not signed, and are shown as they are
    shown = [
        _signed(store, name, _cited(e, positions)) if "approval_ids" in e or "signature" in e else e
        for e in shown
    ]
    return AuditTrail(name, shown, total, problems or [])


def _by_tokens(
    store: Store, name: str, alias: str | None, kinds: tuple[str, ...]
) -> tuple[list[dict[str, Any]], int] | None:
    """The events of one alias or of some kinds, and the number of events in the log, from
    the lines holding their names (`alias_events`, `log_events`) rather than a parse of
    every line. Only for a log the checks found nothing wrong with: every line of it is an
    event whose ``seq`` is its line number, so the last one's is the count. None for a log
    holding a ``\\u`` escape (a name spelt with escapes holds no token) or a ``\\r`` (a
    line end that `last_line` does not split at): the careful path parses every line."""
    from promptver.store.events import alias_events, last_line, log_bytes, log_events, parse_event

    path = store.log_path(name)
    try:
        data = log_bytes(path)
    except FileNotFoundError:
        return None
    # a byte (memchr) is searched 20 times faster than two: most logs hold no backslash
    if b"\r" in data or (b"\\" in data and b"\\u" in data):
        return None
    last = last_line(path)
    total = parse_event(last, f"{path}: last line").get("seq") if last else 0
    if type(total) is not int:
        return None
    if alias is not None:
        found = alias_events(store, name, alias) if not kinds or "alias" in kinds else []
    else:
        found = log_events(store, name, *kinds)
    return found, total


def _exact_citations(store: Store, name: str) -> set[int]:
    from promptver.governance.checks import exact_citations

    return exact_citations(store, name)


class _Positions:
    """Where the events of a log are now, by id (`event_id`); the ids of the whole log are
    computed only when a hint (the ``seq`` a promotion recorded) does not find an event.
    Each index is made when first needed: a log's first citing promotion."""

    def __init__(
        self, events: Callable[[], list[dict[str, Any]]], exact: Callable[[], set[int]] = set
    ) -> None:
        self._events = events
        self.by_id: dict[str, Any] | None = None
        self._exact = exact

    @functools.cached_property
    def events(self) -> list[dict[str, Any]]:
        """Every event of the log (read when a hint does not find one)."""
        return self._events()

    @functools.cached_property
    def exact(self) -> set[int]:
        """The promotions whose recorded seqs are their citations' places."""
        return self._exact()

    @functools.cached_property
    def by_seq(self) -> dict[Any, dict[str, Any]]:
        return {e["seq"]: e for e in self.events if isinstance(e.get("seq"), int)}

    def find(self, identity: Any, hint: Any) -> Any:
        from promptver.store.events import event_id

        event = self.by_seq.get(hint) if isinstance(hint, int) else None
        if event is not None and event_id(event) == identity:
            return hint
        if self.by_id is None:
            self.by_id = {event_id(e): e.get("seq") for e in self.events}
        return self.by_id.get(identity, "?") if isinstance(identity, str) else "?"


def _cited(event: dict[str, Any], positions: _Positions) -> dict[str, Any]:
    """A promotion's cited approvals as the events they are now (``approval_ids`` name them
    whatever their place; ``approvals``, the ``seq`` when it was made, is only a hint)."""
    ids = event.get("approval_ids")
    if not isinstance(ids, list):
        return event
    hints = event.get("approvals")
    hints = hints if isinstance(hints, list) and len(hints) == len(ids) else [None] * len(ids)
    if event.get("seq") in positions.exact:  # checked so by the moves' re-check of this log
        return {**event, "approvals": list(hints)}
    return {**event, "approvals": [positions.find(i, h) for i, h in zip(ids, hints, strict=True)]}


def _signed(store: Store, name: str, event: dict[str, Any]) -> dict[str, Any]:
    """A signed event with who signed it (``signed_by``) or why its signature is bad."""
    if "signature" not in event:
        return event
    from promptver.governance.signing import check

    verdict = check(store, event, name)
    return {**event, "signed_by": verdict.signer, "signature_problem": verdict.problem}


def chain_problems(store: Store, name: str) -> list[str]:
    """What `promptver verify` says about this bundle (manifests, log, runs, pointers,
    anchoring in git)."""
    from promptver.governance.verify import bundle_problems

    return bundle_problems(store, name)


def summary(event: dict[str, Any]) -> str:
    """One line saying what an event did (and who signed it, when checked)."""
    text = _summary(event)
    if event.get("signed_by"):
        text += f" [signed by {event['signed_by']}]"
    elif event.get("signature_problem"):
        text += f" [signature not accepted: {event['signature_problem']}]"
    return text


def _summary(event: dict[str, Any]) -> str:
    kind = event.get("event")
    if kind == "bump":
        text = f"bump {event.get('parent') or '(first)'} -> {event.get('version')} ({event.get('bump')})"
        if event.get("forced"):
            text += " FORCED"
        return text + (f": {event['message']}" if event.get("message") else "")
    if kind == "alias":
        action = event.get("action")
        arrow = f"{event.get('from') or '(none)'} -> {event.get('to') or '(removed)'}"
        text = f"{action} {event.get('alias')} {arrow}"
        cited = event.get("approvals")
        if action == "promote" and isinstance(cited, list) and cited:
            noun = "event" if len(cited) == 1 else "events"
            named = [str(s) for s in cited[:CITED_NAMED]]
            if len(cited) > CITED_NAMED:  # `--json` has every one
                named.append(f"and {len(cited) - CITED_NAMED:,} more")
            text += f" (approved in {noun} {', '.join(named)})"
        return text + (f": {event['reason']}" if event.get("reason") else "")
    if kind == "review":
        new: dict[str, Any] = event["new"] if isinstance(event.get("new"), dict) else {}
        verb = "approved" if event.get("decision") == "approved" else "requested changes to"
        target = new.get("version") or f"working copy {str(new.get('digest', ''))[:15]}"
        return f"{verb} {target}" + (f": {event['note']}" if event.get("note") else "")
    if kind == "eval":
        score = event.get("score")
        scored = f"score {score:.3f}" if isinstance(score, int | float) else "no score"
        rate = event.get("pass_rate")
        if isinstance(rate, int | float):
            scored += f", {rate:.0%} passed"
        target = f" ({event['target']})" if event.get("target") else ""
        ran = f"eval {event.get('version')} on {event.get('dataset')}{target}"
        return f"{ran}: {scored}, run {event.get('run')}"
    if kind == "calibration":
        rates = ", ".join(
            f"{name.upper()} {event[name]:.2f}"
            for name in ("tpr", "tnr")
            if isinstance(event.get(name), int | float)
        )
        judged = f" on {event['judged']} labels" if isinstance(event.get("judged"), int) else ""
        judge = str(event.get("judge"))[:15]
        return f"judge {judge} calibrated{judged}: {rates or 'no rates'}, run {event.get('run')}"
    if kind == "import":
        return f"import {event.get('version')} from {event.get('source')}"
    return str(kind)
