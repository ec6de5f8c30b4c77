"""The review UI at 80x24 (issue 22, item 9): nothing cut mid-word or off screen, enter
opens the fold above the first change, arrows move the cursor, the footer offers only
what the pane can do, and the history chart keeps its data in sight."""

from __future__ import annotations

import dataclasses
import re

from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Label

from promptver.tui.app import ReviewApp, build_app
from promptver.tui.model import EvalHistory
from promptver.tui.screens.note import NoteModal
from promptver.tui.widgets.cases_table import OutcomesTable
from promptver.tui.widgets.header import ReviewHeader
from promptver.tui.widgets.history_chart import HistoryChart
from promptver.tui.widgets.navigator import Navigator
from tests.tui.sample import long_template_review, sample_review
from tests.tui.test_app import fold_rows, wait_aligned

SIZE = (80, 24)
REASON = "embedding model changed: the vector index must be rebuilt before answers use it"


def lines_of(widget: Widget) -> list[str]:
    region = Region(0, 0, widget.size.width, widget.size.height)
    return [strip.text for strip in widget.render_lines(region)]


def footer_actions(app: ReviewApp) -> set[str]:
    from textual.widgets._footer import FooterKey

    return {key.action for key in app.query(FooterKey)}


async def test_the_header_is_cut_at_a_word() -> None:
    review = dataclasses.replace(sample_review(), bump="major", bump_reason=REASON)
    app = build_app(review)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        first = lines_of(app.query_one(ReviewHeader))[0].rstrip()
        assert first.endswith("…"), first
        shown = first[:-1].strip()
        full = f"support-bot  1.2.0 → working copy   suggested bump major: {REASON}"
        assert full.startswith(shown) and full[len(shown)] == " ", (shown, full)
        await pilot.resize_terminal(120, 30)
        await pilot.pause()
        wide = lines_of(app.query_one(ReviewHeader))[0].rstrip()
        assert wide.endswith("…") and len(wide) > len(first)
        assert full.startswith(wide[:-1].strip())


async def test_the_approve_dialog_title_wraps_whole_words() -> None:
    app = build_app(sample_review(), reviewer="Ana Ruiz-Fernández <ana.ruiz@support.example.com>")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, NoteModal)
        title = app.screen.query_one("#note-title", Label)
        shown = [line.strip() for line in lines_of(title) if line.strip()]
        assert len(shown) > 1  # it did not fit on one line: wrapped, not cut
        expected = (
            "Approve support-bot 1.2.0 → working copy as Ana Ruiz-Fernández <ana.ruiz@support.example.com>"
        )
        assert " ".join(shown) == expected


async def test_enter_opens_the_fold_above_the_first_change() -> None:
    app = build_app(long_template_review())
    async with app.run_test(size=SIZE) as pilot:
        view = await wait_aligned(app, pilot)
        view.focus()
        bells: list[int] = []
        app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
        assert fold_rows(view)[0] == 0 and view.cursor_row == 4  # the first change
        await pilot.press("up", "up", "up", "up")  # the arrows move the cursor, onto the fold
        assert view.cursor_row == 0 and view.scroll_y == 0
        await pilot.press("enter")
        assert 0 not in fold_rows(view) and not bells


async def test_enter_falls_back_to_the_fold_before_the_cursor() -> None:
    app = build_app(long_template_review())
    async with app.run_test(size=(80, 14)) as pilot:
        view = await wait_aligned(app, pilot)
        view.focus()
        bells: list[int] = []
        app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
        view.cursor_row = 7  # the last row before the second fold (row 8), which is off screen
        await pilot.pause()  # (moving the cursor may scroll: on a busy machine, after the line below)
        view.scroll_to(y=0, animate=False, immediate=True)
        await pilot.pause()
        first, last = view._visible_rows()
        assert first == 0 and last < 8
        await pilot.press("enter")
        assert 0 not in fold_rows(view) and not bells


