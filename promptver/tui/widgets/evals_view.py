"""Eval results of both versions: which runs (and targets), metric deltas (retrieval ones
for runs that retrieve), then the cases whose outcome changed."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import DataTable, Static

from promptver.tui.model import EvalsBody, MetricRow, Unit
from promptver.tui.widgets.cases_table import OutcomesTable


def _number(value: float | None, unit: Unit = "number") -> str:
    if value is None:
        return "—"
    if unit == "percent":
        return f"{value * 100:.1f}%"  # as `run show`: 100.0%
    if unit == "cost":
        return f"${value:.4f}"
    if unit == "ratio":
        return f"{value:.3f}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _delta(metric: MetricRow, colors: Mapping[str, str]) -> Text:
    old, new = metric.old, metric.new
    if old is None or new is None:
        return Text("")
    delta = new - old
    if abs(delta) < 1e-12:
        return Text("±0", style=colors.get("text-muted", ""))
    better = delta > 0 if metric.higher_is_better else delta < 0
    style = colors.get("text-success" if better else "text-error", "")
    if metric.unit == "percent":
        return Text(f"{delta * 100:+.1f} pt", style=style)
    if metric.unit == "cost":
        return Text(f"{'+' if delta > 0 else '-'}${abs(delta):.4f}", style=style)
    if metric.unit == "ratio":
        return Text(f"{delta:+.3f}", style=style)
    return Text(f"{delta:+.3f}".rstrip("0").rstrip("."), style=style)


def runs_line(body: EvalsBody) -> Content:
    """Which run of each side is compared, and the target that produced it."""

    def run(run_id: str | None, target: str | None) -> Content:
        return Content.assemble(run_id or "—", (f" ({target})" if target else "", "$text-muted"))

    return Content.assemble(
        ("runs ", "$text-muted"),
        run(body.old_run, body.old_target),
        " → ",
        run(body.new_run, body.new_target),
    )


def metrics_table(body: EvalsBody, colors: Mapping[str, str]) -> DataTable[Text | str]:
    """Run metrics, then retrieval metrics (hit@k, recall@k, MRR, nDCG@k) when the runs
    retrieve; enter from the navigator skips it (it opens nothing), tab reaches it."""
    table: DataTable[Text | str] = DataTable(cursor_type="none", id="metrics")
    table.add_columns("metric", "old", "new", "delta")
    rows = list(body.metrics)
    if body.retrieval:
        old_cases, new_cases = body.retrieval_cases
        rows.append(MetricRow("retrieval cases", old_cases, new_cases))
        rows += body.retrieval
    for metric in rows:
        name = f"{metric.name} ({metric.note})" if metric.note else metric.name
        table.add_row(
            name,
            _number(metric.old, metric.unit),
            _number(metric.new, metric.unit),
            _delta(metric, colors),
        )
    # a fixed height (header and rows, at most 10): ``auto`` can resolve to 0 beside fr siblings
    table.styles.height = min(len(rows) + 1, 10)
    return table


def outcomes_summary(body: EvalsBody) -> Content:
    """One line: how many cases regressed, improved, appeared, disappeared, retrieved
    other sources (the footer says that enter opens one)."""
    parts: list[str | tuple[str, str]] = []
    for verdict, label, style in (
        ("regressed", "regressed", "$text-error"),
        ("improved", "improved", "$text-success"),
        ("added", "added", "$text-success"),
        ("removed", "removed", "$text-error"),
    ):
        count = body.count(verdict)
        if count:
            parts += [(f"{count} {label}", style), "  "]
    if body.sources_changed:
        parts += [(f"{len(body.sources_changed)} sources changed", "$text-warning"), "  "]
    return Content.assemble(*parts[:-1]) if parts else Content("")


class EvalsView(Vertical):
    DEFAULT_CSS = """
    EvalsView { height: 1fr; }
    EvalsView > .evals-missing { padding: 1 2; color: $text-muted; }
    EvalsView > .evals-runs, EvalsView > .evals-summary, EvalsView > #verdict { padding: 0 1; height: auto; }
    /* the chart and the cases share what the metrics leave; the cases always show some rows */
    EvalsView > #history { height: 1fr; max-height: 12; min-height: 6; }
    EvalsView > #outcomes { height: 1fr; min-height: 5; }
    """

    def __init__(self, body: EvalsBody, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.body = body

    def compose(self) -> ComposeResult:
        body = self.body
        if body.missing:
            yield Static(f"no runs: {body.missing}", classes="evals-missing", markup=False)
            return
        yield Static(runs_line(body), classes="evals-runs")
        for side, run, text in (("old", body.old_run, body.old_about), ("new", body.new_run, body.new_about)):
            if text:
                yield Static(Content.assemble((f"{side} ", "$text-muted"), f"{run}: {text}"))
        if body.verdict:
            yield Static(Content.assemble(("verdict ", "$text-muted"), body.verdict), id="verdict")
        yield metrics_table(body, self.app.theme_variables)
        if body.history is not None:
            from promptver.tui.widgets.history_chart import HistoryChart

            yield HistoryChart(body.history, id="history")
        yield from self._outcomes(body)

    def on_resize(self) -> None:
        self._fit(self.size.height)

    def _fit(self, height: int) -> None:
        """Share a short pane: the metrics scroll within a third of it, and the chart shows
        only when the cases keep five rows; the cases (what enter opens) stay in view."""
        tables = list(self.query("#metrics").results(DataTable))
        if not tables or not height:
            return
        metrics = tables[0]
        rows = metrics.row_count + 1
        above = sum(
            w.outer_size.height for w in self.children if w.id == "verdict" or w.has_class("evals-runs")
        )
        shown = min(rows, 10, max(4, height // 3))
        metrics.styles.height = shown
        for chart in self.query("#history"):
            room = height - above - shown - 1 - 5  # the summary line, five rows of cases
            chart.display = room >= 6

    def _outcomes(self, body: EvalsBody) -> Iterator[Widget]:
        if body.outcomes:
            yield Static(outcomes_summary(body), classes="evals-summary")
            yield OutcomesTable(body.outcomes, id="outcomes")
        else:
            yield Static("no case changed its outcome or its retrieved sources", classes="evals-missing")
