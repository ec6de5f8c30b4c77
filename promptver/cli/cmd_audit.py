"""`promptver audit`: the audit trail of a bundle, filtered, with its hash chain checked."""

from __future__ import annotations

import sys
from collections.abc import Callable
from itertools import repeat
from typing import TYPE_CHECKING, Any

import click

from promptver.cli.common import console, get_store, json_option, print_json, to_terminal
from promptver.governance.audit import KINDS

if TYPE_CHECKING:
    from promptver.governance.audit import AuditTrail

TABLE_ROWS = 2000  # more events than this are streamed as lines, even on a terminal
ACTOR_WIDTH = 36


@click.command()
@click.argument("name")
@click.option("--alias", "alias_name", default=None, help="Only the moves of this alias.")
@click.option("--actor", default=None, help="Only events by this actor (substring, any case).")
@click.option("--since", default=None, help="From this UTC date or time (YYYY-MM-DD[THH:MM]).")
@click.option("--until", default=None, help="Up to this UTC date (whole day) or time.")
@click.option(
    "--event",
    "kinds",
    multiple=True,
    type=click.Choice(KINDS),
    help="Only these kinds of event (repeatable).",
)
@json_option
def audit(
    name: str,
    alias_name: str | None,
    actor: str | None,
    since: str | None,
    until: str | None,
    kinds: tuple[str, ...],
    as_json: bool,
) -> None:
    """Bumps, alias moves, approvals, rollbacks and eval runs of bundle NAME, oldest first.
    Exit 1 when the hash chain is broken."""
    from promptver.governance.audit import audit as do_audit
    from promptver.governance.audit import summary

    trail = do_audit(get_store(), name, alias=alias_name, actor=actor, since=since, until=until, kinds=kinds)
    if as_json:
        print_json(trail.to_json())
    elif len(trail.events) > TABLE_ROWS or not to_terminal():
        # every event of a log the check finds sound: event n is line n, its seq n
        numbered = not trail.chain_problems and len(trail.events) == trail.total
        _stream(trail.events, summary, numbered=numbered)
        click.echo(_footer(trail))
        for problem in trail.chain_problems:
            click.echo(f"  {problem}")
    else:
        from rich.table import Table
        from rich.text import Text

        out = console()
        table = Table(box=None, pad_edge=False, header_style="bold")
        table.add_column("#", justify="right", no_wrap=True)
        table.add_column("time (UTC)", no_wrap=True)
        table.add_column("actor", no_wrap=True, max_width=ACTOR_WIDTH, overflow="ellipsis")
        table.add_column("what", overflow="fold")
        for event in trail.events:
            table.add_row(
                str(event.get("seq", "?")),
                _time(event),
                Text(str(event.get("actor", ""))),
                Text(summary(event)),
            )
        out.print(table)
        out.print(_footer(trail))
        for problem in trail.chain_problems:
            out.print(f"  {problem}", markup=False)
    if trail.chain_problems:
        raise click.exceptions.Exit(1)


def _time(event: dict[str, Any]) -> str:
    return str(event.get("time", ""))[:19].replace("T", " ")


def _footer(trail: AuditTrail) -> str:
    state = "intact" if not trail.chain_problems else "BROKEN"
    return f"{len(trail.events)} of {trail.total} events; hash chain {state}"


def _stream(
    events: list[dict[str, Any]], summary: Callable[[dict[str, Any]], str], *, numbered: bool = False
) -> None:
    """The table's columns as plain lines, written as they are made: into a pipe (or past
    `TABLE_ROWS` events) nothing is laid out as a whole. Each event is shown on one line
    (control characters and newlines in any cell as escapes). ``numbered``: the events'
    seqs are 1, 2, 3... (the whole of a sound log), written without reading each one."""
    from promptver.safetext import has_control, one_line

    def shown(texts: list[str]) -> list[str]:  # one search of them all finds most clean
        return [one_line(t) for t in texts] if has_control("".join(texts)) else texts

    if numbered:
        seqs = list(map(str, range(1, len(events) + 1)))
    else:
        seqs = shown(list(map(str, _field(events, "seq", "?"))))
    times = shown([str(time)[:19].replace("T", " ") for time in _field(events, "time", "")])  # `_time`
    actors = shown(list(map(str, _field(events, "actor", ""))))
    if max(map(len, actors), default=0) > ACTOR_WIDTH:
        actors = [a if len(a) <= ACTOR_WIDTH else _cut(a) for a in actors]
    seq_width = max(map(len, seqs), default=1)
    actor_width = max(map(len, actors), default=5)
    time_width = max(map(len, times), default=10)
    out = sys.stdout
    header = f"{'#':>{seq_width}}  {'time (UTC)':<{time_width}}  {'actor':<{actor_width}}  what"
    out.write(header.rstrip() + "\n")
    for at in range(0, len(events), 1000):
        part = slice(at, at + 1000)
        whats = shown([summary(event) for event in events[part]])
        columns = zip(  # padded and joined by functions mapped over the columns (C)
            map(str.rjust, seqs[part], repeat(seq_width)),
            map(str.ljust, times[part], repeat(time_width)),
            map(str.ljust, actors[part], repeat(actor_width)),
            whats,
            strict=True,
        )
        out.write("\n".join(map(str.rstrip, map("  ".join, columns))) + "\n")
    out.flush()


def _field(events: list[dict[str, Any]], key: str, default: str) -> list[Any]:
    """Each event's ``key`` (``default`` where it has none), as ``event.get`` gives it."""
    return list(map(dict.get, events, repeat(key), repeat(default)))


def _cut(actor: str) -> str:
    return actor if len(actor) <= ACTOR_WIDTH else actor[: ACTOR_WIDTH - 1] + "…"
