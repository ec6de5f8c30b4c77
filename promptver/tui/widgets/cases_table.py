"""Eval-case changes (added / removed / changed) and eval outcomes as virtual tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from promptver.tui.model import CaseOutcome, CaseRow
from promptver.tui.widgets.virtual_table import Cell, VirtualTable

STATUS_CLASS = {"added": "added", "removed": "removed", "changed": "changed"}
VERDICT_CLASS = {"regressed": "removed", "improved": "added", "changed": "changed"}


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
    columns: ClassVar[tuple[tuple[str, int], ...]] = (
        ("verdict", 10),
        ("id", 28),
        ("old → new", 12),
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
        ]
