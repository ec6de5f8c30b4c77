"""The diff model: what changed between two bundle trees, and how much it matters.

Plain frozen dataclasses with no third-party imports, so the CLI, the TUI and scripts can
all consume them. ``BundleDiff.to_json()`` is the versioned JSON schema documented in
``docs/diff.md``; bump ``SCHEMA_VERSION`` on any incompatible change to it.

    BundleDiff                      two sides, components, suggested bump
     └── ComponentDiff              one model / prompt / template / rag / dataset / ...
          ├── Change                one change with impact class and a one-line reason
          └── detail                TextDiff | EvalDiff | FilesDiff | RagDiff | None
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from promptver.bundle.interface import Variables
from promptver.bundle.versioning import Impact, largest

SCHEMA_VERSION = 1

JSONValue: TypeAlias = Any
ChangeKind = str  # "added" | "removed" | "changed" | "renamed"
Status = str  # ChangeKind or "unchanged"
RowKind = Literal["equal", "delete", "insert", "replace"]

# Component kinds, in the order they are reported.
COMPONENTS: tuple[str, ...] = (
    "model",
    "system",
    "templates",
    "rag",
    "corpus",
    "evals",
    "metadata",
    "files",
)


@dataclass(frozen=True)
class Change:
    """One change. ``rule`` names the policy rule that classified it (docs/diff.md)."""

    component: str
    kind: ChangeKind
    path: str
    old: JSONValue
    new: JSONValue
    impact: Impact
    reason: str
    rule: str

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "component": self.component,
            "kind": self.kind,
            "path": self.path,
            "old": self.old,
            "new": self.new,
            "impact": self.impact.value,
            "reason": self.reason,
            "rule": self.rule,
        }

    @classmethod
    def from_json(cls, data: dict[str, JSONValue]) -> Change:
        return cls(
            component=data["component"],
            kind=data["kind"],
            path=data["path"],
            old=data.get("old"),
            new=data.get("new"),
            impact=Impact(data["impact"]),
            reason=data["reason"],
            rule=data.get("rule", ""),
        )


# -- text (templates, system prompt) ------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """A run of a line's text; ``changed`` marks the words that differ from the other side."""

    text: str
    changed: bool

    def to_json(self) -> list[JSONValue]:
        return [self.text, self.changed]


@dataclass(frozen=True)
class Line:
    """One line of one side: 1-based number, text (without newline) and word segments."""

    number: int
    text: str
    segments: tuple[Segment, ...] = ()
    truncated: int = 0  # characters cut from a huge line (the text keeps the first part)

    def to_json(self) -> dict[str, JSONValue]:
        out: dict[str, JSONValue] = {"number": self.number, "text": self.text}
        if self.segments:
            out["segments"] = [s.to_json() for s in self.segments]
        if self.truncated:
            out["truncated"] = self.truncated
        return out


@dataclass(frozen=True)
class Row:
    """A side-by-side row; unified output shows ``old`` as ``-`` and ``new`` as ``+``."""

    kind: RowKind
    old: Line | None
    new: Line | None

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "kind": self.kind,
            "old": self.old.to_json() if self.old else None,
            "new": self.new.to_json() if self.new else None,
        }


@dataclass(frozen=True)
class Hunk:
    """A group of changed rows with context, as in ``@@ -old_start,old_count ... @@``."""

    old_start: int
    old_count: int
    new_start: int
    new_count: int
    rows: tuple[Row, ...]

    @property
    def header(self) -> str:
        return f"@@ -{self.old_start},{self.old_count} +{self.new_start},{self.new_count} @@"

    def unified(self) -> list[tuple[str, Line]]:
        """The hunk as unified lines: ``(' ' | '-' | '+', line)``, removals before additions."""
        out: list[tuple[str, Line]] = []
        pending_new: list[Line] = []
        for row in self.rows:
            if row.kind == "equal":
                out += [("+", line) for line in pending_new]
                pending_new = []
                assert row.old is not None
                out.append((" ", row.old))
                continue
            if row.old is not None:
                out.append(("-", row.old))
            if row.new is not None:
                pending_new.append(row.new)
        out += [("+", line) for line in pending_new]
        return out

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "old_start": self.old_start,
            "old_count": self.old_count,
            "new_start": self.new_start,
            "new_count": self.new_count,
            "rows": [r.to_json() for r in self.rows],
        }


@dataclass(frozen=True)
class TokenCounts:
    """Token counts of the two sides; None on a side that is absent or not text."""

    old: int | None
    new: int | None
    encoding: str
    approximate: bool
    note: str | None = None  # why the counts are approximate or missing

    @property
    def delta(self) -> int | None:
        if self.old is None or self.new is None:
            return None
        return self.new - self.old

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "old": self.old,
            "new": self.new,
            "delta": self.delta,
            "encoding": self.encoding,
            "approximate": self.approximate,
            "note": self.note,
        }


