"""`promptver audit`: the audit trail of a bundle, filtered, with its hash chain checked."""

from __future__ import annotations

import click

from promptver.cli.common import console, get_store, json_option, print_json
from promptver.governance.audit import KINDS


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
    else:
        from rich.table import Table
        from rich.text import Text

        out = console()
        table = Table(box=None, pad_edge=False, header_style="bold")
        table.add_column("#", justify="right", no_wrap=True)
        table.add_column("time (UTC)", no_wrap=True)
        table.add_column("actor", no_wrap=True, max_width=36, overflow="ellipsis")
        table.add_column("what", overflow="fold")
        for event in trail.events:
            table.add_row(
                str(event.get("seq", "?")),
                str(event.get("time", ""))[:19].replace("T", " "),
                Text(str(event.get("actor", ""))),
                Text(summary(event)),
            )
        out.print(table)
        state = "intact" if not trail.chain_problems else "BROKEN"
        out.print(f"{len(trail.events)} of {trail.total} events; hash chain {state}")
        for problem in trail.chain_problems:
            out.print(f"  {problem}", markup=False)
    if trail.chain_problems:
        raise click.exceptions.Exit(1)
