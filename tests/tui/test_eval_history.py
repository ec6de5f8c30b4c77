"""The review's eval pane data: the verdict and the history across versions, marks included."""

from __future__ import annotations

from pathlib import Path

from promptver.tui.model import Side
from promptver.tui.results import eval_results
from tests.evals.history_support import three_versions


def test_eval_results_carry_the_verdict_and_the_history(project: Path, pv) -> None:
    store = three_versions(project, pv)
    sides = []
    for version in ("1.1.0", "1.2.0"):
        manifest = store.resolve("bot", version)
        sides.append(Side(version, manifest.digest, version=version))
    body = eval_results(store, "bot", sides[0], sides[1], ["golden"])["golden"]
    assert body.verdict is not None and body.verdict.startswith("worse (p < 0.001, 95% CI -")
    assert body.history is not None
    assert list(body.history.versions) == ["1.0.0", "1.1.0", "1.2.0"]
    assert list(body.history.marks) == ["1.1.0", "1.2.0"]
    assert [round(v, 1) for v in body.history.pass_rate] == [66.7, 83.3, 46.7]
    assert body.history.title == "golden (model)"
    # a working copy has no place in the history: only the stored side is marked
    work = Side("working copy", sides[1].digest)
    body = eval_results(store, "bot", sides[0], work, ["golden"])["golden"]
    assert body.history is not None and list(body.history.marks) == ["1.1.0"]
