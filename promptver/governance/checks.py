"""What an alias move needs and has: ``check_policy`` (the approvals, rejections, signatures
and eval evidence a promotion of a version to an alias has and lacks under a policy) and
``bad_moves`` (every move of a log re-checked against the policy in force at its point).
Used by `promote` (governance/promotion.py), `verify`, `pull` and the runtime cache; it
never imports `verify`, which imports it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from promptver.errors import PromptverError
from promptver.governance.aliases import EVENT as ALIAS_EVENT
from promptver.governance.aliases import AliasState, Held, apply, checked_manifest
from promptver.governance.approvals import (
    APPROVED,
    CHANGES_REQUESTED,
    Decision,
    RunningDecisions,
    decisions,
    first_latest,
)
from promptver.governance.identities import same_person
from promptver.governance.policy import (
    AliasPolicy,
    declared_datasets,
    declared_policies,
    merge,
    model_label,
    target_accepts,
)
from promptver.governance.signing import Verdict, author_verdict, run_verdict
from promptver.store.events import event_id, read_log
from promptver.store.jsontext import collector_paused
from promptver.store.manifest import Manifest
from promptver.store.store import Store

NAMED = 10  # decisions named in one message; `to_json` (`--json`) lists them all


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

    def to_json(self, decision_json: Callable[[Decision], dict[str, Any]] | None = None) -> dict[str, Any]:
        """``decision_json``: how a decision is written (a caller listing the same
        decisions elsewhere shares their dicts: 50,000 approvals made once)."""
        as_json = decision_json or Decision.to_json
        return {
            "alias": self.alias,
            "version": self.manifest.version,
            "protected": self.policy is not None,
            "policy": self.policy.to_json() if self.policy else None,
            "satisfied": self.ok,
            "approvals": [as_json(d) for d in self.approvals],
            "not_counted": [{**as_json(d), "why": why} for d, why in self.not_counted],
            "changes_requested": [as_json(d) for d in self.rejections],
            "eval_runs": self.runs,
            "missing": self.missing,
            "cannot_be_satisfied": self.impossible,
            "author_signed_by": self.author.signer if self.author else None,
        }


def check_policy(
    store: Store,
    manifest: Manifest,
    alias: str,
    policy: AliasPolicy | None,
    events: list[dict[str, Any]],
    decided: list[Decision] | None = None,
) -> PolicyCheck:
    """``decided``: the decisions on the version with their signatures checked, when the
    caller has them already (else they are worked out from ``events``)."""
    result = PolicyCheck(alias, manifest, policy)
    signed = policy is not None and policy.require_signed
    if signed:
        result.author = author_verdict(store, manifest.bundle, manifest.version)
    if decided is None:
        decided = [
            d.with_signature(store, manifest.bundle)
            for d in decisions(events, manifest.digest, log=lambda: store.events(manifest.bundle))
        ]
    if signed and any(d.signed_by is None for d in decided):
        decided, shadowed = _signed_decisions_stand(store, manifest, events, decided)
        result.not_counted += [
            (d, "its signature does not verify, so it does not replace their signed decision")
            for d in shadowed
        ]
    for decision in decided:
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
    check_evals(store, result, policy)
    return result


def _signed_decisions_stand(
    store: Store, manifest: Manifest, events: list[dict[str, Any]], latest: list[Decision]
) -> tuple[list[Decision], list[Decision]]:
    """Under `require_signed`: each person's latest decision among those whose signature
    verifies, so a later unsigned (or badly signed) line in their name, which anyone can
    append, never lifts their signed rejection. Returns the decisions that stand and the
    later unverified ones they overrule; people with no verified decision keep their latest
    (reported as not counted)."""
    from promptver.governance.identities import person
    from promptver.governance.signing import check

    pool = [  # only this version's review events need their signatures checked
        e
        for e in events
        if e.get("event") != "review"
        or (
            isinstance(e.get("new"), dict)
            and e["new"].get("digest") == manifest.digest
            and "signature" in e
            and check(store, e, manifest.bundle).signer is not None
        )
    ]
    log = lambda: store.events(manifest.bundle)  # noqa: E731
    kept = [d.with_signature(store, manifest.bundle) for d in decisions(pool, manifest.digest, log=log)]
    emails, names, bare = set(), set(), set()  # of the people with a verified decision
    for d in kept:
        name, email = person(d.actor)
        names.add(name)
        if email:
            emails.add(email)
        else:
            bare.add(name)

    def covered(actor: str) -> bool:  # same_person with someone in ``kept``
        name, email = person(actor)
        return (email in emails or name in bare) if email else name in names

    shadowed = [d for d in latest if d.signed_by is None and covered(d.actor)]
    standing = [d for d in latest if not covered(d.actor)] + kept
    standing.sort(key=lambda d: d.seq if isinstance(d.seq, int) else 0)  # log order
    return standing, shadowed


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
            named = [f"{d.actor}, {why}" for d, why in result.not_counted[:NAMED]]
            if len(result.not_counted) > NAMED:
                named.append(f"and {len(result.not_counted) - NAMED:,} more")
            have += " (not counted: " + ", ".join(named) + ")"
        result.missing.append(f"{policy.approvals} {noun}{who}{among}; {have}")


def check_evals(store: Store, result: PolicyCheck, policy: AliasPolicy) -> None:
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
    from promptver.evals.runs.summaries import brief, evidence, latest_run, run_summaries, score_of

    recorded, rejected = evidence(store, manifest.bundle)
    runs = []
    own = model_label(store, manifest)
    calibrations = _calibrations(store, manifest.bundle, policy)
    for candidate in recorded:
        why = (
            run_unfit(candidate, policy, own)
            or _unsigned_run(store, manifest.bundle, candidate, policy)
            or judge_unfit(candidate, policy, calibrations)
        )
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


def _calibrations(store: Store, name: str, policy: AliasPolicy) -> list[dict[str, Any]]:
    if policy.judge is None:
        return []
    from promptver.evals.analysis.calibration import recorded

    return recorded(store.root, name)


def judge_unfit(run: dict[str, Any], policy: AliasPolicy, calibrations: list[dict[str, Any]]) -> str | None:
    """Why a run's judged scores are no evidence under the policy's ``judge`` requirement:
    a judge behind them has no recorded calibration that meets it (None: they count)."""
    if policy.judge is None:
        return None
    from promptver.evals.analysis.calibration import Requirement, calibration_of

    need = Requirement(*policy.judge)
    judges = run.get("judges")
    for judge in judges if isinstance(judges, list) else []:
        judge = judge if isinstance(judge, dict) else {}
        digest = str(judge.get("digest", ""))
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
    from promptver.evals.runs.summaries import latest_complete

    reasons = []
    for run in every:  # newest first
        if counted is not None and run.get("id") == counted.get("id"):
            break
        if latest_complete([run], digest, dataset) is run and str(run.get("id")) in rejected:
            reasons.append(rejected[str(run.get("id"))])
    return f" ({'; '.join(reasons)})" if reasons else ""


# --- every move of a log, re-checked (verify, pull, promote) -------------------------------


def move_problems(
    store: Store, name: str, events: list[dict[str, Any]] | None = None, *, full: bool = False
) -> list[str]:
    """What `verify` says of the moves that break their policy (see `bad_moves`)."""
    return [why for _, why in bad_moves(store, name, events, full=full)]


@collector_paused()
def bad_moves(
    store: Store,
    name: str,
    events: list[dict[str, Any]] | None = None,
    *,
    alias: str | None = None,
    full: bool = False,
) -> list[tuple[int, str]]:
    """Every alias move in a bundle's log (``events``, default the store's) checked against
    the policy as it stood at that point of the history: the policies of the version moved
    to and of the one the alias held, the review decisions and signatures before the move,
    the approvals and eval runs it cites. A move appended to a log by someone who went
    around `promote` (a bucket writer, a pulled history) is named here.

    Of the store's own log (``events`` None), only the moves after its checkpoint
    (governance/checkpoint.py) are checked again, unless ``full``; a whole re-check keeps
    a new checkpoint. For it every alias's moves are checked, even when only ``alias``'s
    are asked for (resolving ``NAME@ALIAS``): that costs little more than its own (the
    log is parsed either way) and keeps the checkpoint, so the first ``show NAME@ALIAS``
    of a fresh clone is the only one to check the whole log."""
    own = events is None  # the store's own log: every alias's moves (see above)
    found = _bad_moves(store, name, events, None if own else alias, full)
    return [(seq, why) for seq, moved, why in found if alias is None or moved == alias]


def _bad_moves(
    store: Store, name: str, events: list[dict[str, Any]] | None, alias: str | None, full: bool
) -> list[tuple[int, str, str]]:
    """`bad_moves` as (seq, alias, why)."""
    from dataclasses import replace as dc_replace

    from promptver.governance import checkpoint

    kept: checkpoint.Moves | None = None
    data, ctx = b"", ""
    if events is None:  # the store's own log: a checkpoint may spare its start
        ctx = checkpoint.context(store)
        raw = b"" if full else checkpoint.log_bytes(store, name)
        kept = None if full else checkpoint.read_moves(store, name, raw, ctx)
        if kept is not None and checkpoint.whole(raw, kept.events):  # nothing to parse
            return [p for p in kept.problems if alias is None or p[1] == alias]
        data, events = read_log(store.log_path(name))
        if not full and data is not raw and data != raw:  # it grew meanwhile
            kept = checkpoint.read_moves(store, name, data, ctx)
    skip = kept.events if kept is not None else 0
    found, exact = (kept.problems, list(kept.exact)) if kept is not None else ([], [])
    problems: list[tuple[int, str, str]] = [p for p in found if alias is None or p[1] == alias]
    states, seen, by_seq = _before(events, skip, alias)  # seen: review events by digest
    unchecked = False  # a move that could not be checked (a version missing): nothing is kept
    pairs: set[tuple[str, str]] = set()  # (version, digest) of every move after ``skip``
    lookups = _Lookups(store, name)
    if len(events) - skip <= FEW:  # (a warm command's few events; a whole pass counts as it goes)
        lookups.once = _promoted_once(events[skip:])
    free = _FreeMoves(states, lookups)
    for event in events[skip:]:
        kind = event.get("event")
        if kind == "eval" and isinstance(event.get("seq"), int):  # a hostile line may hold anything
            by_seq[event["seq"]] = event
        if kind == "review":
            _add_review(seen, event)
        if kind != ALIAS_EVENT:
            continue
        if isinstance(event.get("to"), str):  # a version moved to (the checkpoint keeps them)
            pairs.add((event["to"], str(event.get("to_digest"))))
        if not isinstance(event.get("alias"), str):
            continue
        if alias is not None and event["alias"] != alias:  # only that alias's moves (run time)
            continue
        if free.take(event):
            continue
        try:
            why = _move_problem(store, name, event, states, seen, by_seq, dc_replace, lookups, exact)
        except PromptverError:
            why, unchecked = None, True  # a missing or edited version: verify names it elsewhere
        if why is not None:
            problems.append(
                (
                    event["seq"] if isinstance(event.get("seq"), int) else 0,
                    event["alias"],
                    f"{name}: audit event {event.get('seq')} ({event.get('action')} of {event.get('alias')}"
                    f" to {event.get('to') or 'nothing'}, by {event.get('actor')}) breaks the policy in force"
                    f" at that point: {why}",
                )
            )
        apply(states, event)
    free.settle()
    for digest, running in lookups.runs.items():  # every review on their digests is in ``seen``
        running.offer(seen.get(digest, []))
    if data and alias is None and not unchecked and len(events) > skip:
        now = checkpoint.Moves(len(events), problems, exact)
        now.heads = dict(kept.heads) if kept is not None else {}
        now.heads.update(
            (a, (st.version, st.last.get("seq") if st.last else None)) for a, st in states.items()
        )
        now.pairs = sorted((pairs | set(kept.pairs)) if kept is not None else pairs)
        checkpoint.write_moves(store, name, data, now, ctx, full=full)
    return problems


class _FreeMoves:
    """The moves of a re-check that answer to no policy, not folded into the aliases'
    states one by one: a log of 50,000 ``alias set`` moves of unprotected aliases spent
    two thirds of its re-check on finding, move by move, that nothing protects them.

    A move other than a rollback answers to no policy when neither the version it moves
    to nor the one the alias holds declares one for the alias (a removal: the one it
    holds); `_move_problem` then finds nothing, whatever the reviews and runs. Such moves
    are kept aside, with what the alias holds after them (a rollback's target depends on
    the whole history: not one of them). The first other move of the alias folds them
    into its state, in order; at the end of the pass each alias's last one is folded
    alone, which leaves what it holds and its last move as the whole fold would (what
    the checkpoint keeps), not its history."""

    def __init__(self, states: dict[str, AliasState], lookups: _Lookups) -> None:
        self.states, self.lookups = states, lookups
        self.aside: dict[str, list[dict[str, Any]]] = {}  # alias -> its moves kept aside
        self.holds: dict[str, Held] = {}  # alias -> what it holds after them
        self.known: dict[tuple[str, Held, Held], bool] = {}  # (alias, held, moved to) -> free

    def take(self, event: dict[str, Any]) -> bool:
        """Keep a move of ``event["alias"]`` aside when it answers to no policy (True);
        else fold the alias's moves kept aside into its state (False: check it)."""
        alias, action, to = event["alias"], event.get("action"), event.get("to")
        if alias in self.holds:
            held = self.holds[alias]
        else:
            state = self.states.get(alias)
            held = state.current if state is not None else None
        if action != "rollback":
            moved_to = (
                None if action == "remove" or not isinstance(to, str) else (to, str(event.get("to_digest")))
            )
            key = (alias, held, moved_to)
            free = self.known.get(key)
            if free is None:
                free = self.known[key] = self._free(alias, held, moved_to)
            if free:
                self.aside.setdefault(alias, []).append(event)
                self.holds[alias] = moved_to
                return True
        for kept in self.aside.pop(alias, ()):
            apply(self.states, kept)
        self.holds.pop(alias, None)
        return False

    def _free(self, alias: str, held: Held, moved_to: Held) -> bool:
        """Whether a move from ``held`` to ``moved_to`` (None: a removal) answers to no
        policy; False when a version cannot be read (`_move_problem` raises it)."""
        try:
            if moved_to is None:
                current = self.lookups.manifest(*held) if held is not None else None
                return current is None or alias not in self.lookups.policies(current)
            return self.lookups.in_force(alias, held, moved_to) is None
        except PromptverError:
            return False

    def settle(self) -> None:
        """Fold each alias's last move kept aside (see the class)."""
        for moves in self.aside.values():
            apply(self.states, moves[-1])
        self.aside.clear()
        self.holds.clear()


