"""Helpers shared by the CLI commands: the store, references, JSON and terminal output."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from promptver.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

    from promptver.store.store import Store

F = TypeVar("F", bound=Callable[..., Any])


def get_store(ctx: click.Context | None = None) -> Store:
    from promptver.store.store import Store

    ctx = ctx or click.get_current_context()
    root = ctx.find_root()
    override = (root.obj or {}).get("store_path")
    store = Store.find(override=override)
    store.alias_check = _alias_check(store)  # no alias is resolved through a forged move
    if store.config.get("remote"):  # objects missing here are fetched (verified) when read
        from promptver.remote.cache import attach_lazy_fetch

        attach_lazy_fetch(store)
    return store


def _alias_check(store: Store) -> Callable[[str, str, dict[str, Any]], str | None]:
    """`governance.checks.alias_guard`, imported when an alias is first resolved."""
    guard: Callable[[str, str, dict[str, Any]], str | None] | None = None

    def check(name: str, alias: str, head: dict[str, Any]) -> str | None:
        nonlocal guard
        if guard is None:
            from promptver.governance.checks import alias_guard

            guard = alias_guard(store)
        return guard(name, alias, head)

    return check


def split_ref(text: str) -> tuple[str, str | None]:
    """``name@version`` -> (name, version); ``name`` -> (name, None)."""
    name, sep, ref = text.partition("@")
    if not name:
        raise ConfigError(f"{text!r} names no bundle", hint="use NAME or NAME@VERSION")
    if sep and not ref:
        raise ConfigError(f"{text!r} has an empty version after '@'", hint="use NAME@VERSION or NAME@latest")
    return name, (ref if sep else None)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(func)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def console(stderr: bool = False) -> Console:
    """A rich console; colours follow the terminal and NO_COLOR."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def interactive() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


@contextmanager
def progress(label: str, total: int | None = None) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on a terminal; silent in CI and pipes. Yields ``update(done, total)``."""
    if not interactive():
        yield lambda done, total: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``1 bundle``, ``2 bundles`` (``many`` for irregular plurals)."""
    return f"{count} {noun if count == 1 else many or noun + 's'}"


def rel(path: Path) -> str:
    """A path relative to the working directory when it is below it, else absolute."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if relative.startswith("..") else relative


def parse_targets(args: tuple[str, ...]) -> tuple[str, str | None, str, str | None]:
    """(old name, old ref, new name, new ref); a ref of None is the working copy.

    NAME: latest vs working copy; NAME A: A vs working copy; NAME A B: A vs B;
    NAME@A: A vs working copy; NAME@A OTHER@B (or OTHER: its working copy).
    """
    if not args:
        raise ConfigError("name a bundle to diff", hint="promptver diff NAME [A [B]]")
    first_name, first_ref = split_ref(args[0])
    if first_ref is not None:
        if len(args) == 1:
            return first_name, first_ref, first_name, None
        if len(args) == 2:
            other, other_ref = split_ref(args[1])
            return first_name, first_ref, other, other_ref
        raise ConfigError("too many arguments after NAME@A", hint="use NAME@A OTHER@B, or NAME A B")
    if len(args) > 3:
        raise ConfigError("too many arguments", hint="promptver diff NAME [A [B]]")
    for extra in args[1:]:
        if "@" in extra:
            raise ConfigError(
                f"{extra!r}: with NAME A B the versions take no '@'",
                hint="use NAME A B, or NAME@A OTHER@B",
            )
    old_ref = args[1] if len(args) > 1 else "latest"
    new_ref = args[2] if len(args) > 2 else None
    return first_name, old_ref, first_name, new_ref
