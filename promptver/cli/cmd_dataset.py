"""`promptver dataset add NAME/SET --from-traces FILE`: production traces made into eval cases."""

from __future__ import annotations

from pathlib import Path

import click

from promptver.cli.common import get_store, json_option, print_json
from promptver.errors import ConfigError


@click.group()
def dataset() -> None:
    """Eval datasets of a bundle's working copy."""


@dataset.command()
@click.argument("target", metavar="NAME/SET")
@click.option(
    "--from-traces",
    "from_traces",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Spans: OTLP JSON or one span per line (docs/production.md).",
)
@click.option(
    "--where",
    "where",
    multiple=True,
    help="Which spans: KEY OP VALUE, e.g. 'feedback.score<0.5', status=error (repeatable: all must hold).",
)
@click.option("--dry-run", is_flag=True, help="Say what would be added; write nothing.")
@json_option
def add(target: str, from_traces: Path, where: tuple[str, ...], dry_run: bool, as_json: bool) -> None:
    """Turn the spans rendered from NAME that match --where into cases of eval set SET
    (variables redacted, the trace id kept as provenance, duplicates skipped); the next
    bump versions the change."""
    from promptver.traces.cases import add_from_traces
    from promptver.traces.where import parse_where

    name, sep, set_name = target.partition("/")
    if not sep or not name or not set_name:
        raise ConfigError(
            f"{target!r} is not NAME/SET", hint="e.g. promptver dataset add support-bot/golden ..."
        )
    result = add_from_traces(get_store(), name, set_name, from_traces, parse_where(where), dry_run=dry_run)
    if as_json:
        print_json(result.to_json() | {"dry_run": dry_run})
        return
    verb = "would add" if dry_run else "added"
    click.echo(
        f"{result.path}: {verb} {len(result.added)} case(s) from {result.matched} matching span(s)"
        f" ({result.duplicates} duplicate(s) skipped)"
    )
    if result.without_variables:
        click.echo(
            f"  {result.without_variables} matching span(s) recorded no variables"
            "\n  hint: the app records them with OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true"
        )
    if result.other_template:
        click.echo(
            f"  {result.other_template} matching span(s) rendered no template of {name} (the system prompt?)"
        )
    if result.added and not dry_run:
        click.echo(
            f'  next: write what each answer should be ("expected"), then `promptver bump patch {name}`'
        )