def exact_citations(store: Store, name: str) -> set[int]:
    """The promotions (by seq) whose recorded ``approvals`` are, by the checkpoint of the
    moves' re-check of this very log, the places of the approvals their ``approval_ids``
    cite: `audit` shows them without computing ids again."""
    from promptver.governance import checkpoint

    kept = checkpoint.read_moves(store, name, checkpoint.log_bytes(store, name), checkpoint.context(store))
    return set(kept.exact) if kept is not None else set()


def _before(
    events: list[dict[str, Any]], skip: int, alias: str | None
) -> tuple[dict[str, AliasState], dict[Any, list[dict[str, Any]]], dict[int, dict[str, Any]]]:
    """What the moves after the first ``skip`` events (checked before) are checked with:
    the states of the aliases they move, the review events by the digest they decide on,
    the eval events by seq."""
    prefix = events[:skip]
    seen: dict[Any, list[dict[str, Any]]] = {}
    if not prefix:
        return {}, seen, {}
    moved = (
        {alias}
        if alias is not None
        else {
            e["alias"] for e in events[skip:] if e.get("event") == ALIAS_EVENT and type(e.get("alias")) is str
        }
    )
    targets = {str(e.get("to_digest")) for e in events[skip:] if e.get("event") == ALIAS_EVENT}
    states: dict[str, AliasState] = {}
    by_seq: dict[int, dict[str, Any]] = {}
    for event in prefix:  # one pass (each event is touched once: 100,000 of them at 35 ms a pass)
        kind = event.get("event")
        if type(name := event.get("alias")) is str and name in moved:  # (a hostile one: any JSON)
            apply(states, event)
        if (  # only the decisions on the versions moved to are read (`_move_problem`)
            kind == "review"
            and isinstance(new := event.get("new"), dict)
            and isinstance(digest := new.get("digest"), str)
            and digest in targets
        ):
            seen.setdefault(digest, []).append(event)
        elif kind == "eval" and isinstance(seq := event.get("seq"), int):
            by_seq[seq] = event
    return states, seen, by_seq


