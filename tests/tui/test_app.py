"""Pilot tests: the review app driven by keys, as a reviewer would."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input, Static

from promptver.tui.app import ReviewApp, build_app
from promptver.tui.keys import APP_KEYS
from promptver.tui.model import Component, Review, Side, TextBody
from promptver.tui.screens.case_detail import CaseDetailScreen
from promptver.tui.screens.help import HelpScreen
from promptver.tui.screens.note import NoteModal
from promptver.tui.textdiff import Fold
from promptver.tui.widgets.cases_table import CasesTable
from promptver.tui.widgets.diff_view import DiffView
from promptver.tui.widgets.fields_table import FieldsTable
from promptver.tui.widgets.navigator import Navigator
from tests.tui.sample import long_template_review, sample_review

SIZE = (100, 30)


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, review: Review, decision: str, note: str | None) -> dict[str, Any]:
        event = {"decision": decision, "note": note}
        self.events.append(event)
        return event


def current_key(app: ReviewApp) -> str | None:
    return app.query_one(Navigator).current_key


async def wait_aligned(app: ReviewApp, pilot: Any) -> DiffView:
    for _ in range(1000):  # up to ~10 s: the alignment runs in a thread, on a busy machine
        await pilot.pause(0.01)
        views = list(app.screen.query(DiffView))
        if views and views[0].diff is not None:
            await pilot.pause()  # let the app handle DiffView.Aligned
            return views[0]
    raise AssertionError("the diff view never finished aligning")


async def test_starts_on_first_changed_component_and_navigates() -> None:
    app = build_app(sample_review())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert current_key(app) == "model"
        assert app.query_one("#body FieldsTable", FieldsTable)
        await pilot.press("j")
        assert current_key(app) == "system"
        await pilot.press("j")
        assert current_key(app) == "template:answer"
        view = await wait_aligned(app, pilot)
        title = app.query_one("#component-title", Static)
        assert "variables added: channel" in str(title.render())
        assert view.diff is not None and view.diff.changed
        await pilot.press("k")
        assert current_key(app) == "system"


async def test_next_change_walks_hunks_then_components() -> None:
    app = build_app(sample_review())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.query_one(Navigator).highlighted = 2  # template:answer
        view = await wait_aligned(app, pilot)
        assert view.change_position() == (1, 3)  # opening a text lands on its first change
        await pilot.press("n")
        assert view.change_position() == (2, 3)
        await pilot.press("right_square_bracket")
        assert view.change_position() == (3, 3)
        await pilot.press("N")
        assert view.change_position() == (2, 3)
        await pilot.press("n", "n")  # past the last change: next changed component
        await pilot.pause()
        assert current_key(app) == "rag"
        await pilot.press("N")  # the model table has no change below its cursor...
        await pilot.pause()
        assert current_key(app) == "template:answer"  # ...so back to the template's last
        view = await wait_aligned(app, pilot)
        assert view.change_position() == (3, 3)


async def test_model_table_moves_between_changed_fields() -> None:
    app = build_app(sample_review())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.query_one(FieldsTable)
        assert table.cursor_row == 0
        await pilot.press("n")
        assert table.cursor_row == 1  # name
        await pilot.press("n")
        assert table.cursor_row == 2  # temperature


async def test_unified_whitespace_and_wrap_toggles() -> None:
    app = build_app(sample_review())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.query_one(Navigator).highlighted = 2
        view = await wait_aligned(app, pilot)
        side_rows = view.row_count
        await pilot.press("u")
        assert view.unified and view.row_count > side_rows
        await pilot.press("w")
        view = await wait_aligned(app, pilot)
        assert view.ignore_whitespace
        await pilot.press("z")
        assert not view.wrap
        await pilot.press("u")
        assert not view.unified


async def test_hide_unchanged_components() -> None:
    app = build_app(sample_review())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        navigator = app.query_one(Navigator)
        assert "system" in navigator.visible_keys()
        await pilot.press("h")
        assert "system" not in navigator.visible_keys()
        assert current_key(app) == "model"
        await pilot.press("h")
        assert "system" in navigator.visible_keys()


async def test_open_case_detail_side_by_side() -> None:
    app = build_app(sample_review())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.query_one(Navigator).highlighted = 4  # dataset golden
        await pilot.pause()
        table = app.query_one(CasesTable)
        table.focus()
        await pilot.press("down", "down", "down")  # fourth case: case-000003, changed
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, CaseDetailScreen)
        assert "case-000003" in app.screen.case_title
        view = await wait_aligned(app, pilot)
        assert view.diff is not None and view.diff.changed
        await pilot.press("escape")
        assert not isinstance(app.screen, CaseDetailScreen)
        assert table.cursor == 3


async def test_search_in_text_and_filter_in_cases() -> None:
    app = build_app(sample_review())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.query_one(Navigator).highlighted = 2
        view = await wait_aligned(app, pilot)
        await pilot.press("slash", *"human", "enter")
        assert view.cursor_row is not None
        assert view.diff is not None
        assert "human" in (view.diff.rows[view.cursor_row].new or "")
        app.query_one(Navigator).highlighted = 4
        await pilot.pause()
        table = app.query_one(CasesTable)
        await pilot.press("slash")
        app.query_one("#search", Input).value = ""
        await pilot.press(*"000012", "enter")
        assert table.shown == 1
        assert table.selected_index == 12


async def test_help_lists_every_key() -> None:
    app = build_app(sample_review())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-text", Static).render())
        for key in APP_KEYS:
            assert key.description in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_approve_with_a_note_records_the_decision() -> None:
    recorder = Recorder()
    app = build_app(sample_review(), record=recorder, reviewer="ana")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("a")
        assert isinstance(app.screen, NoteModal)
        await pilot.press(*"looks good", "enter")
        await pilot.pause()
        assert recorder.events == [{"decision": "approved", "note": "looks good"}]
        await pilot.press("r")
        await pilot.press("escape")  # cancelled: nothing recorded
        await pilot.press("r", "enter")  # empty note
        await pilot.pause()
        assert recorder.events[1:] == [{"decision": "changes_requested", "note": None}]


async def test_missing_runs_and_empty_review_do_not_crash() -> None:
    app = build_app(sample_review(runs=False))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.query_one(Navigator).highlighted = 5
        await pilot.pause()
        assert "no runs" in str(app.query_one("#body .evals-missing", Static).render())
        await pilot.press("n", "n", "N", "u", "w")
    empty = Review("b", Side("1.0.0"), Side("1.0.0"))
    app = build_app(empty)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n", "N", "j", "k", "u", "slash", "x", "enter", "a", "escape")
        await pilot.pause()


async def test_large_binary_and_long_line_texts() -> None:
    big_old = "".join(f"line {i} of a large template {{{{ v{i % 7} }}}}\n" for i in range(26000))
    big_new = big_old.replace("line 10000 ", "line ten thousand ")
    long_line = "word " * 20000
    review = Review(
        "b",
        Side("1.0.0"),
        Side("1.1.0"),
        components=[
            Component("big", "template", "template big", "changed", body=TextBody(big_old, big_new)),
            Component("bin", "files", "logo.png", "changed", body=TextBody(None, None, True, 10, 12)),
            Component(
                "long",
                "template",
                "template long",
                "changed",
                body=TextBody(long_line, long_line + "end"),
            ),
            Component("empty", "template", "template empty", "added", body=TextBody(None, "")),
        ],
    )
    assert len(big_old) > 1_000_000
    app = build_app(review)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await wait_aligned(app, pilot)
        assert view.change_position() == (1, 1)
        line = view.entry(view.cursor_row or 0)
        assert isinstance(line, int) and view.diff is not None and view.diff.rows[line].old_no == 10001
        assert view.row_count == 2 * 3 + 1 + 2  # 10,000 and 15,999 unchanged lines folded
        await pilot.press("pagedown", "end", "home")
        await pilot.press("j")
        await pilot.pause()
        assert "binary file" in str(app.query_one("#body .message", Static).render())
        await pilot.press("j")
        view = await wait_aligned(app, pilot)
        await pilot.press("z", "right", "end")
        await pilot.press("j")
        await pilot.pause()
        assert "empty" in str(app.query_one("#body .message", Static).render())


async def test_hundred_thousand_cases_stay_navigable() -> None:
    app = build_app(sample_review(100_000))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.query_one(Navigator).highlighted = 4
        await pilot.pause()
        table = app.query_one(CasesTable)
        table.focus()
        await pilot.press("end")
        assert table.selected_index == 99_999
        await pilot.press("pageup", "up")
        assert table.cursor < 99_999
        await pilot.press("slash", *"099998", "enter")
        assert table.shown == 1
        await pilot.press("enter")
        view = await wait_aligned(app, pilot)
        assert isinstance(app.screen, CaseDetailScreen) and view.diff is not None


async def test_keys_do_not_act_behind_dialogs_or_a_case() -> None:
    app = build_app(sample_review())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("question_mark", "j", "h", "u")
        assert current_key(app) == "model" and not app.unified and not app.hide_unchanged
        await pilot.press("escape")
        app.query_one(Navigator).highlighted = 4
        await pilot.pause()
        app.query_one(CasesTable).focus()
        await pilot.press("enter")
        await wait_aligned(app, pilot)
        assert isinstance(app.screen, CaseDetailScreen)
        await pilot.press("j", "slash", "u")
        assert current_key(app) == "dataset:golden"
        assert app.unified  # toggles still apply to the case
        assert not app.query_one("#search", Input).has_class("-shown")


async def test_loading_shows_progress_then_the_review_or_the_error() -> None:
    import threading

    from promptver.errors import NotFoundError
    from promptver.tui.widgets.header import ReviewHeader

    release = threading.Event()

    def slow(progress: Any) -> Review:
        progress(3_000_000, 9_000_000)
        release.wait(10)
        return sample_review()

    app = build_app(slow)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(1000):
            await pilot.pause(0.01)
            if "computing the diff" in str(app.query_one(ReviewHeader).render()):
                break
        assert "3.0 of 9.0 MB" in str(app.query_one(ReviewHeader).render())
        assert app.query_one("#panes").loading
        release.set()
        for _ in range(1000):
            await pilot.pause(0.01)
            if app.review is not None:
                break
        assert current_key(app) == "model"

    def failing(progress: Any) -> Review:
        raise NotFoundError("bundle 'x' has no version '9.9.9'")

    app = build_app(failing)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(1000):
            await pilot.pause(0.01)
            titles = app.query("#component-title").results(Static)  # none until composed
            if any(title.render().plain for title in titles):
                break
        assert "no version '9.9.9'" in str(app.query_one("#component-title", Static).render())
        await pilot.press("n", "j", "a", "u", "slash", "escape")


async def test_click_sets_the_cursor_and_n_continues_from_it() -> None:
    app = build_app(sample_review())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.query_one(Navigator).highlighted = 2
        view = await wait_aligned(app, pilot)
        view.wrap = False
        await pilot.pause()
        await pilot.click(DiffView, offset=(10, 5))  # row 5: "Cite the help-center ..."
        assert view.cursor_row == 5
        assert view.change_position() == (0, 3)  # not on a change
        await pilot.press("n")
        assert current_key(app) == "template:answer"
        assert view.change_position() == (3, 3)  # the one after the click, not the second


async def test_enter_on_a_component_moves_into_its_pane() -> None:
    app = build_app(sample_review())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        navigator = app.query_one(Navigator)
        navigator.focus()
        navigator.highlighted = 4  # dataset golden
        await pilot.pause()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert app.focused is app.query_one(CasesTable)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, CaseDetailScreen)


# -- issue 13 (review UI items 15-20) and issue 15 (retrieval in the eval pane) ----------


async def test_navigator_width_follows_each_resize() -> None:
    app = build_app(sample_review())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        navigator = app.query_one(Navigator)
        widths = [navigator.size.width]
        for width, height in ((80, 24), (120, 40), (80, 24)):
            await pilot.resize_terminal(width, height)
            await pilot.pause()
            widths.append(navigator.size.width)
        assert widths[0] == widths[2] and widths[1] == widths[3]
        assert widths[0] > widths[1]


async def test_navigator_counts_stay_whole_when_narrow() -> None:
    app = build_app(sample_review())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        navigator = app.query_one(Navigator)
        width = navigator.scrollable_content_region.width
        for index in range(navigator.option_count):
            prompt = str(navigator.get_option_at_index(index).prompt)
            assert len(prompt) <= width, prompt
        template = str(navigator.get_option("template:answer").prompt)
        assert template.endswith("+3 −2") and "…" in template


async def test_ctrl_c_quits_also_from_a_dialog() -> None:
    for keys in (["ctrl+c"], ["a", "ctrl+c"], ["slash", "ctrl+c"]):
        app = build_app(sample_review())
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press(*keys)
            await pilot.pause()
            assert app._exit, keys  # quit, not "Press ctrl+q to quit"
            assert not app._notifications


async def test_fields_wrap_instead_of_clipping() -> None:
    review = sample_review()
    for size in ((80, 24), (160, 40)):
        app = build_app(review)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            app.query_one(Navigator).highlighted = 6  # metadata: a long description
            await pilot.pause(0.2)
            table = app.query_one(FieldsTable)
            columns = list(table.columns.values())
            labels = [str(c.label) for c in columns]
            if size[0] == 80:
                assert labels == ["field", "change: − old  + new  why"]
            else:
                assert labels == ["field", "old", "new", "impact", "why"]
            # every column fits in the table: nothing is out of sight to the right
            assert sum(c.get_render_width(table) for c in columns) <= table.size.width
            # the long description wraps onto more lines instead of being cut
            assert table.rows[next(iter(table.rows))].height > 1


async def test_whitespace_key_is_offered_on_texts_only() -> None:
    app = build_app(sample_review())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.query_one(Navigator).highlighted = 4  # a dataset: no text to compare
        await pilot.pause(0.2)
        assert app.check_action("toggle_whitespace", ()) is False  # not offered
        await pilot.press("w")
        assert app.ignore_whitespace is False
        assert not app._notifications  # no "whitespace changes ignored" that changes nothing
        app.query_one(Navigator).highlighted = 2  # a template
        await wait_aligned(app, pilot)
        assert app.check_action("toggle_whitespace", ()) is True
        await pilot.press("w")
        assert app.ignore_whitespace is True


async def test_enter_on_eval_results_reaches_the_case_outcomes() -> None:
    from promptver.tui.widgets.cases_table import OutcomesTable

    app = build_app(sample_review())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.query_one(Navigator).highlighted = 5
        await pilot.pause(0.2)
        app.query_one(Navigator).focus()
        await pilot.press("enter")
        await pilot.pause()
        outcomes = app.query_one(OutcomesTable)
        assert app.focused is outcomes
        verdicts = [o.verdict for o in outcomes.outcomes]
        assert {"added", "removed", "sources"} <= set(verdicts)
        await pilot.press("down", "enter")  # the regressed case, its sources moved
        await wait_aligned(app, pilot)
        assert isinstance(app.screen, CaseDetailScreen)
        assert "fell from rank 1 to rank 3" in str(app.screen.query_one("#case-title", Static).render())


async def test_eval_pane_shows_percent_cost_targets_and_retrieval() -> None:
    from textual.widgets import DataTable

    app = build_app(sample_review())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.query_one(Navigator).highlighted = 5
        await pilot.pause(0.2)
        table = app.query_one("#metrics", DataTable)
        rows = {
            str(table.get_row_at(i)[0]): [str(c) for c in table.get_row_at(i)] for i in range(table.row_count)
        }
        assert rows["pass rate"][1:] == ["82.0%", "90.0%", "+8.0 pt"]
        assert rows["cost"][1:3] == ["$0.0123", "$0.0101"]
        assert rows["MRR"][1:] == ["0.920", "0.750", "-0.170"]
        assert {"hit@4", "recall@4", "nDCG@4", "retrieval cases"} <= set(rows)
        runs = str(app.query_one(".evals-runs", Static).render())
        assert runs == "runs run-1a2b (rag) → run-3c4d (rag)"


def fold_rows(view: DiffView) -> list[int]:
    return [row for row in range(view.row_count) if isinstance(view.entry(row), Fold)]


async def test_unchanged_runs_fold_and_enter_expands_the_next_fold() -> None:
    app = build_app(long_template_review())
    async with app.run_test(size=SIZE) as pilot:
        view = await wait_aligned(app, pilot)
        view.focus()
        # lines 1-16 | 17-19, change 20, 21-23 | 24-37 | 38-40, change 41, 42-44 | 45-60
        assert fold_rows(view) == [0, 8, 16]
        assert view.row_count == 60 - 16 - 14 - 16 + 3
        assert view.change_position() == (1, 2)  # on line 20, display row 4
        assert view.cursor_row == 4
        wanted = view._offsets[4] - 3  # three lines above it once laid out (not at the end)
        for _ in range(100):
            if view.scroll_y == wanted:
                break
            await pilot.pause(0.01)
        assert view.scroll_y == wanted < view.max_scroll_y
        await pilot.press("enter")  # the first fold after the cursor opens
        assert fold_rows(view) == [0, 29]
        assert view.cursor_row == 8 and view.entry(8) == 23  # on its first line (24)
        await pilot.press("n")  # changes are still found: line 41 moved down
        assert view.change_position() == (2, 2)
        line = view.entry(view.cursor_row or 0)
        assert isinstance(line, int) and view.diff is not None and view.diff.rows[line].old_no == 41
        await pilot.press("N")
        assert view.change_position() == (1, 2) and view.cursor_row == 4


async def test_click_on_a_fold_expands_it() -> None:
    app = build_app(long_template_review())
    async with app.run_test(size=SIZE) as pilot:
        view = await wait_aligned(app, pilot)
        await pilot.pause()
        view.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        assert isinstance(view.entry(0), Fold)
        rendered = view.render_line(0).text
        assert "⋯ 16 unchanged lines" in rendered
        await pilot.click(DiffView, offset=(20, 0))
        assert fold_rows(view) == [23, 31]
        assert view.cursor_row == 0 and view.entry(0) == 0
        assert view.change_position() == (0, 2)
        await pilot.press("n")  # from the cursor on line 1: the first change, now lower
        assert view.change_position() == (1, 2) and view.cursor_row == 19


async def test_search_finds_and_opens_a_folded_line() -> None:
    app = build_app(long_template_review())
    async with app.run_test(size=SIZE) as pilot:
        view = await wait_aligned(app, pilot)

        async def search(query: str) -> int | None:
            await pilot.press("slash")
            app.query_one("#search", Input).value = query
            await pilot.press("enter")
            line = view.entry(view.cursor_row or 0)
            assert isinstance(line, int) and view.diff is not None
            return view.diff.rows[line].old_no

        assert await search("topic 30") == 30  # inside the middle fold
        assert fold_rows(view) == [0, 29]  # only the fold holding the match opened
        assert "Rule 30" in view.render_line(view._offsets[view.cursor_row or 0] - int(view.scroll_y)).text
        assert await search("topic 30") == 30  # its only match, once round
        assert await search("topic 5") == 50  # forward: into the last fold
        assert fold_rows(view) == [0]
        assert await search("topic 5") == 51  # the next match, in the opened lines
        assert await search("topic 4") == 4  # round past the end, into the first fold
        assert fold_rows(view) == []


async def test_expand_and_collapse_all_in_both_views() -> None:
    app = build_app(long_template_review())
    async with app.run_test(size=SIZE) as pilot:
        view = await wait_aligned(app, pilot)
        await pilot.press("E")
        assert fold_rows(view) == [] and view.row_count == 60
        assert view.change_position() == (1, 2) and view.cursor_row == 19  # the cursor kept its line
        await pilot.press("u")  # the unified view keeps them open: same keys
        assert fold_rows(view) == [] and view.row_count == 62
        await pilot.press("E")
        assert fold_rows(view) == [0, 9, 18]
        assert view.row_count == 62 - 16 - 14 - 16 + 3
        await pilot.press("n")
        assert view.change_position() == (2, 2)
        await pilot.press("u")
        assert fold_rows(view) == [0, 8, 16]


async def test_small_texts_fold_nothing_and_the_fold_key_says_so() -> None:
    app = build_app(sample_review())
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(Navigator).highlighted = 2
        view = await wait_aligned(app, pilot)
        assert view.folds == [] and view.row_count == view.line_count
        await pilot.press("E")
        await pilot.pause()
        assert view.row_count == view.line_count
