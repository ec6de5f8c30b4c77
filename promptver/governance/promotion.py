"""Alias moves under their policies: ``promote`` (and ``alias set`` / ``alias remove``)
checked against the ``[aliases.<alias>]`` policy (``governance/policy.py`` reads and
combines it), with the approvals and the eval evidence it asks for. ``check_policy`` says
what a promotion has and lacks; ``promote --dry-run`` shows it without moving anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from promptver.errors import IntegrityError, NotFoundError, PolicyError, did_you_mean
from promptver.governance.aliases import (
    EVENT as ALIAS_EVENT,
)
from promptver.governance.aliases import (
    AliasState,
    alias_states,
    check_alias,
    current_manifest,
    log_events,
    move,
    no_alias_error,
    pointers,
    refuse_if_already,
    replay,
)
from promptver.governance.approvals import Decision
from promptver.governance.checks import PolicyCheck, check_evals, check_policy, first_approvals, run_unfit  # noqa: F401 (re-exported)
from promptver.governance.policy import (
    AliasPolicy,
    declared_policies,
    effective_policy,
)
from promptver.store.events import event_id
from promptver.store.jsontext import collector_paused
from promptver.store.manifest import Manifest
from promptver.store.store import Store, check_name

# --- alias moves under their policies -------------------------------------------------------


def refuse_new_alias(
    store: Store, name: str, alias: str, manifest: Manifest, states: dict[str, AliasState], *, strict: bool
) -> None:
    """A typo must not make a new alias (``promote x@1.0.0 --to prodution`` would start an
    unprotected twin of production). An alias the bundle never had is made only on purpose:
    declared in the version's ``[aliases.ALIAS]``, or asked for with ``create`` (checked by
    the caller). ``strict`` (promote): every other new alias is refused; otherwise
    (``alias set``, the command that makes unprotected aliases) only one whose name is
    close to an existing or declared alias."""
    if alias in states:
        return
    declared = declared_policies(store, manifest)
    if alias in declared:
        return
    known = sorted({a for a, s in states.items() if s.current is not None} | set(declared))
    guess = did_you_mean(alias, known)
    if not strict and guess is None:
        return
    if strict:
        command = f"promptver promote {manifest.ref} --to {alias}"
    else:
        command = f"promptver alias set {name} {alias} {manifest.version}"
    how = (
        f"To make a new alias {alias!r}, declare [aliases.{alias}] in bundle.toml and bump,"
        f" or run `{command} --create`"
    )
    listed = f" (aliases of {name}: {', '.join(known)})" if known and guess is None else ""
    raise NotFoundError(
        f"{name} has no alias {alias!r}{listed} and {manifest.ref} declares no [aliases.{alias}]",
        hint=f"{guess} {how}" if guess else how,
    )


@collector_paused()
def set_alias(
    store: Store, name: str, alias: str, ref: str, reason: str | None = None, *, create: bool = False
) -> dict[str, Any]:
    """Point an unprotected alias at a version (protected ones go through `promote`)."""
    check_alias(alias)
    with store.lock(name):
        manifest = store.resolve(name, ref)
        states = alias_states(store, name)
        if not create:
            refuse_new_alias(store, name, alias, manifest, states, strict=False)
        state = states.get(alias, AliasState(alias))
        refuse_if_already(alias, state, manifest)
        policy = effective_policy(store, alias, manifest, current_manifest(store, name, state))
        if policy is not None:
            raise PolicyError(
                f"{alias} is a protected alias of {name} ({policy.describe()},"
                f" declared in {', '.join(name + '@' + v for v in policy.sources)})",
                hint=f"use `promptver promote {manifest.ref} --to {alias}`, which checks the policy",
            )
        return move(store, states, name, alias, "set", manifest, reason)


@collector_paused()
def promote(
    store: Store,
    name: str,
    ref: str,
    alias: str,
    reason: str | None = None,
    *,
    dry_run: bool = False,
    key: Path | None = None,
    create: bool = False,
) -> dict[str, Any]:
    """Move an alias to a version if its policy is met; otherwise `PolicyError` listing
    every missing requirement (nothing is written). ``dry_run``: check only. An alias the
    bundle never had must be declared by the version, or ``create`` asked for."""
    check_alias(alias)
    with store.lock(name):
        manifest = store.resolve(name, ref)
        refuse_unverified(store, name, f"promote {manifest.ref}")
        log_events(store, name, ALIAS_EVENT, "review")  # one parse: most of a long log
        moves = log_events(store, name, ALIAS_EVENT)  # (each kind then from its index)
        states = replay(moves)
        if not create:
            refuse_new_alias(store, name, alias, manifest, states, strict=True)
        state = states.get(alias, AliasState(alias))
        refuse_if_already(alias, state, manifest)
        policy = effective_policy(store, alias, manifest, current_manifest(store, name, state))
        reviews = log_events(store, name, "review")  # what decisions are made of
        first = None if dry_run else first_approvals(manifest, policy, reviews)
        if first is not None and policy is not None:  # the approvals hold: only the evals are left
            result = PolicyCheck(alias, manifest, policy, approvals=first)
            check_evals(store, result, policy)
        else:  # every decision counted (and named, when some are missing)
            result = check_policy(store, manifest, alias, policy, reviews)
        if result.impossible:
            raise PolicyError(
                f"the policy of {alias} cannot be satisfied for {manifest.ref}:\n"
                + "\n".join(f"  - {line}" for line in result.impossible),
                hint=f"fix [aliases.{alias}] in bundle.toml and bump a new version",
            )
        if result.missing:
            raise PolicyError(
                f"cannot promote {manifest.ref} to {alias}; missing:\n"
                + "\n".join(f"  - {line}" for line in result.missing),
                hint=_promote_hint(manifest, result.missing),
            )
        cited = cited_approvals(result, policy)
        extra = {
            "policy": policy.to_json() if policy else None,
            "approvals": [d.seq for d in cited],
            "approval_ids": [event_id(d.event) for d in cited],
            "eval_runs": [run["id"] for run in result.runs],
        }
        event = move(store, states, name, alias, "promote", manifest, reason, extra, dry_run, key)
        if dry_run:  # what the promotion would rely on, named
            event["evidence"] = {
                "approvals": [d.to_json() for d in cited],
                "counted_approvals": len(result.approvals),
                "eval_runs": result.runs,
                "policy": policy.describe() if policy else None,
            }
        return event


def cited_approvals(result: PolicyCheck, policy: AliasPolicy | None) -> list[Decision]:
    """The approvals a promotion cites as its evidence: the first ones (in log order) of
    those counted, as many as the policy asks for. More prove nothing more (`verify`
    re-checks the whole policy at that point of the log, rejections included), and citing
    every one made a version approved by 50,000 people a 4 MB line to write, parse and
    check by id at every promotion. Promotions made before cited every counted approval;
    `verify` accepts both."""
    return result.approvals[: policy.approvals] if policy is not None else []


def refuse_unverified(store: Store, name: str, what: str) -> None:
    """A promotion decides on the audit trail: refuse when it does not verify (an edited or
    truncated log, a manifest without its event, a hand-edited pointer). An edited run is
    not a reason: it is simply no evidence (the policy check says so)."""
    from promptver.governance.verify import bundle_problems

    problems = bundle_problems(store, name, runs=False, objects=False)
    if problems:
        raise IntegrityError(
            f"cannot {what}: the audit trail of {name} does not verify:\n"
            + "\n".join(f"  - {p}" for p in problems[:10]),
            hint="restore the store from git (`git checkout -- .promptver`), then try again",
        )


def _promote_hint(manifest: Manifest, missing: list[str]) -> str:
    steps = []
    if any(m.startswith("a signed author") for m in missing):
        steps.append("a new version bumped with its author's key (`promptver bump --key`)")
    if any("approval" in m or "requested changes" in m for m in missing):
        steps.append(f"`promptver approve {manifest.ref}` (by a reviewer)")
    if any("eval run" in m for m in missing):
        steps.append(f"`promptver eval {manifest.ref}`")
    return ("get them with " + " and ".join(steps) + ", then promote again") if steps else "promote again"


@collector_paused()
def remove_alias(store: Store, name: str, alias: str, reason: str | None = None) -> dict[str, Any]:
    check_alias(alias)
    with store.lock(name):
        states = alias_states(store, name)
        state = states.get(alias, AliasState(alias))
        current = current_manifest(store, name, state)
        if current is None:
            raise no_alias_error(store, name, alias)
        if alias in declared_policies(store, current):
            raise PolicyError(
                f"{alias} is a protected alias of {name}: removing it would leave nothing serving",
                hint=f"use `promptver rollback {name} {alias}` or `promptver promote`",
            )
        return move(store, states, name, alias, "remove", None, reason)


def list_aliases(store: Store, name: str | None = None) -> list[dict[str, Any]]:
    """Current aliases of one bundle or of every bundle, with their last move."""
    names = [name] if name is not None else store.bundle_names()
    if name is not None:
        check_name(name)
        if name not in store.bundle_names():
            store.resolve(name, "latest")  # the unknown-bundle error, with suggestions
    rows = []
    for bundle in names:
        targets = pointers(store, bundle)
        states = alias_states(store, bundle)
        for alias in sorted(targets):
            version = targets[alias]["version"]
            last = states[alias].last if alias in states else None
            try:
                protected = alias in declared_policies(store, store.manifest(bundle, version))
            except (NotFoundError, IntegrityError):
                protected = False
            rows.append(
                {
                    "bundle": bundle,
                    "alias": alias,
                    "version": version,
                    "digest": targets[alias].get("digest"),
                    "moved": last.get("time") if last else None,
                    "by": last.get("actor") if last else None,
                    "action": last.get("action") if last else None,
                    "reason": last.get("reason") if last else None,
                    "protected": protected,
                }
            )
    return rows
