"""Text from data shown on the review screen as it is: control characters as escapes.

Textual's ``Content`` and rich's ``Text`` remove five control codes when a text is made
(BEL, BS, VT, FF, CR) and keep every other one, ESC included, which the terminal would then
run: a case id or a model's answer could clear the screen, retitle the window or open a
link. Every text on the screen is made through one of those two, so `install` extends
both tables with the escapes of `promptver.safetext` (``\\x1b``, ``\\u202e``...): the text is
escaped when it is made, before layout, so its width on screen is the width of what is
shown. Markup is another matter: widgets that show data do so with ``markup=False``.
"""

from __future__ import annotations

from promptver.safetext import CONTROL_ESCAPES


def install() -> None:
    """Extend rich's and Textual's control-code tables (idempotent; the five codes they
    already remove stay removed)."""
    from rich import control
    from textual import content

    for table in (control._CONTROL_STRIP_TRANSLATE, content._CONTROL_STRIP_TRANSLATE):
        for code, escape in CONTROL_ESCAPES.items():
            table.setdefault(code, escape)  # type: ignore[call-overload]