def _add_review(seen: dict[Any, list[dict[str, Any]]], event: dict[str, Any]) -> None:
    """A review event, indexed by the digest it decides on (what `check_policy` of a move
    to that digest reads: only its decisions count)."""
    new = event.get("new")
    if isinstance(new, dict) and isinstance(digest := new.get("digest"), str):  # else it decides on nothing
        seen.setdefault(digest, []).append(event)


def _move_problem(
    store: Store,
    name: str,
    event: dict[str, Any],
    states: dict[str, AliasState],
    seen: dict[Any, list[dict[str, Any]]],
    by_seq: dict[int, dict[str, Any]],
    dc_replace: Any,
    lookups: _Lookups,
    exact: list[int],
) -> str | None:
    alias, action, to = event["alias"], event.get("action"), event.get("to")
    state = states.get(alias)
    held = state.current if state is not None else None
    if action == "remove" or not isinstance(to, str):
        current = lookups.manifest(*held) if held is not None else None
        if current is not None and alias in lookups.policies(current):
            return f"{alias} is protected: removing it leaves nothing serving"
        return None
    moved_to = (to, str(event.get("to_digest")))
    if action == "rollback":
        if held is not None:
            lookups.manifest(*held)
        target = lookups.manifest(*moved_to)
        earlier = state.history[:-1] if state is not None else []
        if (to, target.digest) not in [h for h in earlier if h is not None]:
            return f"a rollback to {to}, which {alias} never held before"
        return None
    policy = lookups.in_force(alias, held, moved_to)
    if policy is None:
        return None
    target = lookups.manifest(*moved_to)
    if action != "promote":
        return f"{alias} is protected ({policy.describe()}); only a promotion may move it"
    reviews = seen.get(target.digest, [])  # the decisions on the version moved to
    proven = _proven_citations(event, policy, target, reviews, lookups)
    if proven is not None:  # what the whole count below would find, from the cited approvals alone
        if event.get("approvals") == [proven[i] for i in event["approval_ids"]] and isinstance(
            event.get("seq"), int
        ):
            exact.append(event["seq"])
        return _eval_problem(event, policy, target, by_seq)
    result = lookups.check(target, alias, dc_replace(policy, min_eval_score=None), reviews)
    if not result.ok:
        return "; ".join(result.impossible + result.missing)
    if isinstance(event.get("approval_ids"), list):  # cited by identity (position-independent)
        wanted = {i for i in event["approval_ids"] if isinstance(i, str)}
        counted_ids: dict[str, Any] = {}  # id -> seq
        for decision in result.approvals:  # ids only until every cited one is found
            if wanted <= counted_ids.keys():
                break
            counted_ids[event_id(decision.event)] = decision.seq
        for cited_id in event["approval_ids"]:
            if not isinstance(cited_id, str) or cited_id not in counted_ids:
                return (
                    f"it cites {str(cited_id)[:19]}... as an approval of {to}, which no counted approval is"
                )
        if event.get("approvals") == [counted_ids[i] for i in event["approval_ids"]] and isinstance(
            event.get("seq"), int
        ):
            exact.append(event["seq"])  # its recorded seqs are where the cited approvals are
        return _too_few_cited(len(wanted), policy, to) or _eval_problem(event, policy, target, by_seq)
    cited: list[Any] = event["approvals"] if isinstance(event.get("approvals"), list) else []
    counted = {d.seq for d in result.approvals}
    for seq in cited:
        if not isinstance(seq, int) or seq not in counted:
            return (
                f"it cites event {seq} as an approval of {to}, which that event is not (or it does not count)"
            )
    return _too_few_cited(len(set(cited)), policy, to) or _eval_problem(event, policy, target, by_seq)


