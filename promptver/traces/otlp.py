"""Reading spans from a file: OTLP JSON, or one span per line. Everything in it is hostile.

Accepted shapes (docs/production.md):

- OTLP JSON, the protobuf JSON mapping OTLP/HTTP and the Collector's file exporter use: an
  object with ``resourceSpans`` -> ``scopeSpans`` -> ``spans``, either the whole file (also
  pretty-printed) or one such object per line (the file exporter). Ids are hex as OTLP
  asks, or base64 as a generic protobuf JSON printer writes ``bytes``; ``intValue`` and
  the ``*UnixNano`` times may be strings; ``status.code`` a number or its enum name;
  snake_case field names are read too.
- One span per line: an OTLP ``Span`` object (``traceId``, ``spanId``...), or the
  opentelemetry-sdk's ``ReadableSpan.to_json(indent=None)`` (``context.trace_id``...).

Every id is checked (32 or 16 hex digits, not all zero), times are non-negative integers
below 2**63 ns, and sizes are bounded (file, attributes per span, key and value lengths,
array lengths, nesting). A problem is a `ConfigError` at ``file:line`` (``file:line:col``
for JSON syntax) naming the field, e.g. ``resourceSpans[0].scopeSpans[0].spans[3].traceId``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from promptver.errors import ConfigError

MAX_FILE = 256 * 1024 * 1024
MAX_ATTRIBUTES = 512
MAX_KEY = 256
MAX_VALUE = 64 * 1024
MAX_ARRAY = 256
MAX_NS = 2**63 - 1
_HEX = re.compile(r"[0-9a-f]+")
_STATUS = {
    0: "unset",
    1: "ok",
    2: "error",
    "STATUS_CODE_UNSET": "unset",
    "STATUS_CODE_OK": "ok",
    "STATUS_CODE_ERROR": "error",
    "UNSET": "unset",
    "OK": "ok",
    "ERROR": "error",
}

Scalar = str | int | float | bool
Value = Scalar | list[Scalar]


@dataclass
class Span:
    trace_id: str
    span_id: str
    name: str
    start_ns: int
    end_ns: int
    status: str  # unset, ok, error
    attributes: dict[str, Value] = field(default_factory=dict)
    parent_id: str | None = None
    line: int = 0  # where it was read (for messages)


class SpanError(ValueError):
    """A field of one span is not acceptable: ``where`` is its path inside the line."""

    def __init__(self, where: str, message: str):
        super().__init__(message)
        self.where = where
        self.message = message


def read_spans(path: Path) -> Iterator[Span]:
    """Every span of a file; a `ConfigError` at the first bad one."""
    label = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE:
            raise ConfigError(
                f"{label} is {size:,} bytes: larger than the"
                f" {MAX_FILE // (1024 * 1024)} MiB one import takes",
                hint="split it (one OTLP object or span per line can be cut at any line)",
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"no such file: {label}") from None
    except IsADirectoryError:
        raise ConfigError(f"{label} is a folder, not a file of spans") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            "not UTF-8 text", location=f"{label}:{line}", hint="save the file as UTF-8"
        ) from None
    text = text.removeprefix("\ufeff")
    lines = text.split("\n")
    first = next((n for n, raw in enumerate(lines) if raw.strip()), None)
    if first is None:
        return
    if _one_value(lines[first]):
        for number, raw in enumerate(lines, start=1):
            if raw.strip():
                yield from _from_value(_parse(raw, label, number), label, number)
    else:  # one JSON document over several lines (pretty-printed OTLP)
        yield from _from_value(_parse(text, label, 1), label, 0)


def _one_value(raw: str) -> bool:
    try:
        return isinstance(json.loads(raw), dict)
    except (ValueError, RecursionError):
        return False


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _parse(text: str, label: str, first_line: int) -> Any:
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"not valid JSON ({exc.msg})",
            location=f"{label}:{first_line + exc.lineno - 1}:{exc.colno}",
            hint="give OTLP JSON (resourceSpans) or one span per line",
        ) from None
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"not valid JSON ({exc})", location=f"{label}:{first_line}") from None


def _from_value(value: Any, label: str, line: int) -> Iterator[Span]:
    where = f"{label}:{line}" if line else label
    try:
        if not isinstance(value, dict):
            raise SpanError("", "expected a JSON object (OTLP resourceSpans, or one span)")
        if "resourceSpans" in value or "resource_spans" in value:
            spans = list(_otlp_request(value))
        elif "context" in value:
            spans = [_sdk_span(value, "")]
        elif "traceId" in value or "trace_id" in value:
            spans = [_otlp_span(value, "", {})]
        else:
            raise SpanError("", "neither OTLP JSON (resourceSpans) nor a span (traceId, or context.trace_id)")
    except SpanError as exc:
        at = f" at {exc.where}" if exc.where else ""
        raise ConfigError(
            f"{exc.message}{at}", location=where, hint="docs/production.md lists the accepted span formats"
        ) from None
    for span in spans:
        span.line = line
        yield span


def _get(obj: dict[str, Any], camel: str) -> Any:
    value = obj.get(camel)
    if value is None:
        snake = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel)
        value = obj.get(snake)
    return value


def _list(obj: dict[str, Any], camel: str, where: str) -> list[Any]:
    value = _get(obj, camel)
    if value is None:
        return []
    if not isinstance(value, list):
        raise SpanError(where + camel, "must be a list")
    return value


def _otlp_request(value: dict[str, Any]) -> Iterator[Span]:
    for r, resource_spans in enumerate(_list(value, "resourceSpans", "")):
        at = f"resourceSpans[{r}]"
        if not isinstance(resource_spans, dict):
            raise SpanError(at, "must be an object")
        resource = _get(resource_spans, "resource") or {}
        if not isinstance(resource, dict):
            raise SpanError(at + ".resource", "must be an object")
        shared = _service(_attributes(_list(resource, "attributes", at + ".resource."), at + ".resource"))
        for s, scope_spans in enumerate(_list(resource_spans, "scopeSpans", at + ".")):
            scope_at = f"{at}.scopeSpans[{s}]"
            if not isinstance(scope_spans, dict):
                raise SpanError(scope_at, "must be an object")
            for n, span in enumerate(_list(scope_spans, "spans", scope_at + ".")):
                yield _otlp_span(span, f"{scope_at}.spans[{n}]", shared)


def _service(resource: dict[str, Value]) -> dict[str, Value]:
    name = resource.get("service.name")
    return {"service.name": name} if isinstance(name, str) else {}


def _otlp_span(span: Any, at: str, shared: dict[str, Value]) -> Span:
    if not isinstance(span, dict):
        raise SpanError(at, "a span must be an object")
    dot = at + "." if at else ""
    parent = _get(span, "parentSpanId")
    status = _get(span, "status") or {}
    if not isinstance(status, dict):
        raise SpanError(dot + "status", "must be an object")
    code = status.get("code", 0)
    if code not in _STATUS or isinstance(code, bool):
        raise SpanError(dot + "status.code", f"unknown status code {_show(code)}")
    attributes = {**shared, **_attributes(_list(span, "attributes", dot), dot + "attributes")}
    return Span(
        trace_id=_id(_get(span, "traceId"), 16, dot + "traceId"),
        span_id=_id(_get(span, "spanId"), 8, dot + "spanId"),
        parent_id=_id(parent, 8, dot + "parentSpanId") if parent else None,
        name=_name(_get(span, "name"), dot + "name"),
        start_ns=_nanos(_get(span, "startTimeUnixNano"), dot + "startTimeUnixNano"),
        end_ns=_nanos(_get(span, "endTimeUnixNano"), dot + "endTimeUnixNano"),
        status=_STATUS[code],
        attributes=attributes,
    )


def _sdk_span(span: dict[str, Any], at: str) -> Span:
    """opentelemetry-sdk ``ReadableSpan.to_json()``: ids ``0x...``, ISO times, plain maps."""
    context = span.get("context")
    if not isinstance(context, dict):
        raise SpanError("context", "must be an object with trace_id and span_id")
    status = span.get("status") or {}
    code = status.get("status_code", "UNSET") if isinstance(status, dict) else None
    if code not in _STATUS or isinstance(code, int):
        raise SpanError("status.status_code", f"unknown status {_show(code)}")
    attributes: dict[str, Value] = {}
    resource = span.get("resource")
    if isinstance(resource, dict) and isinstance(resource.get("attributes"), dict):
        attributes.update(_service(_plain_map(resource["attributes"], "resource.attributes")))
    raw = span.get("attributes") or {}
    if not isinstance(raw, dict):
        raise SpanError("attributes", "must be an object")
    attributes.update(_plain_map(raw, "attributes"))
    parent = span.get("parent_id")
    return Span(
        trace_id=_id(_strip0x(context.get("trace_id"), "context.trace_id"), 16, "context.trace_id"),
        span_id=_id(_strip0x(context.get("span_id"), "context.span_id"), 8, "context.span_id"),
        parent_id=_id(_strip0x(parent, "parent_id"), 8, "parent_id") if parent else None,
        name=_name(span.get("name"), "name"),
        start_ns=_iso_nanos(span.get("start_time"), "start_time"),
        end_ns=_iso_nanos(span.get("end_time"), "end_time"),
        status=_STATUS[code],
        attributes=attributes,
    )


def _strip0x(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise SpanError(where, "must be a 0x-prefixed hex id")
    return value[2:]


def _id(value: Any, size: int, where: str) -> str:
    """Hex (OTLP JSON) or base64 (protobuf's own JSON mapping of ``bytes``) -> lowercase hex."""
    digits = size * 2
    if not isinstance(value, str):
        raise SpanError(where, f"must be a {digits}-digit hex id")
    text = value.lower()
    if len(value) == digits and _HEX.fullmatch(text):
        hexed = text
    else:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != size:
            raise SpanError(where, f"{_show(value)} is not a {digits}-digit hex id")
        hexed = raw.hex()
    if hexed == "0" * digits:
        raise SpanError(where, "an all-zero id is invalid")
    return hexed


def _name(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_KEY * 4:
        raise SpanError(where, "must be a string of at most 1024 characters")
    return value


def _nanos(value: Any, where: str) -> int:
    if value is None:
        return 0
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_NS:
        raise SpanError(where, f"{_show(value)} is not a time in nanoseconds since 1970")
    return value


def _iso_nanos(value: Any, where: str) -> int:
    if value is None:
        return 0
    try:
        if not isinstance(value, str) or len(value) > 40:
            raise ValueError
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise ValueError
    except ValueError:
        raise SpanError(where, f"{_show(value)} is not an ISO time with a zone") from None
    seconds = int(moment.timestamp())
    return max(0, seconds * 1_000_000_000 + moment.microsecond * 1000)


def _attributes(items: list[Any], where: str) -> dict[str, Value]:
    if len(items) > MAX_ATTRIBUTES:
        raise SpanError(where, f"more than {MAX_ATTRIBUTES} attributes")
    found: dict[str, Value] = {}
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise SpanError(at, "must be an object with key and value")
        key = _key(item.get("key"), at + ".key")
        value = _any_value(item.get("value"), at + ".value", nested=False)
        if value is not None:
            found[key] = value
    return found


def _key(key: Any, where: str) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY:
        raise SpanError(where, f"an attribute key must be a string of 1 to {MAX_KEY} characters")
    return key


def _any_value(value: Any, where: str, nested: bool) -> Any:
    """An OTLP ``AnyValue``: scalars and arrays of scalars are kept; maps and bytes are
    skipped (None): nothing promptver reads has that shape."""
    if value is None or value == {}:
        return None
    if not isinstance(value, dict) or len(value) != 1:
        raise SpanError(where, "must be an AnyValue object with one field (stringValue, intValue...)")
    ((kind, inner),) = value.items()
    if kind in ("stringValue", "string_value"):
        if not isinstance(inner, str):
            raise SpanError(where, "stringValue must be a string")
        return inner if len(inner) <= MAX_VALUE else None
    if kind in ("boolValue", "bool_value"):
        if not isinstance(inner, bool):
            raise SpanError(where, "boolValue must be true or false")
        return inner
    if kind in ("intValue", "int_value"):
        if isinstance(inner, str) and re.fullmatch(r"-?[0-9]{1,19}", inner):
            inner = int(inner)
        if not isinstance(inner, int) or isinstance(inner, bool) or not -(2**63) <= inner < 2**63:
            raise SpanError(where, f"intValue {_show(inner)} is not a 64-bit integer")
        return inner
    if kind in ("doubleValue", "double_value"):
        if isinstance(inner, int | float) and not isinstance(inner, bool):
            return float(inner)
        if inner in ("NaN", "Infinity", "-Infinity"):
            return None  # protobuf's spelling of non-finite doubles: no use to promptver
        raise SpanError(where, "doubleValue must be a number")
    if kind in ("arrayValue", "array_value"):
        if nested:
            return None
        values = inner.get("values", []) if isinstance(inner, dict) else None
        if not isinstance(values, list):
            raise SpanError(where, "arrayValue must be an object with a values list")
        if len(values) > MAX_ARRAY:
            return None
        items = [_any_value(v, f"{where}.values[{i}]", nested=True) for i, v in enumerate(values)]
        return [v for v in items if v is not None]
    if kind in ("kvlistValue", "kvlist_value", "bytesValue", "bytes_value"):
        return None
    raise SpanError(where, f"unknown AnyValue field {_show(kind)}")


def _plain_map(raw: dict[str, Any], where: str) -> dict[str, Value]:
    if len(raw) > MAX_ATTRIBUTES:
        raise SpanError(where, f"more than {MAX_ATTRIBUTES} attributes")
    found: dict[str, Value] = {}
    for key, value in raw.items():
        key = _key(key, f"{where}.{key[:40]}")
        if isinstance(value, str):
            if len(value) <= MAX_VALUE:
                found[key] = value
        elif isinstance(value, bool | int | float):
            if isinstance(value, float) and value != value:
                continue
            found[key] = value
        elif isinstance(value, list) and len(value) <= MAX_ARRAY:
            found[key] = [v for v in value if isinstance(v, str | bool | int | float)]
    return found


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
