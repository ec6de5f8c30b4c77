"""`promptver init`, `promptver verify` and `promptver gc`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from promptver.cli.common import get_store, json_option, plural, print_json, progress, rel

if TYPE_CHECKING:
    from promptver.store.store import Store


@click.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def init(ctx: click.Context, folder: Path | None) -> None:
    """Create a store (.promptver/) in FOLDER (default: here)."""
    from promptver.store.store import Store

    override = (ctx.find_root().obj or {}).get("store_path")
    store_dir = Path(override) if override else None
    store, created = Store.init((folder or Path.cwd()).resolve(), store_dir)
    what = "Created" if created else "Store already exists at"
    click.echo(f"{what} {rel(store.root)}")
    if created:
        click.echo("Next: `promptver new NAME` scaffolds bundles/NAME/")


@click.command()
@click.option(
    "--against",
    "against",
    metavar="REF",
    help="Git commit the history must have grown from (default: HEAD, when the store is in git).",
)
@click.option(
    "--remote",
    "remote_name",
    is_flag=False,
    flag_value="",
    default=None,
    help="Check a remote instead: its logs, manifests, and every object rebuilt and re-hashed.",
)
@click.option(
    "--full",
    is_flag=True,
    help="Check every line and alias move again, ignoring the checkpoints of earlier commands.",
)
@json_option
def verify(against: str | None, remote_name: str | None, full: bool, as_json: bool) -> None:
    """Re-hash every object; check every manifest, audit log and recorded run, and that the
    history only grew since the commit REF (HEAD by default)."""
    from promptver.governance.verify import verify_store

    store = get_store()
    if remote_name is not None:
        _verify_remote(store, remote_name or None, as_json)
        return
    remote_has = None
    if store.config.get("remote"):  # objects pulled but not fetched yet are on the remote

        def remote_has(hexdigests: list[str]) -> set[str]:
            from promptver.remote.sync import open_remote
            from promptver.remote.sync import remote_has as ask

            return ask(open_remote(store), hexdigests)

    with progress("verifying objects") as update:
        report = verify_store(store, update, against=against, remote_has=remote_has, full=full)
    if as_json:
        print_json(report.to_json())
    else:
        for problem in report.problems:
            click.echo(f"CORRUPT {problem}")
        for line in report.signed:
            click.echo(f"signed  {line}")
        if report.anchored:
            commit = (report.anchor_commit or "")[:12]
            click.echo(
                f"anchored: the history only grew since {report.anchored} ({commit})"
                if report.ok
                else f"checked against {report.anchored} ({commit})"
            )
        elif report.anchor_note:
            click.echo(f"note: {report.anchor_note}")
        state = "ok" if report.ok else plural(len(report.problems), "problem")
        click.echo(
            f"{state}: {plural(report.objects, 'object')}, {plural(report.manifests, 'manifest')}, "
            f"{plural(report.events, 'audit event')} checked"
        )
        if report.not_fetched:
            click.echo(
                f"note: {plural(len(report.not_fetched), 'object')} on the remote, not fetched here"
                " (`promptver fetch NAME@VERSION` downloads them; `verify --remote` checks the remote)"
            )
        if report.leftovers:
            click.echo(
                f"note: {plural(report.leftovers, 'temporary file')} of interrupted writes in "
                f"{rel(store.root / 'tmp')}, {human_size(report.leftover_bytes)}"
                " (`promptver gc` removes those of finished writers)"
            )
    if not report.ok:
        raise click.exceptions.Exit(1)


@click.command()
@click.option("--yes", "--force", "remove", is_flag=True, help="Delete (default: only list what would go).")
@json_option
def gc(remove: bool, as_json: bool) -> None:
    """Remove leftovers of interrupted writes and objects no version names (dry run unless --yes)."""
    from promptver.store.gc import collect

    store = get_store()
    report = collect(store, remove=remove)
    if as_json:
        print_json(report.to_json())
        return
    verb = "removed" if remove else "would remove"
    click.echo(
        f"{verb} {plural(len(report.leftovers), 'temporary file')} and"
        f" {plural(len(report.objects), 'unreferenced object')}, {human_size(report.size)}"
    )
    if report.busy:
        click.echo(f"kept {plural(report.busy, 'temporary file')} of writers still running")
    if report.not_here:
        click.echo(
            f"kept: {plural(report.not_here, 'object')} that versions name are not here (pulled, not"
            " fetched); gc never deletes an object a version names, nor anything on a remote"
        )
    if not remove and (report.leftovers or report.objects):
        click.echo("run `promptver gc --yes` to delete them")


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"


def _verify_remote(store: Store, name: str | None, as_json: bool) -> None:
    from promptver.remote.sync import open_remote, verify_remote

    remote = open_remote(store, name)
    with progress("verifying remote objects") as update:
        report = verify_remote(store, remote, update)
    if as_json:
        print_json(report)
    else:
        for problem in report["problems"]:
            click.echo(f"CORRUPT {problem}")
        state = "ok" if report["ok"] else plural(len(report["problems"]), "problem")
        click.echo(
            f"{state}: {report['remote']}: {report['objects']} objects, {report['manifests']} manifests,"
            f" {report['bundles']} logs checked"
        )
    if not report["ok"]:
        raise click.exceptions.Exit(1)
