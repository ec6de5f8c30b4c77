"""`promptver import-prompt` and `export --format`: Prompty, Dotprompt and promptfoo files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from promptver.cli.common import get_store, json_option, print_json, rel

if TYPE_CHECKING:
    from promptver.interop.common import Finding
    from promptver.store.store import Store


@click.command("import-prompt")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--into", "into", required=True, metavar="NAME", help="The bundle to create or update.")
@click.option(
    "--model",
    default=None,
    metavar="PROVIDER/NAME",
    help="Set the model (files without one, or with different ones).",
)
@json_option
def import_prompt(files: tuple[Path, ...], into: str, model: str | None, as_json: bool) -> None:
    """Create or update bundle NAME from .prompty and .prompt files (docs/interop.md).

    What cannot be translated exactly is listed with its file:line, never dropped silently.
    """
    from promptver.interop.importer import import_prompts
    from promptver.store.store import check_name

    check_name(into)
    store = get_store()
    result = import_prompts(list(files), store.bundle_dir(into), into, model=model)
    if as_json:
        print_json(result.to_json())
        return
    verb = "created" if result.created else "updated"
    click.echo(f"{verb} bundle {into} ({rel(result.folder)}): templates {', '.join(result.templates)}")
    for path in result.written:
        click.echo(f"  wrote {rel(path)}")
    _report(result.findings, "not translated exactly")
    click.echo(f"Next: `promptver check {into}`, then `promptver bump minor {into}`")


def export_format(store: Store, name: str, version: str, fmt: str, output: str | None, as_json: bool) -> None:
    from promptver.interop.exporter import export, open_version

    bundle = open_version(store, name, version)
    folder = Path(output) if output else Path.cwd() / f"{bundle.name}-{bundle.version}-{fmt}"
    if folder.exists() and not folder.is_dir():
        from promptver.errors import ConfigError

        raise ConfigError(
            f"{folder} is a file", hint=f"--format {fmt} writes a folder; give a folder with -o"
        )
    result = export(bundle, fmt, folder)
    if as_json:
        print_json(result.to_json())
        return
    click.echo(f"exported {result.ref} as {fmt} to {rel(folder)}")
    for path in result.files:
        click.echo(f"  wrote {rel(path)}")
    _report(result.findings, "not exported")


def _report(findings: list[Finding], what: str) -> None:
    if not findings:
        return
    click.echo(f"{len(findings)} construct(s) {what}:", err=True)
    for finding in findings:
        click.echo(f"  {finding}", err=True)
