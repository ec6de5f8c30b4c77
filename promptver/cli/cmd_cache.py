"""``promptver cache stats`` and ``promptver cache prune``: the eval call cache."""

from __future__ import annotations

import json
from typing import Any

import click

from promptver.errors import ConfigError


def _store(ctx: click.Context) -> Any:
    from promptver.cli.cmd_eval import _store as find

    return find(ctx)


@click.group("cache")
def cache() -> None:
    """The eval call cache: model answers by request, generation and judge calls apart."""


@cache.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def cache_stats(ctx: click.Context, as_json: bool) -> None:
    """Entries and size of the local cache, and entries on the remote when one is configured."""
    from promptver.evals.execution.cache import KINDS, stats
    from promptver.remote.callcache import for_store

    store = _store(ctx)
    local = stats(store.root)
    shared = for_store(store)
    remote = {kind: shared.count(kind) for kind in KINDS} if shared is not None else None
    if as_json:
        click.echo(json.dumps({"local": local, "remote": remote}, indent=2))
        return
    for kind, row in local.items():
        line = f"{kind:<10} {row['entries']:>8} entries {row['bytes'] / 1e6:>9.2f} MB"
        if remote is not None:
            line += f"   remote: {remote[kind]} entries"
        click.echo(line)


@cache.command("prune")
@click.option(
    "--older-than",
    "days",
    type=float,
    default=30.0,
    show_default=True,
    metavar="DAYS",
    help="Remove local entries not used for DAYS days (0: all).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def cache_prune(ctx: click.Context, days: float, as_json: bool) -> None:
    """Remove local cache entries not used lately (the remote's are shared and stay)."""
    from promptver.evals.execution.cache import prune

    if days < 0:
        raise ConfigError("--older-than must not be negative")
    result = prune(_store(ctx).root, days)
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(f"removed {result['removed']} entries ({result['bytes'] / 1e6:.2f} MB)")
