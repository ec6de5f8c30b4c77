"""Eval results of both versions: metric deltas, then the cases that regressed or improved."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import DataTable, Static

from promptver.tui.model import EvalsBody
from promptver.tui.widgets.cases_table import OutcomesTable


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _delta(old: float | None, new: float | None, higher: bool, colors: dict[str, str]) -> Text:
    if old is None or new is None:
        return Text("")
    delta = new - old
    if abs(delta) < 1e-12:
        return Text("±0", style=colors.get("text-muted", ""))
    better = delta > 0 if higher else delta < 0
    style = colors.get("text-success" if better else "text-error", "")
    return Text(f"{delta:+.3f}".rstrip("0").rstrip("."), style=style)


class EvalsView(Vertical):
    DEFAULT_CSS = """
    EvalsView { height: 1fr; }
    EvalsView > .evals-missing { padding: 1 2; color: $text-muted; }
    EvalsView > DataTable { height: auto; max-height: 10; margin-bottom: 1; }
    """

    def __init__(self, body: EvalsBody, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.body = body

    def compose(self) -> ComposeResult:
        body = self.body
        if body.missing:
            yield Static(f"no runs: {body.missing}", classes="evals-missing")
            return
        yield Static(
            Content.assemble(
                ("runs ", "$text-muted"),
                body.old_run or "—",
                " → ",
                body.new_run or "—",
            )
        )
        if body.verdict:
            yield Static(Content.assemble(("verdict ", "$text-muted"), body.verdict), id="verdict")
        metrics: DataTable[Text | str] = DataTable(cursor_type="none", id="metrics")
        colors = self.app.theme_variables
        metrics.add_columns("metric", "old", "new", "delta")
        for metric in body.metrics:
            metrics.add_row(
                metric.name,
                _number(metric.old),
                _number(metric.new),
                _delta(metric.old, metric.new, metric.higher_is_better, colors),
            )
        yield metrics
        if body.history is not None:
            from promptver.tui.widgets.history_chart import HistoryChart

            yield HistoryChart(body.history, id="history")
        if body.outcomes:
            yield OutcomesTable(body.outcomes, id="outcomes")
        else:
            yield Static("no case changed its outcome", classes="evals-missing")
