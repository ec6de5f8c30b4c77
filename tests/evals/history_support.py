"""A project with three versions of ``bot`` and one hand-made, complete run of each, with
fixed ids and times, so reports built from them can be compared with golden files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from promptver.evals.analysis.summary import summarize
from promptver.evals.runs.storage import RunStore
from promptver.store.store import Store

GOLDEN = Path(__file__).parent / "golden"
CASES = [f"case-{i:02d}" for i in range(30)]
# which cases pass in each version: 1.1.0 fixes five (not significant), 1.2.0 breaks eleven
PASSING = {
    "1.0.0": set(CASES[:20]),
    "1.1.0": set(CASES[:25]),
    "1.2.0": set(CASES[:14]),
}


def records(passing: set[str], latency: float) -> list[dict[str, Any]]:
    return [
        {
            "id": case_id,
            "repeat": 0,
            "index": i,
            "pass": case_id in passing,
            "score": 1.0 if case_id in passing else 0.0,
            "latency_ms": latency + i,
            "asserts": []
            if case_id in passing
            else [
                {"type": "icontains", "pass": False, "score": 0.0, "weight": 1, "reason": "output lacks 'x'"}
            ],
            "error": None,
            "tokens": {"input": 100, "output": 20},
            "cost": 0.0001,
        }
        for i, case_id in enumerate(CASES)
    ]


def write_run(
    store: Store,
    version: str,
    run_id: str,
    recs: list[dict[str, Any]],
    *,
    options: dict[str, Any] | None = None,
    status: str = "complete",
    finished: str | None = None,
) -> None:
    manifest = store.resolve("bot", version)
    meta = {
        "id": run_id,
        "bundle": "bot",
        "version": version,
        "digest": manifest.digest,
        "dataset": {"name": "golden", "path": "evals/golden.jsonl", "digest": "sha256:0"},
        "target": "model:openai:gpt-4o-mini",
        "model": {"provider": "openai", "name": "gpt-4o-mini"},
        "options": {"target": None, "repeat": 1, **(options or {})},
        "planned": len(recs),
        "started": f"2026-11-2{len(version)}T10:00:00Z",
        "finished": finished or f"2026-11-26T1{version[2]}:00:00Z",
        "status": status,
        "summary": summarize(recs),
    }
    writer = RunStore(store.root / "runs").create(meta)
    for record in recs:
        writer.append(record)
    writer.close()


def three_versions(project: Path, pv: Any) -> Store:
    """Versions 1.0.0, 1.1.0, 1.2.0 of ``bot`` (system prompt edits), each with one run."""
    system = project / "bundles" / "bot" / "prompts" / "system.j2"
    assert pv("bump", "minor", "bot", "--initial", "1.0.0", "-m", "first").code == 0
    system.write_text(system.read_text() + "\nBe brief.\n")
    assert pv("bump", "minor", "bot", "-m", "brief").code == 0
    system.write_text(system.read_text() + "Cite the policy.\n")
    assert pv("bump", "minor", "bot", "-m", "cite").code == 0
    store = Store.find(project)
    for n, (version, passing) in enumerate(PASSING.items()):
        write_run(store, version, f"20261126T1{n}0000Z-00000{n}", records(passing, 200.0 + 50 * n))
    return store


def check_golden(name: str, text: str) -> None:
    """Compare with tests/evals/golden/NAME; PROMPTVER_UPDATE_GOLDEN=1 rewrites it."""
    path = GOLDEN / name
    if os.environ.get("PROMPTVER_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.is_file(), f"missing golden file {path}: run with PROMPTVER_UPDATE_GOLDEN=1"
    assert text == path.read_text(), (
        f"{name} differs from its golden file (PROMPTVER_UPDATE_GOLDEN=1 rewrites it)"
    )
