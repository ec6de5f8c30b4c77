"""`promptver alias set/rm/ls`, `promote` and `rollback`: move aliases, audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from promptver.cli.cmd_approve import key_option
from promptver.cli.common import console, get_store, json_option, print_json, split_ref

_reason = click.option("-m", "--reason", default=None, help="Why: recorded in the audit log.")
_create = click.option(
    "--create",
    is_flag=True,
    help="Make ALIAS if the bundle never had it (and the version declares no [aliases.ALIAS]).",
)


def _moved(event: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(event)
        return
    before = event.get("from") or "(none)"
    after = event.get("to") or "(removed)"
    if event.get("dry_run"):
        click.echo(
            f"(dry run) {event['bundle']} {event['alias']}: {before} -> {after} ({event['action']}: allowed)"
        )
        _evidence(event.get("evidence"))
        return
    click.echo(
        f"{event['bundle']} {event['alias']}: {before} -> {after}"
        f" ({event['action']} by {event['actor']}, event {event['seq']}"
        f"{', signed' if 'signature' in event else ''})"
    )


def _evidence(evidence: dict[str, Any] | None) -> None:
    """The approvals and eval runs a promotion relies on, by name."""
    from promptver.evals.runs.summaries import describe_run

    if not evidence:
        return
    if evidence.get("policy"):
        click.echo(f"  policy: {evidence['policy']}")
    cited = evidence.get("approvals", [])
    for key, line in listed("approval", cited, approval_line):
        click.echo(f"  {key}: {line}")
    counted = evidence.get("counted_approvals")
    if isinstance(counted, int) and counted > len(cited):
        click.echo(f"  (cites {len(cited)} of {counted:,} counted approvals: as many as the policy asks)")
    for run in evidence.get("eval_runs", []):
        click.echo(f"  eval: {describe_run(run)}")


def author_line(d: dict[str, Any]) -> str:
    """``Ana <ana@...> (signed by ana@example.com)``, or why the author is not a signed identity."""
    if d.get("author_signed_by"):
        return f"{d['author']} (bump signed by {d['author_signed_by']})"
    problem = d.get("author_signature_problem")
    if problem and problem != "its bump is unsigned":
        return f"{d['author']} (bump signature not accepted: {problem})"
    return (
        f"{d['author']} (unsigned: identity declared, not authenticated)"
        if "author_signed_by" in d
        else d["author"]
    )


SHOWN_PER_LIST = 10  # approvals (or requests for changes) listed on screen; `--json` has all


def listed(
    key: str, items: list[dict[str, Any]], line: Callable[[dict[str, Any]], str]
) -> list[tuple[str, str]]:
    """Rows for the first `SHOWN_PER_LIST` items and one that counts the rest: a version
    approved by 50,000 people is a count on screen, not 50,000 rows to lay out."""
    rows = [(key, line(item)) for item in items[:SHOWN_PER_LIST]]
    if len(items) > SHOWN_PER_LIST:
        rest = len(items) - SHOWN_PER_LIST
        rows.append((key, f"... and {rest:,} more ({len(items):,} in all; `--json` lists every one)"))
    return rows


def approval_line(approval: dict[str, Any]) -> str:
    """``Ana <ana@...> 2026-11-26 15:20 (event 12, signed by ana@example.com)``."""
    signed = approval.get("signed_by")
    how = f"signed by {signed}" if signed else "unsigned: identity declared, not authenticated"
    before = ", approved before bump" if approval.get("version") is None else ""
    note = f": {approval['note']}" if approval.get("note") else ""
    return (
        f"{approval['actor']} {str(approval['time'])[:16].replace('T', ' ')}"
        f" (event {approval['seq']}, {how}{before}){note}"
    )


@click.group()
def alias() -> None:
    """Mutable names for versions (production, staging, ...)."""


@alias.command("set")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.argument("version")
@_reason
@_create
@json_option
def alias_set(
    name: str, alias_name: str, version: str, reason: str | None, create: bool, as_json: bool
) -> None:
    """Point ALIAS of bundle NAME at VERSION (a version, `latest` or another alias).
    Protected aliases refuse this: use `promptver promote`."""
    from promptver.governance.promotion import set_alias

    _moved(set_alias(get_store(), name, alias_name, version, reason, create=create), as_json)


@alias.command("rm")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@_reason
@json_option
def alias_rm(name: str, alias_name: str, reason: str | None, as_json: bool) -> None:
    """Remove ALIAS of bundle NAME (refused for a protected alias)."""
    from promptver.governance.promotion import remove_alias

    _moved(remove_alias(get_store(), name, alias_name, reason), as_json)


@alias.command("ls")
@click.argument("name", required=False)
@json_option
def alias_ls(name: str | None, as_json: bool) -> None:
    """List the aliases of bundle NAME, or of every bundle."""
    from promptver.governance.promotion import list_aliases

    rows = list_aliases(get_store(), name)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo(f"no aliases{' for ' + name if name else ''}")
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("bundle", "alias", "version", "moved", "by", "protected"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(
            row["bundle"],
            row["alias"],
            row["version"],
            (row["moved"] or "-")[:16].replace("T", " "),
            (row["by"] or "-").split(" <")[0],
            "yes" if row["protected"] else "",
        )
    console().print(table)


@click.command()
@click.argument("ref", metavar="NAME@VERSION")
@click.option("--to", "alias_name", required=True, metavar="ALIAS", help="The alias to move.")
@_reason
@click.option("--dry-run", is_flag=True, help="Check the policy only; move nothing.")
@_create
@key_option
@json_option
def promote(
    ref: str, alias_name: str, reason: str | None, dry_run: bool, create: bool, key: str | None, as_json: bool
) -> None:
    """Move ALIAS to NAME@VERSION if the alias's policy is met; otherwise list exactly what
    is missing and change nothing."""
    from promptver.governance.promotion import promote as do_promote
    from promptver.governance.signing import signing_key

    name, version = split_ref(ref)
    store = get_store()
    signer = None if dry_run else signing_key(key, store.project_root)
    event = do_promote(
        store, name, version or "latest", alias_name, reason, dry_run=dry_run, key=signer, create=create
    )
    _moved(event, as_json)


@click.command()
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.option("--to", "to", default=None, metavar="VERSION", help="An earlier version the alias held.")
@_reason
@key_option
@json_option
def rollback(
    name: str, alias_name: str, to: str | None, reason: str | None, key: str | None, as_json: bool
) -> None:
    """Point ALIAS back at the version it held before (or an earlier one with --to)."""
    from promptver.governance.aliases import rollback as do_rollback
    from promptver.governance.signing import signing_key

    store = get_store()
    signer = signing_key(key, store.project_root)
    _moved(do_rollback(store, name, alias_name, to, reason, key=signer), as_json)


def print_deployment(details: dict[str, Any]) -> None:
    """`promptver show NAME@ALIAS`: the five questions on one screen."""
    from rich.table import Table
    from rich.text import Text

    from promptver.store.digests import short
    from promptver.versions.provenance import describe_git

    d = details["deployment"]
    rows: list[tuple[str, str]] = [("author", author_line(details))]
    model = details.get("model") or {}
    params = ", ".join(f"{k}={v}" for k, v in (model.get("params") or {}).items())
    rows.append(
        (
            "model",
            f"{model.get('provider')}/{model.get('name')}" + (f" ({params})" if params else "")
            if model
            else "-",
        )
    )
    from promptver.evals.runs.summaries import describe_run

    for ev in d["evals"]:
        run = ev["latest_run"]
        ran = (
            f"latest recorded {describe_run(run)}, {str(run['finished'])[:16].replace('T', ' ')}"
            if run
            else "no recorded run of this version"
        )
        rows.append((f"eval {ev['name']}", f"{ev['path']}  {short(ev['digest'] or '', 12)}  {ran}"))
        for judge in ev.get("judges") or []:
            rows.append(("judge", f"{judge['model']} with {judge['prompt']}: {judge['calibrated']}"))
    if not d["evals"]:
        rows.append(("evals", "none declared"))
    corpus = d["corpus"]
    if corpus:
        where = corpus.get("uri") or f"{corpus['path']}/ ({corpus['files']} files)"
        rows.append(("corpus", f"{where}  {short(corpus['digest'] or '', 12)}"))
    git = d["git"]
    rows.append(
        (
            "git",
            describe_git(
                {
                    "git_commit": git["commit"],
                    "git_dirty": git["dirty"],
                    "git_repository": git.get("repository"),
                }
            ),
        )
    )
    moved = d["moved"]
    if moved:
        why = f": {moved['reason']}" if moved["reason"] else ""
        rows.append(
            (
                "moved",
                f"{str(moved['time'])[:16].replace('T', ' ')} by {moved['by']}"
                f" ({moved['action']} from {moved['from'] or '(none)'}, event {moved['event']}"
                f"{', signed by ' + moved['signed_by'] if moved.get('signed_by') else ''}){why}",
            )
        )
    if not d["log_agrees"]:
        rows.append(("warning", "aliases.json and the audit log disagree: run `promptver verify`"))
    rows += listed("approved", d["approvals"], approval_line)
    if not d["approvals"]:
        rows.append(("approved", "nobody"))
    rows += listed(
        "changes",
        d["changes_requested"],
        lambda change: f"requested by {change['actor']} {str(change['time'])[:16].replace('T', ' ')}",
    )
    observed = d.get("observed")
    if observed:
        when = observed["time"][:16].replace("T", " ")
        seen = f"{observed['version']} ({short(observed['digest'] or '', 12)}) at {when}"
        if observed["version"] != d["version"]:
            seen += f", not {d['version']}: the app has not picked up the move yet, or traces are older"
        if not observed["known"]:
            seen += ", a digest no version in the log has"
        rows.append(("observed", f"last serving {seen} (trace {observed['trace_id'][:16]})"))
    policy = d["policy"]
    if policy:
        described = policy["requirements"]
        state = (
            "met"
            if policy["satisfied"]
            else "NOT met: " + "; ".join(policy["missing"] + policy["cannot_be_satisfied"])
        )
        rows.append(("policy", f"{described} ({state})"))
        for run in policy.get("eval_runs", []):
            rows.append(("evidence", describe_run(run)))
    out = console()
    out.print(Text(f"{details['bundle']}@{d['alias']} = {d['version']}  {d['digest']}", style="bold"))
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for key, value in rows:
        grid.add_row(key, Text(value))
    out.print(grid)