@dataclass(frozen=True)
class SideInfo:
    """What is known about one side of a text file."""

    path: str | None  # None when absent on this side
    size: int | None = None
    binary: bool = False  # not UTF-8 text: shown with sizes only
    error: str | None = None  # Jinja2 syntax error ("file:line: message"): template invalid
    variables: Variables | None = None

    @property
    def valid(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "path": self.path,
            "size": self.size,
            "binary": self.binary,
            "valid": self.valid,
            "error": self.error,
            "variables": self.variables.to_json() if self.variables else None,
        }


@dataclass(frozen=True)
class TextDiff:
    """Line-level diff of a text file with word-level segments on replaced lines."""

    old: SideInfo
    new: SideInfo
    hunks: tuple[Hunk, ...]
    added_lines: int
    removed_lines: int
    tokens: TokenCounts | None = None
    variables_added: tuple[str, ...] = ()
    variables_removed: tuple[str, ...] = ()
    similarity: float | None = None  # set for renames: 0..1 content similarity

    type: Literal["text"] = field(default="text", init=False)

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "type": self.type,
            "old": self.old.to_json(),
            "new": self.new.to_json(),
            "added_lines": self.added_lines,
            "removed_lines": self.removed_lines,
            "hunks": [h.to_json() for h in self.hunks],
            "tokens": self.tokens.to_json() if self.tokens else None,
            "variables_added": list(self.variables_added),
            "variables_removed": list(self.variables_removed),
            "similarity": self.similarity,
        }


# -- eval datasets -------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldChange:
    """One field of a case: ``path`` like ``vars.question`` or ``tags[1]``."""

    kind: ChangeKind
    path: str
    old: JSONValue
    new: JSONValue

    def to_json(self) -> dict[str, JSONValue]:
        return {"kind": self.kind, "path": self.path, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class CaseChange:
    """A case added, removed or changed, matched by ``id``; lines are 1-based."""

    id: str
    kind: ChangeKind
    old_line: int | None
    new_line: int | None
    fields: tuple[FieldChange, ...] = ()

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "id": self.id,
            "kind": self.kind,
            "old_line": self.old_line,
            "new_line": self.new_line,
            "fields": [f.to_json() for f in self.fields],
        }


@dataclass(frozen=True)
class EvalDiff:
    """Case-level diff of one JSONL dataset. ``problems`` are lines that could not be
    matched (not JSON, not an object, no ``id``, duplicate ``id``), as ``file:line: msg``."""

    old_path: str | None
    new_path: str | None
    added: int
    removed: int
    changed: int
    unchanged: int
    cases: tuple[CaseChange, ...]
    problems: tuple[str, ...] = ()
    old_size: int | None = None
    new_size: int | None = None

    type: Literal["eval"] = field(default="eval", init=False)

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "type": self.type,
            "old_path": self.old_path,
            "new_path": self.new_path,
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "old_size": self.old_size,
            "new_size": self.new_size,
            "problems": list(self.problems),
            "cases": [c.to_json() for c in self.cases],
        }


# -- sets of files (corpus, other files) ---------------------------------------------------


@dataclass(frozen=True)
class FileChange:
    """A file added, removed, changed or renamed (same content, new path)."""

    kind: ChangeKind
    old_path: str | None
    new_path: str | None
    old_size: int | None
    new_size: int | None

    @property
    def path(self) -> str:
        return self.new_path or self.old_path or ""

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "kind": self.kind,
            "old_path": self.old_path,
            "new_path": self.new_path,
            "old_size": self.old_size,
            "new_size": self.new_size,
        }


@dataclass(frozen=True)
class ChunkCounts:
    """Chunks the corpus makes with each side's ``[rag.chunking]`` (None: no corpus on that
    side, or it cannot be chunked)."""

    old: int | None
    new: int | None

    def text(self) -> str:
        def show(n: int | None) -> str:
            return "-" if n is None else f"{n:,}"

        return f"chunks {show(self.old)} -> {show(self.new)}"

    def to_json(self) -> dict[str, JSONValue]:
        return {"old": self.old, "new": self.new}


@dataclass(frozen=True)
class FilesDiff:
    files: tuple[FileChange, ...]
    chunks: ChunkCounts | None = None  # the corpus component: what its documents chunk into

    type: Literal["files"] = field(default="files", init=False)

    def to_json(self) -> dict[str, JSONValue]:
        out: dict[str, JSONValue] = {"type": self.type, "files": [f.to_json() for f in self.files]}
        if self.chunks is not None:
            out["chunks"] = self.chunks.to_json()
        return out


@dataclass(frozen=True)
class RagDiff:
    """The RAG settings component: what the change does to the index before anything runs."""

    chunks: ChunkCounts

    type: Literal["rag"] = field(default="rag", init=False)

    def to_json(self) -> dict[str, JSONValue]:
        return {"type": self.type, "chunks": self.chunks.to_json()}


Detail: TypeAlias = TextDiff | EvalDiff | FilesDiff | RagDiff


# -- components and the whole diff --------------------------------------------------------


