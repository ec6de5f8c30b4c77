"""`promptver traces import` and `promptver served`: what really served in production."""

from __future__ import annotations

from pathlib import Path

import click

from promptver.cli.common import console, get_store, json_option, print_json


@click.group()
def traces() -> None:
    """Spans from production (OpenTelemetry), kept in the store (docs/production.md)."""


@traces.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@json_option
def import_(files: tuple[Path, ...], as_json: bool) -> None:
    """Keep the promptver-stamped and feedback spans of FILES (OTLP JSON, or one span per
    line); importing the same spans again adds nothing."""
    from promptver.traces.otlp import read_spans
    from promptver.traces.spanstore import import_spans

    store = get_store()
    results = [import_spans(store, read_spans(path), str(path)) for path in files]
    if as_json:
        print_json([r.to_json() for r in results])
        return
    for r in results:
        click.echo(
            f"{r.file}: {r.read} spans read, {r.added} added, {r.known} already imported,"
            f" {r.skipped} without promptver stamps or feedback"
        )


@click.command()
@click.argument("name")
@click.option("--since", default=None, help="Only spans from this UTC date or time, or age (24h, 7d).")
@json_option
def served(name: str, since: str | None, as_json: bool) -> None:
    """Which versions of NAME served how many requests, when, under which alias, from the
    imported spans; flags digests no version in the log has. Exit 1 when one is flagged."""
    from rich.table import Table
    from rich.text import Text

    from promptver.store.digests import short
    from promptver.traces.served import parse_since
    from promptver.traces.served import served as find_served

    store = get_store()
    report = find_served(store, name, parse_since(since) if since else 0)
    flagged = any(group["problem"] for group in report["served"])
    if as_json:
        print_json(report)
    elif not report["served"]:
        click.echo(
            f"no imported span of {name}"
            + (f" since {report['since']}" if since else "")
            + "\n  hint: `promptver traces import FILE` first"
        )
    else:
        table = Table(box=None, padding=(0, 2))
        for column in ("version", "digest", "alias", "requests", "first", "last"):
            table.add_column(column, no_wrap=True)
        for g in report["served"]:
            table.add_row(
                Text(("! " if g["problem"] else "") + (g["version"] or "?")),
                Text(short(g["digest"] or "", 12)),
                Text(g["alias"] or "-"),
                str(g["requests"]),
                g["first"],
                g["last"],
            )
        out = console()
        out.print(table)
        for g in report["served"]:
            if g["problem"]:
                out.print(Text(f"UNKNOWN {g['version']} {g['digest']}: {g['problem']}", style="bold red"))
    if flagged:
        raise click.exceptions.Exit(1)
