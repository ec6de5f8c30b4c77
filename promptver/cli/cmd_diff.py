"""`promptver diff` and `promptver changelog`: what changed, and how much it matters."""

from __future__ import annotations

import sys
from typing import Any

import click

from promptver.cli.common import get_store, json_option, parse_targets, print_json

FORMATS = ["terminal", "json", "markdown"]


@click.command()
@click.argument("targets", nargs=-1, required=True, metavar="NAME [A [B]] | NAME@A OTHER@B")
@click.option("--stat", is_flag=True, help="One line per changed component.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="terminal",
    show_default=True,
    help="Output: terminal, json (docs/diff.md schema) or markdown (pull-request comments).",
)
@json_option
@click.option("--side-by-side", is_flag=True, help="Show text changes in two columns.")
@click.option("--exit-code", is_flag=True, help="Exit with 1 when there are changes (like git diff).")
@click.option("--tui", is_flag=True, help="Open the review UI instead (promptver review).")
def diff(
    targets: tuple[str, ...],
    stat: bool,
    fmt: str,
    as_json: bool,
    side_by_side: bool,
    exit_code: bool,
    tui: bool,
) -> None:
    """Semantic diff of a bundle: the latest version against the working copy by default,
    version A against the working copy, A against B, or two bundles (NAME@A OTHER@B)."""
    if tui:
        from promptver.cli.cmd_review import open_review

        open_review(targets)
        return
    from promptver.cli.common import progress
    from promptver.diff.compare import diff_bundle

    old_name, old_ref, new_name, new_ref = parse_targets(targets)
    store = get_store()
    with progress("diffing eval data") as update:
        result = diff_bundle(store, old_name, old_ref, new_ref, new_name, update)
    retrieval = _retrieval_changes(store, result)
    if as_json or fmt == "json":
        print_json({**result.to_json(), "retrieval": retrieval})
    elif fmt == "markdown":
        from promptver.cli.render_diff import print_notes
        from promptver.diff.render import markdown

        click.echo(markdown(result), nl=False)
        for line in _retrieval_lines(retrieval):
            click.echo(f"- {line.strip()}" if line.startswith("  ") else f"\n**{line}**\n")
        print_notes(result)
    else:
        from promptver.cli.render_diff import render

        render(result, stat=stat, side_by_side=side_by_side)
        if retrieval and not stat:
            click.echo()
            for line in _retrieval_lines(retrieval):
                click.echo(line)
    if exit_code and not result.identical:
        sys.exit(1)


def _retrieval_changes(store: Any, result: Any) -> dict[str, Any]:
    """What a RAG or corpus change did to retrieval, from stored runs of both versions that
    retrieve (nothing is run here); empty when there is no such pair."""
    if result.old.bundle != result.new.bundle or not result.old.digest or not result.new.digest:
        return {}
    if not any(c.kind in ("rag", "corpus") for c in result.components):
        return {}
    from promptver.evals.analysis.compare import retrieval_changes_between

    return retrieval_changes_between(
        store.root / "runs", result.new.bundle, result.old.digest, result.new.digest
    )


def _retrieval_lines(retrieval: dict[str, Any]) -> list[str]:
    lines = []
    for dataset, change in retrieval.items():
        cases = change["sources_changed"]
        lines.append(
            f"retrieval on {dataset!r} (runs {change['base_run']} -> {change['head_run']}): "
            + (f"{len(cases)} cases retrieved other sources" if cases else "the same sources for every case")
        )
        for case_id in cases:
            moved = change["rank_changes"].get(case_id) or ["other sources or order"]
            lines += [f"  {case_id}: {text}" for text in moved]
    return lines


@click.command()
@click.argument("name")
@click.option("--snapshots", is_flag=True, help="Include snapshot versions (X.Y.Z-dev.<time>).")
@json_option
def changelog(name: str, snapshots: bool, as_json: bool) -> None:
    """The history of a bundle as a changelog (Keep a Changelog Markdown)."""
    from promptver.diff.changelog import changelog as build
    from promptver.diff.changelog import to_markdown

    entries = build(get_store(), name, snapshots=snapshots)
    if as_json:
        print_json({"bundle": name, "versions": entries})
        return
    click.echo(to_markdown(name, entries), nl=False)
