"""`promptver approve` and `promptver reject`: record a review decision on a version."""

from __future__ import annotations

import click

from promptver.cli.common import get_store, json_option, print_json, split_ref


def _decide(
    ref: str, decision: str, note: str | None, by: str | None, key: str | None, as_json: bool
) -> None:
    from promptver.governance.approvals import decide
    from promptver.governance.signing import signing_key

    name, version = split_ref(ref)
    store = get_store()
    signer = signing_key(key, store.project_root)
    event = decide(store, name, version or "latest", decision, by, note, key=signer)
    if as_json:
        print_json(event)
        return
    verb = "approved" if decision == "approved" else "requested changes to"
    signed = ", signed" if "signature" in event else ""
    click.echo(f"{event['actor']} {verb} {name}@{event['new']['version']} (event {event['seq']}{signed})")


def _options(func):  # type: ignore[no-untyped-def]
    func = click.option("--note", default=None, help="A comment recorded with the decision.")(func)
    func = click.option("--by", default=None, help="Who decides (default: PROMPTVER_USER, else git's user).")(
        func
    )
    func = key_option(func)
    return json_option(func)


def key_option(func):  # type: ignore[no-untyped-def]
    return click.option(
        "--key",
        default=None,
        metavar="PATH",
        help="SSH key to sign the decision with (default: PROMPTVER_SIGNING_KEY, else git's"
        " user.signingkey when gpg.format=ssh; none: unsigned).",
    )(func)


@click.command()
@click.argument("ref", metavar="NAME@VERSION")
@_options
def approve(ref: str, note: str | None, by: str | None, key: str | None, as_json: bool) -> None:
    """Approve a version (counted by protected aliases' policies)."""
    _decide(ref, "approved", note, by, key, as_json)


@click.command()
@click.argument("ref", metavar="NAME@VERSION")
@_options
def reject(ref: str, note: str | None, by: str | None, key: str | None, as_json: bool) -> None:
    """Request changes to a version (withdraws your approval; blocks protected aliases)."""
    _decide(ref, "changes_requested", note, by, key, as_json)
