"""Eval-case changes (added / removed / changed) and eval outcomes as virtual tables."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from promptver.tui.model import CaseOutcome, CaseRow, FileRow, TextBody
from promptver.tui.widgets.virtual_table import Cell, VirtualTable

STATUS_CLASS = {"added": "added", "removed": "removed", "changed": "changed"}
VERDICT_CLASS = {
    "regressed": "removed",
    "improved": "added",
    "changed": "changed",
    "added": "added",
    "removed": "removed",
    "sources": "changed",
}


def _passed(value: bool | None) -> str:
    return "—" if value is None else ("pass" if value else "fail")


class CasesTable(VirtualTable):
    columns: ClassVar[tuple[tuple[str, int], ...]] = (
        ("change", 8),
        ("id", 28),
        ("fields", 10),
    )

    def __init__(self, cases: Sequence[CaseRow], *, id: str | None = None) -> None:
        super().__init__(len(cases), id=id)
        self.cases = cases
        self.fetch: Callable[[CaseRow], tuple[Any, Any]] | None = None

    def cells(self, index: int) -> list[Cell]:
        case = self.cases[index]
        return [
            (case.status, STATUS_CLASS[case.status]),
            (case.id, ""),
            (", ".join(case.fields), "muted"),
        ]

    def text_of(self, index: int) -> str:
        case = self.cases[index]
        return f"{case.status} {case.id} {' '.join(case.fields)}"


class OutcomesTable(VirtualTable):
    """Cases whose outcome changed; the note says how their retrieved sources moved."""

    columns: ClassVar[tuple[tuple[str, int], ...]] = (
        ("verdict", 10),
        ("id", 24),
        ("old → new", 12),
        ("retrieval", 10),
    )

    def __init__(self, outcomes: Sequence[CaseOutcome], *, id: str | None = None) -> None:
        super().__init__(len(outcomes), id=id)
        self.outcomes = outcomes

    def cells(self, index: int) -> list[Cell]:
        outcome = self.outcomes[index]
        return [
            (outcome.verdict, VERDICT_CLASS[outcome.verdict]),
            (outcome.id, ""),
            (f"{_passed(outcome.old_passed)} → {_passed(outcome.new_passed)}", "muted"),
            (outcome.note, "muted"),
        ]


def _size(size: int | None) -> str:
    return "—" if size is None else f"{size:,}"


class FilesTable(VirtualTable):
    columns: ClassVar[tuple[tuple[str, int], ...]] = (
        ("change", 8),
        ("size old → new", 22),
        ("path", 10),
    )

    def __init__(self, files: Sequence[FileRow], *, id: str | None = None) -> None:
        super().__init__(len(files), id=id)
        self.files = files
        self.fetch: Callable[[FileRow], TextBody] | None = None

    def cells(self, index: int) -> list[Cell]:
        row = self.files[index]
        path = row.path
        if row.status == "renamed" and row.old_path and row.old_path != row.new_path:
            path = f"{row.old_path} → {row.new_path}"
        return [
            (row.status, STATUS_CLASS.get(row.status, "changed")),
            (f"{_size(row.old_size)} → {_size(row.new_size)}", "muted"),
            (path, ""),
        ]