FEW = 4096  # events after a checkpoint whose promotions may each be proven by a scan


def _promoted_once(events: list[dict[str, Any]]) -> set[str]:
    """The digests exactly one of ``events`` promotes to."""
    counted = Counter(
        d for e in events if e.get("action") == "promote" and type(d := e.get("to_digest")) is str
    )
    return {digest for digest, times in counted.items() if times == 1}


def _proven_citations(
    event: dict[str, Any],
    policy: AliasPolicy,
    target: Manifest,
    reviews: list[dict[str, Any]],
    lookups: _Lookups,
) -> dict[str, Any] | None:
    """The seq of each approval a promotion cites by id, when those alone show that the
    approvals of ``policy`` held at the promotion (what `check_policy` then `_move_problem`
    would find, without counting everyone's decisions): nobody's latest decision is a change
    request, and each cited event is the latest decision of its person, an unsigned approval
    that counts, as many distinct ones as the policy asks for. None: the whole count decides
    (signatures, a change request, a citation by seq or of an approval that does not count,
    too few cited, a policy nobody can meet: it names what is wrong)."""
    ids = event.get("approval_ids")
    if target.digest in lookups.once:  # its one promotion in this pass: a scan costs less than a count
        first = first_approvals(target, policy, reviews)  # what `promote` cites
        if first is not None and [event_id(d.event) for d in first] == ids:
            return {event_id(d.event): d.seq for d in first}
    running = lookups.running(target.digest, reviews)
    if (
        not _running_decides(policy, target, running)
        or not isinstance(ids, list)
        or not all(isinstance(i, str) for i in ids)
        or len(set(ids)) < policy.approvals
    ):
        return None
    wanted, found = set(ids), dict[str, Any]()
    for review in running.latest.values():  # the first counted ones are cited: found early
        if wanted <= found.keys():
            break
        if not _counts(review, policy, target.author):
            continue
        identity = event_id(review)
        if identity in wanted and "signature" in review:
            return None  # its signature decides whether it counts
        found[identity] = review.get("seq")
    return found if wanted <= found.keys() else None


