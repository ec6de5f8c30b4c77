"""``promptver ci-report``: one Markdown comment for a pull request."""

from __future__ import annotations

from pathlib import Path

import click

from promptver.cli.common import get_store, json_option, print_json, split_ref


@click.command("ci-report")
@click.argument("ref", metavar="NAME[@HEAD]")
@click.argument("base", required=False, metavar="[BASE]")
@click.option("--dataset", help="Eval dataset to compare on (default: the head run's).")
@click.option(
    "--target",
    metavar="T",
    help="Compare runs of this target: model, rag, retrieval, ... (default: the newest both sides ran).",
)
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    help="Significance level of the eval comparison.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1000),
    default=65_536,
    show_default=True,
    help="Most bytes in the comment (GitHub's comment limit).",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to a file instead of stdout.")
@json_option
def ci_report(
    ref: str,
    base: str | None,
    dataset: str | None,
    target: str | None,
    alpha: float,
    limit: int,
    output: str | None,
    as_json: bool,
) -> None:
    """Markdown pull-request comment: semantic diff of BASE -> NAME[@HEAD], its suggested bump,
    and the eval comparison of their stored runs with its confidence, regressions first.

    NAME alone is the working copy; BASE defaults to the head version's parent (the latest
    version for a working copy)."""
    from promptver.ci.report import build_report, render_markdown

    name, head = split_ref(ref)
    report = build_report(get_store(), name, head, base, dataset=dataset, target=target, alpha=alpha)
    if as_json:
        print_json(report.to_json())
        return
    text = render_markdown(report, limit=limit)
    if output is None:
        click.echo(text, nl=False)
        return
    from promptver.store.atomic import atomic_write

    atomic_write(Path(output), text.encode())
    click.echo(f"wrote {output} ({len(text.encode()):,} bytes)", err=True)
