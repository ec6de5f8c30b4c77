"""Aliases: mutable names (``production``, ``staging``, ...) for versions of a bundle.

Every move is an ``alias`` event in the bundle's hash-chained audit log, and
``bundles/<name>/aliases.json`` is derived from those events:

    {"event": "alias", "action": "set" | "promote" | "rollback" | "remove",
     "bundle": "support-bot", "alias": "production",
     "from": "1.2.0", "from_digest": "sha256:...", "to": "1.3.0", "to_digest": "sha256:...",
     "actor": "Ana <ana@example.com>", "time": "2026-11-26T15:20:00Z", "reason": "...",
     "policy": {...}, "approvals": [12], "eval_runs": ["20261126T..."]}   # promote only

A move takes the bundle lock, replays the log (the truth), checks, appends its event and
then rewrites ``aliases.json`` atomically, so the pointer file always matches the last event
(a move killed between the two is repaired by the next move and reported by ``verify``).

An alias's history is a stack of the versions it held: ``set`` and ``promote`` push,
``remove`` pushes "nothing", ``rollback`` pops back to the previous (or a named earlier)
version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptver.bundle.spec import ALIAS_RE
from promptver.errors import ConfigError, ConflictError, IntegrityError, NotFoundError
from promptver.semver import Version
from promptver.store.atomic import atomic_write
from promptver.store.events import log_events, utc_now
from promptver.store.jsontext import collector_paused
from promptver.store.manifest import Manifest
from promptver.store.store import Store, check_name

EVENT = "alias"
ACTIONS = ("set", "promote", "rollback", "remove")
RESERVED = ("latest",)
ALIAS_HINT = (
    "alias names are lowercase letters, digits, '-' and '_', start with a letter and have at"
    " most 63 characters; 'latest' is reserved"
)

Held = tuple[str, str] | None  # (version, digest), or None: the alias was removed


def check_alias(alias: str) -> str:
    if not isinstance(alias, str) or not ALIAS_RE.match(alias) or alias in RESERVED:
        from promptver.store.names import hidden_character

        why = hidden_character(alias) if isinstance(alias, str) else None
        raise ConfigError(
            f"{alias!r} is not a valid alias name" + (f": it {why}" if why else ""), hint=ALIAS_HINT
        )
    return alias


def is_alias_ref(ref: str | None) -> bool:
    """Whether a version reference names an alias (not a version or ``latest``)."""
    return (
        bool(ref)
        and ref not in RESERVED
        and not Version.is_valid(ref or "")
        and bool(ALIAS_RE.match(ref or ""))
    )


@dataclass
class AliasState:
    alias: str
    history: list[Held] = field(default_factory=list)
    last: dict[str, Any] | None = None  # the last move event

    @property
    def current(self) -> Held:
        return self.history[-1] if self.history else None

    @property
    def version(self) -> str | None:
        held = self.current
        return held[0] if held else None

    def earlier(self) -> list[str]:
        """Versions held before the current one, oldest first (what rollback can reach)."""
        return [h[0] for h in self.history[:-1] if h is not None]


def apply(states: dict[str, AliasState], event: dict[str, Any]) -> None:
    """Fold one alias event into the states."""
    alias = event.get("alias")
    if event.get("event") != EVENT or not isinstance(alias, str):
        return
    state = states.get(alias)
    if state is None:
        state = states[alias] = AliasState(alias)
    action = event.get("action")
    to = event.get("to")
    held: Held = (to, str(event.get("to_digest"))) if isinstance(to, str) else None
    if action == "remove" or held is None:
        state.history.append(None)
    elif action == "rollback":
        while state.history and state.history[-1] != held:
            state.history.pop()
        if not state.history:
            state.history.append(held)
    else:
        while state.history and state.history[-1] is None:
            state.history.pop()
        state.history.append(held)
    state.last = event


def replay(events: list[dict[str, Any]]) -> dict[str, AliasState]:
    states: dict[str, AliasState] = {}
    for event in events:
        apply(states, event)
    return states


def alias_states(store: Store, name: str) -> dict[str, AliasState]:
    return replay(log_events(store, name, EVENT))


# --- aliases.json ---------------------------------------------------------------------------


def aliases_path(store: Store, name: str) -> Path:
    return store.root / "bundles" / check_name(name) / "aliases.json"


def pointers(store: Store, name: str, *, checked: bool = True) -> dict[str, dict[str, Any]]:
    """``aliases.json`` as {alias: {"version": ..., ...}} (plain strings are accepted too).
    ``checked``: each entry is checked against the last move in the audit log (a
    hand-edited entry is an `IntegrityError`; a stale one, of an interrupted move, is
    replaced by the log's)."""
    raw = _raw_pointers(store, name)
    if not checked:
        return raw
    from promptver.store.events import alias_heads, pointer_conflict

    heads = alias_heads(store, name)
    path = str(aliases_path(store, name))
    found = {}
    for alias in sorted(set(raw) | set(heads)):
        head = heads.get(alias)
        problem = pointer_conflict(path, alias, raw.get(alias), head)
        if problem is not None:
            raise IntegrityError(problem, hint="run `promptver verify`; restore aliases.json from git")
        if head is not None and isinstance(head.get("to"), str):
            found[alias] = {
                "version": head["to"],
                "digest": head.get("to_digest"),
                "moved": head.get("time"),
                "by": head.get("actor"),
                "seq": head.get("seq"),
            }
    return found


def _raw_pointers(store: Store, name: str) -> dict[str, dict[str, Any]]:
    path = aliases_path(store, name)
    try:
        raw = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except ValueError:
        raise IntegrityError(
            "aliases file is not valid JSON", location=str(path), hint="run `promptver verify`"
        ) from None
    if not isinstance(raw, dict):
        raise IntegrityError("aliases file is not a JSON object", location=str(path))
    found = {}
    for alias, entry in raw.items():
        entry = {"version": entry} if isinstance(entry, str) else entry
        if isinstance(entry, dict) and isinstance(entry.get("version"), str):
            found[alias] = entry
    return found


def pointer_bytes(states: dict[str, AliasState]) -> bytes:
    """The content of ``aliases.json`` for these alias states: each alias's current target
    with who moved it, when, and the ``seq`` of that event; canonical JSON, so the same
    states give the same bytes (the remote compares them before writing)."""
    data = {}
    for alias, state in sorted(states.items()):
        if state.current is None or state.last is None:
            continue
        data[alias] = {
            "version": state.current[0],
            "digest": state.current[1],
            "moved": state.last.get("time"),
            "by": state.last.get("actor"),
            "seq": state.last.get("seq"),
        }
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def write_pointers(store: Store, name: str, states: dict[str, AliasState]) -> None:
    """Replace ``bundles/<name>/aliases.json`` (atomically) with the pointers derived from
    ``states``. The log is the truth and ``aliases.json`` a fast index of it, so this is
    called after every change to the log that can move an alias: an alias move, and a
    pull that brought the remote's events (``promptver.remote.sync``). The caller holds
    the bundle's lock."""
    atomic_write(aliases_path(store, name), pointer_bytes(states), tmp_dir=store.tmp_dir)


# --- moves --------------------------------------------------------------------------------


def move(
    store: Store,
    states: dict[str, AliasState],
    name: str,
    alias: str,
    action: str,
    target: Manifest | None,
    reason: str | None,
    extra: dict[str, Any] | None = None,
    dry_run: bool = False,
    key: Path | None = None,
) -> dict[str, Any]:
    """Append the move event, then rewrite aliases.json (the caller holds the lock and
    replayed ``states`` under it). ``dry_run``: return the event, write nothing. ``key``:
    sign the event with this SSH key."""
    from promptver.versions.provenance import identity

    state = states.get(alias, AliasState(alias))
    before = state.current
    event = {
        "event": EVENT,
        "action": action,
        "bundle": name,
        "alias": alias,
        "from": before[0] if before else None,
        "from_digest": before[1] if before else None,
        "to": target.version if target else None,
        "to_digest": target.digest if target else None,
        "actor": identity(store.project_root),
        "time": utc_now(),
        "reason": reason.strip() if reason and reason.strip() else None,
        **(extra or {}),
    }
    if dry_run:
        return {**event, "seq": None, "dry_run": True}

    def derive(record: dict[str, Any]) -> None:
        moved = {alias: AliasState(alias, list(s.history), s.last) for alias, s in states.items()}
        apply(moved, record)
        write_pointers(store, name, moved)  # fails -> the event is taken back too
        apply(states, record)

    from promptver.governance.signing import append_signed

    return append_signed(store, name, event, key, then=derive)


def current_manifest(store: Store, name: str, state: AliasState) -> Manifest | None:
    if state.current is None:
        return None
    return checked_manifest(store, name, *state.current)


def checked_manifest(store: Store, name: str, version: str, digest: str) -> Manifest:
    manifest = store.manifest(name, version)
    if manifest.digest != digest:
        raise IntegrityError(
            f"{manifest.ref} has digest {manifest.digest[:15]}... but the audit log recorded"
            f" {digest[:15]}... when an alias moved to it",
            hint="run `promptver verify`",
        )
    return manifest


def refuse_if_already(alias: str, state: AliasState, manifest: Manifest) -> None:
    if state.current is not None and state.current[0] == manifest.version:
        raise ConflictError(f"{alias} already points at {manifest.ref}", hint="nothing to do")


@collector_paused()
def rollback(
    store: Store,
    name: str,
    alias: str,
    to: str | None = None,
    reason: str | None = None,
    *,
    key: Path | None = None,
) -> dict[str, Any]:
    """Point an alias back at the version it held before (or at an earlier one, ``to``).

    Only versions the alias held are reachable: they passed its policy when they got
    there. Going to any other version is a promotion."""
    check_alias(alias)
    with store.lock(name):
        states = alias_states(store, name)
        state = states.get(alias, AliasState(alias))
        if not state.history:
            raise no_alias_error(store, name, alias)
        earlier = [h for h in state.history[:-1] if h is not None]
        if not earlier:
            held = f" (it has only held {state.version})" if state.version else ""
            raise ConflictError(
                f"{alias} of {name} has no earlier version to roll back to{held}",
                hint=f"`promptver audit {name} --alias {alias}` shows its history",
            )
        if to is None:
            target = earlier[-1]
        else:
            if Version.is_valid(to):
                to = str(store.resolve(name, to).version)  # 1.2.0 finds 1.2.0+build too
            matches = [h for h in earlier if h[0] == to]
            if not matches:
                held = ", ".join(h[0] for h in earlier)
                raise ConflictError(
                    f"{alias} of {name} did not hold {to} before (it held: {held})",
                    hint=f"for a version it never held: `promptver promote {name}@{to} --to {alias}`",
                )
            target = matches[-1]
        manifest = checked_manifest(store, name, *target)
        return move(store, states, name, alias, "rollback", manifest, reason, key=key)


def no_alias_error(store: Store, name: str, alias: str) -> NotFoundError:
    from promptver.errors import did_you_mean

    store.resolve(name, "latest")  # unknown bundle / no versions: that error first
    known = sorted(a for a, s in alias_states(store, name).items() if s.current is not None)
    hint = did_you_mean(alias, known) or (
        f"aliases of {name}: {', '.join(known)}"
        if known
        else f"set one with `promptver alias set {name} {alias} VERSION`"
    )
    return NotFoundError(f"{name} has no alias {alias!r}", hint=hint)


# --- reading ----------------------------------------------------------------------------------


def resolve_ref(store: Store, name: str, ref: str | None) -> tuple[Manifest, str | None]:
    """``store.resolve`` plus the alias the reference went through (None for a version or
    ``latest``): what a lock file records as "came from alias"."""
    manifest = store.resolve(name, ref)
    via = (
        ref
        if ref and not Version.is_valid(ref) and ref != "latest" and store.alias_target(name, ref)
        else None
    )
    return manifest, via


def pointer_problems(
    store: Store, name: str, manifests: dict[str, Manifest], *, full: bool = False
) -> list[str]:
    """For `promptver verify`: aliases.json must match the last move of each alias, and
    every move must name a version with the digest it recorded. When the checkpoint of the
    moves' re-check covers the whole log (governance/checkpoint.py), its heads and the
    versions moved to are used (unless ``full``): nothing is parsed."""
    from promptver.governance import checkpoint

    raw = checkpoint.log_bytes(store, name)
    kept = checkpoint.computed_moves(store, name, raw, full=full)  # by this very command
    if kept is None and not full:
        kept = checkpoint.read_moves(store, name, raw, checkpoint.context(store))
    if (
        kept is not None
        and checkpoint.whole(raw, kept.events)
        and all(v in manifests and manifests[v].digest == d for v, d in kept.pairs)
    ):
        return _head_problems(store, name, {a: h for a, h in kept.heads.items() if h[0] is not None})
    try:
        events = log_events(store, name, EVENT)
    except IntegrityError:
        return []  # the broken log line is reported by the chain check
    problems = []
    for event in events:
        to = event.get("to")
        if event.get("event") != EVENT or not isinstance(to, str):
            continue
        manifest = manifests.get(to)
        if manifest is not None and manifest.digest == event.get("to_digest"):
            continue
        where = f"{name}: audit event {event.get('seq')} (alias {event.get('alias')} -> {to})"
        if manifest is None:
            problems.append(f"{where}: version {to} does not exist")
        else:
            problems.append(
                f"{where}: recorded digest {str(event.get('to_digest'))[:15]}... is not the version's"
            )
    heads = {
        a: (st.version, st.last.get("seq") if st.last else None)
        for a, st in replay(events).items()
        if st.current is not None
    }
    return problems + _head_problems(store, name, heads)


def _head_problems(store: Store, name: str, heads: dict[str, tuple[str | None, Any]]) -> list[str]:
    """``aliases.json`` against the version each alias holds by the log and the seq of its
    last move (``heads``: the aliases that hold one)."""
    try:
        file = pointers(store, name, checked=False)
    except IntegrityError as exc:
        return [str(exc).splitlines()[0]]
    problems = []
    path = aliases_path(store, name)
    for alias, (version, seq) in sorted(heads.items()):
        if alias not in file:
            problems.append(
                f"{path}: alias {alias} is missing; the last move (event {seq}) set it to {version}"
                " (an interrupted move: run `promptver rollback` or `alias set` again)"
            )
        elif file[alias]["version"] != version:
            problems.append(
                f"{path}: alias {alias} points at {file[alias]['version']} but the last move"
                f" (event {seq}) set it to {version}"
            )
    for alias in sorted(set(file) - set(heads)):
        problems.append(f"{path}: alias {alias} has no move in the audit log (edited by hand?)")
    return problems
