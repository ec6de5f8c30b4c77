"""Helpers for the alias, approval and audit tests: versions by a given author, policies,
and eval run files in the layout the eval runner writes (``runs/<bundle>/<id>/run.json``)."""

from __future__ import annotations

import json
from pathlib import Path

from promptver.evals.runs.records import record_run
from promptver.store.manifest import Manifest
from promptver.store.store import Store
from promptver.versions.bump import bump

AUTHOR = "Ana Author <ana@example.com>"
REVIEWER = "Rui Reviewer <rui@example.com>"
OTHER = "Olga Other <olga@example.com>"

PRODUCTION = """
[aliases.production]
approvals = 1
"""


def new_version(
    store: Store, project: Path, author: str = AUTHOR, text: str = "", key: Path | None = None
) -> Manifest:
    """Edit the system prompt and bump a minor version written by ``author`` (the bump
    signed with ``key``, an SSH key, when given)."""
    from promptver.governance.signing import signer

    system = project / "bundles/bot/prompts/system.j2"
    with open(system, "a") as handle:
        handle.write(text or f"change {len(store.version_names('bot'))}\n")
    return bump(store, "bot", "minor", author=author, sign=signer(key) if key else None).manifest


def set_policy(project: Path, toml: str) -> None:
    """Replace the ``[aliases.*]`` tables of bot's bundle.toml."""
    path = project / "bundles/bot/bundle.toml"
    text = path.read_text().split("\n[aliases.", 1)[0].rstrip("\n") + "\n"
    path.write_text(text + toml)


def write_run(
    store: Store,
    manifest: Manifest,
    score: float,
    *,
    dataset: str = "golden",
    status: str = "complete",
    run_id: str | None = None,
    finished: str = "2026-11-26T12:00:00Z",
    recorded: bool = True,
    target: str = "model:openai:gpt-4o-mini",
    errors: int = 0,
) -> str:
    """A run in the eval runner's layout; ``recorded``: with its ``eval`` audit event, as the
    runner appends when a run of a stored version completes."""
    run_id = (
        run_id or f"20261126T120000Z-{abs(hash((manifest.digest, score, dataset, finished))) % 10**6:06d}"
    )
    folder = store.root / "runs" / manifest.bundle / run_id
    folder.mkdir(parents=True)
    meta = {
        "format": 1,
        "id": run_id,
        "bundle": manifest.bundle,
        "version": manifest.version,
        "digest": manifest.digest,
        "dataset": {"name": dataset, "path": "evals/golden.jsonl", "digest": "sha256:" + "1" * 64},
        "target": target,
        "started": finished,
        "finished": finished,
        "status": status,
        "summary": {
            "cases": 2,
            "passed": 2 if score >= 0.5 else 0,
            "errors": errors,
            "score": score,
            "pass_rate": score,
            "cost": 0.0012,
        },
    }
    (folder / "run.json").write_text(json.dumps(meta, indent=2))
    (folder / "cases.jsonl").write_text('{"id": "a", "pass": true}\n')
    if recorded:
        record_run(store, meta, folder)
    return run_id


def events(store: Store, kind: str | None = None) -> list[dict]:  # type: ignore[type-arg]
    return [e for e in store.events("bot") if kind is None or e.get("event") == kind]
