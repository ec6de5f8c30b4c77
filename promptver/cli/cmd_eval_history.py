"""``promptver eval history NAME``: score, pass rate, cost and latency per version."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("history")
@click.argument("name")
@click.option("--dataset", help="Dataset (default: the one of the newest complete run).")
@click.option("--target", help="Target: model, retrieval, python:... (default: the newest run's).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("text", "json", "html")),
    default="text",
    show_default=True,
    help="html: one self-contained page (for CI artifacts).",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to a file instead of stdout.")
@click.option("--width", type=int, help="Chart width in columns (default: the terminal's, at most 100).")
@click.pass_context
def history(
    ctx: click.Context,
    name: str,
    dataset: str | None,
    target: str | None,
    fmt: str,
    as_json: bool,
    output: str | None,
    width: int | None,
) -> None:
    """Eval history of bundle NAME: each version's newest complete run, oldest first."""
    from promptver.cli.common import get_store
    from promptver.evals.analysis.trend import build_trend, heading, table_lines
    from promptver.store.store import check_name

    store = get_store(ctx)
    trend = build_trend(store.root / "runs", check_name(name), dataset=dataset, target=target)
    from promptver.errors import ConfigError
    from promptver.traces.served import online_by_version

    try:
        online = online_by_version(store, name)
    except ConfigError as exc:  # the span store is optional: say so, show the offline history
        click.echo(f"warning: {exc}", err=True)
        online = {}
    if online:
        import dataclasses

        trend = dataclasses.replace(trend, online=online)
    fmt = "json" if as_json else fmt
    if fmt == "json":
        text = json.dumps(trend.to_json(), indent=2, ensure_ascii=False)
    elif fmt == "html":
        from promptver.evals.analysis.trend_page import html_page

        text = html_page(trend)
    else:
        import shutil

        from promptver.evals.analysis.charts import terminal_chart

        columns = width or (min(100, shutil.get_terminal_size((80, 24)).columns) if output is None else 80)
        lines = [heading(trend), "", *table_lines(trend)]
        if len(trend.points) >= 2:
            lines += ["", terminal_chart(trend, width=max(40, columns)).rstrip()]
        shown = {p.version for p in trend.points}
        extra = [f"{v} {f['mean']:.3f} (n={f['count']})" for v, f in online.items() if v not in shown]
        if extra:
            lines += ["", "online scores of versions without a run: " + ", ".join(extra)]
        if trend.others:
            other = ", ".join(f"{d} ({t})" for d, t in trend.others)
            lines += ["", f"other series: {other} (choose with --dataset/--target)"]
        text = "\n".join(lines)
    if output is not None:
        from promptver.store.atomic import atomic_write

        atomic_write(Path(output), (text.rstrip("\n") + "\n").encode())
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text)
