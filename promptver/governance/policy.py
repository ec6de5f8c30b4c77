"""Protected aliases: the ``[aliases.<alias>]`` policy of ``bundle.toml``, read and combined.

    [aliases.production]
    approvals = 1                 # approvals needed (default 1)
    approver_not_author = true    # the version's author's approval does not count (default)
    approvers = ["ana@example.com", "Marco <marco@example.com>"]   # optional: who may approve
    eval = { dataset = "golden", target = "model", min_score = 0.9 }   # optional: eval evidence
    # eval = { ..., signed_by = ["ci@example.com"] }: the run's eval event signed by one of them
    require_signed = false        # true: only approvals signed by an allowed signer count
    judge = { min_tpr = 0.9, min_tnr = 0.9, min_labels = 100 }   # optional: calibrated judges

``eval``: a recorded, unedited, complete run of the exact version on ``dataset`` (default:
each declared one) by ``target`` (default ``model``: the version's own ``[model]``;
``retrieval``; or an exact ``python:module:function``, which never counts unless named),
with at most ``max_error_rate`` of its cases errored (default 0) and a score of at least
``min_score``. The older keys ``min_eval_score`` and ``eval_dataset`` mean the same with
``target = "model"``.

``judge``: a run with judged scores (``llm-judge``) counts as eval evidence only when every
judge behind them (by digest: model, parameters, prompt) has a recorded calibration
against human labels (`promptver judge calibrate`) that meets it (defaults: 0.9, 0.9, 100).

The policy that applies to a move is the strictest combination of the one in the version
being promoted and the one in the version the alias points at now, so a version cannot
remove its own protection: a looser policy takes effect once a version carrying it has been
promoted under the old one. The policy is read from the raw TOML (not the full schema), so
an old version stays readable whatever later releases add to the schema.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from typing import Any

from promptver.bundle.spec import SPEC_FILE
from promptver.errors import IntegrityError, PromptverError
from promptver.governance.aliases import pointers
from promptver.governance.identities import same_person
from promptver.store.manifest import Manifest
from promptver.store.store import Store


@dataclass(frozen=True)
class AliasPolicy:
    alias: str
    approvals: int = 1
    approver_not_author: bool = True
    approvers: tuple[str, ...] | None = None  # None: anyone may approve
    min_eval_score: float | None = None
    eval_datasets: tuple[str, ...] | None = None  # None: every dataset the version declares
    eval_targets: tuple[str, ...] = ("model",)  # run targets accepted (see target_accepts)
    max_error_rate: float = 0.0  # share of errored cases a run may have and still count
    require_signed: bool = False  # only approvals signed by an allowed signer count
    eval_signed_by: tuple[str, ...] | None = None  # None: any run counts; else signed by one of them
    judge: tuple[float, float, int] | None = None  # min TPR, min TNR, min labels of its judges
    sources: tuple[str, ...] = ()  # the versions whose bundle.toml declares it

    def to_json(self) -> dict[str, Any]:
        return {
            "alias": self.alias,
            "approvals": self.approvals,
            "approver_not_author": self.approver_not_author,
            "approvers": list(self.approvers) if self.approvers is not None else None,
            "min_eval_score": self.min_eval_score,
            "eval_datasets": list(self.eval_datasets) if self.eval_datasets is not None else None,
            "eval_targets": list(self.eval_targets),
            "max_error_rate": self.max_error_rate,
            "require_signed": self.require_signed,
            "eval_signed_by": list(self.eval_signed_by) if self.eval_signed_by is not None else None,
            "judge": dict(zip(("min_tpr", "min_tnr", "min_labels"), self.judge, strict=True))
            if self.judge
            else None,
            "declared_in": list(self.sources),
        }

    def describe(self) -> str:
        parts = []
        if self.approvals:
            noun = "approval" if self.approvals == 1 else "approvals"
            who = " by someone other than the author" if self.approver_not_author else ""
            among = f" from {', '.join(self.approvers)}" if self.approvers is not None else ""
            signed = ", signed by an allowed signer" if self.require_signed else ""
            parts.append(f"{self.approvals} {noun}{who}{among}{signed}")
        if self.min_eval_score is not None:
            on = ", ".join(self.eval_datasets) if self.eval_datasets is not None else "each eval dataset"
            by = " or ".join("the version's model" if t == "model" else t for t in self.eval_targets)
            errors = (
                "no errored cases"
                if self.max_error_rate == 0
                else f"at most {self.max_error_rate:.0%} errored cases"
            )
            signed = (
                f", run signed by {' or '.join(self.eval_signed_by) or 'nobody'}"
                if self.eval_signed_by is not None
                else ""
            )
            parts.append(
                f"eval score >= {self.min_eval_score:g} on {on} by {by or 'no target'}, {errors}{signed}"
            )
        if self.judge is not None:
            tpr, tnr, labels = self.judge
            parts.append(f"judges calibrated to TPR >= {tpr:g}, TNR >= {tnr:g} on >= {labels} labels")
        return "; ".join(parts) or "no requirement (declared protected)"


def parse_policy(alias: str, raw: Any, source: str) -> AliasPolicy:
    """A policy from its TOML table (types were checked by `promptver check` at bump time;
    anything odd falls back to the strict default rather than being trusted)."""
    raw = raw if isinstance(raw, dict) else {}
    approvals = raw.get("approvals", 1)
    approvers = raw.get("approvers")
    evals = raw.get("eval") if isinstance(raw.get("eval"), dict) else {}
    score = evals.get("min_score", raw.get("min_eval_score"))
    dataset = evals.get("dataset", raw.get("eval_dataset"))
    target = evals.get("target", "model")
    targets = (target,) if isinstance(target, str) else tuple(str(t) for t in target or ())
    rate = evals.get("max_error_rate", 0.0)
    signers = evals.get("signed_by")
    if isinstance(signers, str):
        signers = [signers]
    return AliasPolicy(
        alias=alias,
        approvals=approvals if isinstance(approvals, int) and approvals >= 0 else 1,
        approver_not_author=raw.get("approver_not_author", True) is not False,
        approvers=tuple(str(a) for a in approvers) if isinstance(approvers, list) else None,
        min_eval_score=float(score)
        if isinstance(score, int | float) and not isinstance(score, bool)
        else None,
        eval_datasets=(dataset,) if isinstance(dataset, str) else None,
        eval_targets=targets if isinstance(target, str | list) else ("model",),
        max_error_rate=float(rate)
        if isinstance(rate, int | float) and not isinstance(rate, bool) and 0 <= rate <= 1
        else 0.0,
        require_signed=raw.get("require_signed", False) is True,
        eval_signed_by=tuple(str(s) for s in signers) if isinstance(signers, list) else None,
        judge=_judge_requirement(raw.get("judge")),
        sources=(source,),
    )


def _judge_requirement(raw: Any) -> tuple[float, float, int] | None:
    if not isinstance(raw, dict):
        return None

    def number(key: str, default: float) -> float:
        value = raw.get(key, default)
        ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1
        return float(value) if ok else 1.0  # odd values are the strictest, never trusted

    labels = raw.get("min_labels", 100)
    count = labels if isinstance(labels, int) and not isinstance(labels, bool) and labels >= 0 else 100
    return number("min_tpr", 0.9), number("min_tnr", 0.9), count


def declared_policies(store: Store, manifest: Manifest) -> dict[str, AliasPolicy]:
    """Every ``[aliases.*]`` policy in a stored version's ``bundle.toml``."""
    if SPEC_FILE not in manifest.file_map():
        return {}
    text = store.tree(manifest).read_bytes(SPEC_FILE).decode("utf-8", errors="replace")
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError):
        raise IntegrityError(
            f"the bundle.toml of {manifest.ref} is not valid TOML", hint="run `promptver verify`"
        ) from None
    tables = data.get("aliases")
    if not isinstance(tables, dict):
        return {}
    return {alias: parse_policy(alias, raw, manifest.version) for alias, raw in tables.items()}


