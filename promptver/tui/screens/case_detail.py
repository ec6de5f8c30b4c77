"""One eval case (or one eval outcome) side by side, over the review."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static

from promptver.tui.widgets.diff_view import DiffView


def pretty(value: Any) -> str:
    if value is None:
        return ""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


class CaseDetailScreen(Screen[None]):
    """Title line, then a ``DiffView`` of the two texts; escape returns to the review."""

    DEFAULT_CSS = """
    CaseDetailScreen #case-title { height: 1; background: $panel; padding: 0 1; }
    CaseDetailScreen DiffView { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "back", show=True),
    ]

    def __init__(self, title: str, old: str, new: str, *, unified: bool = False) -> None:
        super().__init__()
        self.case_title = title
        self.old = old
        self.new = new
        self.unified = unified

    def compose(self) -> ComposeResult:
        yield Static(self.case_title, id="case-title", markup=False)
        yield DiffView(self.old, self.new, unified=self.unified, id="case-diff")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DiffView).focus()
