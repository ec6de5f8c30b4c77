"""`promptver new`, `check` and `status`: the working copy of bundles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from promptver.cli.common import get_store, json_option, plural, print_json, rel
from promptver.errors import NotFoundError
from promptver.store.tree import printable

if TYPE_CHECKING:
    from promptver.store.tree import WorkTree


@click.command()
@click.argument("name")
def new(name: str) -> None:
    """Scaffold bundles/NAME/ with a commented bundle.toml, prompts and an eval set."""
    from promptver.bundle.scaffold import scaffold

    store = get_store()
    folder = store.bundle_dir(name)
    for path in scaffold(folder, name):
        click.echo(f"created {rel(path)}")
    click.echo(f"Next: edit {rel(folder)}, then `promptver check {name}` and `promptver bump minor {name}`")


@click.command()
@click.argument("targets", nargs=-1, metavar="[TARGET]...")
@click.option(
    "--files",
    "files",
    is_flag=True,
    help="TARGETs are files: check the bundles holding them, skip the others (for pre-commit).",
)
@json_option
def check(targets: tuple[str, ...], files: bool, as_json: bool) -> None:
    """Validate bundles (NAMEs or PATHs; default: every bundle). Lists every problem."""
    from promptver.bundle.check import check_tree

    results = []
    if files:
        found = _changed_bundles(targets)
    else:
        found = (item for target in targets or (None,) for item in _targets(target))
    for name, folder, tree in found:
        _spec, problems = check_tree(tree, name)
        results.append((name, folder, problems))
    if as_json:
        print_json(
            [
                {"bundle": n, "path": str(f), "ok": not p, "problems": [x.to_json() for x in p]}
                for n, f, p in results
            ]
        )
    else:
        for name, folder, problems in results:
            if problems:
                click.echo(f"{name}: {plural(len(problems), 'problem')}")
                for problem in problems:
                    click.echo(f"  {problem}")
            else:
                click.echo(f"{name}: ok ({rel(folder)})")
    if any(p for _, _, p in results):
        raise click.exceptions.Exit(1)


def _changed_bundles(files: tuple[str, ...]) -> Iterator[tuple[str, Path, WorkTree]]:
    """Each bundle folder (the nearest parent with a bundle.toml) holding one of ``files``, once."""
    from promptver.store.tree import WorkTree

    seen: set[Path] = set()
    for file in files:
        path = Path(file).resolve()
        for folder in path.parents if not path.is_dir() else (path, *path.parents):
            if (folder / "bundle.toml").is_file():
                if folder not in seen:
                    seen.add(folder)
                    yield folder.name, folder, WorkTree(folder)
                break


def _targets(target: str | None) -> Iterator[tuple[str, Path, WorkTree]]:
    """(name, folder, tree) of each bundle to check: a PATH, a NAME, or all bundles."""
    from promptver.store.tree import WorkTree

    if target and ("/" in target or target in (".", "..") or (Path(target) / "bundle.toml").is_file()):
        folder = Path(target).resolve()
        if not folder.is_dir():
            raise NotFoundError(f"no bundle folder {target}", hint="give a bundle NAME or a folder PATH")
        yield folder.name, folder, WorkTree(folder)
        return
    store = get_store()
    names = (
        [target]
        if target
        else [n for n in store.bundle_names() if (store.bundle_dir(n) / "bundle.toml").exists()]
    )
    if not names:
        raise NotFoundError("no bundles to check", hint="create one with `promptver new NAME`")
    for name in names:
        yield name, store.bundle_dir(name), store.work_tree(name)


@click.command()
@click.argument("name", required=False)
@click.option("--remote", "remote_name", help="Compare with this remote (default: origin, or the only one).")
@click.option("--no-remote", is_flag=True, help="Do not ask the remote what is ahead or behind.")
@json_option
def status(name: str | None, remote_name: str | None, no_remote: bool, as_json: bool) -> None:
    """Which version the working copy matches or came from, what changed since, and (with a
    remote configured) what is ahead of or behind the remote."""
    from promptver.remote.tracking import track_all
    from promptver.versions.checkout import status as bundle_status

    store = get_store()
    names = [name] if name else [n for n in store.bundle_names() if store.bundle_dir(n).is_dir()]
    results = [bundle_status(store, n) for n in names]
    standing = None if no_remote else track_all(store, names, remote_name)
    if as_json:
        out = [s.to_json() for s in results]
        if standing is not None:
            for entry in out:
                found = standing.bundles.get(str(entry["bundle"]))
                entry["remote"] = (
                    found.to_json() if found else {"remote": standing.remote, "error": standing.error}
                )
        print_json(out)
        return
    if standing is not None and standing.error:
        click.echo(f"not compared with remote {standing.remote}: {standing.error}", err=True)
    for result in results:
        click.echo(f"{result.bundle}: {result.describe()}")
        if standing is not None and result.bundle in standing.bundles:
            click.echo(f"  {'remote':<9}{standing.bundles[result.bundle].describe()}")
        for label, paths in (
            ("added", result.added),
            ("removed", result.removed),
            ("modified", result.modified),
        ):
            for path in paths:
                click.echo(f"  {label:<9}{printable(path)}")
        for problem in result.problems:
            click.echo(f"  {'problem':<9}{problem}")