def merge(a: AliasPolicy | None, b: AliasPolicy | None) -> AliasPolicy | None:
    """The strictest combination of two policies of one alias."""
    if a is None or b is None:
        return a or b
    if a.approvers is None or b.approvers is None:
        approvers = a.approvers if b.approvers is None else b.approvers
    else:
        approvers = tuple(x for x in a.approvers if any(same_person(x, y) for y in b.approvers))
    scores = [s for s in (a.min_eval_score, b.min_eval_score) if s is not None]
    datasets: tuple[str, ...] | None = None
    wanted = [p.eval_datasets for p in (a, b) if p.min_eval_score is not None]
    if wanted and all(d is not None for d in wanted):
        datasets = tuple(sorted({name for d in wanted for name in d or ()}))
    targets = tuple(t for t in a.eval_targets if t in b.eval_targets)
    if a.min_eval_score is None or b.min_eval_score is None:
        targets = a.eval_targets if b.min_eval_score is None else b.eval_targets
    return AliasPolicy(
        alias=a.alias,
        approvals=max(a.approvals, b.approvals),
        approver_not_author=a.approver_not_author or b.approver_not_author,
        approvers=approvers,
        min_eval_score=max(scores) if scores else None,
        eval_datasets=datasets,
        eval_targets=targets,
        max_error_rate=min(a.max_error_rate, b.max_error_rate),
        require_signed=a.require_signed or b.require_signed,
        eval_signed_by=_both(a.eval_signed_by, b.eval_signed_by),
        judge=_stricter(a.judge, b.judge),
        sources=tuple(dict.fromkeys(a.sources + b.sources)),
    )


