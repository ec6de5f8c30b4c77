"""``promptver eval history --format html``: one self-contained page (inline SVG and CSS,
no script, nothing fetched) for CI artifacts."""

from __future__ import annotations

from html import escape

from promptver.evals.analysis.charts import svg_chart
from promptver.evals.analysis.trend import Trend, heading, ms

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }
h1 { font-size: 1.3rem; } table { border-collapse: collapse; margin-top: 1rem; }
th, td { padding: .25rem .7rem; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
code { font-size: .9em; } .note { color: #666; }
"""


def html_page(trend: Trend, *, marks: tuple[str, ...] = ()) -> str:
    cells = []
    for p in trend.points:
        cost = "-" if p.cost is None else f"${p.cost:.4f}"
        cells.append(
            "<tr>"
            + "".join(
                f"<td>{escape(v)}</td>"
                for v in (
                    p.version,
                    p.run_id,
                    str(p.cases),
                    f"{p.score:.3f}",
                    f"{p.pass_rate * 100:.1f}%",
                    cost,
                    ms(p.p50_ms),
                    ms(p.p95_ms),
                )
            )
            + "</tr>"
        )
    others = ""
    if trend.others:
        listed = ", ".join(f"{escape(d)} ({escape(t)})" for d, t in trend.others)
        others = f'<p class="note">Other series with runs: {listed}.</p>'
    title = escape(heading(trend))
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{title}</title>",
            f"<style>{_STYLE}</style></head><body>",
            f"<h1>Eval history: {title}</h1>",
            svg_chart(trend, marks=marks),
            "<table><thead><tr>"
            + "".join(
                f"<th>{h}</th>"
                for h in ("version", "run", "cases", "score", "pass rate", "cost", "p50", "p95")
            )
            + "</tr></thead><tbody>",
            *cells,
            "</tbody></table>",
            others,
            '<p class="note">Each version\'s newest complete run; written by promptver.</p>',
            "</body></html>",
            "",
        ]
    )
