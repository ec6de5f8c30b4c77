"""The component list: change badge, title and counts; unchanged ones dimmed or hidden."""

from __future__ import annotations

from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from promptver.tui.model import Component

BADGES = {
    "added": ("+", "bold $success"),
    "removed": ("−", "bold $error"),
    "changed": ("~", "bold $warning"),
    "unchanged": ("·", "$text-muted"),
}
IMPACT = {"major": ("M", "bold $error"), "minor": ("m", "$warning"), "patch": ("p", "$success")}


def option_prompt(component: Component, width: int | None = None) -> Content:
    """Badge, impact, title and counts; within ``width`` cells the title is shortened
    (with an ellipsis) so the counts stay whole."""
    badge, badge_style = BADGES[component.status]
    impact, impact_style = IMPACT.get(component.impact or "", (" ", ""))
    dim = "" if component.changed else "$text-muted"
    title, counts = component.title, component.counts
    if width is not None:
        room = width - 3 - (len(counts) + 1 if counts else 0)  # badge, impact, space
        if room < 6 and counts:  # too narrow for both: the title wins, the counts elide
            counts = _elide(counts, max(1, width - 3 - len(title) - 1))
            room = width - 3 - (len(counts) + 1 if counts else 0)
        title = _elide(title, max(1, room))
    parts: list[str | tuple[str, str]] = [
        (badge, badge_style),
        (impact, impact_style),
        " ",
        (title, dim),
    ]
    if counts:
        parts += [" ", (counts, "$text-muted")]
    return Content.assemble(*parts)


def _elide(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


class Navigator(OptionList):
    """Lists components; posts ``Navigator.Selected`` when the highlight moves and
    ``Navigator.Entered`` when enter is pressed on one (to move into its pane)."""

    DEFAULT_CSS = """
    Navigator {
        width: 30;
        height: 1fr;
        border: none;
        border-right: vkey $panel-lighten-2;
        padding: 0;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    Navigator:focus { border: none; border-right: vkey $accent; }
    """

    class Selected(Message):
        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    class Entered(Message):
        pass

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.components: list[Component] = []
        self.hide_unchanged = False

    def set_components(self, components: list[Component], hide_unchanged: bool) -> None:
        current = self.current_key
        self.components = components
        self.hide_unchanged = hide_unchanged
        shown = [c for c in components if c.changed or not hide_unchanged]
        self.clear_options()
        self.add_options([Option(option_prompt(c, self._text_width()), id=c.key) for c in shown])
        keys = [c.key for c in shown]
        if current in keys:
            self.highlighted = keys.index(current)
        elif keys:
            first_changed = next((i for i, c in enumerate(shown) if c.changed), 0)
            self.highlighted = first_changed

    def _text_width(self) -> int | None:
        width = self.scrollable_content_region.width
        return width if width > 0 else None

    def on_resize(self) -> None:
        """Re-fit the prompts: titles shorten, counts stay whole."""
        by_key = {c.key: c for c in self.components}
        width = self._text_width()
        for index, key in enumerate(self.visible_keys()):
            self.replace_option_prompt_at_index(index, option_prompt(by_key[key], width))

    @property
    def current_key(self) -> str | None:
        if self.highlighted is None or self.option_count == 0:
            return None
        return self.get_option_at_index(self.highlighted).id

    def visible_keys(self) -> list[str]:
        return [
            option_id
            for option_id in (self.get_option_at_index(i).id for i in range(self.option_count))
            if option_id is not None
        ]

    def move(self, step: int, *, changed_only: bool = False) -> bool:
        """Highlight the next (``step`` 1) or previous (-1) component; False at either end."""
        keys = self.visible_keys()
        if not keys:
            return False
        index = self.highlighted if self.highlighted is not None else -step
        by_key = {c.key: c for c in self.components}
        while True:
            index += step
            if not 0 <= index < len(keys):
                return False
            if not changed_only or by_key[keys[index]].changed:
                self.highlighted = index
                return True

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.Entered())

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option_id is not None:
            self.post_message(self.Selected(event.option_id))
