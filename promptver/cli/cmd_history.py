"""`promptver log`, `show` and `checkout`: read and restore versions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from promptver.cli.common import console, get_store, json_option, print_json, rel, split_ref
from promptver.safetext import one_line
from promptver.store.digests import short


@click.command()
@click.argument("name")
@click.option("-n", "--limit", type=int, default=None, help="Show at most N versions.")
@json_option
def log(name: str, limit: int | None, as_json: bool) -> None:
    """List the versions of a bundle, newest first."""
    from promptver.versions.history import history

    store = get_store()
    manifests = history(store, name)[:limit]
    if as_json:
        print_json(
            [
                {
                    "version": m.version,
                    "digest": m.digest,
                    "created": m.created,
                    "author": m.author,
                    "message": m.message,
                    "parent": m.parent,
                    "bump": m.bump,
                }
                for m in manifests
            ]
        )
        return
    rows = [
        (
            m.version,
            short(m.digest),
            m.created[:16].replace("T", " "),
            _clip(m.author.split(" <")[0], 20),
            m.message.splitlines()[0] if m.message else "",
        )
        for m in manifests
    ]
    click.echo(_columns(("version", "digest", "date", "author", "message"), rows))


def _columns(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    """Aligned columns; on a terminal the last one is cut to its width (plain text: no table
    layout engine squeezing the version column away on a narrow terminal); into a pipe or a
    file, whole."""
    import shutil
    import sys

    rows = [tuple(one_line(cell) for cell in row) for row in rows]  # escaped before cut: no half escape
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    columns = shutil.get_terminal_size((120, 24)).columns if sys.stdout.isatty() else 10**6
    room = max(columns - sum(widths) - 2 * len(widths), 10)
    lines = []
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, _clip(row[-1], room)]).rstrip())
    return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@click.command()
@click.argument("ref")
@json_option
def show(ref: str, as_json: bool) -> None:
    """Everything a version records (NAME@VERSION, NAME@latest, or an exported .pvb file);
    for NAME@ALIAS, what serves there: model, evals and corpus, latest eval run, git commit,
    last move, approvals."""
    from promptver.app.runtime import is_archive_ref
    from promptver.versions.history import describe

    if is_archive_ref(ref):
        from promptver.app.archive import describe_archive

        details = describe_archive(Path(ref))
    else:
        name, version = split_ref(ref)
        store = get_store()
        manifest = store.resolve(name, version or "latest")
        details = describe(store, manifest)
        from promptver.governance.aliases import is_alias_ref
        from promptver.governance.signing import author_verdict

        verdict = author_verdict(store, manifest.bundle, manifest.version)
        details["author_signed_by"] = verdict.signer
        details["author_signature_problem"] = verdict.problem

        if is_alias_ref(version):  # NAME@production: also what serves there and why
            from promptver.governance.deployment import deployment

            details["deployment"] = deployment(store, manifest, version or "")
            from promptver.errors import ConfigError
            from promptver.traces.served import last_serving

            try:
                details["deployment"]["observed"] = last_serving(store, name, version or "")
            except ConfigError as exc:  # the span store is optional: say so, show the rest
                click.echo(f"warning: {exc}", err=True)
                details["deployment"]["observed"] = None
    if as_json:
        print_json(details)
        return
    if "deployment" in details:
        from promptver.cli.cmd_alias import print_deployment

        print_deployment(details)
        return
    _print_details(details)


def _author_line(d: dict[str, Any]) -> str:
    from promptver.cli.cmd_alias import author_line

    return author_line(d)


def _print_details(d: dict[str, Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    from promptver.versions.provenance import describe_git

    out = console()
    out.print(Text.assemble((f"{d['bundle']}@{d['version']}", "bold"), f"  {d['digest']}"))
    rows = [
        ("parent", d["parent"] or "-"),
        ("created", d["created"]),
        ("author", _author_line(d)),
        ("message", d["message"]),
        ("bump", d.get("bump") or "-"),
    ]
    model = d.get("model") or {}
    if model:
        params = ", ".join(f"{k}={v}" for k, v in (model.get("params") or {}).items())
        rows.append(
            ("model", f"{model.get('provider')}/{model.get('name')}" + (f" ({params})" if params else ""))
        )
    prov = d.get("provenance") or {}
    rows.append(("git", describe_git(prov)))
    rows.append(
        (
            "tools",
            f"promptver {prov.get('promptver')}, Python {prov.get('python')}, "
            + ", ".join(f"{k} {v}" for k, v in (prov.get("libraries") or {}).items()),
        )
    )
    info = Table.grid(padding=(0, 2))
    info.add_column(style="bold")
    info.add_column(overflow="fold")
    for key, value in rows:
        info.add_row(key, str(value))
    out.print(info)
    files = Table(
        title=f"{len(d['files'])} files, {d['size']} bytes",
        title_justify="left",
        box=None,
        header_style="bold",
    )
    files.add_column("path")
    files.add_column("size", justify="right")
    files.add_column("digest")
    for f in d["files"]:
        files.add_row(f["path"], str(f["size"]), short(f["digest"], 12))
    out.print(files)


@click.command()
@click.argument("ref")
@click.option(
    "--to",
    "to",
    type=click.Path(file_okay=False, path_type=Path),
    help="Restore into this folder instead of the bundle folder.",
)
@click.option("--force", is_flag=True, help="Overwrite changes that are in no stored version.")
def checkout(ref: str, to: Path | None, force: bool) -> None:
    """Restore a version's files byte for byte (the rollback of a working copy)."""
    from promptver.versions.checkout import checkout as do_checkout

    name, version = split_ref(ref)
    store = get_store()
    manifest = store.resolve(name, version or "latest")
    target = do_checkout(store, manifest, to=to, force=force)
    click.echo(
        f"restored {manifest.ref} ({short(manifest.digest)}, {len(manifest.files)} files) into {rel(target)}"
    )
