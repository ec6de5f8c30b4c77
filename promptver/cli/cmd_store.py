"""`promptver init` and `promptver verify`."""

from __future__ import annotations

from pathlib import Path

import click

from promptver.cli.common import get_store, json_option, plural, print_json, progress, rel


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
@json_option
def verify(as_json: bool) -> None:
    """Re-hash every object and check every manifest and audit log."""
    from promptver.governance.verify import verify_store

    store = get_store()
    with progress("verifying objects") as update:
        report = verify_store(store, update)
    if as_json:
        print_json(report.to_json())
    else:
        for problem in report.problems:
            click.echo(f"CORRUPT {problem}")
        state = "ok" if report.ok else plural(len(report.problems), "problem")
        click.echo(
            f"{state}: {plural(report.objects, 'object')}, {plural(report.manifests, 'manifest')}, "
            f"{plural(report.events, 'audit event')} checked"
        )
        if report.leftovers:
            click.echo(
                f"note: {plural(report.leftovers, 'temporary file')} of interrupted writes in "
                f"{rel(store.root / 'tmp')} (safe to delete)"
            )
    if not report.ok:
        raise click.exceptions.Exit(1)
