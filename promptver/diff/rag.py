"""RAG configuration (each change with its consequence) and the corpus documents."""

from __future__ import annotations

from typing import Any

from promptver.diff.fields import MISSING, field_changes, join, same, show
from promptver.diff.model import Change, ChunkCounts, ComponentDiff, FileChange, FilesDiff, RagDiff
from promptver.diff.source import Context, Snapshot, clean_path

REBUILD = "index must be rebuilt"

# key -> (rule, consequence)
_KEYS: dict[str, tuple[str, str | None]] = {
    "embedding_model": ("rag.embedding_model", f"the vector index no longer fits: {REBUILD}"),
    "chunking": ("rag.chunking", REBUILD),
    "corpus": ("rag.corpus", REBUILD),
    "corpus_uri": ("rag.corpus", REBUILD),
    "corpus_digest": ("rag.corpus", REBUILD),
    "top_k": ("rag.top_k", "retrieval depth"),
    "retriever": ("rag.retriever", "retrieval method"),
    "reranker": ("rag.reranker", "ranking of retrieved chunks"),
}


def diff_rag(old: Snapshot, new: Snapshot, ctx: Context) -> list[ComponentDiff]:
    has_old, has_new = "rag" in old.config, "rag" in new.config
    before, after = old.table("rag"), new.table("rag")
    out: list[ComponentDiff] = []
    if has_old != has_new:
        kind = "added" if has_new else "removed"
        rule = f"rag.{kind}"
        reason = f"RAG configuration {kind}" + (f": {REBUILD}" if has_new else "")
        change = Change(
            "rag",
            kind,
            "rag",
            before or None,
            after or None,
            ctx.impact(rule),
            reason,
            rule,
        )
        out.append(ComponentDiff("rag", "rag", kind, (change,), _detail(old, new, ctx)))
    elif has_old:
        changes = _settings(before, after, ctx)
        if changes:
            out.append(ComponentDiff("rag", "rag", "changed", tuple(changes), _detail(old, new, ctx)))
    corpus = _corpus(old, new, ctx)
    if corpus is not None:
        out.append(corpus)
    return out


def _settings(before: dict[str, Any], after: dict[str, Any], ctx: Context) -> list[Change]:
    changes: list[Change] = []
    for key in [*before, *(k for k in after if k not in before)]:
        a, b = before.get(key, MISSING), after.get(key, MISSING)
        rule, consequence = _KEYS.get(key, ("rag.other", None))
        if key == "chunking" and isinstance(a, dict) and isinstance(b, dict):
            for fc in field_changes(a, b, "rag.chunking"):
                name = fc.path.removeprefix("rag.chunking.").split(".")[0]
                changes.append(
                    Change(
                        "rag",
                        fc.kind,
                        fc.path,
                        fc.old,
                        fc.new,
                        ctx.impact(rule, name),
                        f"chunking {name}: {show(fc.old)} -> {show(fc.new)}: {consequence}",
                        rule,
                    )
                )
            continue
        if a is not MISSING and b is not MISSING and same(a, b):
            continue
        kind = "added" if a is MISSING else "removed" if b is MISSING else "changed"
        old_v = None if a is MISSING else a
        new_v = None if b is MISSING else b
        reason = f"{key}: {show(old_v)} -> {show(new_v)}"
        if consequence:
            reason += f": {consequence}"
        changes.append(
            Change(
                "rag",
                kind,
                join("rag", key),
                old_v,
                new_v,
                ctx.impact(rule, key if rule == "rag.other" else None),
                reason,
                rule,
            )
        )
    return changes


def _corpus(old: Snapshot, new: Snapshot, ctx: Context) -> ComponentDiff | None:
    """Documents of the corpus folder, matched by path inside it; a document that moved
    keeps its content digest and is reported as renamed."""
    old_dir = clean_path(old.table("rag").get("corpus"))
    new_dir = clean_path(new.table("rag").get("corpus"))
    if old_dir is None and new_dir is None:
        return None
    old_docs = _documents(old, old_dir)
    new_docs = _documents(new, new_dir)
    ctx.claimed.update(old_docs.values())
    ctx.claimed.update(new_docs.values())
    files: list[FileChange] = []
    removed = {rel: path for rel, path in old_docs.items() if rel not in new_docs}
    added = {rel: path for rel, path in new_docs.items() if rel not in old_docs}
    for rel in sorted(old_docs.keys() & new_docs.keys()):
        a, b = old_docs[rel], new_docs[rel]
        if old.digest_of(a) != new.digest_of(b):
            files.append(FileChange("changed", a, b, old.size_of(a), new.size_of(b)))
    by_digest = {new.digest_of(p): rel for rel, p in added.items()}
    for _rel, path in sorted(removed.items()):
        match = by_digest.pop(old.digest_of(path), None)
        if match is not None and match in added:
            target = added.pop(match)
            files.append(FileChange("renamed", path, target, old.size_of(path), new.size_of(target)))
        else:
            files.append(FileChange("removed", path, None, old.size_of(path), None))
    files += [FileChange("added", None, p, None, new.size_of(p)) for _, p in sorted(added.items())]
    if not files:
        return None
    files.sort(key=lambda f: f.path)
    changes = tuple(
        Change(
            "corpus",
            f.kind,
            f.path,
            f.old_path if f.kind == "renamed" else f.old_size,
            f.new_path if f.kind == "renamed" else f.new_size,
            ctx.impact("corpus.document"),
            _reason(f),
            "corpus.document",
        )
        for f in files
    )
    return ComponentDiff(
        "corpus", "corpus", "changed", changes, FilesDiff(tuple(files), chunk_counts(old, new, ctx))
    )


def _detail(old: Snapshot, new: Snapshot, ctx: Context) -> RagDiff | None:
    counts = chunk_counts(old, new, ctx)
    return RagDiff(counts) if counts is not None else None


def chunk_counts(old: Snapshot, new: Snapshot, ctx: Context) -> ChunkCounts | None:
    """The chunks each side's corpus makes with its own ``[rag.chunking]``: computed only
    for a RAG or corpus change (reading and chunking every document is not free), and not
    at all when ``ctx.chunks`` is off (bumps)."""
    if not ctx.chunks:
        return None
    return ChunkCounts(_chunks(old), _chunks(new))


def _chunks(snap: Snapshot) -> int | None:
    from promptver.bundle.chunking import count_chunks

    table = snap.table("rag")
    folder = clean_path(table.get("corpus"))
    if "rag" not in snap.config or folder is None:
        return None
    read = snap.read

    def data(path: str) -> bytes:
        return read(path) or b""

    return count_chunks(sorted(snap.paths_under(folder)), data, table.get("chunking"))


def _documents(snap: Snapshot, folder: str | None) -> dict[str, str]:
    """Relative path inside the corpus folder -> bundle path."""
    if folder is None:
        return {}
    prefix = folder + "/"
    return {p[len(prefix) :]: p for p in snap.paths_under(folder)}


def _reason(change: FileChange) -> str:
    if change.kind == "renamed":
        return f"document {change.old_path} moved to {change.new_path}: {REBUILD}"
    if change.kind == "changed":
        return f"document {change.path} changed ({change.old_size} -> {change.new_size} bytes): {REBUILD}"
    return f"document {change.path} {change.kind}: {REBUILD}"
