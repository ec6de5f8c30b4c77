"""`promptver approve` and `promptver reject`: record a review decision on a version."""

from __future__ import annotations

import click

from promptver.cli.common import get_store, json_option, print_json, split_ref


def _decide(ref: str, decision: str, note: str | None, by: str | None, as_json: bool) -> None:
    from promptver.governance.approvals import decide

    name, version = split_ref(ref)
    event = decide(get_store(), name, version or "latest", decision, by, note)
    if as_json:
        print_json(event)
        return
    verb = "approved" if decision == "approved" else "requested changes to"
    click.echo(f"{event['actor']} {verb} {name}@{event['new']['version']} (event {event['seq']})")


def _options(func):  # type: ignore[no-untyped-def]
    func = click.option("--note", default=None, help="A comment recorded with the decision.")(func)
    func = click.option("--by", default=None, help="Who decides (default: PROMPTVER_USER, else git's user).")(
        func
    )
    return json_option(func)


@click.command()
@click.argument("ref", metavar="NAME@VERSION")
@_options
def approve(ref: str, note: str | None, by: str | None, as_json: bool) -> None:
    """Approve a version (counted by protected aliases' policies)."""
    _decide(ref, "approved", note, by, as_json)


@click.command()
@click.argument("ref", metavar="NAME@VERSION")
@_options
def reject(ref: str, note: str | None, by: str | None, as_json: bool) -> None:
    """Request changes to a version (withdraws your approval; blocks protected aliases)."""
    _decide(ref, "changes_requested", note, by, as_json)
