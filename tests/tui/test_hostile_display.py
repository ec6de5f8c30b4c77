"""The review screen shows control characters from data as escapes and never reads data
as markup (issue 24, item 3): an author, a title, a note, a field value, a template line
and a case id each carry a clear-screen, an OSC title, an OSC 8 link and ``[/]``."""

from __future__ import annotations

from promptver.tui.app import build_app
from promptver.tui.model import CaseRow, CasesBody, Component, FieldRow, FieldsBody, Review, Side, TextBody
from tests.tui.test_app import wait_aligned

ESCAPES = "\x1b[2J\x1b]0;pwned\x07\x1b]8;;https://evil.example\x07click\x1b]8;;\x07\x9b\u202e"
MARKUP = "[/] [link=https://evil.example]x[/link]"


def hostile_review() -> Review:
    return Review(
        bundle=f"bot{ESCAPES}",
        old=Side(f"1.0.0{ESCAPES}", "sha256:" + "ab" * 32, f"ana {ESCAPES} {MARKUP}", "2026-11-20T14:03:00Z"),
        new=Side("working copy", "sha256:" + "cd" * 32, "bo@example.com", "2026-11-26T09:30:00Z"),
        bump="minor",
        bump_reason=f"prompt changed {ESCAPES} {MARKUP}",
        components=[
            Component(
                "template:answer",
                "template",
                f"answer {ESCAPES} {MARKUP}",
                "changed",
                "minor",
                "+1 -1",
                notes=(f"note {ESCAPES} {MARKUP}",),
                body=TextBody(f"old line {ESCAPES}\n", f"new line {ESCAPES} {MARKUP}\n"),
            ),
            Component(
                "model",
                "model",
                "model",
                "changed",
                "minor",
                "1 field",
                body=FieldsBody([FieldRow("name", f"a{ESCAPES}", f"b {MARKUP}", "changed")]),
            ),
            Component(
                "dataset:golden",
                "dataset",
                "golden",
                "changed",
                "patch",
                "1 case",
                body=CasesBody([CaseRow(f"case {ESCAPES} {MARKUP}", "added", None, {"q": ESCAPES})]),
            ),
        ],
    )


async def test_hostile_text_is_shown_escaped() -> None:
    app = build_app(hostile_review())
    async with app.run_test(size=(160, 40)) as pilot:
        screens = []
        await wait_aligned(app, pilot)
        screens.append(app.export_screenshot())
        for _ in range(2):
            await pilot.press("j")
            await pilot.pause(0.2)
            screens.append(app.export_screenshot())
    for svg in screens:
        assert "\x1b" not in svg and "\x9b" not in svg and "\u202e" not in svg
    shown = "".join(screens).replace("&#160;", " ")
    assert "\\x1b]8;;https://evil.example" in shown
    assert "[/]" in shown  # markup shown as text (no MarkupError either)
