"""Structured components (model, RAG, metadata) as a field | old | new table."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from promptver.tui.model import FieldRow

MAX_CELL = 200


def show_value(value: Any) -> str:
    """A compact one-line rendering of a field value; absent values show as an em dash."""
    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split()) if "\n" in text else text
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def theme_color(widget: DataTable[Text], name: str, fallback: str) -> str:
    """A colour of the current theme for rich ``Text`` cells (DataTable does not resolve
    ``$variables`` in cell content)."""
    return str(widget.app.theme_variables.get(name, fallback))


class FieldsTable(DataTable[Text]):
    DEFAULT_CSS = """
    FieldsTable { height: 1fr; background: $surface; }
    """

    def __init__(self, rows: list[FieldRow], *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.field_rows = rows

    def on_mount(self) -> None:
        has_notes = any(row.note for row in self.field_rows)
        muted = theme_color(self, "text-muted", "grey50")
        error = theme_color(self, "text-error", "red")
        success = theme_color(self, "text-success", "green")
        warning = theme_color(self, "text-warning", "yellow")
        self.add_column("field", key="field")
        self.add_column("old", key="old")
        self.add_column("new", key="new")
        if has_notes:
            self.add_column("impact", key="impact")
            self.add_column("why", key="note")
        for index, row in enumerate(self.field_rows):
            changed = row.status != "unchanged"
            dim = "" if changed else muted
            cells = [
                Text(row.path, style="bold" if changed else dim),
                Text(show_value(row.old), style=error if changed else dim),
                Text(show_value(row.new), style=success if changed else dim),
            ]
            if has_notes:
                impact_style = {"major": error, "minor": warning}.get(row.impact or "", muted)
                cells.append(Text(row.impact or "", style=impact_style))
                cells.append(Text(row.note or "", style=muted))
            self.add_row(*cells, key=str(index))

    def changed_rows(self) -> list[int]:
        return [i for i, row in enumerate(self.field_rows) if row.status != "unchanged"]

    def next_change(self, forward: bool = True) -> bool:
        rows = self.changed_rows()
        current = self.cursor_row
        targets = [r for r in rows if r > current] if forward else [r for r in rows if r < current]
        if not targets:
            return False
        self.move_cursor(row=targets[0] if forward else targets[-1])
        return True

    def find(self, query: str, forward: bool = True) -> bool:
        needle = query.casefold()
        count = len(self.field_rows)
        for offset in range(1, count + 1):
            index = (self.cursor_row + (offset if forward else -offset)) % count
            row = self.field_rows[index]
            text = f"{row.path} {show_value(row.old)} {show_value(row.new)}".casefold()
            if needle in text:
                self.move_cursor(row=index)
                return True
        return False
