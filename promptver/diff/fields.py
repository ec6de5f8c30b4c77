"""Field-level differences of JSON-like values (config tables, eval cases, JSON schemas).

``field_changes`` is a small exact walk (dicts by key, lists by index) used for config
tables and for every changed eval case: it runs a thousand cases in milliseconds and
names fields the way users write them (``vars.question``, ``tags[1]``). JSON schemas go
through DeepDiff with ``ignore_order`` (``schema_changes``), where list order (``required``,
``enum``) carries no meaning.
"""

from __future__ import annotations

from typing import Any

from promptver.diff.model import FieldChange


class Missing:
    """The marker of a key absent on one side."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = Missing()


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def join(prefix: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    key = str(key)
    if key and all(ch.isalnum() or ch in "_-" for ch in key):
        return f"{prefix}.{key}" if prefix else key
    return f"{prefix}[{key!r}]"


def same(a: Any, b: Any) -> bool:
    """JSON equality: ``1 == 1.0`` but ``True != 1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def field_changes(old: Any, new: Any, prefix: str = "") -> list[FieldChange]:
    out: list[FieldChange] = []
    _walk(old, new, prefix, out)
    return out


def _walk(old: Any, new: Any, path: str, out: list[FieldChange]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in old:
            if key in new:
                a, b = old[key], new[key]
                if type(a) is str and type(b) is str and a == b:
                    continue  # the usual case, without building the field's name
                _walk(a, b, join(path, key), out)
            else:
                out.append(FieldChange("removed", join(path, key), old[key], None))
        for key in new:
            if key not in old:
                out.append(FieldChange("added", join(path, key), None, new[key]))
        return
    if isinstance(old, list) and isinstance(new, list):
        for i in range(min(len(old), len(new))):
            _walk(old[i], new[i], join(path, i), out)
        for i in range(len(new), len(old)):
            out.append(FieldChange("removed", join(path, i), old[i], None))
        for i in range(len(old), len(new)):
            out.append(FieldChange("added", join(path, i), None, new[i]))
        return
    if not same(old, new):
        out.append(FieldChange("changed", path, old, new))


def schema_changes(old: Any, new: Any, prefix: str) -> list[FieldChange]:
    """Changes between two JSON schemas, field by field, ignoring list order."""
    from deepdiff import DeepDiff

    diff = DeepDiff(old, new, ignore_order=True, view="tree")
    out: list[FieldChange] = []
    kinds = {
        "values_changed": "changed",
        "type_changes": "changed",
        "dictionary_item_added": "added",
        "dictionary_item_removed": "removed",
        "iterable_item_added": "added",
        "iterable_item_removed": "removed",
    }
    for report, kind in kinds.items():
        for level in diff.get(report, []):
            path = prefix
            for key in level.path(output_format="list"):
                path = join(path, key)
            old_value = None if kind == "added" else _plain(level.t1)
            new_value = None if kind == "removed" else _plain(level.t2)
            out.append(FieldChange(kind, path, old_value, new_value))
    return sorted(out, key=lambda c: c.path)


def _plain(value: Any) -> Any:
    """DeepDiff marks missing sides with its own sentinel; JSON wants None."""
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    return None


def show(value: Any, limit: int = 60) -> str:
    """A short display form of a value for reasons (``0.2``, ``'gpt-4o'``, ``[...]``)."""
    if value is None:
        return "(none)"
    text = repr(value) if isinstance(value, str) else _json(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json(value: Any) -> str:
    import json

    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)
