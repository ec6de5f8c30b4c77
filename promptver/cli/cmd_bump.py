"""`promptver bump` and `promptver snapshot`: create versions."""

from __future__ import annotations

import click

from promptver.cli.common import get_store, json_option, print_json

LEVELS = ["auto", "major", "minor", "patch", "prerelease", "release"]


def _bump_options(func):  # type: ignore[no-untyped-def]
    func = click.option("-m", "--message", default="", help="Changelog message for this version.")(func)
    func = click.option("--dry-run", is_flag=True, help="Show the new version; change nothing.")(func)
    func = click.option(
        "--git", "use_git", is_flag=True, help="Also commit the store change and tag NAME@VERSION."
    )(func)
    func = click.option(
        "--key",
        default=None,
        metavar="PATH",
        help="SSH key to sign the bump with, so its author is a signed identity (default:"
        " PROMPTVER_SIGNING_KEY, else git's user.signingkey when gpg.format=ssh; none: unsigned).",
    )(func)
    return json_option(func)


def _signer(store, key: str | None, dry_run: bool):  # type: ignore[no-untyped-def]
    from promptver.governance.signing import signer, signing_key

    path = None if dry_run else signing_key(key, store.project_root)
    return signer(path) if path is not None else None


@click.command()
@click.argument("level", type=click.Choice(LEVELS))
@click.argument("name")
@click.option("--pre", help="Prerelease identifier, e.g. rc: minor --pre rc gives 1.3.0-rc.1.")
@click.option("--initial", help="Version of a first bump (default 0.1.0).")
@click.option("--force", is_flag=True, help="Accept a bump level lower than the changes suggest.")
@_bump_options
def bump(
    level: str,
    name: str,
    pre: str | None,
    initial: str | None,
    force: bool,
    message: str,
    dry_run: bool,
    use_git: bool,
    key: str | None,
    as_json: bool,
) -> None:
    """Snapshot bundles/NAME as the next version: LEVEL is auto (what the changes
    suggest), major, minor, patch, prerelease or release."""
    from promptver.diff.bumping import analyze_bump, prefetch_bump
    from promptver.semver import Version
    from promptver.versions.bump import bump as do_bump

    store = get_store()
    result = do_bump(
        store,
        name,
        level,
        pre=pre,
        message=message,
        initial=Version.parse(initial) if initial else None,
        dry_run=dry_run,
        force=force,
        analyzer=analyze_bump,
        prefetch=prefetch_bump,
        sign=_signer(store, key, dry_run),
    )
    _report(store, result, dry_run, use_git, as_json)


@click.command()
@click.argument("name")
@click.option(
    "--level",
    type=click.Choice(["major", "minor", "patch"]),
    default="minor",
    show_default=True,
    help="Which release the experiment leads to.",
)
@_bump_options
def snapshot(
    name: str, level: str, message: str, dry_run: bool, use_git: bool, key: str | None, as_json: bool
) -> None:
    """Record an experiment version stamped with the UTC time (1.3.0-dev.20261126T143000Z)."""
    from promptver.diff.bumping import analyze_bump, prefetch_bump
    from promptver.versions.bump import bump as do_bump

    store = get_store()
    result = do_bump(
        store,
        name,
        "snapshot",
        message=message,
        dry_run=dry_run,
        snapshot=level,
        analyzer=analyze_bump,
        prefetch=prefetch_bump,
        sign=_signer(store, key, dry_run),
    )
    _report(store, result, dry_run, use_git, as_json)


def _report(store, result, dry_run: bool, use_git: bool, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    from promptver.versions.provenance import commit_and_tag

    manifest = result.manifest
    commit = None
    if use_git and not dry_run:
        paths = [store.root, store.bundle_dir(manifest.bundle)]
        commit = commit_and_tag(
            store.project_root,
            paths,
            f"{manifest.bundle} {manifest.version}" + (f": {manifest.message}" if manifest.message else ""),
            manifest.ref,
        )
    if as_json:
        print_json(
            {
                "bundle": manifest.bundle,
                "from": result.previous.version if result.previous else None,
                "version": manifest.version,
                "digest": manifest.digest,
                "dry_run": dry_run,
                "git_commit": commit,
                "bump": manifest.bump,
                "forced": manifest.forced,
                "changes": manifest.changes,
            }
        )
        return
    prefix = "(dry run) " if dry_run else ""
    click.echo(prefix + result.summary())
    from promptver.diff.bumping import explain

    for line in explain(manifest.changes, manifest.bump):
        click.echo(line)
    if commit:
        click.echo(f"committed {commit[:10]} and tagged {manifest.ref}")
