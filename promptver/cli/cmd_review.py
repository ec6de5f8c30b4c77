"""`promptver review`: the Textual review UI (side-by-side diff, approve / request changes)."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

from promptver.cli.common import get_store
from promptver.errors import ConfigError


def open_review(
    targets: tuple[str, ...],
    *,
    reviewer: str | None = None,
    unified: bool = False,
    light: bool = False,
) -> None:
    """Resolve the versions (errors surface here, before the screen opens), then run the
    app; the diff itself is computed in a worker so the first frame appears at once."""
    from promptver.cli.common import parse_targets
    from promptver.governance.approvals import resolve_reviewer

    old_name, old_ref, new_name, new_ref = parse_targets(targets)
    store = get_store()
    from promptver.diff.compare import side

    for name, ref in ((old_name, old_ref), (new_name, new_ref)):
        if ref is None:
            store.work_tree(name)
        else:
            side(store, name, ref)  # a bundle with no versions yet is reviewed against nothing
    who = resolve_reviewer(reviewer, folder=store.bundle_dir(new_name))
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise ConfigError(
            "promptver review needs an interactive terminal",
            hint="use `promptver diff` in scripts and pipes",
        )
    from promptver.tui.app import build_app
    from promptver.tui.loader import load_review, recorder
    from promptver.tui.model import Review

    def load(progress: Callable[[int, int], None]) -> Review:
        return load_review(store, old_name, old_ref, new_ref, new_name, progress)

    app = build_app(load, record=recorder(store, who), reviewer=who, unified=unified, light=light)
    app.run()
    for event in app.decisions:
        what = "approved" if event["decision"] == "approved" else "changes requested"
        click.echo(f"{what} by {event['actor']} (audit log entry {event.get('seq', '?')})")


@click.command()
@click.argument("targets", nargs=-1, required=True, metavar="NAME [A [B]]")
@click.option(
    "--reviewer",
    help="Who is reviewing (default: PROMPTVER_USER, else git's user.name <user.email>).",
)
@click.option("--unified", is_flag=True, help="Start in the unified view (toggle with u).")
@click.option("--light", is_flag=True, help="Start with the light theme (toggle with t).")
def review(targets: tuple[str, ...], reviewer: str | None, unified: bool, light: bool) -> None:
    """Review a change side by side and approve it or request changes.

    Compares the latest version with the working copy by default, version A with the
    working copy, or A with B (same references as `promptver diff`). Decisions go to the
    bundle's audit log with the reviewer, the time, both digests and an optional note.
    """
    open_review(targets, reviewer=reviewer, unified=unified, light=light)
