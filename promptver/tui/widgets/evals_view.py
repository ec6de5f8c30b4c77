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
    EvalsView > .evals-runs, EvalsView > .evals-summary { padding: 0 1; height: auto; }
    EvalsView > #metrics { height: auto; max-height: 45%; }
    """

    def __init__(self, body: EvalsBody, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.body = body

    def compose(self) -> ComposeResult:
        body = self.body
        if body.missing:
            yield Static(f"no runs: {body.missing}", classes="evals-missing")
            return
        yield Static(runs_line(body), classes="evals-runs")
        yield metrics_table(body, self.app.theme_variables)
        yield from self._outcomes(body)

    def _outcomes(self, body: EvalsBody) -> Iterator[Widget]:
        if body.outcomes:
            yield Static(outcomes_summary(body), classes="evals-summary")
            yield OutcomesTable(body.outcomes, id="outcomes")
        else:
            yield Static("no case changed its outcome or its retrieved sources", classes="evals-missing")