def first_approvals(
    manifest: Manifest, policy: AliasPolicy | None, reviews: list[dict[str, Any]]
) -> list[Decision] | None:
    """The approvals a promotion of ``manifest`` would cite (the first ``policy.approvals``
    that count, in log order) when the approvals part of the policy holds, found without
    counting everyone's decisions (`check_policy` makes a `Decision` of each of 50,000);
    None: `check_policy` decides (a signature, a change request, too few approvals, no
    policy...). The same answer as ``check_policy(...).approvals[:policy.approvals]``."""
    if policy is None or policy.require_signed or not _can_be_met(policy, manifest):
        return None
    first = first_latest(
        reviews, manifest.digest, lambda e: _counts(e, policy, manifest.author), policy.approvals
    )
    return [Decision.of(event) for event in first] if first is not None else None


def _running_decides(policy: AliasPolicy, target: Manifest, running: RunningDecisions) -> bool:
    """Whether the running decisions alone can show the approvals part of ``policy``
    holds: no signed policy, `decisions`'s simple case, nobody's latest decision a change
    request, and a policy that can be met."""
    return not (policy.require_signed or not running.simple or running.rejecting) and _can_be_met(
        policy, target
    )


def _can_be_met(policy: AliasPolicy, target: Manifest) -> bool:
    """Enough listed approvers may approve ``target`` (else `check_policy` names it impossible)."""
    approvers = policy.approvers
    return approvers is None or policy.approvals <= sum(
        not (policy.approver_not_author and same_person(a, target.author)) for a in approvers
    )


