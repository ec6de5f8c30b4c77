"""Spans made with the real opentelemetry-sdk from an app that renders bot's versions, and
written as OTLP JSON with opentelemetry-exporter-otlp-proto-common's encoder and protobuf's
JSON mapping (base64 ids), or with hex ids as OTLP/JSON and the Collector write them."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

import promptver
from promptver.store.store import Store


def unprotect(root: Path, name: str = "bot") -> None:
    """`new` protects production (approval + model eval); these tests move it freely."""
    toml = root / "bundles" / name / "bundle.toml"
    toml.write_text(toml.read_text().split("\n[aliases.", 1)[0])


class App:
    """A tiny app: one span per request, rendering through ``promptver.load``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = provider.get_tracer("support-app")

    def request(
        self,
        ref: str,
        question: str,
        *,
        score: float | None = None,
        thumbs: str | None = None,
        error: bool = False,
        feedback_span: bool = False,
    ) -> str:
        bot = promptver.load(ref, store=self.store.root)
        with self.tracer.start_as_current_span("answer") as span:
            bot.messages("answer", question=question)
            if error:
                span.set_status(Status(StatusCode.ERROR, "upstream timeout"))
            if not feedback_span:
                if score is not None:
                    span.set_attribute("promptver.feedback.score", score)
                if thumbs is not None:
                    span.set_attribute("promptver.feedback.thumbs", thumbs)
            trace_id = format(span.get_span_context().trace_id, "032x")
        if feedback_span:  # feedback arrives later, on its own span of the same trace
            from opentelemetry import trace

            context = trace.set_span_in_context(span)
            with self.tracer.start_as_current_span("feedback", context=context) as later:
                if score is not None:
                    later.set_attribute("promptver.feedback.score", score)
                if thumbs is not None:
                    later.set_attribute("promptver.feedback.thumbs", thumbs)
        return trace_id

    def forged(self, attributes: dict[str, Any]) -> None:
        """A span with stamps set by hand (a build nobody bumped)."""
        with self.tracer.start_as_current_span("answer") as span:
            span.set_attributes(attributes)

    @property
    def spans(self) -> Sequence[ReadableSpan]:
        return self.exporter.get_finished_spans()


def otlp_dict(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """protobuf's JSON mapping of the OTLP export request (bytes as base64)."""
    result: dict[str, Any] = json_format.MessageToDict(encode_spans(spans))
    return result


def hex_ids(value: Any) -> Any:
    """The OTLP/JSON spelling: traceId, spanId and parentSpanId as hex, not base64."""
    if isinstance(value, dict):
        return {
            k: base64.b64decode(v).hex() if k in ("traceId", "spanId", "parentSpanId") and v else hex_ids(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [hex_ids(v) for v in value]
    return value


def write_otlp(path: Path, spans: Sequence[ReadableSpan], *, hexed: bool = True, pretty: bool = False) -> Path:
    data = otlp_dict(spans)
    if hexed:
        data = hex_ids(data)
    path.write_text(json.dumps(data, indent=2 if pretty else None) + "\n", encoding="utf-8")
    return path
