"""Online scores: feedback on production spans, per version, beside the offline scores of
`promptver eval history`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import promptver
from promptver.traces.served import online_by_version, online_scores
from tests.evals.history_support import three_versions
from tests.traces_support import App, write_otlp


@pytest.fixture(autouse=True)
def _offline_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTVER_TOKENIZER_TIMEOUT", "0")


def test_feedback_per_version_beside_offline_scores(project: Path, pv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = three_versions(project, pv)  # 1.0.0, 1.1.0, 1.2.0, each with an offline run
    system = project / "bundles" / "bot" / "prompts" / "system.j2"
    system.write_text(system.read_text() + "Thank the user.\n")
    assert pv("bump", "minor", "bot").code == 0  # 1.3.0: online feedback, no offline run
    promptver.clear_cache()
    app = App(store)
    app.request("bot@1.0.0", "a", thumbs="down")
    app.request("bot@1.0.0", "b", thumbs="up", feedback_span=True)  # feedback on a later span
    app.request("bot@1.0.0", "c", score=0.5)
    app.request("bot@1.2.0", "d", score=1.0)
    app.request("bot@1.2.0", "e")  # no feedback: not counted
    app.request("bot@1.3.0", "f", score=0.25)
    app.forged(  # a digest no version has: never a version's score
        {
            "promptver.bundle.name": "bot",
            "promptver.bundle.version": "1.2.0",
            "promptver.bundle.digest": "sha256:" + "cd" * 32,
            "promptver.feedback.score": 0.0,
        }
    )
    assert pv("traces", "import", str(write_otlp(tmp_path / "s.json", app.spans))).code == 0

    online = online_by_version(store, "bot")
    assert online == {
        "1.0.0": {"count": 3, "mean": 0.5},
        "1.2.0": {"count": 1, "mean": 1.0},
        "1.3.0": {"count": 1, "mean": 0.25},
    }
    assert len(online_scores(store, "bot")) == 4  # the forged digest is there, by digest

    data = json.loads(pv("eval", "history", "bot", "--json").out)
    assert [p["online"] for p in data["points"]] == [{"count": 3, "mean": 0.5}, None, {"count": 1, "mean": 1.0}]
    text = pv("eval", "history", "bot", "--width", "72").out
    header = text.splitlines()[2]
    assert header.split()[-2:] == ["p95", "online"]
    assert "0.500 (n=3)" in text and "1.000 (n=1)" in text
    assert "online scores of versions without a run: 1.3.0 0.250 (n=1)" in text


def test_history_without_traces_is_unchanged(project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    three_versions(project, pv)
    out = pv("eval", "history", "bot", "--width", "72").out
    assert "online" not in out
    assert json.loads(pv("eval", "history", "bot", "--json").out)["online"] == {}
