"""A signed, expiring statement of where a remote bundle's log ends (TUF's timestamp role,
without TUF: see docs/architecture.md): ``bundles/<name>/timestamp.json``.

    {"event": "timestamp", "bundle": "bot", "events": 12, "head": "<sha256 of line 12>",
     "time": "2026-12-06T04:00:00Z", "expires": "2026-12-13T04:00:00Z", "actor": "...",
     "signature": {...}}                       # ssh-keygen -Y, promptver/governance/signing.py

``push`` writes it when a signing key is set up and ``[remote] max_age`` is set in
config.toml ("7d", "12h", "30m" or seconds). A client that checks signatures
(``PROMPTVER_ALLOWED_SIGNERS`` at run time) and finds the statement expired knows the
remote stopped being refreshed (a freeze) or is an old copy; `follow` reports it in
``stale`` and ``last_error``, and keeps serving.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from promptver.errors import ConfigError, IntegrityError
from promptver.store.digests import sha256_bytes
from promptver.store.events import utc_now
from promptver.store.store import Store

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def timestamp_key(name: str) -> str:
    return f"bundles/{name}/timestamp.json"


def parse_age(value: object, where: str) -> float:
    """Seconds from ``7d`` / ``12h`` / ``30m`` / ``45s`` or a number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", value) if isinstance(value, str) else None
    if found is None or float(found.group(1)) <= 0:
        raise ConfigError(
            f"max_age = {value!r} is not a duration", location=where, hint='use e.g. "7d" or "12h"'
        )
    return float(found.group(1)) * _UNITS[found.group(2)]


def max_age(store: Store) -> float | None:
    """``[remote] max_age`` of config.toml, in seconds (None: not set)."""
    table = store.config.get("remote", {})
    value = table.get("max_age") if isinstance(table, dict) else None
    return None if value is None else parse_age(value, str(store.root / "config.toml"))


def _epoch(stamp: str) -> float:
    import calendar

    return float(calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")))


def make(store: Store, name: str, lines: list[bytes], age: float, key: Any) -> bytes:
    """The signed statement that ``name``'s log ends with these lines, valid for ``age``."""
    from promptver.governance.signing import sign_statement
    from promptver.versions.provenance import identity

    now = time.time()
    statement = {
        "event": "timestamp",
        "bundle": name,
        "events": len(lines),
        "head": sha256_bytes(lines[-1]) if lines else None,
        "time": utc_now(),
        "expires": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + age)),
        "actor": identity(store.project_root),
    }
    return json.dumps(sign_statement(statement, key), sort_keys=True).encode() + b"\n"


def check(store: Store, name: str, data: bytes, lines: list[bytes], where: str) -> float:
    """The expiry (epoch seconds) of a signed statement about ``lines`` (the verified log),
    after checking its signature against ``store``'s allowed signers; `IntegrityError` when
    it is not a good statement of this log."""
    from promptver.governance.signing import check as check_signature

    try:
        statement = json.loads(data)
        events, expires = statement["events"], _epoch(statement["expires"])
    except (ValueError, KeyError, TypeError, OverflowError):
        raise IntegrityError("the remote's timestamp is not a valid statement", location=where) from None
    verdict = check_signature(store, statement, name)
    if verdict.signer is None:
        raise IntegrityError(
            f"the remote's timestamp for {name} is not signed by an allowed signer:"
            f" {verdict.problem or 'unsigned'}",
            location=where,
            hint="push again with a signing key listed in allowed_signers",
        )
    if (
        statement.get("bundle") != name
        or not isinstance(events, int)
        or not 0 < events <= len(lines)
        or statement.get("head") != sha256_bytes(lines[events - 1])
    ):
        raise IntegrityError(f"the remote's timestamp for {name} does not describe its log", location=where)
    return expires


def stale_message(name: str, expires: float, url: str) -> str:
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))
    return (
        f"the remote's signed timestamp for {name} on {url} expired at {when}: nobody with a"
        " signing key has pushed since, or the remote is an old copy (frozen?)"
    )