async def test_arrows_and_pages_move_the_cursor_in_text_panes() -> None:
    app = build_app(long_template_review())
    async with app.run_test(size=SIZE) as pilot:
        view = await wait_aligned(app, pilot)
        view.focus()
        start = view.cursor_row
        assert start is not None
        await pilot.press("down", "down")
        assert view.cursor_row == start + 2
        await pilot.press("up")
        assert view.cursor_row == start + 1
        await pilot.press("pagedown")
        paged = view.cursor_row
        assert paged is not None and paged > start + 5
        height = view.scrollable_content_region.height
        assert view.scroll_y <= view._offsets[paged] < view.scroll_y + height  # kept on screen
        await pilot.press("end")
        assert view.cursor_row == view.row_count - 1
        await pilot.press("home")
        assert view.cursor_row == 0 and view.scroll_y == 0
        await pilot.press("n")  # changes still go from the cursor
        assert view.change_position() == (1, 2)


async def test_the_footer_offers_text_keys_on_texts_only() -> None:
    app = build_app(sample_review())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for index in (0, 4, 5):  # model fields, dataset cases, eval results
            app.query_one(Navigator).highlighted = index
            await pilot.pause(0.2)
            assert "toggle_unified" not in footer_actions(app), index
        app.query_one(Navigator).highlighted = 2  # a template
        await wait_aligned(app, pilot)
        await pilot.pause()
        assert "toggle_unified" in footer_actions(app)


def _history(score: list[float], pass_rate: list[float]) -> EvalHistory:
    return EvalHistory(
        title="golden (model)",
        versions=["1.0.0", "1.1.0", "1.2.0", "1.3.0"],
        score=score,
        pass_rate=pass_rate,
        marks=["1.2.0"],
    )


async def _chart_lines(history: EvalHistory) -> list[str]:
    body = dataclasses.replace(sample_review().components[5].body, history=history)  # type: ignore[type-var]
    review = sample_review()
    components = list(review.components)
    components[5] = dataclasses.replace(components[5], body=body)
    app = build_app(dataclasses.replace(review, components=components))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.query_one(Navigator).highlighted = 5
        for _ in range(100):
            await pilot.pause(0.02)
            charts = list(app.query(HistoryChart))
            if charts and charts[0].size.height:
                break
        await pilot.pause(0.2)
        return lines_of(app.query_one(HistoryChart))


PLOT_ROW = re.compile(r"^\s*\d+(\.\d+)?┤")
SCORE_GLYPHS = set("▖▗▘▙▚▛▜▝▞▟▀▄▌▐█")


async def test_the_history_legend_is_off_the_data_and_the_score_in_sight() -> None:
    lines = await _chart_lines(_history([100.0, 90.0, 80.0, 85.0], [100.0, 90.0, 80.0, 85.0]))
    plot = [line for line in lines if PLOT_ROW.match(line)]
    assert plot, lines
    assert not any("score" in line or "pass rate" in line for line in plot)  # no legend over data
    assert any("score %" in line and "pass rate %" in line for line in lines)  # it is in the title
    # score equals pass rate everywhere: the score's line is drawn, not hidden under the x's
    assert any(SCORE_GLYPHS & set(line.split("┤", 1)[1]) for line in plot), "\n".join(lines)


async def test_the_case_table_keeps_its_last_column_on_screen() -> None:
    app = build_app(sample_review())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.query_one(Navigator).highlighted = 5
        await pilot.pause(0.3)
        table = app.query_one(OutcomesTable)
        header = lines_of(table)[0]
        assert header.split() == ["verdict", "id", "old", "→", "new", "retrieval"], header
        regressed = next(line for line in lines_of(table) if "regressed" in line)
        assert regressed.rstrip().endswith("…")  # a long note ends in an ellipsis, in sight
        assert "expected" in regressed


async def test_the_major_reason_above_a_text_is_cut_at_a_word() -> None:
    note = "major: template 'answer': required variable 'customer_plan' added: callers must pass it"
    review = sample_review()
    components = list(review.components)
    components[2] = dataclasses.replace(components[2], notes=(note,))
    app = build_app(dataclasses.replace(review, components=components))
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(Navigator).highlighted = 2
        await wait_aligned(app, pilot)
        await pilot.pause()
        shown = lines_of(app.query_one("#component-title"))[1].strip()
        assert shown.endswith("…"), shown
        assert note.startswith(shown[:-1].strip()) and note[len(shown[:-1].strip())] == " ", shown
