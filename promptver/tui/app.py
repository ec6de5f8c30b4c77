"""The review app: header, component navigator, main pane; approve or request changes.

``build_app`` makes the app without running it (tests and the CLI share it). The app
receives a ``Review`` (or a function that builds one, run in a worker so the first frame
appears at once) and a ``record`` function that writes the reviewer's decision.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Footer, LoadingIndicator, Static

from promptver.errors import PromptverError
from promptver.tui import display
from promptver.tui.keys import APP_KEYS
from promptver.tui.model import (
    Body,
    CaseRow,
    CasesBody,
    Component,
    EvalsBody,
    FieldsBody,
    FilesBody,
    Review,
    TextBody,
)
from promptver.tui.screens.case_detail import CaseDetailScreen, pretty
from promptver.tui.screens.help import HelpScreen
from promptver.tui.screens.note import NoteModal, NoteResult
from promptver.tui.widgets.cases_table import CasesTable, FilesTable, OutcomesTable
from promptver.tui.widgets.diff_view import DiffView
from promptver.tui.widgets.evals_view import EvalsView
from promptver.tui.widgets.fields_table import FieldsTable
from promptver.tui.widgets.fit import WordFitted
from promptver.tui.widgets.header import ReviewHeader
from promptver.tui.widgets.navigator import BADGES, Navigator
from promptver.tui.widgets.search_bar import SearchBar
from promptver.tui.widgets.virtual_table import VirtualTable

# loader(progress) -> Review, run in a worker; progress(done, total) reports bytes read.
Progress = Callable[[int, int], None]
Loader = Callable[[Progress], Review]
# record(review, decision, note) -> the audit event written; raises PromptverError.
Recorder = Callable[[Review, str, str | None], dict[str, Any]]
ChangeView = DiffView | FieldsTable | VirtualTable

NARROW = 100  # below this width the navigator gets narrower
# toggles of the text view: offered only where a text diff is on screen (not on a table)
TEXT_ONLY = {"toggle_whitespace", "toggle_unified", "toggle_wrap", "toggle_folds"}
DETAIL_DISABLED = {"next_component", "previous_component", "toggle_unchanged", "search"}


class ReviewApp(App[None]):
    CSS_PATH = Path(__file__).with_name("review.tcss")  # absolute: subclasses live elsewhere
    TITLE = "promptver review"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(k.keys, k.action, k.footer or k.description, show=bool(k.footer), priority=k.priority)
        for k in APP_KEYS
    ]

    def __init__(
        self,
        source: Review | Loader,
        *,
        record: Recorder | None = None,
        reviewer: str | None = None,
        unified: bool = False,
        light: bool = False,
    ) -> None:
        super().__init__()
        display.install()  # control characters in data shown as escapes (tui/display.py)
        self.source = source
        self.record = record
        self.reviewer = reviewer
        self.unified = unified
        self.ignore_whitespace = False
        self.wrap = True
        self.hide_unchanged = False
        self.review: Review | None = None
        self.decisions: list[dict[str, Any]] = []
        self.last_query = ""
        self._arrive_backwards = False
        self.theme = "textual-light" if light else "textual-dark"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys act on the review only: not behind a dialog, and in a case detail only those
        that make sense there (changes, toggles, decisions)."""
        if action not in {k.action for k in APP_KEYS}:
            return True
        if isinstance(self.screen, ModalScreen):
            return action == "quit"
        if isinstance(self.screen, CaseDetailScreen):
            return action not in DETAIL_DISABLED
        # nothing here shows a text: the footer does not offer a text-only key
        return not (action in TEXT_ONLY and not self.screen.query(DiffView))

    # -- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield ReviewHeader(id="header")
        with Horizontal(id="panes"):
            yield Navigator(id="navigator")
            with Vertical(id="main"):
                yield WordFitted(id="component-title", markup=False)
                yield Container(id="body")
        yield SearchBar(id="search")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self._fit_navigator(self.size.width)
        if isinstance(self.source, Review):
            self.show_review(self.source)
        else:
            self.query_one("#panes").loading = True
            # start the (GIL-holding) load once the first frame is on screen
            self.call_after_refresh(self._load_review, self.source)

    def on_resize(self, event: events.Resize) -> None:
        # the event's size: ``self.size`` still holds the previous one at this point
        self._fit_navigator(event.size.width)

    def _fit_navigator(self, width: int) -> None:
        self.query_one(Navigator).styles.width = 24 if width < NARROW else 34

    @work(thread=True, exclusive=True, group="review")
    def _load_review(self, loader: Loader) -> None:
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if total and now - last[0] > 0.1:  # at most ten updates a second
                last[0] = now
                self.call_from_thread(self._show_progress, done, total)

        try:
            review = loader(progress)
        except PromptverError as exc:
            self.call_from_thread(self._load_failed, str(exc))
            return
        self.call_from_thread(self.show_review, review)

    def _show_progress(self, done: int, total: int) -> None:
        if self.review is None:
            header = self.query_one(ReviewHeader)
            header.update(f"computing the diff: {done / 1e6:.1f} of {total / 1e6:.1f} MB read")

    def _load_failed(self, message: str) -> None:
        self.query_one("#panes").loading = False
        self.notify(message, title="cannot review", severity="error", timeout=30, markup=False)
        self.query_one("#component-title", Static).update(message)

    def show_review(self, review: Review) -> None:
        self.review = review
        self.query_one("#panes").loading = False
        self.query_one(ReviewHeader).show(review)
        navigator = self.query_one(Navigator)
        navigator.set_components(review.components, self.hide_unchanged)
        if not review.components:
            self.query_one("#component-title", Static).update("no components")
        elif not any(c.changed for c in review.components):
            self.notify("no changes between these versions", title="nothing to review")
        navigator.focus()

    # -- the main pane -------------------------------------------------------------------

    def component(self, key: str) -> Component | None:
        if self.review is None:
            return None
        return next((c for c in self.review.components if c.key == key), None)

    @property
    def current(self) -> Component | None:
        key = self.query_one(Navigator).current_key
        return self.component(key) if key else None

    @on(Navigator.Selected)
    async def on_selected(self, event: Navigator.Selected) -> None:
        component = self.component(event.key)
        if component is not None:
            await self.show_component(component)

    @on(Navigator.Entered)
    def on_entered(self) -> None:
        """Enter on a component moves the focus into its pane (a case table, a diff)."""
        view = self.active_view()  # the widget enter opens from: cases, outcomes, a text
        if view is not None and view.focusable:
            view.focus()
            return
        body = self.query_one("#body", Container)
        focusable = [w for w in body.query("*") if w.focusable]
        if focusable:
            focusable[0].focus()

    async def show_component(self, component: Component) -> None:
        title = next(iter(self.query("#component-title").results(Static)), None)
        if title is None:  # the main screen is gone: quitting while a selection was pending
            return
        title.update(_title(component))
        body = self.query_one("#body", Container)
        await body.remove_children()
        if component.body is None and component.load is not None:
            await body.mount(LoadingIndicator())
            self._load_body(component)
            return
        await body.mount_all(self._body_widgets(component, component.body))
        self.refresh_bindings()  # the text-only keys follow what the pane shows
        if component.enrich is not None and component.body is not None:
            self._enrich(component, component.enrich, component.body)
            component.enrich = None

    @work(thread=True, group="enrich")
    def _enrich(self, component: Component, enrich: Callable[[Body], None], body: Body) -> None:
        try:
            enrich(body)
        except PromptverError as exc:
            self.call_from_thread(self.notify, str(exc), severity="warning")
            return
        self.call_from_thread(self._retitle, component)

    def _retitle(self, component: Component) -> None:
        if self.current is component:
            self.query_one("#component-title", Static).update(_title(component))

    @work(thread=True, group="body")
    def _load_body(self, component: Component) -> None:
        assert component.load is not None
        try:
            component.body = component.load()
        except PromptverError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.call_from_thread(self._body_loaded, component)

    def _body_loaded(self, component: Component) -> None:
        if self.current is component:
            self.call_later(self.show_component, component)

    def _body_widgets(self, component: Component, body: Body | None) -> list[Widget]:
        if isinstance(body, TextBody):
            return [self._text_widget(body)]
        if isinstance(body, FieldsBody):
            if not body.rows:
                return [Static("no fields", classes="message")]
            return [FieldsTable(list(body.rows), id="fields")]
        if isinstance(body, CasesBody):
            return self._cases_widgets(body)
        if isinstance(body, FilesBody):
            if not body.files:
                return [Static("no file changed", classes="message")]
            files = FilesTable(body.files, id="files")
            files.fetch = body.fetch
            return [files]
        if isinstance(body, EvalsBody):
            return [EvalsView(body, id="evals")]
        return [Static("unchanged" if not component.changed else "no detail", classes="message")]

    def _text_widget(self, body: TextBody) -> Widget:
        if body.binary:
            return Static(
                f"binary file: {_size(body.old_size)} → {_size(body.new_size)}",
                classes="message",
            )
        if body.old is None and body.new is None:
            return Static("empty on both sides", classes="message")
        if not body.old and not body.new:
            return Static("empty file", classes="message")
        view = DiffView(
            body.old or "",
            body.new or "",
            unified=self.unified,
            ignore_whitespace=self.ignore_whitespace,
            wrap=self.wrap,
            id="text-diff",
        )
        return view

    def _cases_widgets(self, body: CasesBody) -> list[Widget]:
        counts = {"added": 0, "removed": 0, "changed": 0}
        for case in body.cases:
            counts[case.status] += 1
        totals = f"{body.old_total} → {body.new_total} cases   " if body.old_total is not None else ""
        summary = Static(
            Content.assemble(
                (totals, "$text-muted"),
                (f"+{counts['added']} added  ", "$text-success"),
                (f"−{counts['removed']} removed  ", "$text-error"),
                (f"~{counts['changed']} changed", "$text-warning"),
                ("   enter: open a case", "$text-muted"),
            ),
            classes="cases-summary",
        )
        if not body.cases:
            return [summary, Static("no case changed", classes="message")]
        table = CasesTable(body.cases, id="cases")
        table.fetch = body.fetch
        return [summary, table]

    @on(DiffView.Aligned)
    def on_aligned(self, event: DiffView.Aligned) -> None:
        view = event.view
        if view.cursor_row is None and view.hunk_starts:
            view.goto_hunk(-1 if self._arrive_backwards and view.id == "text-diff" else 0)
        self._arrive_backwards = False

    @on(VirtualTable.Opened)
    def on_opened(self, event: VirtualTable.Opened) -> None:
        table = event.table
        if isinstance(table, CasesTable):
            self._open_case(table, table.cases[event.index])
        elif isinstance(table, FilesTable):
            self._open_file(table, event.index)
        elif isinstance(table, OutcomesTable):
            outcome = table.outcomes[event.index]
            title = f"case {outcome.id}  ({outcome.verdict}): output old → new"
            if outcome.note:
                title += f"; {outcome.note}"
            self._push_detail(title, outcome.old_output, outcome.new_output)

    @work(thread=True, exclusive=True, group="detail")
    def _open_case(self, table: CasesTable, case: CaseRow) -> None:
        old, new = case.old, case.new
        if old is None and new is None and table.fetch is not None:
            try:
                old, new = table.fetch(case)
            except PromptverError as exc:
                self.call_from_thread(self.notify, str(exc), severity="error")
                return
        title = f"case {case.id}  ({case.status}"
        title += f": {', '.join(case.fields)})" if case.fields else ")"
        self.call_from_thread(self._push_detail, title, pretty(old), pretty(new))

    @work(thread=True, exclusive=True, group="detail")
    def _open_file(self, table: FilesTable, index: int) -> None:
        row = table.files[index]
        if table.fetch is None:
            return
        try:
            body = table.fetch(row)
        except PromptverError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error")
            return
        if body.binary:
            message = f"{row.path}: binary file, {_size(body.old_size)} → {_size(body.new_size)}"
            self.call_from_thread(self.notify, message)
            return
        title = f"{row.path}  ({row.status})"
        self.call_from_thread(self._push_detail, title, body.old or "", body.new or "")

    def _push_detail(self, title: str, old: str, new: str) -> None:
        self.push_screen(CaseDetailScreen(title, old, new, unified=self.unified))

    # -- change navigation -----------------------------------------------------------------

    def active_view(self) -> ChangeView | None:
        """The widget that n/N and search act on: the case detail, or the main pane's view."""
        if isinstance(self.screen, CaseDetailScreen):
            return self.screen.query_one(DiffView)
        for view in self.query("#body DiffView, #body FieldsTable, #body VirtualTable"):
            if isinstance(view, DiffView | FieldsTable | VirtualTable):
                return view
        return None

    async def _step_change(self, forward: bool) -> None:
        view = self.active_view()
        if view is not None and view.next_change(forward):
            return
        if isinstance(self.screen, CaseDetailScreen):
            self.bell()
            return
        navigator = self.query_one(Navigator)
        self._arrive_backwards = not forward
        if not navigator.move(1 if forward else -1, changed_only=True):
            self._arrive_backwards = False
            self.notify("last change" if forward else "first change", timeout=2)

    async def action_next_change(self) -> None:
        await self._step_change(True)

    async def action_previous_change(self) -> None:
        await self._step_change(False)

    def action_next_component(self) -> None:
        self.query_one(Navigator).move(1)

    def action_previous_component(self) -> None:
        self.query_one(Navigator).move(-1)

    # -- toggles -------------------------------------------------------------------------

    def action_toggle_unified(self) -> None:
        self.unified = not self.unified
        for view in self.screen.query(DiffView):
            view.unified = self.unified
        self.notify("unified" if self.unified else "side by side", timeout=1.5)

    def action_toggle_whitespace(self) -> None:
        self.ignore_whitespace = not self.ignore_whitespace
        for view in self.screen.query(DiffView):
            view.ignore_whitespace = self.ignore_whitespace
        state = "ignored" if self.ignore_whitespace else "shown"
        self.notify(f"whitespace changes {state}", timeout=1.5)

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap
        for view in self.screen.query(DiffView):
            view.wrap = self.wrap

    def action_toggle_folds(self) -> None:
        states = {view.toggle_folds() for view in self.screen.query(DiffView) if view.folds}
        if not states:
            self.notify("nothing folded here", timeout=1.5)
        else:
            self.notify("unchanged lines shown" if True in states else "unchanged lines folded", timeout=1.5)

    def action_toggle_unchanged(self) -> None:
        if self.review is None:
            return
        self.hide_unchanged = not self.hide_unchanged
        navigator = self.query_one(Navigator)
        navigator.set_components(self.review.components, self.hide_unchanged)
        if navigator.option_count == 0:
            self.query_one("#component-title", Static).update("nothing changed")
            self.query_one("#body", Container).remove_children()

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"
        current = self.current
        if current is not None and self.query("#body FieldsTable, #body EvalsView"):
            self.call_later(self.show_component, current)  # their cells hold theme colours

    # -- search --------------------------------------------------------------------------

    def action_search(self) -> None:
        bar = self.query_one(SearchBar)
        bar.value = self.last_query
        bar.open()

    @on(SearchBar.Search)
    def on_search(self, event: SearchBar.Search) -> None:
        self.last_query = event.query
        view = self.active_view()
        if view is None:
            return
        if not view.find(event.query) and event.query:
            self.notify(f"no match for {event.query!r}", severity="warning", timeout=3, markup=False)
        view.focus()

    @on(SearchBar.Closed)
    def on_search_closed(self) -> None:
        view = self.active_view()
        (view or self.query_one(Navigator)).focus()

    # -- help and decisions ----------------------------------------------------------------

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_approve(self) -> None:
        self._decide("approved")

    def action_request_changes(self) -> None:
        self._decide("changes_requested")

    def _decide(self, decision: str) -> None:
        if self.review is None:
            return
        verb = "Approve" if decision == "approved" else "Request changes to"
        title = f"{verb} {self.review.bundle} {self.review.old.label} → {self.review.new.label}"
        if self.reviewer:
            title += f" as {self.reviewer}"
        self.push_screen(NoteModal(decision, title), self._decided)

    def _decided(self, result: NoteResult | None) -> None:
        if result is None:
            return
        if self.record is None or self.review is None:
            self.notify("this review cannot be recorded (no store)", severity="error")
            return
        try:
            event = self.record(self.review, result.decision, result.note)
        except PromptverError as exc:
            self.notify(str(exc), title="not recorded", severity="error", timeout=15, markup=False)
            return
        self.decisions.append(event)
        self.query_one(ReviewHeader).show(self.review)
        what = "approved" if result.decision == "approved" else "changes requested"
        self.notify(f"{what}, recorded in the audit log", title=self.reviewer or "review", markup=False)


def _title(component: Component) -> Content:
    badge, style = BADGES[component.status]
    parts: list[str | tuple[str, str] | Content] = [
        (badge + " ", style),
        (component.title, "bold"),
        ("  " + component.status, "$text-muted"),
    ]
    if component.impact:
        parts.append((f"  {component.impact}", "$text-warning"))
    if component.counts:
        parts.append((f"  {component.counts}", "$text-muted"))
    lines = [Content.assemble(*parts)]
    lines += [Content.styled(f"  {note}", "$text-muted") for note in component.notes]
    return Content("\n").join(lines)


def _size(size: int | None) -> str:
    return "absent" if size is None else f"{size:,} bytes"


def build_app(
    source: Review | Loader,
    *,
    record: Recorder | None = None,
    reviewer: str | None = None,
    unified: bool = False,
    light: bool = False,
) -> ReviewApp:
    """The review app, ready for ``run()`` or ``run_test()``."""
    return ReviewApp(source, record=record, reviewer=reviewer, unified=unified, light=light)
