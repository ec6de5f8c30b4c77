"""Metadata: the ``[bundle]`` table, the ``[versioning]`` policy and unknown tables."""

from __future__ import annotations

from promptver.diff.fields import MISSING, field_changes, show
from promptver.diff.model import Change, ComponentDiff
from promptver.diff.source import Context, Snapshot

# Top-level tables other differs own.
_OWNED = {"model", "prompts", "rag", "evals"}


def diff_metadata(old: Snapshot, new: Snapshot, ctx: Context) -> list[ComponentDiff]:
    changes: list[Change] = []
    keys = [*old.config, *(k for k in new.config if k not in old.config)]
    for key in keys:
        if key in _OWNED:
            continue
        a, b = old.config.get(key, MISSING), new.config.get(key, MISSING)
        rule = "versioning" if key == "versioning" else "metadata"
        before = {} if a is MISSING else {key: a}
        after = {} if b is MISSING else {key: b}
        for fc in field_changes(before, after):
            field = fc.path.split(".", 2)[1] if fc.path.count(".") else None
            name = fc.path.removeprefix("bundle.")
            changes.append(
                Change(
                    "metadata",
                    fc.kind,
                    fc.path,
                    fc.old,
                    fc.new,
                    ctx.impact(rule, field if rule == "metadata" else None),
                    f"{name}: {show(fc.old)} -> {show(fc.new)}",
                    rule,
                )
            )
    if not changes:
        return []
    return [ComponentDiff("metadata", "metadata", "changed", tuple(changes))]
