"""Hostile span files: whatever the bytes, reading them gives spans or one ConfigError,
never another exception."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptver.errors import ConfigError
from promptver.traces.otlp import read_spans
from promptver.traces.spanstore import feedback
from promptver.traces.where import parse_where

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=40))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=20,
)
ANY_VALUE = st.one_of(
    st.fixed_dictionaries({"stringValue": VALUES}),
    st.fixed_dictionaries({"intValue": VALUES}),
    st.fixed_dictionaries({"doubleValue": VALUES}),
    st.fixed_dictionaries({"boolValue": VALUES}),
    st.fixed_dictionaries({"arrayValue": VALUES}),
    VALUES,
)
SPAN = st.fixed_dictionaries(
    {
        "traceId": st.one_of(st.just("4bf92f3577b34da6a3ce929d0e0e4736"), VALUES),
        "spanId": st.one_of(st.just("00f067aa0ba902b7"), VALUES),
        "startTimeUnixNano": st.one_of(st.just("1733450000000000000"), VALUES),
        "status": st.one_of(st.just({"code": 2}), VALUES),
        "attributes": st.one_of(
            st.lists(st.fixed_dictionaries({"key": st.one_of(st.text(max_size=30), VALUES), "value": ANY_VALUE}), max_size=5),
            VALUES,
        ),
    }
)
DOCUMENT = st.one_of(
    SPAN,
    st.fixed_dictionaries({"resourceSpans": st.lists(st.fixed_dictionaries({"scopeSpans": st.lists(st.fixed_dictionaries({"spans": st.lists(SPAN, max_size=3)}), max_size=2)}), max_size=2)}),
    VALUES,
)


def _read(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spans.json"
        path.write_bytes(data)
        try:
            for span in read_spans(path):
                assert len(span.trace_id) == 32 and len(span.span_id) == 16
                try:
                    feedback(span.attributes, "x")
                except ConfigError:
                    pass
        except ConfigError as exc:
            assert exc.location and str(path) in exc.location


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(DOCUMENT, min_size=1, max_size=3))
def test_structured_garbage(documents: list[object]) -> None:
    _read("\n".join(json.dumps(d) for d in documents).encode())


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_raw_bytes(data: bytes) -> None:
    _read(data)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=30), max_size=3))
def test_where_parses_or_says_why(texts: list[str]) -> None:
    try:
        for clause in parse_where(texts):
            clause.holds({"status": "ok", "feedback.score": 0.5, clause.key: "x"})
    except ConfigError as exc:
        assert "--where" in exc.message
