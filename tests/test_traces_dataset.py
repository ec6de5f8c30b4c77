"""`promptver dataset add NAME/SET --from-traces FILE --where ...`: spans of the real SDK made
into eval cases, redacted, with their trace as provenance, duplicates skipped; the next bump
versions the change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import promptver
from promptver.app.telemetry import CAPTURE_ENV
from promptver.governance.promotion import set_alias
from promptver.store.store import Store
from promptver.traces.where import parse_where
from promptver.versions.bump import bump
from tests.traces_support import App, unprotect, write_otlp


@pytest.fixture
def app(project: Path, store: Store, monkeypatch: pytest.MonkeyPatch) -> App:
    unprotect(project)
    bump(store, "bot", "minor", author="ana")
    set_alias(store, "bot", "production", "0.1.0")
    promptver.clear_cache()
    monkeypatch.setenv(CAPTURE_ENV, "true")
    return App(store)


def golden(project: Path) -> list[dict]:  # type: ignore[type-arg]
    text = (project / "bundles" / "bot" / "evals" / "golden.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_thumbs_down_and_errors_become_cases(app: App, project: Path, store: Store, pv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ACME_API_KEY", "sk-live-0123456789abcdef")
    good = app.request("bot@production", "How do refunds work?", thumbs="up")
    bad = app.request(
        "bot@production", "Mail ana.lopez@example.com, key sk-live-0123456789abcdef", feedback_span=True, thumbs="down"
    )
    low = app.request("bot@production", "Why so slow?", score=0.2)
    failed = app.request("bot@production", "Timeout please", error=True)
    spans = write_otlp(tmp_path / "spans.json", app.spans)
    before = len(golden(project))

    result = pv("dataset", "add", "bot/golden", "--from-traces", str(spans), "--where", "feedback.score<0.5", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["matched"] == 2 and len(report["added"]) == 2
    cases = golden(project)[before:]
    assert {c["provenance"]["trace_id"] for c in cases} == {bad, low}
    assert good not in json.dumps(cases) and failed not in json.dumps(cases)
    redacted = next(c for c in cases if c["provenance"]["trace_id"] == bad)
    assert redacted["vars"] == {"question": "Mail [email], key [redacted]"}
    assert redacted["template"] == "answer" and redacted["tags"] == ["from-traces"]
    assert redacted["provenance"]["feedback"] == 0.0  # thumbs down on a later span of the trace
    assert redacted["provenance"]["digest"] == store.manifest("bot", "0.1.0").digest
    assert "ana.lopez" not in (project / "bundles/bot/evals/golden.jsonl").read_text()

    again = pv("dataset", "add", "bot/golden", "--from-traces", str(spans), "--where", "feedback.score<0.5", "--json")
    assert json.loads(again.out)["duplicates"] == 2 and json.loads(again.out)["added"] == []

    errors = pv("dataset", "add", "bot/golden", "--from-traces", str(spans), "--where", "status=error")
    assert errors.code == 0 and "added 1 case(s) from 1 matching span(s)" in errors.out
    assert golden(project)[-1]["provenance"]["trace_id"] == failed

    bumped = pv("bump", "patch", "bot", "--json")  # the next bump versions the dataset change
    assert bumped.code == 0, bumped.err
    new = store.manifest("bot", "0.1.1")
    data = store.tree(new).read_bytes("evals/golden.jsonl").decode()
    assert bad in data and failed in data


def test_same_inputs_are_one_case(app: App, project: Path, pv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app.request("bot@production", "Same question", thumbs="down")
    app.request("bot@production", "Same question", thumbs="down")
    spans = write_otlp(tmp_path / "s.json", app.spans)
    out = json.loads(pv("dataset", "add", "bot/golden", "--from-traces", str(spans), "--where", "feedback.score=0", "--json").out)
    assert len(out["added"]) == 1 and out["duplicates"] == 1


def test_spans_without_variables_say_how_to_record_them(app: App, pv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv(CAPTURE_ENV)
    app.request("bot@production", "q", thumbs="down")
    spans = write_otlp(tmp_path / "s.json", app.spans)
    result = pv("dataset", "add", "bot/golden", "--from-traces", str(spans), "--where", "feedback.score<1")
    assert "added 0 case(s) from 1 matching span(s)" in result.out
    assert CAPTURE_ENV in result.out


def test_dry_run_writes_nothing(app: App, project: Path, pv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app.request("bot@production", "q", thumbs="down")
    before = (project / "bundles/bot/evals/golden.jsonl").read_bytes()
    spans = write_otlp(tmp_path / "s.json", app.spans)
    result = pv("dataset", "add", "bot/golden", "--from-traces", str(spans), "--dry-run")
    assert "would add 1 case(s)" in result.out
    assert (project / "bundles/bot/evals/golden.jsonl").read_bytes() == before


def test_errors_are_one_clear_message(app: App, project: Path, pv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app.request("bot@production", "q", thumbs="down")
    spans = write_otlp(tmp_path / "s.json", app.spans)
    cases = [
        (("bot/nope",), "bot has no eval set 'nope'"),
        (("bot",), "'bot' is not NAME/SET"),
        (("bot/golden", "--where", "feedback.score<low"), "compares numbers"),
        (("bot/golden", "--where", "justakey"), "is not KEY OP VALUE"),
    ]
    for args, message in cases:
        result = pv("dataset", "add", args[0], "--from-traces", str(spans), *args[1:])
        assert result.code == 1 and message in result.err, (args, result.err)
    broken = project / "bundles/bot/evals/golden.jsonl"
    broken.write_text(broken.read_text() + "{not json\n")
    before = broken.read_bytes()
    result = pv("dataset", "add", "bot/golden", "--from-traces", str(spans))
    assert result.code == 1 and "golden.jsonl:3:" in result.err and broken.read_bytes() == before


def test_where_syntax() -> None:
    facts = {"status": "error", "feedback.score": 0.3, "app.route": "/refunds", "flag": True, "n": 3}
    holds = lambda text: all(c.holds(facts) for c in parse_where([text]))  # noqa: E731
    assert holds("status=error") and holds("feedback.score<0.5") and holds("feedback.score >= 0.3")
    assert holds("app.route=/refunds and status!=ok") and holds("flag=true") and holds("n=3.0")
    assert not holds("missing!=x") and not holds("feedback.score>0.5") and not holds("app.route!=/refunds")