def _counts(review: dict[str, Any], policy: AliasPolicy, author: str) -> bool:
    """Whether a person's latest decision (an unsigned review event) is an approval
    `check_policy` counts under an unsigned ``policy``: not one by the author where
    authors may not approve, nor of their own working copy, and by a listed approver."""
    actor = review["actor"]
    return not (
        review.get("decision") != APPROVED
        or (
            (review["new"].get("version") is None or policy.approver_not_author)
            and same_person(actor, author)
        )
        or (policy.approvers is not None and not any(same_person(actor, a) for a in policy.approvers))
    )


def _too_few_cited(cited: int, policy: AliasPolicy, to: Any) -> str | None:
    """A promotion names the approvals it relies on, as many as its policy asks for (every
    counted one, before promotions cited only those): one that names fewer proves less than
    it claims, even where the log holds enough."""
    if cited >= policy.approvals:
        return None
    noun = "approval" if cited == 1 else "approvals"
    return f"it cites {cited} {noun} of {to}; the policy asks for {policy.approvals}"


class _Lookups:
    """The manifests and declared policies one re-check of a log asks for, each read and
    parsed once: a log of 50,000 moves between two versions names two manifests (a
    `effective_policy` per move read both and their bundle.toml every time). The
    store does not change during one re-check; an error is kept and raised again."""

    def __init__(self, store: Store, name: str) -> None:
        self.store, self.name = store, name
        self._manifests: dict[tuple[str, str], Manifest | PromptverError] = {}
        self._policies: dict[str, dict[str, AliasPolicy] | PromptverError] = {}
        self._checks: dict[tuple[str, str, AliasPolicy, int], PolicyCheck] = {}
        self._in_force: dict[tuple[str, Held, tuple[str, str]], AliasPolicy | None] = {}
        self.runs: dict[str, RunningDecisions] = {}  # by digest
        self.once: set[str] = set()  # the digests one promotion of the pass moves to

    def check(
        self, target: Manifest, alias: str, policy: AliasPolicy, reviews: list[dict[str, Any]]
    ) -> PolicyCheck:
        """`check_policy` of a move to ``target``, worked out once for the same policy and
        the same decisions on it: ``reviews`` (the review events on its digest so far in
        this pass) only grows, so its length says which they are. Two promotions of one
        version with no decision between them (a promotion, a rollback, the same version
        promoted to two aliases) count its decisions once."""
        from dataclasses import replace

        key = (target.digest, alias, replace(policy, sources=()), len(reviews))  # sources: named only
        if key not in self._checks:
            self._checks[key] = check_policy(self.store, target, alias, policy, reviews)
        return self._checks[key]

    def running(self, digest: str, reviews: list[dict[str, Any]]) -> RunningDecisions:
        """The running decisions on ``digest``, with the ``reviews`` on it so far taken in (the
        list only grows during one pass)."""
        if digest not in self.runs:
            self.runs[digest] = RunningDecisions(digest)
        self.runs[digest].take(reviews)
        return self.runs[digest]

    def in_force(self, alias: str, held: Held, moved_to: tuple[str, str]) -> AliasPolicy | None:
        """The policy a move of ``alias`` from ``held`` to ``moved_to`` answers to: the
        target's, merged with the current version's when they differ (None: unprotected).
        Worked out once per (alias, held, moved_to): a log of 50,000 ``alias set`` moves
        asks the same question of a few pairs of versions (the manifests are looked up in
        the same order as without it, so the same one fails first)."""
        key = (alias, held, moved_to)
        if key not in self._in_force:
            current = self.manifest(*held) if held is not None else None
            target = self.manifest(*moved_to)
            policy = self.policies(target).get(alias)
            if current is not None and current.digest != target.digest:
                policy = merge(policy, self.policies(current).get(alias))
            self._in_force[key] = policy
        return self._in_force[key]

    def manifest(self, version: str, digest: str) -> Manifest:
        key = (version, digest)
        if key not in self._manifests:
            try:
                self._manifests[key] = checked_manifest(self.store, self.name, version, digest)
            except PromptverError as exc:
                self._manifests[key] = exc
        found = self._manifests[key]
        if isinstance(found, PromptverError):
            raise found
        return found

    def policies(self, manifest: Manifest) -> dict[str, AliasPolicy]:
        if manifest.digest not in self._policies:
            try:
                self._policies[manifest.digest] = declared_policies(self.store, manifest)
            except PromptverError as exc:
                self._policies[manifest.digest] = exc
        found = self._policies[manifest.digest]
        if isinstance(found, PromptverError):
            raise found
        return found


