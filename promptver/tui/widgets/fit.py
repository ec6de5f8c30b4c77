"""Lines cut at a word with an ellipsis, for the width they have (re-cut on resize).

Textual's ``text-overflow: ellipsis`` cuts a line at the last cell that fits, often
mid-word (``required variable 'custom…``); these widgets cut at the last whole word.
"""

from __future__ import annotations

from typing import Any

from textual.content import Content
from textual.widgets import Static


def fit_words(line: Content, width: int) -> Content:
    """``line`` cut to ``width`` cells at a word boundary, with an ellipsis; whole when it
    fits (a single word longer than the width is cut where it must be)."""
    if width <= 0 or line.cell_length <= width:
        return line
    text = line.plain
    cut = text.rfind(" ", 0, width)  # the ellipsis takes the cell the space leaves
    if cut <= 0:
        return line.truncate(width, ellipsis=True)
    return Content.assemble(line[:cut].rstrip(), ("…", "$text-muted"))


class WordFitted(Static):
    """A Static whose every line is cut at a word to fit its width."""

    _source: Content | None = None

    def update(self, content: Any = "", *, layout: bool = True) -> None:
        self._source = content if isinstance(content, Content) else Content(str(content))
        super().update(self._fitted(), layout=layout)

    def on_resize(self) -> None:
        if self._source is not None:
            super().update(self._fitted())

    def _fitted(self) -> Content:
        assert self._source is not None
        width = self.content_region.width
        return Content("\n").join([fit_words(line, width) for line in self._source.split("\n")])
