"""`promptver remote add/list/remove`, `push`, `pull` and `fetch`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from promptver.cli.common import get_store, json_option, print_json, progress, split_ref

if TYPE_CHECKING:
    from promptver.remote.sync import SyncResult


@click.group()
def remote() -> None:
    """Manage remotes: object storage (S3, GCS, Azure) or a shared folder."""


@remote.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--endpoint", help="S3-compatible endpoint URL (R2, MinIO, SeaweedFS...).")
@click.option("--region", help="Region of the bucket (S3).")
@click.option(
    "--objects-remote",
    is_flag=True,
    help='Keep objects/ out of git ([store] objects = "remote"): contents come from this remote.',
)
def remote_add(name: str, url: str, endpoint: str | None, region: str | None, objects_remote: bool) -> None:
    """Add a remote: s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, az://CONTAINER/PREFIX or file:///PATH.

    Credentials are never stored: they come from the environment (AWS_ACCESS_KEY_ID...,
    GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_ACCOUNT_KEY...)."""
    from promptver.remote.config import add_remote, set_objects_mode

    store = get_store()
    found = add_remote(store, name, url, endpoint, region)
    click.echo(f"Added remote {found.name}: {found.url}" + (f" (endpoint {endpoint})" if endpoint else ""))
    if objects_remote:
        set_objects_mode(store, "remote")
        click.echo("objects/ is now kept out of git; contents are fetched from the remote when read")


@remote.command("list")
@json_option
def remote_list(as_json: bool) -> None:
    """List the configured remotes."""
    from promptver.remote.config import objects_mode, remotes

    store = get_store()
    found = remotes(store)
    if as_json:
        print_json({"objects": objects_mode(store), "remotes": [r.to_json() for r in found.values()]})
        return
    if not found:
        click.echo("no remotes (add one with `promptver remote add origin s3://BUCKET/PREFIX`)")
    for entry in found.values():
        extra = "".join(
            f"  {k}={v}" for k, v in (("endpoint", entry.endpoint), ("region", entry.region)) if v
        )
        click.echo(f"{entry.name}  {entry.url}{extra}")


@remote.command("remove")
@click.argument("name")
def remote_remove(name: str) -> None:
    """Remove a remote from the config (nothing on the remote is deleted)."""
    from promptver.remote.config import remove_remote

    found = remove_remote(get_store(), name)
    click.echo(f"Removed remote {found.name} ({found.url})")


def _remote_option(func):  # type: ignore[no-untyped-def]
    return click.option("--remote", "remote_name", help="Remote name (default: origin, or the only one).")(
        func
    )


@click.command()
@click.argument("ref", required=False)
@_remote_option
@json_option
def push(ref: str | None, remote_name: str | None, as_json: bool) -> None:
    """Upload what the remote lacks: objects, manifests, the audit log, aliases and runs.

    REF: NAME or NAME@VERSION (default: every bundle)."""
    from promptver.remote.sync import open_remote
    from promptver.remote.sync import push as do_push

    store = get_store()
    name, version = split_ref(ref) if ref else (None, None)
    remote = open_remote(store, remote_name)
    with progress("pushing") as update:
        results = do_push(store, remote, name, version, update)
    _report(results, as_json, "pushed to", remote.config.url)


@click.command()
@click.argument("name", required=False)
@_remote_option
@click.option("--objects", "eager", is_flag=True, help="Download every object now (default: when read).")
@json_option
def pull(name: str | None, remote_name: str | None, eager: bool, as_json: bool) -> None:
    """Bring the remote's history: versions, events, aliases and runs.

    Local events not yet pushed are put after the remote's; only true conflicts (the same
    alias moved on both sides) are refused."""
    from promptver.remote.sync import open_remote
    from promptver.remote.sync import pull as do_pull

    store = get_store()
    remote = open_remote(store, remote_name)
    with progress("pulling") as update:
        results = do_pull(store, remote, name, eager, update)
    _report(results, as_json, "pulled from", remote.config.url)


@click.command()
@click.argument("ref", required=False)
@_remote_option
@json_option
def fetch(ref: str | None, remote_name: str | None, as_json: bool) -> None:
    """Download (verified) the objects of versions that are missing here.

    REF: NAME or NAME@VERSION (default: every version of every bundle)."""
    from promptver.remote.sync import fetch_objects, open_remote

    store = get_store()
    remote = open_remote(store, remote_name)
    if ref:
        name, version = split_ref(ref)
        manifests = [store.resolve(name, version)] if version else store.versions(name)
    else:
        manifests = [m for n in store.bundle_names() for m in store.versions(n)]
    with progress("fetching") as update:
        count, size = fetch_objects(store, remote, manifests, update)
    if as_json:
        print_json({"remote": remote.config.url, "objects": count, "bytes": size})
    else:
        click.echo(f"fetched {count} object(s), {size:,} bytes, from {remote.config.url}")


def listed(versions: list[str], most: int = 5) -> str:
    """The newest ``most`` versions, and how many earlier ones are not named: the count
    printed before them always matches (``0.3.0, ..., 0.7.0 and 2 earlier``)."""
    shown = ", ".join(versions[-most:])
    return shown if len(versions) <= most else f"{shown} and {len(versions) - most} earlier"


def _report(results: list[SyncResult], as_json: bool, verb: str, url: str) -> None:
    if as_json:
        print_json({"remote": url, "bundles": [r.to_json() for r in results]})
        return
    if not results:
        click.echo(f"nothing {verb} {url}")
    for r in results:
        parts = []
        if r.versions:
            parts.append(f"{len(r.versions)} version(s) ({listed(r.versions)})")
        if r.events:
            parts.append(f"{r.events} event(s)")
        if r.objects:
            parts.append(f"{r.objects} object(s), {r.bytes:,} bytes")
        if r.runs:
            parts.append(f"{r.runs} run(s)")
        if r.relinked:
            parts.append(f"{r.relinked} local event(s) put after the remote's (push them next)")
        click.echo(f"{r.bundle}: " + ("; ".join(parts) + f" {verb} {url}" if parts else "up to date"))
