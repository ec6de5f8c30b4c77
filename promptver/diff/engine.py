"""``diff_trees``: the semantic diff of two bundle trees, component by component."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from promptver.bundle.versioning import parse_policy
from promptver.diff.evals import diff_evals
from promptver.diff.files import diff_files
from promptver.diff.metadata import diff_metadata
from promptver.diff.model import (
    COMPONENTS,
    BundleDiff,
    Change,
    ComponentDiff,
    Hunk,
    Side,
    SideInfo,
    TextDiff,
)
from promptver.diff.model_ref import diff_model
from promptver.diff.prompts import diff_prompts
from promptver.diff.rag import diff_rag
from promptver.diff.source import CONFIG, Context, Snapshot, TreeLike

Differ = Callable[[Snapshot, Snapshot, Context], list[ComponentDiff]]

# Order matters: each differ claims its files, ``diff_files`` reports what is left.
DIFFERS: tuple[Differ, ...] = (
    diff_model,
    diff_prompts,
    diff_rag,
    diff_evals,
    diff_metadata,
    diff_files,
)


def diff_trees(
    old: TreeLike,
    new: TreeLike,
    old_side: Side,
    new_side: Side,
    progress: Callable[[int, int], None] | None = None,
    tokens: bool = True,
    chunks: bool = True,
) -> BundleDiff:
    """Compare two trees (stored versions or working copies). Never reads a file whose
    digest is the same on both sides, except ``bundle.toml`` and, with ``chunks``, the
    corpus documents of a RAG or corpus change (to count the chunks each side makes).
    ``progress(done, total)`` follows the bytes of large files (eval datasets) as they are
    read. ``tokens=False`` skips token counts (loading an encoding costs a few hundred ms;
    bumps do not need it), ``chunks=False`` the chunk counts (nor do they)."""
    if old.digest == new.digest:
        return BundleDiff(old_side, new_side, ())
    before, after = Snapshot.of(old), Snapshot.of(new)
    # A side whose bundle.toml does not parse is read with the other side's layout, so its
    # files are still compared (the broken config itself is reported by _config_problem).
    if after.config_error and not before.config_error:
        after.config = before.config
    elif before.config_error and not after.config_error:
        before.config = after.config
    policy, _ = parse_policy(after.config.get("versioning"), CONFIG)
    tokenizer = _lazy_tokenizer(after if after.table("model") else before)
    ctx = Context(policy=policy, tokenizer=tokenizer if tokens else None, progress=progress, chunks=chunks)
    components: list[ComponentDiff] = []
    invalid = _config_problem(before, after, ctx)
    if invalid is not None:
        components.append(invalid)
    for differ in DIFFERS:
        components += differ(before, after, ctx)
    components.sort(key=lambda c: COMPONENTS.index(c.kind))
    notes: list[str] = []
    approximate = False
    if tokenizer.built is not None and tokenizer.built.note:
        notes.append(tokenizer.built.note)
        approximate = tokenizer.built.approximate
    return BundleDiff(old_side, new_side, tuple(components), approximate, tuple(notes))


class _LazyTokenizer:
    """Builds the tokenizer on first use only: no tiktoken when no text changed."""

    def __init__(self, model: str | None, encoding: str | None):
        self.model, self.encoding = model, encoding
        self.built: Any = None

    def __call__(self) -> Any:
        if self.built is None:
            from promptver.bundle.tokens import tokenizer

            self.built = tokenizer(self.model, self.encoding)
        return self.built


def _lazy_tokenizer(snap: Snapshot) -> _LazyTokenizer:
    table = snap.table("model")
    name = table.get("name") if isinstance(table.get("name"), str) else None
    encoding = table.get("encoding") if isinstance(table.get("encoding"), str) else None
    return _LazyTokenizer(name, encoding)


def _config_problem(before: Snapshot, after: Snapshot, ctx: Context) -> ComponentDiff | None:
    """bundle.toml broken on the new side: the text change, marked invalid."""
    if after.config_error is None or after.config_error == before.config_error:
        return None
    from promptver.diff import text as textdiff

    old_text = before.text(CONFIG) if before.has(CONFIG) else None
    new_text = after.text(CONFIG) if after.has(CONFIG) else None
    hunks: tuple[Hunk, ...] = ()
    added = removed = 0
    if old_text is not None or new_text is not None:
        hunks, added, removed = textdiff.hunks(old_text or "", new_text or "")
    detail = TextDiff(
        old=SideInfo(
            CONFIG if before.has(CONFIG) else None,
            before.size_of(CONFIG),
            binary=before.has(CONFIG) and old_text is None,
            error=before.config_error,
        ),
        new=SideInfo(
            CONFIG if after.has(CONFIG) else None,
            after.size_of(CONFIG),
            binary=after.has(CONFIG) and new_text is None,
            error=after.config_error,
        ),
        hunks=hunks,
        added_lines=added,
        removed_lines=removed,
    )
    change = Change(
        "metadata",
        "changed",
        CONFIG,
        None,
        after.config_error,
        ctx.impact("bundle.invalid"),
        f"bundle.toml is invalid: {after.config_error}",
        "bundle.invalid",
    )
    return ComponentDiff("metadata", CONFIG, "changed", (change,), detail)