def _stricter(
    a: tuple[float, float, int] | None, b: tuple[float, float, int] | None
) -> tuple[float, float, int] | None:
    if a is None or b is None:
        return a or b
    return max(a[0], b[0]), max(a[1], b[1]), max(a[2], b[2])


def _both(a: tuple[str, ...] | None, b: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """Signers both lists accept (None: that side accepts any run)."""
    if a is None or b is None:
        return a if b is None else b
    return tuple(x for x in a if any(same_person(x, y) for y in b))


def effective_policy(
    store: Store, alias: str, candidate: Manifest, current: Manifest | None
) -> AliasPolicy | None:
    policy = declared_policies(store, candidate).get(alias)
    if current is not None and current.digest != candidate.digest:
        policy = merge(policy, declared_policies(store, current).get(alias))
    return policy


def declared_datasets(store: Store, manifest: Manifest) -> list[str]:
    if SPEC_FILE not in manifest.file_map():
        return []
    try:
        data = tomllib.loads(store.tree(manifest).read_bytes(SPEC_FILE).decode("utf-8", errors="replace"))
    except tomllib.TOMLDecodeError:
        return []
    evals = data.get("evals")
    return sorted(evals) if isinstance(evals, dict) else []


def self_approval_forbidden_by(store: Store, manifest: Manifest) -> list[str]:
    """The aliases whose policy (in this version, or in the version an alias points at now)
    would not count an approval of ``manifest`` by its own author."""
    policies = dict(declared_policies(store, manifest))
    for alias, pointer in pointers(store, manifest.bundle, checked=False).items():
        try:
            current = store.manifest(manifest.bundle, pointer["version"])
        except PromptverError:  # a broken pointer is verify's business, not a review's
            continue
        policies[alias] = merge(policies.get(alias), declared_policies(store, current).get(alias))  # type: ignore[assignment]
    return sorted(a for a, p in policies.items() if p and p.approvals and p.approver_not_author)


def model_label(store: Store, manifest: Manifest) -> str | None:
    """The eval target label of a version's own model (``model:<provider>:<name>``)."""
    if SPEC_FILE not in manifest.file_map():
        return None
    try:
        data = tomllib.loads(store.tree(manifest).read_bytes(SPEC_FILE).decode("utf-8", errors="replace"))
    except tomllib.TOMLDecodeError:
        return None
    model = data.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("name"), str):
        return None
    return f"model:{model.get('provider', 'openai')}:{model['name']}"


def target_accepts(accepted: tuple[str, ...], run_target: object, own_model: str | None) -> bool:
    """Whether a run's target label is one the policy accepts: ``model`` is the version's
    own model exactly; ``retrieval`` any BM25 retrieval run; anything else (a
    ``python:module:function``) only that exact label."""
    if not isinstance(run_target, str):
        return False
    for wanted in accepted:
        if wanted == "model" and own_model is not None and run_target == own_model:
            return True
        if wanted == "retrieval" and (run_target == "retrieval" or run_target.startswith("retrieval:")):
            return True
        if wanted not in ("model", "retrieval") and run_target == wanted:
            return True
    return False
