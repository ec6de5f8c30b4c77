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


WIDE = 90  # from this many cells: field | old | new | impact | why; below: field | change
PADDING = 2  # DataTable's cell padding, both sides


class FieldsTable(DataTable[Text]):
    """Fields of a structured component, laid out for the width available: long values wrap
    inside their column (never clipped), and every column stays in view.

    Wide: ``field | old | new | impact | why``. Narrow: ``field | change``, the change a
    stack of ``− old``, ``+ new`` and the why, with the impact under the field name; an
    unchanged field shows its value once."""

    DEFAULT_CSS = """
    FieldsTable { height: 1fr; background: $surface; scrollbar-size-vertical: 1; }
    """

    def __init__(self, rows: list[FieldRow], *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.field_rows = rows
        self._laid_out: tuple[int, ...] = ()

    def on_resize(self) -> None:
        self._layout(self.size.width)

    def _layout(self, width: int) -> None:
        """Columns sized to ``width`` (cells), rows rebuilt; the cursor stays on its field."""
        width = max(20, width - 1)  # the vertical scrollbar
        has_notes = any(row.note or row.impact for row in self.field_rows)
        paths = max((len(row.path) for row in self.field_rows), default=5)
        if width >= WIDE:
            field = min(max(paths, 5), 28)
            impact = 6 if has_notes else 0
            rest = width - (field + impact) - PADDING * (5 if has_notes else 3)
            why = rest // 3 if has_notes else 0
            old = (rest - why) // 2
            widths: tuple[int, ...] = (
                (field, old, rest - why - old, impact, why) if has_notes else (field, old, rest - old)
            )
        else:
            field = min(max(paths, 5), max(10, width // 3))
            widths = (field, max(8, width - field - 2 * PADDING))
        if widths == self._laid_out:
            return
        self._laid_out = widths
        cursor = self.cursor_row
        self.clear(columns=True)
        colors = {
            "muted": theme_color(self, "text-muted", "grey50"),
            "error": theme_color(self, "text-error", "red"),
            "success": theme_color(self, "text-success", "green"),
            "warning": theme_color(self, "text-warning", "yellow"),
        }
        if len(widths) == 2:
            self.add_column("field", width=widths[0], key="field")
            self.add_column("change: − old  + new  why", width=widths[1], key="change")
            for index, row in enumerate(self.field_rows):
                self.add_row(*self._narrow_cells(row, colors), key=str(index), height=None)
        else:
            names = [
                ("field", "field"),
                ("old", "old"),
                ("new", "new"),
                ("impact", "impact"),
                ("why", "note"),
            ]
            for (label, key), column_width in zip(names, widths, strict=False):
                self.add_column(label, width=column_width, key=key)
            for index, row in enumerate(self.field_rows):
                self.add_row(*self._wide_cells(row, colors, len(widths) == 5), key=str(index), height=None)
        if self.field_rows:
            self.move_cursor(row=min(cursor, len(self.field_rows) - 1), animate=False)

    def _wide_cells(self, row: FieldRow, colors: dict[str, str], notes: bool) -> list[Text]:
        changed = row.status != "unchanged"
        dim = "" if changed else colors["muted"]
        cells = [
            Text(row.path, style="bold" if changed else dim),
            Text(show_value(row.old), style=colors["error"] if changed else dim),
            Text(show_value(row.new), style=colors["success"] if changed else dim),
        ]
        if notes:
            impact_style = {"major": colors["error"], "minor": colors["warning"]}.get(
                row.impact or "", colors["muted"]
            )
            cells.append(Text(row.impact or "", style=impact_style))
            cells.append(Text(row.note or "", style=colors["muted"]))
        return cells

    def _narrow_cells(self, row: FieldRow, colors: dict[str, str]) -> list[Text]:
        if row.status == "unchanged":
            return [Text(row.path, style=colors["muted"]), Text(show_value(row.new), style=colors["muted"])]
        name = Text(row.path, style="bold")
        if row.impact:
            impact_style = {"major": colors["error"], "minor": colors["warning"]}.get(
                row.impact, colors["muted"]
            )
            name.append("\n" + row.impact, style=impact_style)
        change = Text()
        if row.status != "added":
            change.append("− " + show_value(row.old), style=colors["error"])
        if row.status != "removed":
            change.append(("\n" if change else "") + "+ " + show_value(row.new), style=colors["success"])
        if row.note:
            change.append("\n" + row.note, style=colors["muted"])
        return [name, change]

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
