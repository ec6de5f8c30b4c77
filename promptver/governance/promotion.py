"""Alias moves under their policies: ``promote`` (and ``alias set`` / ``alias remove``)
checked against the ``[aliases.<alias>]`` policy (``governance/policy.py`` reads and
combines it), with the approvals and the eval evidence it asks for. ``check_policy`` says
what a promotion has and lacks; ``promote --dry-run`` shows it without moving anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptver.errors import IntegrityError, NotFoundError, PolicyError
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
from promptver.governance.signing import Verdict, author_verdict, run_verdict
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
    author: Verdict | None = None  # the bump's signature, when the policy requires signing

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
            "author_signed_by": self.author.signer if self.author else None,
        }


def check_policy(
    store: Store, manifest: Manifest, alias: str, policy: AliasPolicy | None, events: list[dict[str, Any]]
) -> PolicyCheck:
    result = PolicyCheck(alias, manifest, policy)
    signed = policy is not None and policy.require_signed
    if signed:
        result.author = author_verdict(store, manifest.bundle, manifest.version)
    for decision in decisions(events, manifest.digest):
        decision = decision.with_signature(store, manifest.bundle)
        if decision.signature_problem is not None and "signature" in decision.event:
            result.not_counted.append((decision, f"bad signature: {decision.signature_problem}"))
        elif signed and decision.signed_by is None:
            why = "unsigned" if "signature" not in decision.event else "not signed by an allowed signer"
            result.not_counted.append((decision, f"{why} (the policy requires signed decisions)"))
        elif (
            signed
            and policy is not None
            and policy.approver_not_author
            and decision.decision == APPROVED
            and result.author is not None
            and result.author.same_signer(decision.verdict)
        ):
            result.not_counted.append(
                (decision, f"signed with the key that signed the bump ({result.author.signer}): the author")
            )
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
    if policy.require_signed and (result.author is None or result.author.signer is None):
        why = result.author.problem if result.author is not None else None
        result.missing.append(
            f"a signed author: {result.manifest.ref} was bumped by {author}, not a signed identity"
            f" ({why or 'unsigned'}); the policy requires signed decisions, so the bump must be"
            " signed by an allowed signer who is its author (`promptver bump --key`)"
        )
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
    for candidate in recorded:
        why = run_unfit(candidate, policy, own) or _unsigned_run(store, manifest.bundle, candidate, policy)
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
        signer = run_verdict(store, manifest.bundle, str(run.get("id"))).signer
        result.runs.append({**brief(run), "signed_by": signer})
        score = score_of(run)
        if score is not None and score < policy.min_eval_score:
            result.missing.append(
                f"an eval run on {dataset!r} scoring at least {policy.min_eval_score:g}; the latest"
                f" recorded ({run.get('id')}, {run.get('finished')}) scored {score:.3f}{uncounted}"
            )


def _unsigned_run(store: Store, name: str, run: dict[str, Any], policy: AliasPolicy) -> str | None:
    """Why a run is no evidence under a policy's ``signed_by`` (None: it counts)."""
    if policy.eval_signed_by is None:
        return None
    verdict = run_verdict(store, name, str(run.get("id")))
    wanted = " or ".join(policy.eval_signed_by) or "nobody"
    if verdict.signer is None:
        return f"run {run.get('id')} is not signed by {wanted} ({verdict.problem or 'unsigned'})"
    if not any(
        same_person(verdict.signer, s) or verdict.signer.lower() == s.lower() for s in policy.eval_signed_by
    ):
        return f"run {run.get('id')} is signed by {verdict.signer}, not by {wanted}"
    return None


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


def set_alias(store: Store, name: str, alias: str, ref: str, reason: str | None = None) -> dict[str, Any]:
    """Point an unprotected alias at a version (protected ones go through `promote`)."""
    check_alias(alias)
    with store.lock(name):
        manifest = store.resolve(name, ref)
        states = alias_states(store, name)
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
) -> dict[str, Any]:
    """Move an alias to a version if its policy is met; otherwise `PolicyError` listing
    every missing requirement (nothing is written). ``dry_run``: check only."""
    check_alias(alias)
    with store.lock(name):
        manifest = store.resolve(name, ref)
        refuse_unverified(store, name, f"promote {manifest.ref}")
        events = log_events(store, name, ALIAS_EVENT, "review")
        states = replay(events)
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
    if any(m.startswith("a signed author") for m in missing):
        steps.append("a new version bumped with its author's key (`promptver bump --key`)")
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
