"""A Line API table: only visible rows are rendered, so 100,000 rows cost nothing to show.

``DataTable`` builds every row up front (seconds for 100k rows); this table asks its
subclass for the cells of a row only when that row is on screen.
"""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.events import Click
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from promptver.tui.widgets.diff_view import visible

Cell = tuple[str, str]  # (text, component class suffix or "")
PAD = 1  # cells left of the first column


class VirtualTable(ScrollView, can_focus=True):
    """Columns of fixed width (the last one takes the rest), a header row and a cursor."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "virtual-table--header",
        "virtual-table--cursor",
        "virtual-table--added",
        "virtual-table--removed",
        "virtual-table--changed",
        "virtual-table--muted",
    }
    DEFAULT_CSS = """
    VirtualTable { height: 1fr; background: $surface; scrollbar-size-vertical: 1; }
    VirtualTable > .virtual-table--header { background: $panel; text-style: bold; }
    VirtualTable > .virtual-table--cursor { background: $accent 40%; }
    VirtualTable:focus > .virtual-table--cursor { background: $accent 70%; }
    VirtualTable > .virtual-table--added { color: $text-success; }
    VirtualTable > .virtual-table--removed { color: $text-error; }
    VirtualTable > .virtual-table--changed { color: $text-warning; }
    VirtualTable > .virtual-table--muted { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", show=False),
        Binding("down", "cursor(1)", show=False),
        Binding("pageup", "page(-1)", show=False),
        Binding("pagedown", "page(1)", show=False),
        Binding("home", "first", show=False),
        Binding("end", "last", show=False),
        Binding("enter", "open", "open", show=True),
    ]

    columns: ClassVar[tuple[tuple[str, int], ...]] = ()  # (title, width); last: rest
    cursor: reactive[int] = reactive(0)

    class Opened(Message):
        """Enter (or a click on the selected row) on a row; ``index`` is in the full list."""

        def __init__(self, table: VirtualTable, index: int) -> None:
            super().__init__()
            self.table = table
            self.index = index

    def __init__(self, count: int, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._count = count
        self._view: list[int] | range = range(count)  # rows shown (a filter may narrow it)

    # -- to override ---------------------------------------------------------------------

    def cells(self, index: int) -> list[Cell]:
        raise NotImplementedError

    def text_of(self, index: int) -> str:
        """The text a search matches against."""
        return " ".join(text for text, _ in self.cells(index))

    # -- state ---------------------------------------------------------------------------

    @property
    def shown(self) -> int:
        return len(self._view)

    @property
    def selected_index(self) -> int | None:
        """The selected row's index in the full list."""
        if not self._view:
            return None
        return self._view[min(self.cursor, len(self._view) - 1)]

    def on_mount(self) -> None:
        self._update_size()

    def on_resize(self) -> None:
        self._update_size()

    def _update_size(self) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, len(self._view) + 1)

    def set_filter(self, query: str) -> int:
        """Show only rows whose text contains ``query`` (case-insensitive); returns the count."""
        needle = query.casefold()
        if needle:
            self._view = [i for i in range(self._count) if needle in self.text_of(i).casefold()]
        else:
            self._view = range(self._count)
        self.cursor = 0
        self.scroll_to(y=0, animate=False)
        self._update_size()
        self.refresh()
        return len(self._view)

    def find(self, query: str, forward: bool = True) -> bool:
        """Filter the table to matching rows (searching a huge list by jumping is useless)."""
        return self.set_filter(query) > 0

    # -- cursor --------------------------------------------------------------------------

    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, len(self._view) - 1))

    def watch_cursor(self, old: int, new: int) -> None:
        body_height = max(1, self.scrollable_content_region.height - 1)
        top = int(self.scroll_y)
        if new < top:
            self.scroll_to(y=new, animate=False)
        elif new >= top + body_height:
            self.scroll_to(y=new - body_height + 1, animate=False)
        self.refresh()

    def action_cursor(self, step: int) -> None:
        self.cursor += step

    def action_page(self, step: int) -> None:
        self.cursor += step * max(1, self.scrollable_content_region.height - 2)

    def action_first(self) -> None:
        self.cursor = 0

    def action_last(self) -> None:
        self.cursor = len(self._view) - 1

    def action_open(self) -> None:
        index = self.selected_index
        if index is not None:
            self.post_message(self.Opened(self, index))

    def next_change(self, forward: bool = True) -> bool:
        """Every row is a change: move to the next or previous row."""
        target = self.cursor + (1 if forward else -1)
        if not 0 <= target < len(self._view):
            return False
        self.cursor = target
        return True

    def on_click(self, event: Click) -> None:
        if event.y == 0:
            return
        row = int(self.scroll_y) + event.y - 1
        if 0 <= row < len(self._view):
            if row == self.cursor and event.chain > 1:
                self.action_open()
            self.cursor = row

    # -- painting ------------------------------------------------------------------------

    def _widths(self, width: int) -> list[int]:
        """Column widths for ``width`` cells: the last column takes the rest, and when that
        is less than its own width the widest columns give cells up (down to their title's
        width), so every column stays on screen (its cells end in an ellipsis instead)."""
        widths = [w for _, w in self.columns]
        floors = [max(4, len(title)) for title, _ in self.columns]
        over = sum(widths) + len(widths) - 1 - width
        while over > 0:
            shrinkable = [i for i in range(len(widths) - 1) if widths[i] > floors[i]]
            if not shrinkable:
                break
            widest = max(shrinkable, key=lambda i: widths[i] - floors[i])
            widths[widest] -= 1
            over -= 1
        fixed = widths[:-1]
        widths[-1] = max(self.columns[-1][1], width - sum(fixed) - len(fixed))
        return widths

    def _line(self, cells: list[Cell], width: int, base: Style) -> Strip:
        segments: list[Segment] = [Segment(" " * PAD, base)]  # left padding, as DataTable cells
        for (text, kind), column_width in zip(cells, self._widths(width - PAD), strict=False):
            style = base
            if kind:
                style = base + self.get_component_rich_style(f"virtual-table--{kind}")
            text = visible(text)
            if len(text) > column_width:
                text = text[: max(0, column_width - 1)] + "…"
            segments.append(Segment(text.ljust(column_width), style))
            segments.append(Segment(" ", base))
        return Strip(segments).crop(0, width).adjust_cell_length(width, base)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            header = self.get_component_rich_style("virtual-table--header")
            return self._line([(title, "") for title, _ in self.columns], width, header)
        position = int(self.scroll_y) + y - 1
        if position >= len(self._view):
            return Strip.blank(width, self.rich_style)
        base = self.rich_style
        if position == self.cursor:
            base = base + self.get_component_rich_style("virtual-table--cursor")
        return self._line(self.cells(self._view[position]), width, base)