def _eval_problem(
    event: dict[str, Any], policy: AliasPolicy, target: Manifest, by_seq: dict[int, dict[str, Any]]
) -> str | None:
    """A promotion under an eval requirement must cite a recorded run of the version, made
    before it, that scored enough."""
    if policy.min_eval_score is not None:
        runs: list[Any] = event["eval_runs"] if isinstance(event.get("eval_runs"), list) else []
        recorded = {
            e["run"]: e
            for e in by_seq.values()
            if e.get("event") == "eval"
            and isinstance(e.get("run"), str)
            and e.get("digest") == target.digest
            and e is not event
        }
        good = [
            r
            for r in runs
            if isinstance(r, str)
            and r in recorded
            and isinstance(recorded[r].get("score"), int | float)
            and recorded[r]["score"] >= policy.min_eval_score
        ]
        if not good:
            return (
                f"an eval score of at least {policy.min_eval_score:g} is required, and the move cites"
                " no recorded run of the version before it that scored it"
            )
    return None


def alias_guard(store: Store) -> Any:
    """For ``store.alias_check``: why an alias's last move may not be followed (it breaks
    the policy in force at its point), else None; one verdict per move and log state."""
    verdicts: dict[tuple[str, str, Any], str | None] = {}

    def check(name: str, alias: str, head: dict[str, Any]) -> str | None:
        try:
            stat = store.log_path(name).stat()
            key = (name, alias, (stat.st_ino, stat.st_size, stat.st_mtime_ns))
        except OSError:
            return None
        if key not in verdicts:
            bad = dict(bad_moves(store, name, alias=alias))
            seq = head.get("seq")
            verdicts[key] = bad.get(seq) if isinstance(seq, int) else None
        return verdicts[key]

    return check
