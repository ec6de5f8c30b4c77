"""What serves behind an alias: the five questions ``promptver show NAME@ALIAS`` answers.

1. model and parameters (``history.describe``);
2. eval datasets and corpus with their digests, and the latest eval run with its score;
3. the git commit the version was built from;
4. when the alias last moved, how and by whom;
5. who approved that version and when (and the alias's policy, checked now).
"""

from __future__ import annotations

import tomllib
from typing import Any

from promptver.bundle.spec import SPEC_FILE
from promptver.evals.runs.summaries import brief, evidence, latest_run
from promptver.governance.aliases import check_alias, log_events, replay
from promptver.governance.approvals import APPROVED, CHANGES_REQUESTED, decisions
from promptver.store.digests import PREFIX, tree_digest
from promptver.store.events import alias_events
from promptver.store.jsontext import collector_paused
from promptver.store.manifest import Manifest
from promptver.store.store import Store


@collector_paused()
def deployment(store: Store, manifest: Manifest, alias: str) -> dict[str, Any]:
    """The alias-specific answers for a version reached through ``alias`` (plain data)."""
    from promptver.governance.promotion import check_policy, effective_policy

    check_alias(alias)
    name = manifest.bundle
    events = log_events(store, name, "review")
    state = replay(alias_events(store, name, alias)).get(alias)  # only this alias's moves are read
    last = state.last if state else None
    raw = _raw_spec(store, manifest)
    runs, _ = evidence(store, name)  # only recorded runs are evidence
    latest = latest_run(store, name, manifest.digest, runs=runs)
    policy = effective_policy(store, alias, manifest, None)
    decided = [
        d.with_signature(store, manifest.bundle)
        for d in decisions(events, manifest.digest, log=lambda: store.events(manifest.bundle))
    ]
    check = check_policy(store, manifest, alias, policy, events, decided)
    written = {id(d): d.to_json() for d in decided}  # listed here and in the policy's answer
    prov = manifest.provenance
    return {
        "alias": alias,
        "version": manifest.version,
        "digest": manifest.digest,
        "moved": (
            {
                "time": last.get("time"),
                "by": last.get("actor"),
                "action": last.get("action"),
                "from": last.get("from"),
                "reason": last.get("reason"),
                "event": last.get("seq"),
                "signed_by": _signer(store, last, manifest.bundle),
            }
            if last
            else None
        ),
        "log_agrees": bool(state and state.version == manifest.version),
        "evals": _evals(manifest, raw, store, runs),
        "corpus": _corpus(manifest, raw),
        "latest_eval_run": _signed_brief(store, name, latest) if latest else None,
        "git": {
            "commit": prov.get("git_commit"),
            "dirty": prov.get("git_dirty"),
            "repository": prov.get("git_repository"),
        },
        "approvals": [written[id(d)] for d in decided if d.decision == APPROVED],
        "changes_requested": [written[id(d)] for d in decided if d.decision == CHANGES_REQUESTED],
        "policy": (
            {**check.to_json(lambda d: written.get(id(d)) or d.to_json()), "requirements": policy.describe()}
            if policy
            else None
        ),
    }


def _raw_spec(store: Store, manifest: Manifest) -> dict[str, Any]:
    if SPEC_FILE not in manifest.file_map():
        return {}
    try:
        return tomllib.loads(store.tree(manifest).read_bytes(SPEC_FILE).decode("utf-8", errors="replace"))
    except tomllib.TOMLDecodeError:
        return {}


def _evals(
    manifest: Manifest, raw: dict[str, Any], store: Store, runs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    files = manifest.file_map()
    found = []
    calibrations: list[dict[str, Any]] | None = None
    evals = _table(raw.get("evals"))
    for dataset, table in sorted(evals.items()):
        path = table.get("path") if isinstance(table, dict) else None
        entry = files.get(path) if isinstance(path, str) else None
        run = latest_run(store, manifest.bundle, manifest.digest, dataset, runs=runs)
        found.append(
            {
                "name": dataset,
                "path": path,
                "digest": PREFIX + entry.digest if entry else None,
                "size": entry.size if entry else None,
                "latest_run": _signed_brief(store, manifest.bundle, run) if run else None,
            }
        )
        if run and run.get("judges"):
            if calibrations is None:
                calibrations = _calibrations(store, manifest.bundle)
            found[-1]["judges"] = _judges(run["judges"], calibrations)
    return found


def _signed_brief(store: Store, name: str, run: dict[str, Any]) -> dict[str, Any]:
    """A run's report fields and whose key signed its audit event (None: unsigned)."""
    from promptver.governance.signing import run_verdict

    return {**brief(run), "signed_by": run_verdict(store, name, str(run.get("id"))).signer}


def _calibrations(store: Store, name: str) -> list[dict[str, Any]]:
    from promptver.evals.analysis.calibration import recorded

    return recorded(store.root, name)


def _judges(judges: Any, calibrations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The judges behind a run's judged scores, each with its newest recorded calibration."""
    from promptver.evals.analysis.calibration import calibration_of, describe

    out = []
    for judge in judges if isinstance(judges, list) else []:
        if not isinstance(judge, dict):
            continue
        found = calibration_of(calibrations, str(judge.get("digest")))
        out.append(
            {
                "model": judge.get("model"),
                "prompt": judge.get("prompt"),
                "digest": judge.get("digest"),
                "calibration": {k: found.get(k) for k in ("id", "version", "labels", "summary")}
                if found
                else None,
                "calibrated": describe(found),
            }
        )
    return out


def _corpus(manifest: Manifest, raw: dict[str, Any]) -> dict[str, Any] | None:
    rag = _table(raw.get("rag"))
    if isinstance(rag.get("corpus_uri"), str):
        return {"uri": rag["corpus_uri"], "digest": rag.get("corpus_digest"), "files": None}
    folder = rag.get("corpus")
    if not isinstance(folder, str):
        return None
    prefix = folder.strip("/") + "/"
    inside = [(f.path[len(prefix) :], f.digest) for f in manifest.files if f.path.startswith(prefix)]
    # the same canonical listing as a version digest, over the corpus folder alone
    return {"path": folder, "digest": tree_digest(inside), "files": len(inside)}


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _signer(store: Store, event: dict[str, Any], bundle: str) -> str | None:
    if "signature" not in event:
        return None
    from promptver.governance.signing import check

    return check(store, event, bundle).signer
