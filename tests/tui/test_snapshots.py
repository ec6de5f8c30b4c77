"""SVG snapshots of the main screens at 80x24 and 120x40 (pytest-textual-snapshot).

Update after an intended visual change with ``pytest tests/tui --snapshot-update`` and
review the SVGs (``snapshot_report.html`` shows the differences).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from promptver.tui.app import ReviewApp, build_app
from promptver.tui.widgets.diff_view import DiffView
from promptver.tui.widgets.navigator import Navigator
from tests.tui.sample import long_template_review, sample_review

SIZES = [(80, 24), (120, 40)]
SCREENS = {"model": 0, "template": 2, "rag": 3, "dataset": 4, "evals": 5, "metadata": 6}


def select(index: int, *keys: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, ReviewApp)
        app.query_one(Navigator).highlighted = index
        for _ in range(1000):
            await pilot.pause(0.01)
            views = list(app.screen.query(DiffView))
            if all(view.diff is not None for view in views):
                break
        if keys:
            await pilot.press(*keys)
        await settle(pilot)

    return run_before


async def settle(pilot: Pilot[Any]) -> None:
    """Wait until the layout stops changing: a chart or table that is drawn for its size
    must not be captured between a scrollbar appearing and its redraw."""
    previous = None
    for _ in range(200):
        await pilot.pause(0.02)
        regions = [(type(w).__name__, w.region) for w in pilot.app.screen.walk_children()]
        if regions == previous:
            break
        previous = regions
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", list(SCREENS))
def test_main_screens(snap_compare: Any, screen: str, size: tuple[int, int]) -> None:
    app = build_app(sample_review())
    assert snap_compare(app, terminal_size=size, run_before=select(SCREENS[screen]))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help(snap_compare: Any, size: tuple[int, int]) -> None:
    app = build_app(sample_review())
    assert snap_compare(app, terminal_size=size, press=["question_mark"])


def test_template_light_theme_unified(snap_compare: Any) -> None:
    app = build_app(sample_review(), light=True)
    assert snap_compare(app, terminal_size=(80, 24), run_before=select(2, "u"))


def test_case_detail(snap_compare: Any) -> None:
    app = build_app(sample_review())
    run = select(4, "tab", "down", "down", "down", "enter")

    async def run_before(pilot: Pilot[Any]) -> None:
        await run(pilot)
        for _ in range(1000):
            await pilot.pause(0.01)
            views = list(pilot.app.screen.query(DiffView))
            if views and all(view.diff is not None for view in views):
                break
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_no_runs_and_no_changes(snap_compare: Any) -> None:
    app = build_app(sample_review(runs=False))
    assert snap_compare(app, terminal_size=(80, 24), run_before=select(5))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_eval_outcome_opened_with_enter(snap_compare: Any, size: tuple[int, int]) -> None:
    """enter from the navigator reaches the outcomes; enter again opens a case."""
    app = build_app(sample_review())
    run = select(5, "enter", "down", "enter")

    async def run_before(pilot: Pilot[Any]) -> None:
        pilot.app.query_one(Navigator).focus()
        await run(pilot)
        for _ in range(1000):
            await pilot.pause(0.01)
            views = list(pilot.app.screen.query(DiffView))
            if views and all(view.diff is not None for view in views):
                break
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("keys", [(), ("u",), ("enter",)], ids=["folded", "unified", "expanded"])
def test_long_template_folds(snap_compare: Any, keys: tuple[str, ...], size: tuple[int, int]) -> None:
    """Unchanged runs fold to one row; enter opens the first fold after the cursor."""
    app = build_app(long_template_review())
    assert snap_compare(app, terminal_size=size, run_before=select(0, "tab", *keys))
