"""OpenTelemetry stamps: which bundle version a request was rendered from.

When ``opentelemetry-api`` is installed (the ``otel`` extra), rendering from a loaded
bundle (`Bundle.messages`, `Bundle.render`, `Bundle.system`) sets attributes on the span
that is current at that moment: the GenAI semantic conventions where they apply
(``gen_ai.request.model``, ``gen_ai.provider.name``, ``gen_ai.request.temperature``...)
and promptver's own ``promptver.bundle.name``, ``.version``, ``.digest``, ``.alias`` and
``promptver.template``. promptver sends nothing anywhere: the app's SDK and exporter do.

Cheap by construction: the API is imported at the first render (never by ``import
promptver`` or ``load``), and a span that is not recording (no SDK configured, or not
sampled) gets nothing. The template's variables are recorded (``promptver.variables``, a
JSON object) only when the app opts in to capturing content with
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``, the switch the GenAI
instrumentations use: they are what `promptver dataset add --from-traces` turns into cases.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
# Larger variables are not recorded: a span attribute is no place for a document, and a
# truncated JSON object would make a wrong eval case.
MAX_VARIABLES = 32 * 1024

# [model.params] keys -> GenAI request attributes, with the types the conventions give.
_PARAMS: dict[str, tuple[str, tuple[type, ...]]] = {
    "temperature": ("gen_ai.request.temperature", (int, float)),
    "max_tokens": ("gen_ai.request.max_tokens", (int,)),
    "top_p": ("gen_ai.request.top_p", (int, float)),
    "top_k": ("gen_ai.request.top_k", (int, float)),
    "frequency_penalty": ("gen_ai.request.frequency_penalty", (int, float)),
    "presence_penalty": ("gen_ai.request.presence_penalty", (int, float)),
    "seed": ("gen_ai.request.seed", (int,)),
}

_UNSET: Any = object()
_trace: Any = _UNSET  # the opentelemetry.trace module, None when not installed


def _api() -> Any:
    global _trace
    if _trace is _UNSET:
        try:
            import opentelemetry.trace

            _trace = opentelemetry.trace
        except ImportError:
            _trace = None
    return _trace


def attributes(
    name: str, version: str, digest: str, alias: str | None, provider: str, model: str,
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """The attributes every render of this version sets (the template comes on top)."""
    found: dict[str, Any] = {
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": model,
        "promptver.bundle.name": name,
        "promptver.bundle.version": version,
        "promptver.bundle.digest": digest,
    }
    if alias:
        found["promptver.bundle.alias"] = alias
    for key, (attribute, kinds) in _PARAMS.items():
        value = params.get(key)
        if isinstance(value, kinds) and not isinstance(value, bool):
            found[attribute] = value
    stop = params.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    if isinstance(stop, list) and stop and all(isinstance(s, str) for s in stop):
        found["gen_ai.request.stop_sequences"] = stop
    return found


def capturing() -> bool:
    return os.environ.get(CAPTURE_ENV, "").strip().lower() in ("true", "1", "yes")


def stamp(base: dict[str, Any], template: str, variables: Mapping[str, Any]) -> None:
    """Set ``base`` and the template (and, when content capture is on, the variables) on
    the current span; nothing when OpenTelemetry is absent or the span is not recording."""
    trace = _api()
    if trace is None:
        return
    span = trace.get_current_span()
    if not span.is_recording():
        return
    span.set_attributes(base)
    span.set_attribute("promptver.template", template)
    if capturing():
        try:
            text = json.dumps(dict(variables), ensure_ascii=False, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError):  # not JSON data: record nothing rather than a guess
            return
        if len(text) <= MAX_VARIABLES:
            span.set_attribute("promptver.variables", text)
