"""The model reference: provider, model name, parameters, response format and schema."""

from __future__ import annotations

import json
from typing import Any

from promptver.diff.fields import MISSING, Missing, field_changes, join, same, schema_changes, show
from promptver.diff.model import Change, ComponentDiff
from promptver.diff.source import Context, Snapshot, clean_path

_FIELD_RULES = {
    "provider": "model.provider",
    "name": "model.name",
    "base_url": "model.base_url",
    "encoding": "model.encoding",
}


def diff_model(old: Snapshot, new: Snapshot, ctx: Context) -> list[ComponentDiff]:
    before, after = old.table("model"), new.table("model")
    changes: list[Change] = []
    for key in [*before, *(k for k in after if k not in before)]:
        a, b = before.get(key, MISSING), after.get(key, MISSING)
        if key == "response_format":
            changes += _response_format(old, new, a, b, ctx)
        elif key == "params" and isinstance(a, dict | Missing) and isinstance(b, dict | Missing):
            before_params = {} if a is MISSING else a
            after_params = {} if b is MISSING else b
            for fc in field_changes(before_params, after_params, "model.params"):
                param = fc.path.removeprefix("model.params").lstrip(".").split(".")[0]
                param = param.split("[")[0]
                changes.append(
                    Change(
                        "model",
                        fc.kind,
                        fc.path,
                        fc.old,
                        fc.new,
                        ctx.impact("model.params", param),
                        f"{fc.path.removeprefix('model.')}: {show(fc.old)} -> {show(fc.new)}",
                        "model.params",
                    )
                )
        elif a is MISSING or b is MISSING or not same(a, b):
            changes.append(_field(key, a, b, ctx))
    if not changes:
        return []
    return [ComponentDiff("model", "model", "changed" if before else "added", tuple(changes))]


def _field(key: str, a: Any, b: Any, ctx: Context) -> Change:
    rule = _FIELD_RULES.get(key, "model.other")
    old = None if a is MISSING else a
    new = None if b is MISSING else b
    kind = "added" if a is MISSING else "removed" if b is MISSING else "changed"
    path = join("model", key)
    if key == "provider":
        reason = f"provider changed: {show(old)} -> {show(new)} (callers' client code differs)"
    elif key == "name":
        reason = f"model changed: {show(old)} -> {show(new)}"
    else:
        reason = f"{key}: {show(old)} -> {show(new)}"
    return Change(
        "model",
        kind,
        path,
        old,
        new,
        ctx.impact(rule, None if rule != "model.other" else key),
        reason,
        rule,
    )


def _response_format(old: Snapshot, new: Snapshot, a: Any, b: Any, ctx: Context) -> list[Change]:
    impact = ctx.impact("model.response_format")
    rule = "model.response_format"
    before = a if isinstance(a, dict) else {} if a is MISSING else {"type": a}
    after = b if isinstance(b, dict) else {} if b is MISSING else {"type": b}
    changes: list[Change] = []
    if a is MISSING or b is MISSING:
        kind = "added" if a is MISSING else "removed"
        return [
            Change(
                "model",
                kind,
                "model.response_format",
                None if a is MISSING else a,
                None if b is MISSING else b,
                impact,
                f"response format {kind}: callers parsing the output must change",
                rule,
            )
        ]
    for key in [*before, *(k for k in after if k not in before)]:
        if key == "schema":
            continue
        x, y = before.get(key), after.get(key)
        if not same(x, y):
            changes.append(
                Change(
                    "model",
                    "changed",
                    f"model.response_format.{key}",
                    x,
                    y,
                    impact,
                    f"response format {key}: {show(x)} -> {show(y)}",
                    rule,
                )
            )
    old_schema, old_err = _schema(old, before.get("schema"), ctx)
    new_schema, new_err = _schema(new, after.get("schema"), ctx)
    if new_err and new_err != old_err:
        changes.append(
            Change(
                "model",
                "changed",
                "model.response_format.schema",
                None,
                new_err,
                impact,
                f"response schema: {new_err}",
                rule,
            )
        )
    if old_schema is not None and new_schema is not None:
        if old_schema == new_schema:
            return changes
        for fc in schema_changes(old_schema, new_schema, "model.response_format.schema"):
            where = fc.path.removeprefix("model.response_format.schema").lstrip(".") or "(root)"
            changes.append(
                Change(
                    "model",
                    fc.kind,
                    fc.path,
                    fc.old,
                    fc.new,
                    impact,
                    f"response schema {fc.kind}: {where}"
                    + (f" {show(fc.old)} -> {show(fc.new)}" if fc.kind == "changed" else ""),
                    rule,
                )
            )
    elif (old_schema is None) != (new_schema is None) and not new_err:
        kind = "added" if old_schema is None else "removed"
        changes.append(
            Change(
                "model",
                kind,
                "model.response_format.schema",
                old_schema,
                new_schema,
                impact,
                f"response schema {kind}",
                rule,
            )
        )
    return changes


def _schema(snap: Snapshot, ref: Any, ctx: Context) -> tuple[Any, str | None]:
    """The schema as data: an inline table, or a JSON file of the bundle (claimed)."""
    if ref is None:
        return None, None
    if isinstance(ref, dict):
        return ref, None
    path = clean_path(ref)
    if path is None:
        return None, f"schema must be a file path or a table, not {show(ref)}"
    ctx.claimed.add(path)
    data = snap.read(path)
    if data is None:
        return None, f"schema file {path} is missing"
    try:
        return json.loads(data), None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        return None, f"{path} is not valid JSON: {exc}"
