"""`promptver pin`, `unpin`, `lock` and `outdated`: an application's bundle versions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from promptver.cli.common import json_option, plural, print_json, rel

if TYPE_CHECKING:
    from promptver.app.pins import AppConfig
    from promptver.store.store import Store


F = TypeVar("F", bound=Callable[..., Any])


def config_option(func: F) -> F:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path),
        default=None,
        help="The app's pyproject.toml or promptver.toml, or its folder (default: found "
        "by walking up from here).",
    )(func)


def _store_override() -> str | None:
    root = click.get_current_context().find_root()
    value = (root.obj or {}).get("store_path")
    return str(value) if value else None


def _app(config_path: Path | None) -> tuple[AppConfig, Store]:
    from promptver.app.lockfile import app_store
    from promptver.app.pins import load_config

    config = load_config(config_path)
    return config, app_store(config, _store_override())


@click.command()
@click.argument("ref", metavar="NAME[@SPEC]")
@config_option
def pin(ref: str, config_path: Path | None) -> None:
    """Pin a bundle to a version range or an alias in the app config (default: ^LATEST).

    SPEC is an npm-style range: 1.2.3, ^1.2, ~1.2.3, >=1.0 <2, 1.x, 1.0 - 1.4, ^1 || ^2;
    or an alias (production): `lock` records the version it points at. The edit keeps
    every comment and all formatting of the file.
    """
    from promptver.app.pins import config_to_edit
    from promptver.app.resolve import pin_bundle

    name, _, spec = ref.partition("@")
    path = _edit_target(config_path, config_to_edit)
    change, entry = pin_bundle(path, name, spec or None, _store_override())
    where = rel(change.path)
    if change.old == change.new:
        click.echo(f"{name} is already pinned to {change.new!r} in {where}")
    elif change.old is None:
        click.echo(f"pinned {name} {change.new!r} in {where}{' (created)' if change.created else ''}")
    else:
        click.echo(f"pinned {name} {change.old!r} -> {change.new!r} in {where}")
    via = f" (alias {entry.alias})" if entry.alias else ""
    click.echo(f"  resolves to {entry.version}{via} now; run `promptver lock` to record it")


def _edit_target(config_path: Path | None, default: Callable[[], Path]) -> Path:
    from promptver.app.pins import find_config

    if config_path is None:
        return default()
    if config_path.is_dir():
        return find_config(config_path)
    return config_path.resolve()


@click.command()
@click.argument("name")
@config_option
def unpin(name: str, config_path: Path | None) -> None:
    """Remove a bundle's pin from the app config (comments and formatting stay)."""
    from promptver.app.pins import find_config, remove_pin

    path = _edit_target(config_path, find_config)
    change = remove_pin(path, name)
    click.echo(f"unpinned {name} (was {change.old!r}) in {rel(change.path)}; run `promptver lock`")


@click.command()
@click.argument("upgrade_names", nargs=-1, metavar="[NAME]...")
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if the lock is stale (for CI).")
@click.option(
    "--upgrade",
    is_flag=True,
    help="Re-resolve to the newest version in range (the NAMEs given, or every pin).",
)
@config_option
@json_option
def lock(
    upgrade_names: tuple[str, ...], check: bool, upgrade: bool, config_path: Path | None, as_json: bool
) -> None:
    """Resolve every pin to an exact version and digest in promptver.lock.

    A locked version that still satisfies its pin is kept; new and changed pins get the
    newest matching version. Pins to an alias always take the version it points at now.
    """
    from promptver.app.resolve import apply_plan, plan_lock

    if upgrade_names and not upgrade:
        raise click.UsageError("NAMEs are only used with --upgrade")
    config, store = _app(config_path)
    plan = plan_lock(config, store, upgrade=list(upgrade_names) if upgrade_names else upgrade)
    written = False if check else apply_plan(plan)
    if as_json:
        print_json(
            {
                "lock": str(config.lock_path),
                "stale": plan.stale,
                "written": written,
                "changes": [c.to_json() for c in plan.changes],
                "bundles": [e.to_json() for e in plan.entries.values()],
            }
        )
    else:
        where = rel(config.lock_path)
        if check:
            if plan.stale:
                missing = plan.current_text is None
                click.echo(f"{where} is {'missing' if missing else 'stale'}:", err=True)
            else:
                click.echo(f"{where} is up to date ({plural(len(plan.entries), 'bundle')})")
        for change in plan.changes:
            click.echo(f"  {change}", err=check)
        if check and plan.stale and not plan.changes:
            click.echo("  its text differs from what `promptver lock` writes", err=True)
        if check and plan.stale:
            click.echo("run `promptver lock` and commit the result", err=True)
        elif not check:
            state = "wrote" if written else "up to date:"
            click.echo(f"{state} {where} ({plural(len(plan.entries), 'bundle')})")
    if check and plan.stale:
        raise click.exceptions.Exit(1)


@click.command()
@config_option
@click.option("--all", "show_all", is_flag=True, help="List every pin, not only outdated ones.")
@json_option
def outdated(config_path: Path | None, show_all: bool, as_json: bool) -> None:
    """Pins with newer versions inside their range (lock --upgrade) or outside it (pin),
    and pins to an alias that has moved since the lock was written (lock)."""
    from promptver.app.resolve import outdated as find_outdated

    config, store = _app(config_path)
    rows = [r for r in find_outdated(config, store) if show_all or r.is_outdated]
    if as_json:
        print_json([r.to_json() for r in rows])
        return
    if not rows:
        click.echo(f"every pin in {rel(config.path)} is on its newest version")
        return
    from rich.table import Table

    from promptver.cli.common import console

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("bundle", "spec", "locked", "wanted", "latest"):
        table.add_column(column, no_wrap=True)
    hints = []
    for row in rows:
        spec = f"{row.spec} (alias)" if row.alias else row.spec
        table.add_row(row.name, spec, row.locked or "-", row.wanted or "none", row.latest or "-")
        if row.alias is not None:
            if row.wanted is None:
                hints.append(f"{row.name} has no alias {row.alias!r} now: set it, or change the pin")
            elif row.alias_moved:
                hints.append(f"promptver lock   # {row.alias} now points at {row.wanted}")
        elif row.update_in_range:
            hints.append(f"promptver lock --upgrade {row.name}   # {row.wanted}, inside {row.spec!r}")
        if row.update_outside_range:
            hints.append(f"promptver pin {row.name}@^{row.latest}   # {row.latest}, outside {row.spec!r}")
    out = console()
    out.print(table)
    if hints:
        out.print("\nto update:", highlight=False)
        for hint in hints:
            out.print(f"  {hint}", highlight=False, markup=False)
