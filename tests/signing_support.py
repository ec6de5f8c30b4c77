"""Throw-away SSH keys for the signing tests (real OpenSSH ``ssh-keygen``), and the log
surgery an attacker without a key can do: move or copy lines, then re-chain ``seq`` and
``prev`` (which are not secret) so the hash chain holds again."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any


def make_key(folder: Path, name: str) -> tuple[Path, str]:
    """A new ed25519 key pair: (private key path, public key line)."""
    folder.mkdir(parents=True, exist_ok=True)
    key = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
    return key, key.with_suffix(".pub").read_text().strip()


def rechain(lines: list[bytes]) -> list[bytes]:
    """The lines with ``seq`` and ``prev`` set as ``Store.append_event`` would (lines that
    were already in place stay byte-identical)."""
    import hashlib

    out: list[bytes] = []
    for line in lines:
        event: dict[str, Any] = json.loads(line)
        event["seq"] = len(out) + 1
        event["prev"] = hashlib.sha256(out[-1]).hexdigest() if out else None
        out.append(json.dumps(event, sort_keys=True, ensure_ascii=False).encode())
    return out


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
