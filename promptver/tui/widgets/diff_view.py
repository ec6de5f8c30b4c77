"""Side-by-side (or unified) text diff as a Line API widget.

Both panes are painted by one ``ScrollView``, so vertical and horizontal scrolling are
synchronised by construction and only the visible rows are ever rendered: a 1 MB template
costs one alignment (done in a thread worker) and then a screenful of strips per frame.

Unchanged runs longer than ``2 * CONTEXT + 1`` lines show as one fold row ("⋯ 42 unchanged
lines"); ``enter`` or a click expands it, ``toggle_folds`` expands or collapses them all.
A "row" of the view (the cursor, the hunk starts, the scroll offsets) is a display row; the
aligned rows behind it are "lines", which ``Display`` maps to rows.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import pairwise
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import work
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.events import Click
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from promptver.tui.textdiff import (
    AlignedDiff,
    Display,
    Fold,
    Row,
    Span,
    UnifiedRow,
    align,
    display_rows,
    fold_ranges,
)

TAB = "    "


def visible(text: str) -> str:
    """Text safe to paint: tabs expanded, control characters shown as control pictures."""
    if text.isprintable():
        return text
    out: list[str] = []
    for char in text:
        if char == "\t":
            out.append(TAB)
        elif ord(char) < 0x20:
            out.append(chr(0x2400 + ord(char)))
        elif char == "\x7f":
            out.append("\u2421")
        elif not char.isprintable() and char != " ":
            out.append("\ufffd")
        else:
            out.append(char)
    return "".join(out)


def _segments(
    text: str,
    spans: tuple[Span, ...],
    base: Style,
    word: Style,
    matches: tuple[Span, ...] = (),
    match: Style | None = None,
) -> list[Segment]:
    """Segments of one line: changed words in ``word`` style, search matches on top."""
    if not spans and not matches:
        return [Segment(visible(text), base)]
    cuts = {0, len(text)}
    for start, end in (*spans, *matches):
        cuts.update((start, end))
    points = sorted(c for c in cuts if 0 <= c <= len(text))
    segments: list[Segment] = []
    for start, end in pairwise(points):
        if start == end:
            continue
        style = base
        if any(a <= start and end <= b for a, b in spans):
            style = word
        if match is not None and any(a <= start and end <= b for a, b in matches):
            style = style + match
        segments.append(Segment(visible(text[start:end]), style))
    return segments


def find_spans(text: str, query: str) -> tuple[Span, ...]:
    """Where ``query`` occurs in ``text``, case-insensitively."""
    if not query:
        return ()
    folded, needle = text.casefold(), query.casefold()
    if len(folded) != len(text):  # casefold changed lengths (ß -> ss): match exactly instead
        folded, needle = text, query
    spans: list[Span] = []
    start = folded.find(needle)
    while start != -1:
        spans.append((start, start + len(needle)))
        start = folded.find(needle, start + len(needle))
    return tuple(spans)


class DiffView(ScrollView, can_focus=True):
    """Two texts aligned line by line: removed lines red, added green, changed words bold."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "diff-view--gutter",
        "diff-view--cursor",
        "diff-view--equal",
        "diff-view--removed",
        "diff-view--added",
        "diff-view--removed-word",
        "diff-view--added-word",
        "diff-view--filler",
        "diff-view--separator",
        "diff-view--match",
        "diff-view--fold",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "expand_fold", "expand", show=False),
        # the arrows move the cursor (and scroll to keep it on screen), as in a text editor;
        # left and right scroll sideways (ScrollView's bindings)
        Binding("up", "cursor_up", "up", show=False),
        Binding("down", "cursor_down", "down", show=False),
        Binding("pageup", "page_cursor_up", "page up", show=False),
        Binding("pagedown", "page_cursor_down", "page down", show=False),
        Binding("home", "cursor_first", "first line", show=False),
        Binding("end", "cursor_last", "last line", show=False),
    ]

    DEFAULT_CSS = """
    DiffView {
        background: $surface;
        scrollbar-gutter: stable;
        scrollbar-size-vertical: 1;
        scrollbar-size-horizontal: 1;
    }
    DiffView > .diff-view--gutter { color: $text-muted; background: $panel; }
    DiffView > .diff-view--cursor { color: $text; background: $accent 60%; text-style: bold; }
    DiffView > .diff-view--equal { color: $foreground; }
    DiffView > .diff-view--removed { background: $error 18%; }
    DiffView > .diff-view--added { background: $success 18%; }
    DiffView > .diff-view--removed-word { background: $error 55%; text-style: bold; }
    DiffView > .diff-view--added-word { background: $success 55%; text-style: bold; }
    DiffView > .diff-view--filler { color: $foreground 15%; background: $panel 50%; }
    DiffView > .diff-view--separator { color: $foreground 30%; }
    DiffView > .diff-view--match { color: $text; background: $warning 70%; text-style: bold; }
    DiffView > .diff-view--fold { color: $text-muted; background: $panel 60%; text-style: italic; }
    """

    unified: reactive[bool] = reactive(False)
    ignore_whitespace: reactive[bool] = reactive(False)
    wrap: reactive[bool] = reactive(True)

    class Aligned(Message):
        """Posted when an alignment finished (first time and after each toggle)."""

        def __init__(self, view: DiffView) -> None:
            super().__init__()
            self.view = view

    def __init__(
        self,
        old: str,
        new: str,
        *,
        unified: bool = False,
        ignore_whitespace: bool = False,
        wrap: bool = True,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._old = old
        self._new = new
        self.diff: AlignedDiff | None = None
        self._unified_rows: list[UnifiedRow] = []
        self._unified_starts: list[int] = []
        self._folds: tuple[list[Fold], list[Fold]] = ([], [])  # side by side, unified
        self.expanded: set[int] = set()  # keys of the folds shown open
        self._display = Display([], [])
        self._hunk_rows: list[int] = []  # display row of each change
        self._max_len = 0
        self._split_cells: list[tuple[int, int]] = []  # cell length of each row's old, new
        self._unified_cells: list[int] = []
        self._offsets: list[int] = [0]  # first display line of each row (wrapping)
        self._cuts: dict[tuple[int, int], list[int]] = {}  # wrap points of long lines
        self._gutter = 4
        self.cursor_row: int | None = None
        self.search_query = ""  # highlighted wherever it occurs
        self._cache: LRUCache[tuple[int, int, bool], Strip] = LRUCache(1024)
        self.set_reactive(DiffView.unified, unified)
        self.set_reactive(DiffView.ignore_whitespace, ignore_whitespace)
        self.set_reactive(DiffView.wrap, wrap)

    # -- alignment -----------------------------------------------------------------------

    def on_mount(self) -> None:
        self._realign()

    def _realign(self) -> None:
        self.loading = True
        self._align_worker(self.ignore_whitespace)

    @work(thread=True, exclusive=True, group="align")
    def _align_worker(self, ignore_whitespace: bool) -> None:
        diff = align(self._old, self._new, ignore_whitespace=ignore_whitespace)
        unified_rows, starts = diff.unified()
        split_cells = [(_cells(row.old), _cells(row.new)) for row in diff.rows]
        unified_cells = [_cells(row.text) for row in unified_rows]
        folds = (fold_ranges(diff.rows), fold_ranges(unified_rows))
        self.app.call_from_thread(
            self._set_diff, diff, unified_rows, starts, split_cells, unified_cells, folds
        )

    def _set_diff(
        self,
        diff: AlignedDiff,
        unified_rows: list[UnifiedRow],
        starts: list[int],
        split_cells: list[tuple[int, int]],
        unified_cells: list[int],
        folds: tuple[list[Fold], list[Fold]],
    ) -> None:
        self.diff = diff
        self._folds = folds
        self._unified_rows = unified_rows
        self._unified_starts = starts
        self._split_cells = split_cells
        self._unified_cells = unified_cells
        self._max_len = max((max(pair) for pair in split_cells), default=0)
        last = max((r.old_no or 0) for r in diff.rows) if diff.rows else 0
        last = max([last, *((r.new_no or 0) for r in diff.rows)]) if diff.rows else 0
        self._gutter = max(3, len(str(last))) + 1
        self.cursor_row = None
        self._cache.clear()
        self._layout_rows()
        self._update_virtual_size()
        self.loading = False
        self.refresh()
        self.post_message(self.Aligned(self))

    def watch_ignore_whitespace(self) -> None:
        if self.is_mounted:
            self._realign()

    def watch_unified(self) -> None:
        hunk = self.current_hunk()
        self.cursor_row = None
        self._cache.clear()
        self._layout_rows()
        self._update_virtual_size()
        if hunk is not None:
            self.goto_hunk(hunk)
        self.refresh()

    def watch_wrap(self) -> None:
        row = self.cursor_row
        self._update_virtual_size()
        if row is not None:
            self.goto_row(row)
        self.refresh()

    # -- geometry ------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        """Display rows: lines, and one row per collapsed fold."""
        return len(self._display.entries) if self.diff is not None else 0

    @property
    def line_count(self) -> int:
        """Aligned lines of the current view, folded or not."""
        if self.diff is None:
            return 0
        return len(self._unified_rows) if self.unified else len(self.diff.rows)

    @property
    def hunk_starts(self) -> list[int]:
        """The display row where each change starts (changes are never folded)."""
        return self._hunk_rows if self.diff is not None else []

    @property
    def folds(self) -> list[Fold]:
        """The folds of the current view, open or collapsed."""
        return self._folds[1] if self.unified else self._folds[0]

    def entry(self, row: int) -> int | Fold:
        """What display row ``row`` shows: a line index, or a collapsed fold."""
        return self._display.entries[row]

    def _layout_rows(self) -> None:
        if self.diff is None:
            return
        self._display = display_rows(self.line_count, self.folds, self.expanded)
        starts = self._unified_starts if self.unified else self.diff.hunks
        self._hunk_rows = [self._display.position[line] for line in starts]

    def _line_of(self, row: int) -> int:
        """The first line shown by a display row."""
        entry = self._display.entries[row]
        return entry.start if isinstance(entry, Fold) else entry

    def _text_width(self) -> int:
        width = self.scrollable_content_region.width
        if self.unified:
            return max(1, width - 2 * self._gutter - 1)
        return max(1, (width - 1) // 2 - self._gutter - 1)

    def _update_virtual_size(self) -> None:
        """Recompute where each row starts on screen (wrapping) and the scrollable size."""
        width = self.scrollable_content_region.width
        text_width = self._text_width()
        offsets = [0]
        self._cuts = {}
        if self.wrap and self.diff is not None:
            for index in self._display.entries:
                lines = 1
                if isinstance(index, Fold):
                    pass  # a fold is one row
                elif self.unified:
                    if self._unified_cells[index] > text_width:
                        lines = self._wrap(index, 2, self._unified_rows[index].text, text_width)
                elif max(self._split_cells[index]) > text_width:
                    row = self.diff.rows[index]
                    lines = max(
                        self._wrap(index, 0, row.old, text_width),
                        self._wrap(index, 1, row.new, text_width),
                    )
                offsets.append(offsets[-1] + lines)
            self._offsets = offsets
            self.virtual_size = Size(width, offsets[-1])
            return
        self._offsets = list(range(self.row_count + 1))
        extra = max(0, self._max_len - text_width)
        self.virtual_size = Size(width + extra, self.row_count)

    def _wrap(self, index: int, side: int, text: str | None, width: int) -> int:
        """Record where a long line wraps; returns its number of display lines."""
        if not text:
            return 1
        cuts = wrap_cuts(visible(text), width)
        if cuts:
            self._cuts[(index, side)] = cuts
        return len(cuts) + 1

    def _row_at(self, line: int) -> tuple[int, int]:
        """(row index, wrapped line within the row) of a display line."""
        row = bisect_right(self._offsets, line) - 1
        return row, line - self._offsets[row]

    def _top_row(self) -> int:
        return self._row_at(int(self.scroll_y))[0] if self.row_count else 0

    def on_resize(self) -> None:
        # keep the row at the top in place: wrapping moves every row's display line
        row, _ = self._row_at(int(self.scroll_y)) if self.row_count else (0, 0)
        self._cache.clear()
        self._update_virtual_size()
        if self.row_count and row < len(self._offsets):
            self.scroll_to(y=self._offsets[row], animate=False, immediate=True)

    def notify_style_update(self) -> None:
        """The theme changed: cached strips hold the old colours."""
        self._cache.clear()
        super().notify_style_update()

    # -- navigation ----------------------------------------------------------------------

    def current_hunk(self) -> int | None:
        """Index of the change holding the cursor (or the first change below the top)."""
        starts = self.hunk_starts
        if not starts:
            return None
        anchor = self.cursor_row if self.cursor_row is not None else self._top_row()
        index = 0
        for i, start in enumerate(starts):
            if start <= anchor:
                index = i
        return index

    def goto_hunk(self, index: int) -> None:
        starts = self.hunk_starts
        if not starts:
            return
        if index < 0:
            index += len(starts)
        index = max(0, min(index, len(starts) - 1))
        self.goto_row(starts[index])

    def goto_row(self, row: int) -> None:
        self.cursor_row = row
        # after a refresh: a virtual size set just before is not yet in the scroll limits.
        # The row's display line is read then too: a resize in between (the first layout)
        # rewraps every row, and a line computed now would land elsewhere (or at the end).
        self.call_after_refresh(self._scroll_to_row, row)
        self.refresh()

    def _scroll_to_row(self, row: int) -> None:
        line = self._offsets[row] if row < len(self._offsets) else 0
        self.scroll_to(y=max(0, line - 3), animate=False)

    def next_change(self, forward: bool = True) -> bool:
        """Move the cursor to the next (or previous) change; False at either end."""
        starts = self.hunk_starts
        if not starts:
            return False
        cursor = self.cursor_row
        if forward:
            after = [s for s in starts if cursor is None or s > cursor]
            if cursor is None:
                after = [s for s in starts if s >= self._top_row()] or after
            if not after:
                return False
            self.goto_row(after[0])
        else:
            anchor = cursor if cursor is not None else self._top_row() + 1
            before = [s for s in starts if s < anchor]
            if not before:
                return False
            self.goto_row(before[-1])
        return True

    def change_position(self) -> tuple[int, int]:
        """(1-based index of the current change, number of changes); 0 when none current."""
        starts = self.hunk_starts
        if self.cursor_row is None or self.cursor_row not in starts:
            return 0, len(starts)
        return starts.index(self.cursor_row) + 1, len(starts)

    def find(self, query: str, forward: bool = True) -> bool:
        """Move the cursor to the next line containing ``query`` (case-insensitive),
        folded lines included: the fold that holds the match opens."""
        if query != self.search_query:
            self.search_query = query
            self._cache.clear()
            self.refresh()
        if not query or self.diff is None:
            return False
        needle = query.casefold()
        count = self.line_count
        if count == 0:
            return False
        if self.cursor_row is None:
            start = self._line_of(self._top_row()) - 1 if self.row_count else -1
        else:
            entry = self.entry(self.cursor_row)
            start = entry if isinstance(entry, int) else entry.start - 1 if forward else entry.end
        step = 1 if forward else -1
        for offset in range(1, count + 1):
            line = (start + step * offset) % count
            if needle in self._line_text(line).casefold():
                fold = self._display.hidden(line)
                if fold is not None:
                    self._open({fold.key})
                self.goto_row(self._display.position[line])
                return True
        return False

    # -- folds ---------------------------------------------------------------------------

    def _open(self, keys: set[int]) -> None:
        """Expand the folds named by ``keys``, keeping the line at the top of the screen
        (and the cursor's line) in place."""
        self._relayout(self.expanded | keys)

    def _relayout(self, expanded: set[int]) -> None:
        top = self._line_of(self._top_row()) if self.row_count else 0
        cursor = self._line_of(self.cursor_row) if self.cursor_row is not None else None
        self.expanded = expanded
        self._layout_rows()
        self._update_virtual_size()
        if cursor is not None:
            self.cursor_row = self._display.position[cursor]
        if self.row_count:
            line = self._offsets[self._display.position[top]]
            self.scroll_to(y=line, animate=False, immediate=True)
            # again once the new virtual size is in the scroll limits
            self.call_after_refresh(self.scroll_to, y=line, animate=False)
        self.refresh()

    def expand_fold(self, row: int) -> bool:
        """Expand the fold shown at display row ``row``; the cursor goes to its first line."""
        if not 0 <= row < self.row_count:
            return False
        entry = self.entry(row)
        if not isinstance(entry, Fold):
            return False
        self._open({entry.key})
        self.cursor_row = row
        self.refresh()
        return True

    def _visible_rows(self) -> tuple[int, int]:
        """(first, last) display row on screen, whole or in part."""
        last = self._row_at(int(self.scroll_y) + max(0, self.scrollable_content_region.height - 1))[0]
        return self._top_row(), min(last, self.row_count - 1)

    def action_expand_fold(self) -> None:
        """``enter``: expand the fold under the cursor, else the nearest fold on screen
        after the cursor (from the top of the screen without one), else before it."""
        if not self.row_count:
            return
        first, last = self._visible_rows()
        cursor = self.cursor_row
        if cursor is None or not first <= cursor <= last:
            cursor = first
        after = range(cursor, last + 1)
        before = range(cursor - 1, first - 1, -1)
        for row in [*after, *before]:
            if self.expand_fold(row):
                return
        self.app.bell()

    # -- the cursor ----------------------------------------------------------------------

    def move_cursor(self, rows: int) -> None:
        """Move the cursor by ``rows`` display rows and scroll just enough to show it; a
        cursor that is off screen (or not set) starts from the screen's edge."""
        if not self.row_count:
            return
        first, last = self._visible_rows()
        cursor = self.cursor_row
        if cursor is None or not first <= cursor <= last:
            cursor = first if rows > 0 else last
            rows -= 1 if rows > 0 else -1
        self.cursor_row = max(0, min(self.row_count - 1, cursor + rows))
        self._keep_visible(self.cursor_row)
        self.refresh()

    def _keep_visible(self, row: int) -> None:
        top, bottom = self._offsets[row], self._offsets[row + 1]
        height = max(1, self.scrollable_content_region.height)
        if top < self.scroll_y:
            self.scroll_to(y=top, animate=False, immediate=True)
        elif bottom > self.scroll_y + height:
            self.scroll_to(y=min(top, bottom - height), animate=False, immediate=True)

    def _page_rows(self, forward: bool) -> int:
        """How many rows a page moves the cursor: a screen's height of display lines."""
        height = max(1, self.scrollable_content_region.height - 1)
        cursor = self.cursor_row if self.cursor_row is not None else self._top_row()
        line = self._offsets[cursor] + (height if forward else -height)
        line = max(0, min(self._offsets[-1] - 1, line))
        return self._row_at(line)[0] - cursor or (1 if forward else -1)

    def action_cursor_up(self) -> None:
        self.move_cursor(-1)

    def action_cursor_down(self) -> None:
        self.move_cursor(1)

    def action_page_cursor_up(self) -> None:
        if self.row_count:
            self.move_cursor(self._page_rows(False))

    def action_page_cursor_down(self) -> None:
        if self.row_count:
            self.move_cursor(self._page_rows(True))

    def action_cursor_first(self) -> None:
        if self.row_count:
            self.cursor_row = 0
            self._keep_visible(0)
            self.refresh()

    def action_cursor_last(self) -> None:
        if self.row_count:
            self.cursor_row = self.row_count - 1
            self._keep_visible(self.cursor_row)
            self.refresh()

    def toggle_folds(self) -> bool:
        """Expand every fold, or collapse them all when none is collapsed; True when
        this expanded. Nothing happens (False) where nothing folds."""
        keys = {fold.key for fold in self.folds}
        if not keys:
            return False
        opening = not keys <= self.expanded
        self._relayout(self.expanded | keys if opening else set())
        return opening

    def _line_text(self, index: int) -> str:
        if self.unified:
            return self._unified_rows[index].text
        assert self.diff is not None
        row = self.diff.rows[index]
        return f"{row.old or ''}\n{row.new or ''}"

    def on_click(self, event: Click) -> None:
        """A click puts the cursor on that row (n/N then continue from there)."""
        if self.diff is None or not self.row_count:
            return
        line = int(self.scroll_y) + event.y
        if line < self._offsets[-1]:
            row = self._row_at(line)[0]
            if not self.expand_fold(row):
                self.cursor_row = row
            self.refresh()

    # -- painting ------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        line = scroll_y + y
        width = self.scrollable_content_region.width
        if self.diff is None or line >= self._offsets[-1]:
            return Strip.blank(width, self.rich_style)
        row, sub = self._row_at(line)
        if self.wrap:
            scroll_x = 0
        entry = self._display.entries[row]
        cursor = row == self.cursor_row
        if isinstance(entry, Fold):
            return self._fold_line(entry, cursor, width)
        if self.unified:
            return self._unified_line(entry, sub, scroll_x, width, cursor)
        return self._split_line(entry, sub, scroll_x, width, cursor)

    def _fold_line(self, fold: Fold, cursor: bool, width: int) -> Strip:
        gutter = 2 * self._gutter + 1 if self.unified else self._gutter + 1
        gutter_style = self.get_component_rich_style("diff-view--cursor" if cursor else "diff-view--gutter")
        style = self.get_component_rich_style("diff-view--fold")
        return Strip([Segment(" " * gutter, gutter_style), Segment(fold.label, style)]).adjust_cell_length(
            width, style
        )

    def _gutter_strip(
        self, number: int | None, marker: str, cursor: bool, sub: int, key: tuple[int, int]
    ) -> Strip:
        style = self.get_component_rich_style("diff-view--cursor" if cursor else "diff-view--gutter")
        label = str(number) if number is not None and sub == 0 else ""
        if sub:
            marker = "↪" if sub <= len(self._cuts.get(key, ())) else " "
        return Strip([Segment(label.rjust(self._gutter - 1) + " " + marker, style)])

    def _text_strip(
        self, key: tuple[int, int, bool], text: str | None, spans: tuple[Span, ...], kind: str
    ) -> Strip:
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if text is None:
            style = self.get_component_rich_style("diff-view--filler")
            strip = Strip([Segment("╱" * max(1, self._text_width()), style)])
        else:
            base = self.get_component_rich_style(f"diff-view--{kind}")
            word = self.get_component_rich_style(f"diff-view--{kind}-word", default=base)
            matches = find_spans(text, self.search_query)
            match = self.get_component_rich_style("diff-view--match") if matches else None
            strip = Strip(_segments(text, spans, base, word, matches, match))
        self._cache[key] = strip
        return strip

    def _pane(
        self, strip: Strip, scroll_x: int, width: int, fill: Style, key: tuple[int, int], sub: int
    ) -> Strip:
        """The visible part of one side: scrolled sideways, or the ``sub``-th wrapped line."""
        if not self.wrap:
            return strip.crop(scroll_x, scroll_x + width).adjust_cell_length(width, fill)
        cuts = self._cuts.get(key, [])
        if sub > len(cuts):
            return Strip.blank(width, fill)
        start = cuts[sub - 1] if sub else 0
        end = cuts[sub] if sub < len(cuts) else start + width
        return strip.crop(start, end).adjust_cell_length(width, fill)

    def _split_line(self, index: int, sub: int, scroll_x: int, width: int, cursor: bool) -> Strip:
        assert self.diff is not None
        row: Row = self.diff.rows[index]
        text_width = self._text_width()
        old_kind, new_kind = _kinds(row.kind)
        old_fill = self._fill(row.old, old_kind)
        new_fill = self._fill(row.new, new_kind)
        left = Strip.join(
            [
                self._gutter_strip(
                    row.old_no,
                    "-" if old_kind == "removed" else " ",
                    cursor,
                    sub,
                    (index, 0),
                ),
                self._pane(
                    self._text_strip((index, 0, False), row.old, row.old_spans, old_kind),
                    scroll_x,
                    text_width,
                    old_fill,
                    (index, 0),
                    sub,
                ),
            ]
        )
        right = Strip.join(
            [
                self._gutter_strip(
                    row.new_no,
                    "+" if new_kind == "added" else " ",
                    cursor,
                    sub,
                    (index, 1),
                ),
                self._pane(
                    self._text_strip((index, 1, False), row.new, row.new_spans, new_kind),
                    scroll_x,
                    text_width,
                    new_fill,
                    (index, 1),
                    sub,
                ),
            ]
        )
        separator = Strip([Segment("│", self.get_component_rich_style("diff-view--separator"))])
        line = Strip.join([left, separator, right])
        return line.adjust_cell_length(width, self.rich_style)

    def _fill(self, text: str | None, kind: str) -> Style:
        if text is None:
            return self.get_component_rich_style("diff-view--filler")
        return self.get_component_rich_style(f"diff-view--{kind}")

    def _unified_line(self, index: int, sub: int, scroll_x: int, width: int, cursor: bool) -> Strip:
        row = self._unified_rows[index]
        kind = {"equal": "equal", "delete": "removed", "insert": "added"}[row.kind]
        marker = {"equal": " ", "delete": "-", "insert": "+"}[row.kind]
        gutter_style = self.get_component_rich_style("diff-view--cursor" if cursor else "diff-view--gutter")
        old_no = str(row.old_no) if row.old_no and not sub else ""
        new_no = str(row.new_no) if row.new_no and not sub else ""
        if sub:
            marker = "↪" if sub <= len(self._cuts.get((index, 2), ())) else " "
        numbers = old_no.rjust(self._gutter - 1) + " " + new_no.rjust(self._gutter - 1) + " " + marker
        text = self._text_strip((index, 0, True), row.text, row.spans, kind)
        line = Strip.join(
            [
                Strip([Segment(numbers, gutter_style)]),
                self._pane(text, scroll_x, self._text_width(), self._fill(row.text, kind), (index, 2), sub),
            ]
        )
        return line.adjust_cell_length(width, self.rich_style)


_WORD = re.compile(r"\S+\s*|\s+")


def wrap_cuts(text: str, width: int) -> list[int]:
    """Cell positions where ``text`` wraps to fit ``width``: after spaces when possible,
    inside a word only when the word alone is wider than the line."""
    cuts: list[int] = []
    position = 0  # cells from the start of the text
    line_start = 0
    for match in _WORD.finditer(text):
        token = match.group()
        cells = cell_len(token)
        word_cells = cell_len(token.rstrip())
        if position + word_cells - line_start > width and position > line_start:
            cuts.append(position)
            line_start = position
        while word_cells > width and position + word_cells - line_start > width:
            line_start += width  # a word longer than a line: cut it at the width
            cuts.append(line_start)
            word_cells -= width
            cells -= width
            position += width
        position += cells
    return cuts


def _cells(text: str | None) -> int:
    return cell_len(visible(text)) if text else 0


def _kinds(kind: str) -> tuple[str, str]:
    if kind == "equal":
        return "equal", "equal"
    if kind == "delete":
        return "removed", "equal"
    if kind == "insert":
        return "equal", "added"
    return "removed", "added"
