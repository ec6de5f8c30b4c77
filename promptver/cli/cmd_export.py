"""`promptver export` and `import`: one self-contained, verifiable file per version."""

from __future__ import annotations

import os
from pathlib import Path

import click

from promptver.cli.common import get_store, json_option, print_json, rel, split_ref
from promptver.store.digests import short


@click.command()
@click.argument("ref", metavar="NAME@VERSION")
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    default=None,
    help="File to write, or folder (existing, or ending in /) for NAME-VERSION.pvb "
    "(default: NAME-VERSION.pvb here). With --format: the folder for the files "
    "(default: NAME-VERSION-FORMAT).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["pvb", "prompty", "dotprompt", "promptfoo"]),
    default="pvb",
    show_default=True,
    help="pvb: one verifiable archive; prompty/dotprompt: one file per template; promptfoo: a "
    "promptfooconfig.yaml with one test per eval case (docs/interop.md).",
)
@json_option
def export(ref: str, output: str | None, fmt: str, as_json: bool) -> None:
    """Write a version as one deterministic .pvb file (same version, same bytes), or as
    Prompty, Dotprompt or promptfoo files (--format)."""
    from promptver.app.archive import export as write_export

    name, version = split_ref(ref)
    store = get_store()
    if fmt != "pvb":
        from promptver.cli.cmd_interop import export_format

        export_format(store, name, version or "latest", fmt, output, as_json)
        return
    manifest = store.resolve(name, version or "latest")
    folder = output is None or output.endswith(("/", os.sep))
    path = write_export(store, manifest, Path(output) if output else Path.cwd(), folder=folder)
    if as_json:
        print_json(
            {
                "bundle": manifest.bundle,
                "version": manifest.version,
                "digest": manifest.digest,
                "path": str(path),
            }
        )
        return
    click.echo(f"exported {manifest.ref} ({short(manifest.digest)}) to {rel(path)}")


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
def import_(file: Path, as_json: bool) -> None:
    """Add an exported .pvb version to the store (verified first)."""
    from promptver.app.archive import import_archive

    store = get_store()
    result = import_archive(store, file)
    manifest = result.manifest
    if as_json:
        print_json(
            {
                "bundle": manifest.bundle,
                "version": manifest.version,
                "digest": manifest.digest,
                "created": result.created,
            }
        )
        return
    if result.created:
        click.echo(f"imported {manifest.ref} ({short(manifest.digest)}) into {rel(store.root)}")
    else:
        click.echo(f"{manifest.ref} ({short(manifest.digest)}) is already in {rel(store.root)}")
