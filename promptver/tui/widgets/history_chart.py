"""The eval history of the reviewed dataset as a line chart (textual-plotext), with the two
reviewed versions marked by vertical lines."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from promptver.evals.analysis.charts import deterministic_plotext
from promptver.tui.model import EvalHistory


class HistoryChart(PlotextPlot):
    DEFAULT_CSS = """
    HistoryChart { height: 12; min-height: 8; }
    """

    def __init__(self, history: EvalHistory, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.history = history

    def on_mount(self) -> None:
        deterministic_plotext()
        history, plt = self.history, self.plt
        xs = [float(i) for i in range(1, len(history.versions) + 1)]
        for version in history.marks:  # first, so the lines stay on top
            plt.vline(history.versions.index(version) + 1, "gray")
        # the pass rate first and the score over it, so that where they are equal (every
        # assertion pass/fail) the score line stays in sight; then the pass rate's own points
        # on top, so each version's pass rate shows too. No plotext legend: it is drawn
        # inside the plot, over the data; the title names the markers instead.
        plt.plot(xs, list(history.pass_rate), marker="x", color="orange")
        plt.plot(xs, list(history.score), marker="hd", color="cyan")
        plt.scatter(xs, list(history.pass_rate), marker="x", color="orange")
        plt.xticks(xs, [f"[{v}]" if v in history.marks else v for v in history.versions])
        plt.xlim(0.6, len(xs) + 0.4)
        low = min([*history.score, *history.pass_rate])
        plt.ylim(max(0.0, (low // 10) * 10 - 10), 100)
        plt.title(f"history: {history.title}   ▞ score %   x pass rate %")