@dataclass(frozen=True)
class ComponentDiff:
    """One component: ``kind`` is one of ``COMPONENTS``, ``name`` identifies it within
    the kind (template name, dataset name, file path; the kind itself for singletons)."""

    kind: str
    name: str
    status: Status
    changes: tuple[Change, ...]
    detail: Detail | None = None

    @property
    def impact(self) -> Impact | None:
        return largest(c.impact for c in self.changes)

    @property
    def title(self) -> str:
        return self.kind if self.name == self.kind else f"{self.kind} {self.name}"

    def to_json(self) -> dict[str, JSONValue]:
        impact = self.impact
        return {
            "kind": self.kind,
            "name": self.name,
            "status": self.status,
            "impact": impact.value if impact else None,
            "changes": [c.to_json() for c in self.changes],
            "detail": self.detail.to_json() if self.detail else None,
        }


@dataclass(frozen=True)
class Side:
    """One side of a diff: bundle name, version (None for a working copy), tree digest."""

    bundle: str
    version: str | None
    digest: str
    label: str

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "bundle": self.bundle,
            "version": self.version,
            "digest": self.digest,
            "label": self.label,
        }

    @classmethod
    def from_json(cls, data: dict[str, JSONValue]) -> Side:
        return cls(data["bundle"], data.get("version"), data["digest"], data["label"])


# Where requests go: a change to any of these is security-relevant (keys follow endpoints).
ENDPOINT_PATHS = frozenset(
    {
        "model.provider",
        "model.base_url",
        "rag.embedding_provider",
        "rag.embedding_base_url",
        "rag.reranker_provider",
        "rag.reranker_base_url",
    }
)


@dataclass(frozen=True)
class BundleDiff:
    """The semantic diff of two bundle trees. Only changed components are listed."""

    old: Side
    new: Side
    components: tuple[ComponentDiff, ...]
    tokens_approximate: bool = False
    notes: tuple[str, ...] = ()  # e.g. why token counts are approximate

    @property
    def identical(self) -> bool:
        return self.old.digest == self.new.digest

    @property
    def changes(self) -> tuple[Change, ...]:
        return tuple(c for comp in self.components for c in comp.changes)

    @property
    def suggested(self) -> Impact | None:
        """The suggested bump: the largest impact of any change, None when nothing changed."""
        return largest(c.impact for c in self.changes)

    @property
    def security_changes(self) -> tuple[Change, ...]:
        """Changes of where requests, and the API keys they carry, are sent (model,
        embeddings, reranker): flagged by diff, review and ci-report (docs/evals.md)."""
        return tuple(c for c in self.changes if c.path in ENDPOINT_PATHS)

    def reasons(self, impact: Impact) -> list[Change]:
        """The changes of exactly this impact (used to explain a refused bump)."""
        return [c for c in self.changes if c.impact == impact]

    def to_json(self) -> dict[str, JSONValue]:
        suggested = self.suggested
        return {
            "schema": "promptver.diff",
            "schema_version": SCHEMA_VERSION,
            "old": self.old.to_json(),
            "new": self.new.to_json(),
            "identical": self.identical,
            "suggested_bump": suggested.value if suggested else None,
            "counts": self.counts(),
            "tokens_approximate": self.tokens_approximate,
            "notes": list(self.notes),
            "components": [c.to_json() for c in self.components],
            "security": [c.path for c in self.security_changes],
        }

    def counts(self) -> dict[str, int]:
        out = {i.value: 0 for i in (Impact.MAJOR, Impact.MINOR, Impact.PATCH)}
        for change in self.changes:
            out[change.impact.value] += 1
        return out

    def summary(self) -> Summary:
        """The compact form stored in manifests and used by the changelog."""
        return Summary(
            old_version=self.old.version,
            old_digest=self.old.digest,
            suggested=self.suggested,
            changes=self.changes,
        )


@dataclass(frozen=True)
class Summary:
    """What a manifest records about the change that produced it (no text or case detail)."""

    old_version: str | None
    old_digest: str | None
    suggested: Impact | None
    changes: tuple[Change, ...]

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "schema_version": SCHEMA_VERSION,
            "from_version": self.old_version,
            "from_digest": self.old_digest,
            "suggested_bump": self.suggested.value if self.suggested else None,
            "changes": [_compact(c) for c in self.changes],
        }

    @classmethod
    def from_json(cls, data: dict[str, JSONValue]) -> Summary:
        suggested = data.get("suggested_bump")
        return cls(
            old_version=data.get("from_version"),
            old_digest=data.get("from_digest"),
            suggested=Impact(suggested) if suggested else None,
            changes=tuple(Change.from_json(c) for c in data.get("changes", [])),
        )


_SUMMARY_VALUE_LIMIT = 200


def _compact(change: Change) -> dict[str, JSONValue]:
    """A change for the manifest: long old/new values are dropped (the reason stays)."""
    data = change.to_json()
    for key in ("old", "new"):
        value = data[key]
        if value is not None and len(repr(value)) > _SUMMARY_VALUE_LIMIT:
            data[key] = None
    return data
