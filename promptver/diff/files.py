"""Files no component refers to (READMEs, helper scripts, unreferenced data)."""

from __future__ import annotations

from promptver.diff.model import Change, ComponentDiff, FileChange, FilesDiff
from promptver.diff.source import CONFIG, Context, Snapshot


def diff_files(old: Snapshot, new: Snapshot, ctx: Context) -> list[ComponentDiff]:
    skip = ctx.claimed | {CONFIG}
    paths = sorted((old.tree.entries.keys() | new.tree.entries.keys()) - skip)
    files: list[FileChange] = []
    for path in paths:
        a, b = old.digest_of(path), new.digest_of(path)
        if a == b:
            continue
        kind = "added" if a is None else "removed" if b is None else "changed"
        files.append(
            FileChange(
                kind,
                path if a else None,
                path if b else None,
                old.size_of(path),
                new.size_of(path),
            )
        )
    if not files:
        return []
    impact = ctx.impact("files.other")
    changes = tuple(
        Change(
            "files",
            f.kind,
            f.path,
            f.old_size,
            f.new_size,
            impact,
            f"{f.path} {f.kind}" + (f" ({f.old_size} -> {f.new_size} bytes)" if f.kind == "changed" else ""),
            "files.other",
        )
        for f in files
    )
    return [ComponentDiff("files", "files", "changed", changes, FilesDiff(tuple(files)))]
