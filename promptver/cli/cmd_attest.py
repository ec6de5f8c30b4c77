"""`promptver attest` and `promptver verify-attestation`: in-toto attestations (DSSE) of a
version, and model-signing's signature of its files (promptver/interop/attest.py)."""

from __future__ import annotations

from pathlib import Path

import click

from promptver.cli.common import get_store, json_option, print_json, split_ref


@click.command()
@click.argument("ref", metavar="NAME@VERSION")
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write it.",
)
@click.option(
    "--key",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PEM",
    help="Elliptic-curve private key (PEM), e.g. from `ssh-keygen -t ecdsa -m PEM`.",
)
@click.option("--alias", default=None, help="The promotion to attest (default: the version's last one).")
@json_option
def attest(ref: str, out: Path, key: Path, alias: str | None, as_json: bool) -> None:
    """Write an in-toto attestation of NAME@VERSION (FILE) and model-signing's signature
    of its files (FILE.model.sig)."""
    from promptver.interop.attest import attest as do_attest

    name, version = split_ref(ref)
    written = do_attest(get_store(), name, version or "latest", out, key, alias)
    if as_json:
        print_json(written)
        return
    predicate = written["predicate"]
    click.echo(
        f"attested {predicate['bundle']}@{predicate['version']} ({written['files']} files,"
        f" {len(predicate['approvals'])} approval(s), {len(predicate['eval_runs'])} eval run(s)"
        f"{', promoted to ' + predicate['alias'] if predicate['alias'] else ''}):"
        f" {written['attestation']}, {written['model_signature']}"
    )


@click.command("verify-attestation")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--key",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PUB",
    help="The signer's public key (PEM, or OpenSSH KEY.pub).",
)
@click.option(
    "--dir",
    "folder",
    default=None,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="A checked-out version to check the files of (default: the store's copy, if any).",
)
@json_option
def verify_attestation(file: Path, key: Path, folder: Path | None, as_json: bool) -> None:
    """Check an attestation offline: signature, statement, digests, and the files."""
    from promptver.errors import PromptverError
    from promptver.interop.attest import verify_attestation as do_verify

    try:
        store = get_store()
    except PromptverError:
        store = None  # outside a project: the attestation alone (or --dir) is checked
    result = do_verify(file, key, store, folder)
    if as_json:
        print_json(result)
        return
    subject = result["subject"]
    where = (
        f"; files checked in {result['files_checked']}" if result["files_checked"] else "; files not checked"
    )
    click.echo(f"OK {subject['name']} sha256:{subject['digest']['sha256']} ({result['files']} files{where})")
