"""Signed decisions: approvals, rejections, promotions and rollbacks signed with the user's
SSH key, the way git signs commits, by the system's OpenSSH (``ssh-keygen -Y``; no
cryptography is done here).

The signed payload is the event as canonical JSON without ``seq``, ``prev`` and
``signature`` (they are added when it is appended), signed in the namespace ``promptver``:

    "signature": {"format": "ssh", "namespace": "promptver", "armored": "-----BEGIN SSH SIGNATURE-----..."}

The key comes from ``--key``, ``PROMPTVER_SIGNING_KEY``, or git's ``user.signingkey``
when ``gpg.format = ssh``. Signatures are checked against an allowed-signers file in
OpenSSH's format (the file git's ``gpg.ssh.allowedSignersFile`` uses), committed next to
the store: ``.promptver/allowed_signers`` or ``[signing] allowed_signers`` in
``config.toml`` (relative to the project root). A signature proves that the holder of a
listed key made this exact decision; it counts only when the signer's principal is the
person the event names (``actor``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptver.errors import ConfigError
from promptver.governance.identities import person, same_person
from promptver.store.store import Store

NAMESPACE = "promptver"
ENV_KEY = "PROMPTVER_SIGNING_KEY"
UNSIGNED_FIELDS = ("seq", "prev", "signature")


@dataclass(frozen=True)
class Verdict:
    """What a decision's signature proves: ``signer`` (the principal of the allowed key)
    when it is good and names the actor, else ``problem`` (None and None: unsigned)."""

    signer: str | None = None
    problem: str | None = None

    @property
    def signed(self) -> bool:
        return self.signer is not None


def payload(event: dict[str, Any]) -> bytes:
    body = {k: v for k, v in event.items() if k not in UNSIGNED_FIELDS}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _ssh_keygen() -> str:
    found = shutil.which("ssh-keygen")
    if found is None:
        raise ConfigError(
            "signing needs OpenSSH's ssh-keygen, which is not installed",
            hint="install OpenSSH (e.g. `apt-get install openssh-client`)",
        )
    return found


def _git_config(folder: Path, key: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", "config", "--get", key],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def signing_key(explicit: str | None, folder: Path) -> Path | None:
    """The private key (or the public key of one held by ssh-agent) to sign with: ``--key``,
    else ``PROMPTVER_SIGNING_KEY``, else git's ``user.signingkey`` when ``gpg.format = ssh``;
    None: decisions are not signed."""
    where = "--key"
    value = explicit
    if not value:
        value, where = os.environ.get(ENV_KEY, "").strip() or None, ENV_KEY
    if not value and _git_config(folder, "gpg.format") == "ssh":
        value, where = _git_config(folder, "user.signingkey"), "git config user.signingkey"
    if not value:
        return None
    if value.startswith(("key::", "ssh-")):
        raise ConfigError(
            f"{where} holds a literal public key; promptver signs with a key file",
            hint="set it to the path of your key, e.g. ~/.ssh/id_ed25519",
        )
    path = Path(value).expanduser()
    if not path.is_file():
        raise ConfigError(f"signing key {path} (from {where}) does not exist", hint="fix the path")
    return path


def sign(event: dict[str, Any], key: Path) -> dict[str, Any]:
    """The event with its ``signature`` (``ssh-keygen -Y sign`` over its payload)."""
    try:
        result = subprocess.run(
            [_ssh_keygen(), "-Y", "sign", "-q", "-f", str(key), "-n", NAMESPACE],
            input=payload(event),
            capture_output=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(
            f"signing with {key} timed out (a passphrase prompt?)", hint="use ssh-agent"
        ) from None
    if result.returncode != 0 or b"BEGIN SSH SIGNATURE" not in result.stdout:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise ConfigError(
            f"could not sign with {key}: {message[-1] if message else 'ssh-keygen failed'}",
            hint="check the key (a passphrase needs ssh-agent), or unset the signing key",
        )
    armored = result.stdout.decode().strip()
    return {**event, "signature": {"format": "ssh", "namespace": NAMESPACE, "armored": armored}}


def allowed_signers_path(store: Store) -> Path:
    configured = store.config.get("signing", {}).get("allowed_signers")
    if isinstance(configured, str) and configured:
        return (store.project_root / configured).resolve()
    return store.root / "allowed_signers"


_CACHE: dict[tuple[str, bytes, bytes], Verdict] = {}


def check(store: Store, event: dict[str, Any]) -> Verdict:
    """Whether an event's signature is good, by an allowed signer, who is its actor."""
    signature = event.get("signature")
    if signature is None:
        return Verdict()
    if not isinstance(signature, dict) or not isinstance(signature.get("armored"), str):
        return Verdict(problem="the signature field is malformed")
    if signature.get("namespace", NAMESPACE) != NAMESPACE:
        return Verdict(problem=f"signed in namespace {signature.get('namespace')!r}, not {NAMESPACE!r}")
    allowed = allowed_signers_path(store)
    try:
        signers = allowed.read_bytes()
    except OSError:
        return Verdict(
            problem=f"signed, but there is no allowed-signers file ({allowed}) to check it against"
        )
    key = (str(allowed), signers, payload(event) + signature["armored"].encode())
    if key not in _CACHE:
        _CACHE[key] = _check(allowed, event, signature["armored"])
    return _CACHE[key]


def _check(allowed: Path, event: dict[str, Any], armored: str) -> Verdict:
    keygen = _ssh_keygen()
    with tempfile.TemporaryDirectory(prefix="promptver-sig-") as folder:
        sig = Path(folder) / "event.sig"
        sig.write_text(armored + "\n")
        found = subprocess.run(
            [keygen, "-Y", "find-principals", "-s", str(sig), "-f", str(allowed)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        principals = [p.strip() for p in found.stdout.splitlines() if p.strip()]
        if found.returncode != 0 or not principals:
            return Verdict(problem="signed by a key that is not in the allowed-signers file")
        actor = str(event.get("actor", ""))
        matching = [p for p in principals if _names(p, actor)]
        principal = matching[0] if matching else principals[0]
        verified = subprocess.run(
            [keygen, "-Y", "verify", "-f", str(allowed), "-I", principal, "-n", NAMESPACE, "-s", str(sig)],
            input=payload(event).decode(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    if verified.returncode != 0:
        return Verdict(
            problem=f"the signature by {principal} does not verify (the event was edited after signing)"
        )
    if not matching:
        return Verdict(problem=f"signed by {principal}, but the event names {actor or 'nobody'}")
    return Verdict(signer=principal)


def _names(principal: str, actor: str) -> bool:
    """Whether an allowed-signers principal (an email, or a name) is the actor."""
    _, email = person(actor)
    if email and principal.lower() == email:
        return True
    return same_person(principal, actor)
