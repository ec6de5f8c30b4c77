"""The help screen: every key of the review, from the one key table."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from promptver.tui.keys import APP_KEYS, WIDGET_KEYS


def help_content() -> Content:
    lines = [Content.styled("promptver review: keys", "bold $accent"), Content("")]
    for label, description in [(k.label, k.description) for k in APP_KEYS] + list(WIDGET_KEYS):
        lines.append(Content.assemble((label.ljust(20), "bold"), description))
    lines += [
        Content(""),
        Content.styled("navigator badges", "bold"),
        Content.assemble(
            ("+", "bold $success"),
            " added  ",
            ("−", "bold $error"),
            " removed  ",
            ("~", "bold $warning"),
            " changed  ",
            ("·", "$text-muted"),
            " unchanged",
        ),
        Content.assemble(
            ("M", "bold $error"),
            " major  ",
            ("m", "$warning"),
            " minor  ",
            ("p", "$success"),
            " patch: the impact of the component's largest change",
        ),
        Content(""),
        Content.styled("escape, q or ? closes this help", "$text-muted"),
    ]
    return Content("\n").join(lines)


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "close", show=False)
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(help_content(), id="help-text")
