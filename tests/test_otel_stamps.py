"""OpenTelemetry stamps (promptver/app/telemetry.py) with the real opentelemetry-sdk: the
span current at render time carries the bundle version it was rendered from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import promptver
from promptver.app.telemetry import CAPTURE_ENV
from promptver.governance.promotion import set_alias
from tests.app_fixtures import Project, make_project

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    monkeypatch.setenv("PROMPTVER_USER", "tester")
    monkeypatch.delenv("PROMPTVER_HOME", raising=False)
    monkeypatch.delenv(CAPTURE_ENV, raising=False)
    promptver.clear_cache()
    project = make_project(tmp_path)
    set_alias(project.store, "support-bot", "production", "1.2.0")
    monkeypatch.chdir(project.root / "prompts")
    yield project
    promptver.clear_cache()


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def tracer(exporter: InMemorySpanExporter):  # type: ignore[no-untyped-def]
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test-app")


def test_messages_stamp_the_current_span(project: Project, exporter: InMemorySpanExporter) -> None:
    bot = promptver.load("support-bot@production")
    with tracer(exporter).start_as_current_span("handle-request"):
        bot.messages("answer", question="Where is my refund?", context=["c"])
    (span,) = exporter.get_finished_spans()
    attrs = dict(span.attributes or {})
    manifest = project.store.manifest("support-bot", "1.2.0")
    assert attrs["promptver.bundle.name"] == "support-bot"
    assert attrs["promptver.bundle.version"] == "1.2.0"
    assert attrs["promptver.bundle.digest"] == manifest.digest
    assert attrs["promptver.bundle.alias"] == "production"
    assert attrs["promptver.template"] == "answer"
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.temperature"] == 0.2
    assert attrs["gen_ai.request.max_tokens"] == 400
    assert "promptver.variables" not in attrs  # content capture is opt-in


def test_an_explicit_version_has_no_alias_and_render_stamps_too(
    project: Project, exporter: InMemorySpanExporter
) -> None:
    bot = promptver.load("support-bot@1.2.0")
    with tracer(exporter).start_as_current_span("r"):
        bot.render("answer", question="q", context=[])
    attrs = dict(exporter.get_finished_spans()[0].attributes or {})
    assert attrs["promptver.bundle.version"] == "1.2.0" and "promptver.bundle.alias" not in attrs


def test_variables_recorded_only_with_content_capture(
    project: Project, exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CAPTURE_ENV, "true")
    bot = promptver.load("support-bot@production")
    with tracer(exporter).start_as_current_span("r"):
        bot.messages("answer", question="Refund?", context=["a"])
    with tracer(exporter).start_as_current_span("r2"):
        bot.messages("answer", question="x" * 40_000, context=[])  # too large: not recorded
    first, second = exporter.get_finished_spans()
    assert json.loads(str((first.attributes or {})["promptver.variables"])) == {
        "context": ["a"],
        "question": "Refund?",
    }
    assert "promptver.variables" not in (second.attributes or {})
    assert (second.attributes or {})["promptver.bundle.version"] == "1.2.0"


def test_no_span_and_a_non_recording_span_get_nothing(project: Project, exporter: InMemorySpanExporter) -> None:
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    bot = promptver.load("support-bot@production")
    assert bot.messages("answer", question="q", context=[])[-1]["role"] == "user"  # no span at all
    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("unsampled") as span:
        assert not span.is_recording()
        bot.messages("answer", question="q", context=[])
    assert exporter.get_finished_spans() == ()


def test_load_never_imports_opentelemetry_render_does(project: Project) -> None:
    code = (
        "import sys, promptver\n"
        "bot = promptver.load('support-bot@production')\n"
        "before = 'opentelemetry' in sys.modules\n"
        "bot.messages('answer', question='q', context=[])\n"
        "print(before, 'opentelemetry' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project.root / "prompts",
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]
