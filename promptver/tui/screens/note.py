"""The note prompt shown before recording an approval or a change request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label


@dataclass(frozen=True)
class NoteResult:
    """What the reviewer confirmed; ``note`` is None when left empty."""

    decision: str  # "approved" | "changes_requested"
    note: str | None


class NoteModal(ModalScreen[NoteResult | None]):
    """Asks for an optional note; dismisses with a ``NoteResult`` or None if cancelled."""

    DEFAULT_CSS = """
    NoteModal { align: center middle; }
    NoteModal > Vertical {
        width: 70; max-width: 100%; height: auto;
        border: round $accent; background: $surface; padding: 0 1;
    }
    NoteModal #note-title { text-style: bold; margin-bottom: 1; width: 100%; }  /* wraps at words */
    NoteModal Horizontal { height: auto; align-horizontal: right; margin-top: 1; }
    NoteModal Button { margin-left: 1; min-width: 10; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel", show=False)]

    def __init__(self, decision: str, title: str) -> None:
        super().__init__()
        self.decision = decision
        self.title_text = title

    def compose(self) -> ComposeResult:
        confirm = "Approve" if self.decision == "approved" else "Request changes"
        with Vertical():
            yield Label(self.title_text, id="note-title", markup=False)
            yield Input(placeholder="note (optional), enter to confirm", id="note")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button(
                    confirm,
                    id="confirm",
                    variant="success" if self.decision == "approved" else "warning",
                )

    def _confirm(self) -> None:
        text = self.query_one("#note", Input).value.strip()
        self.dismiss(NoteResult(self.decision, text or None))

    @on(Input.Submitted, "#note")
    def on_submit(self) -> None:
        self._confirm()

    @on(Button.Pressed, "#confirm")
    def on_confirm(self) -> None:
        self._confirm()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
