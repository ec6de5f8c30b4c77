"""What the review screen shows, independent of how the diff was computed.

The app consumes a ``Review``; ``promptver.tui.adapter`` builds one from the semantic diff
model and the store. Keeping this layer small and Textual-free lets the widgets be tested
with plain data and keeps the UI stable if the diff model grows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["added", "removed", "changed", "unchanged"]
Impact = Literal["major", "minor", "patch"]
Kind = Literal["model", "system", "template", "rag", "dataset", "corpus", "results", "metadata", "files"]


@dataclass(frozen=True)
class Side:
    """One of the two versions under review."""

    label: str  # "1.2.0" or "working copy"
    digest: str | None = None  # "sha256:..." (None: not computed)
    author: str | None = None
    created: str | None = None  # ISO 8601, UTC
    version: str | None = None  # None for a working copy

    @property
    def short_digest(self) -> str:
        if not self.digest:
            return "-"
        return self.digest.split(":", 1)[-1][:12]


@dataclass(frozen=True)
class TextBody:
    """A text component: ``None`` on a side means the file does not exist there."""

    old: str | None
    new: str | None
    binary: bool = False
    old_size: int | None = None
    new_size: int | None = None


@dataclass(frozen=True)
class FieldRow:
    path: str  # "params.temperature"
    old: Any
    new: Any
    status: Status
    note: str | None = None  # why it matters, e.g. "the vector index must be rebuilt"
    impact: Impact | None = None


@dataclass(frozen=True)
class FieldsBody:
    rows: Sequence[FieldRow]


CaseStatus = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class CaseRow:
    id: str
    status: CaseStatus
    old: Any = None  # the case as stored (None: absent, or not loaded yet)
    new: Any = None
    fields: tuple[str, ...] = ()  # paths of the fields that changed
    old_line: int | None = None  # 1-based line in the JSONL file
    new_line: int | None = None


@dataclass(frozen=True)
class CasesBody:
    """Changed cases; ``fetch`` loads both sides of one case for the detail view."""

    cases: Sequence[CaseRow]
    old_total: int | None = None
    new_total: int | None = None
    fetch: Callable[[CaseRow], tuple[Any, Any]] | None = None


@dataclass(frozen=True)
class FileRow:
    path: str
    status: CaseStatus | Literal["renamed"]
    old_path: str | None
    new_path: str | None
    old_size: int | None
    new_size: int | None


@dataclass(frozen=True)
class FilesBody:
    """A set of files (corpus, other files); ``fetch`` loads one file's two texts."""

    files: Sequence[FileRow]
    fetch: Callable[[FileRow], TextBody] | None = None


Unit = Literal["number", "percent", "cost", "ratio"]


@dataclass(frozen=True)
class MetricRow:
    name: str
    old: float | None
    new: float | None
    higher_is_better: bool = True
    unit: Unit = "number"  # percent: a 0..1 rate shown as 100.0%; cost: dollars; ratio: 0.750
    note: str = ""  # shown after the name, e.g. "partial on new"


Verdict = Literal["regressed", "improved", "changed", "added", "removed", "sources"]


@dataclass(frozen=True)
class CaseOutcome:
    """A case whose outcome differs between the runs: it regressed or improved, is only in
    one run (added, removed), or kept its verdict but retrieved other sources."""

    id: str
    verdict: Verdict
    old_passed: bool | None
    new_passed: bool | None
    old_output: str
    new_output: str
    note: str = ""  # how its expected sources' ranks moved
    sources_changed: bool = False  # it retrieved other sources (or in another order)


@dataclass(frozen=True)
class EvalsBody:
    """Eval results of both versions; ``missing`` says why there is nothing to compare."""

    metrics: Sequence[MetricRow] = ()
    outcomes: Sequence[CaseOutcome] = ()
    old_run: str | None = None
    new_run: str | None = None
    missing: str | None = None
    old_target: str | None = None  # the target that produced each run ("python:m:f", "rag")
    new_target: str | None = None
    # hit@k, recall@k, MRR, nDCG@k of runs that retrieve (empty otherwise)
    retrieval: Sequence[MetricRow] = ()
    retrieval_cases: tuple[int | None, int | None] = (None, None)  # cases with expected sources
    # what each run evaluated: target, dataset, errors, cost, and whether it is evidence
    old_about: str | None = None
    new_about: str | None = None
    verdict: str | None = None  # "no detectable difference (p = 0.41, 95% CI -3.1..+8.4 pts)"
    history: EvalHistory | None = None  # the dataset's score across versions

    def count(self, verdict: str) -> int:
        return sum(1 for o in self.outcomes if o.verdict == verdict)

    @property
    def sources_changed(self) -> list[str]:
        """Cases whose retrieved sources changed (whatever their verdict)."""
        return [o.id for o in self.outcomes if o.sources_changed]


@dataclass(frozen=True)
class EvalHistory:
    """Score and pass rate (percent) per version, oldest first; ``marks``: the reviewed ones."""

    title: str
    versions: Sequence[str]
    score: Sequence[float]
    pass_rate: Sequence[float]
    marks: Sequence[str] = ()


Body = TextBody | FieldsBody | CasesBody | FilesBody | EvalsBody


@dataclass
class Component:
    """One entry of the navigator and what the main pane shows for it."""

    key: str  # unique, e.g. "template:answer"
    kind: Kind
    title: str
    status: Status
    impact: Impact | None = None
    counts: str = ""  # short badge text: "+3 -1", "2 fields", "12 cases"
    notes: tuple[str, ...] = ()  # shown above the body: variables, tokens, implications
    body: Body | None = None
    load: Callable[[], Body] | None = None  # slow bodies are computed in a worker
    # more notes computed after the body is on screen (token counts), also in a worker
    enrich: Callable[[Body], None] | None = None

    @property
    def changed(self) -> bool:
        return self.status != "unchanged"


@dataclass
class Review:
    bundle: str
    old: Side
    new: Side
    components: list[Component] = field(default_factory=list)
    bump: str | None = None  # "major" | "minor" | "patch" | None (no change)
    bump_reason: str | None = None
    first_version: str | None = None  # set when the old side is the empty bundle (no versions yet)
    security: list[str] = field(default_factory=list)  # endpoint changes (where keys go)
    # each reviewer's latest decision on the new side's digest: (actor, decision)
    decisions: list[tuple[str, str]] = field(default_factory=list)
