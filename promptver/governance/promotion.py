"""Alias moves under their policies: ``promote`` (and ``alias set`` / ``alias remove``)
checked against the ``[aliases.<alias>]`` policy (``governance/policy.py`` reads and
combines it), with the approvals and the eval evidence it asks for. ``check_policy`` says
what a promotion has and lacks; ``promote --dry-run`` shows it without moving anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptver.errors import IntegrityError, NotFoundError, PolicyError, did_you_mean
from promptver.evals.summaries import brief, evidence, latest_complete, latest_run, run_summaries, score_of
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
from promptver.governance.approvals import APPROVED, CHANGES_REQUESTED, Decision, decisions
from promptver.governance.identities import same_person
from promptver.governance.policy import (
    AliasPolicy,
    declared_datasets,
    declared_policies,
    effective_policy,
    model_label,
    target_accepts,
)
from promptver.store.manifest import Manifest
from promptver.store.store import Store, check_name


@dataclass
class PolicyCheck:
    """What a promotion of ``manifest`` to ``alias`` has and lacks under ``policy``."""

    alias: str
    manifest: Manifest
    policy: AliasPolicy | None
    approvals: list[Decision] = field(default_factory=list)
    not_counted: list[tuple[Decision, str]] = field(default_factory=list)
    rejections: list[Decision] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    impossible: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.impossible

    def to_json(self) -> dict[str, Any]:
        return {
            "alias": self.alias,
            "version": self.manifest.version,
            "protected": self.policy is not None,
            "policy": self.policy.to_json() if self.policy else None,
            "satisfied": self.ok,
            "approvals": [d.to_json() for d in self.approvals],
            "not_counted": [{**d.to_json(), "why": why} for d, why in self.not_counted],
            "changes_requested": [d.to_json() for d in self.rejections],
            "eval_runs": self.runs,
            "missing": self.missing,
            "cannot_be_satisfied": self.impossible,
        }


def check_policy(
    store: Store, manifest: Manifest, alias: str, policy: AliasPolicy | None, events: list[dict[str, Any]]
) -> PolicyCheck:
    result = PolicyCheck(alias, manifest, policy)
    for decision in decisions(events, manifest.digest):
        decision = decision.with_signature(store)
        if decision.signature_problem is not None and "signature" in decision.event:
            result.not_counted.append((decision, f"bad signature: {decision.signature_problem}"))
        elif policy and policy.require_signed and decision.signed_by is None:
            why = "unsigned" if "signature" not in decision.event else "not signed by an allowed signer"
            result.not_counted.append((decision, f"{why} (the policy requires signed decisions)"))
        elif decision.version is None and same_person(decision.actor, manifest.author):
            if decision.decision == APPROVED:
                result.not_counted.append((decision, "the author, approving their own working copy"))
        elif decision.decision == CHANGES_REQUESTED:
            result.rejections.append(decision)
        elif decision.decision != APPROVED:
            continue
        elif policy and policy.approver_not_author and same_person(decision.actor, manifest.author):
            result.not_counted.append((decision, "the author"))
        elif (
            policy
            and policy.approvers is not None
            and not any(same_person(decision.actor, a) for a in policy.approvers)
        ):
            result.not_counted.append((decision, "not a listed approver"))
        else:
            result.approvals.append(decision)
    if policy is None:
        return result
    _check_approvals(result, policy)
    _check_evals(store, result, policy)
    return result


def _check_approvals(result: PolicyCheck, policy: AliasPolicy) -> None:
    author = result.manifest.author
    for rejection in result.rejections:
        note = f": {rejection.note}" if rejection.note else ""
        result.missing.append(
            f"{rejection.actor} requested changes (event {rejection.seq}, {rejection.time}){note};"
            " their approval is needed instead"
        )
    if policy.approvers is not None:
        eligible = [
            a for a in policy.approvers if not (policy.approver_not_author and same_person(a, author))
        ]
        if len(eligible) < policy.approvals:
            result.impossible.append(
                f"{policy.approvals} approvals are required from {', '.join(policy.approvers) or 'nobody'},"
                f" but only {len(eligible)} of them may approve a version by {author}"
            )
            return
    if len(result.approvals) < policy.approvals:
        noun = "approval" if policy.approvals == 1 else "approvals"
        who = f" by someone other than the author ({author})" if policy.approver_not_author else ""
        among = f" from {', '.join(policy.approvers)}" if policy.approvers is not None else ""
        have = f"has {len(result.approvals)}"
        if result.not_counted:
            have += " (not counted: " + ", ".join(f"{d.actor}, {why}" for d, why in result.not_counted) + ")"
        result.missing.append(f"{policy.approvals} {noun}{who}{among}; {have}")


def _check_evals(store: Store, result: PolicyCheck, policy: AliasPolicy) -> None:
    if policy.min_eval_score is None:
        return
    manifest = result.manifest
    declared = declared_datasets(store, manifest)
    datasets = list(policy.eval_datasets) if policy.eval_datasets is not None else declared
    if not datasets:
        result.impossible.append(
            f"an eval score of at least {policy.min_eval_score:g} is required,"
            f" but {manifest.ref} declares no eval dataset"
        )
        return
    unknown = [d for d in datasets if d not in declared]
    if unknown:
        result.impossible.append(
            f"an eval score on {', '.join(repr(d) for d in unknown)} is required,"
            f" but {manifest.ref} has no such eval dataset (it has: {', '.join(declared) or 'none'})"
        )
        return
    recorded, rejected = evidence(store, manifest.bundle)
    runs = []
    own = model_label(store, manifest)
    calibrations = _calibrations(store, manifest.bundle, policy)
    for candidate in recorded:
        why = run_unfit(candidate, policy, own) or judge_unfit(candidate, policy, calibrations)
        if why is None:
            runs.append(candidate)
        else:
            rejected[str(candidate.get("id"))] = why
    every = run_summaries(store, manifest.bundle) if rejected else runs
    for dataset in datasets:
        run = latest_run(store, manifest.bundle, manifest.digest, dataset, runs=runs)
        uncounted = _uncounted(manifest.digest, dataset, every, run, rejected)
        if run is None:
            result.missing.append(
                f"an eval run on {dataset!r} scoring at least {policy.min_eval_score:g}; there is no"
                f" recorded complete run of {manifest.ref} ({manifest.digest[:15]}) on it{uncounted}"
            )
            continue
        result.runs.append(brief(run))
        score = score_of(run)
        if score is not None and score < policy.min_eval_score:
            result.missing.append(
                f"an eval run on {dataset!r} scoring at least {policy.min_eval_score:g}; the latest"
                f" recorded ({run.get('id')}, {run.get('finished')}) scored {score:.3f}{uncounted}"
            )


def run_unfit(run: dict[str, Any], policy: AliasPolicy, own_model: str | None) -> str | None:
    """Why a recorded run is no evidence under ``policy`` (None: it may count): made by
    another target than the policy accepts, or with too many errored cases."""
    target = run.get("target")
    if not target_accepts(policy.eval_targets, target, own_model):
        wanted = " or ".join(
            f"the version's model ({own_model or 'none declared'})" if t == "model" else t
            for t in policy.eval_targets
        )
        return f"run {run.get('id')} evaluated {target or 'an unknown target'}, not {wanted}"
    summary: dict[str, Any] = run["summary"] if isinstance(run.get("summary"), dict) else {}
    cases, errors = summary.get("cases"), summary.get("errors", 0)
    if not isinstance(cases, int) or not isinstance(errors, int) or cases <= 0:
        return None if errors == 0 else f"run {run.get('id')} has no case count"
    if errors / cases > policy.max_error_rate:
        allowed = "none may" if policy.max_error_rate == 0 else f"at most {policy.max_error_rate:.0%} may"
        return f"run {run.get('id')}: {errors} of {cases} cases errored ({allowed})"
    return None


def _calibrations(store: Store, name: str, policy: AliasPolicy) -> list[dict[str, Any]]:
    if policy.judge is None:
        return []
    from promptver.evals.calibration import recorded

    return recorded(store.root, name)


def judge_unfit(run: dict[str, Any], policy: AliasPolicy, calibrations: list[dict[str, Any]]) -> str | None:
    """Why a run's judged scores are no evidence under the policy's ``judge`` requirement:
    a judge behind them has no recorded calibration that meets it (None: they count)."""
    if policy.judge is None:
        return None
    from promptver.evals.calibration import Requirement, calibration_of

    need = Requirement(*policy.judge)
    for judge in run.get("judges") or []:
        digest = str(judge.get("digest")) if isinstance(judge, dict) else ""
        found = calibration_of(calibrations, digest)
        if found is None or not need.met_by(found):
            state = "is not calibrated" if found is None else "is calibrated below it"
            return (
                f"run {run.get('id')}: its judge ({judge.get('model')}, {judge.get('prompt')}, "
                f"{digest[:15]}) {state} ({need.describe()})"
            )
    return None


def _uncounted(
    digest: str,
    dataset: str,
    every: list[dict[str, Any]],
    counted: dict[str, Any] | None,
    rejected: dict[str, str],
) -> str:
    """Why the complete runs newer than the counted one (all, when none counts) are no
    evidence, so "but I ran it" is answered: not recorded, edited, missing."""
    reasons = []
    for run in every:  # newest first
        if counted is not None and run.get("id") == counted.get("id"):
            break
        if latest_complete([run], digest, dataset) is run and str(run.get("id")) in rejected:
            reasons.append(rejected[str(run.get("id"))])
    return f" ({'; '.join(reasons)})" if reasons else ""


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
        events = log_events(store, name, ALIAS_EVENT, "review")
        states = replay(events)
        if not create:
            refuse_new_alias(store, name, alias, manifest, states, strict=True)
        state = states.get(alias, AliasState(alias))
        refuse_if_already(alias, state, manifest)
        policy = effective_policy(store, alias, manifest, current_manifest(store, name, state))
        result = check_policy(store, manifest, alias, policy, events)
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
        extra = {
            "policy": policy.to_json() if policy else None,
            "approvals": [d.seq for d in result.approvals],
            "eval_runs": [run["id"] for run in result.runs],
        }
        event = move(store, states, name, alias, "promote", manifest, reason, extra, dry_run, key)
        if dry_run:  # what the promotion would rely on, named
            event["evidence"] = {
                "approvals": [d.to_json() for d in result.approvals],
                "eval_runs": result.runs,
                "policy": policy.describe() if policy else None,
            }
        return event


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
    if any("approval" in m or "requested changes" in m for m in missing):
        steps.append(f"`promptver approve {manifest.ref}` (by a reviewer)")
    if any("eval run" in m for m in missing):
        steps.append(f"`promptver eval {manifest.ref}`")
    return ("get them with " + " and ".join(steps) + ", then promote again") if steps else "promote again"


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
