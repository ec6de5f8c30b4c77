"""A tiny app that follows NAME@production from a file:// remote while the alias moves:
the OpenTelemetry stamps on its request spans follow the swap."""

from __future__ import annotations

from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import promptver
from promptver.governance.promotion import set_alias
from promptver.remote.config import RemoteConfig
from promptver.remote.sync import Remote, push
from promptver.versions.bump import bump

from .conftest import edit, make_project


def test_stamps_follow_the_alias(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    url = f"file://{shared}"
    team = make_project(tmp_path / "team")
    bump(team, "bot", "minor", author="ana")
    set_alias(team, "bot", "production", "0.1.0")
    remote = Remote(team, RemoteConfig("origin", url, None))
    push(team, remote)

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app_tracer = provider.get_tracer("tiny-app")
    live = promptver.follow("bot@production", remote=url, every=0)

    def handle(question: str) -> None:  # the app's request handler
        with app_tracer.start_as_current_span("handle"):
            live.messages(live.templates[0], question=question)

    handle("first")
    edit(tmp_path / "team", "\nBe brief.\n")
    bump(team, "bot", "minor", author="ana")
    set_alias(team, "bot", "production", "0.2.0")
    push(team, remote)
    handle("still the old one")  # not refreshed yet
    assert live.refresh() is True
    handle("after the swap")
    live.close()

    stamps = [
        (s.attributes or {}).get("promptver.bundle.version") for s in exporter.get_finished_spans()
    ]
    digests = [(s.attributes or {}).get("promptver.bundle.digest") for s in exporter.get_finished_spans()]
    assert stamps == ["0.1.0", "0.1.0", "0.2.0"]
    assert digests[2] == team.resolve("bot", "0.2.0").digest != digests[0]
    assert {(s.attributes or {}).get("promptver.bundle.alias") for s in exporter.get_finished_spans()} == {
        "production"
    }
