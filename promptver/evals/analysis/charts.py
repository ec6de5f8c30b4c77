"""Charts of an eval history: in the terminal (plotext) and as inline SVG (for the HTML page).

Both draw the same series over the versions (oldest left): score and pass rate in percent,
with optional marked versions (the two a review compares). plotext is imported only here.
"""

from __future__ import annotations

from html import escape

from promptver.evals.analysis.trend import Trend

SERIES = (("score", "score %"), ("pass_rate", "pass rate %"))


def _values(trend: Trend, key: str) -> list[float]:
    return [getattr(p, key) * 100 for p in trend.points]


def _y_range(trend: Trend) -> tuple[float, float]:
    values = [v for key, _ in SERIES for v in _values(trend, key)]
    low = max(0.0, (min(values) // 10) * 10 - 10) if values else 0.0
    return low, 100.0


def deterministic_plotext() -> None:
    """Make plotext draw the same chart in every process.

    plotext removes duplicate ticks and points with ``list(set(...))``, so which of two
    overlapping tick labels is drawn depends on ``PYTHONHASHSEED``: the same history gave
    two different charts in two runs (caught by the snapshot tests). Its own comment gives
    the order-keeping version; we install that one."""
    from plotext import _utility

    def no_duplicates(data: object) -> list[object]:
        return list(dict.fromkeys(data))  # type: ignore[call-overload]

    _utility.no_duplicates = no_duplicates


def terminal_chart(
    trend: Trend, *, width: int = 72, height: int = 16, marks: tuple[str, ...] = (), color: bool = False
) -> str:
    """Score and pass rate per version as a plotext line chart (plain text unless ``color``)."""
    import plotext as plt

    deterministic_plotext()
    plt.clear_figure()
    plt.plotsize(width, height)
    xs = list(range(1, len(trend.points) + 1))
    for version in marks:  # drawn first, so the lines stay on top
        at = trend.index(version)
        if at is not None:
            plt.vline(at + 1, "gray")
    markers = {"score": "hd", "pass_rate": "x"}
    for key, label in SERIES:
        plt.plot(xs, _values(trend, key), label=label, marker=markers[key])
    plt.xticks(xs, [p.version for p in trend.points])
    plt.xlim(0.6, len(xs) + 0.4)
    plt.ylim(*_y_range(trend))
    plt.title(f"{trend.bundle}: {trend.dataset} ({trend.target})")
    text: str = plt.build()
    plt.clear_figure()
    return text if color else plt.uncolorize(text)


_COLORS = {"score": "#1f6feb", "pass_rate": "#d4731c"}


def svg_chart(trend: Trend, *, width: int = 720, height: int = 320, marks: tuple[str, ...] = ()) -> str:
    """The same chart as an inline SVG element (no script, no external resource)."""
    left, right, top, bottom = 48, 16, 28, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    low, high = _y_range(trend)
    count = len(trend.points)

    def x(i: int) -> float:
        return left + (plot_w * (i + 0.5) / count if count else 0)

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - low) / ((high - low) or 1))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(trend.bundle)} score and pass rate per version">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>',
    ]
    for step in range(5):
        value = low + (high - low) * step / 4
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="#e5e5e5"/><text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" '
            f'font-size="11">{value:.0f}%</text>'
        )
    for i, point in enumerate(trend.points):
        marked = point.version in marks
        if marked:
            parts.append(
                f'<line x1="{x(i):.1f}" x2="{x(i):.1f}" y1="{top}" y2="{top + plot_h}" '
                f'stroke="#888" stroke-dasharray="4 3"/>'
            )
        weight = ' font-weight="bold"' if marked else ""
        parts.append(
            f'<text x="{x(i):.1f}" y="{top + plot_h + 16}" text-anchor="middle" font-size="11"{weight}>'
            f"{escape(point.version)}</text>"
        )
    for n, (key, label) in enumerate(SERIES):
        values = _values(trend, key)
        coords = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        color = _COLORS[key]
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2"/>')
        for i, v in enumerate(values):
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{color}">'
                f"<title>{escape(trend.points[i].version)}: {label} {v:.1f}</title></circle>"
            )
        parts.append(
            f'<rect x="{left + 8 + n * 120}" y="8" width="10" height="10" fill="{color}"/>'
            f'<text x="{left + 22 + n * 120}" y="17" font-size="12">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)
