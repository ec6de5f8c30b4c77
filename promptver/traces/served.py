"""What really served: imported spans grouped by the version they were rendered from,
checked against the versions the audit log records, and the online scores (feedback) of
each version."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

from promptver.errors import ConfigError
from promptver.store.store import Store
from promptver.traces.otlp import MAX_NS
from promptver.traces.spanstore import rows

_RELATIVE = re.compile(r"(\d{1,6})([mhd])")
_UNIT = {"m": 60, "h": 3600, "d": 86400}


def parse_since(text: str, now: float | None = None) -> int:
    """``--since``: a UTC date or time (``2026-12-01``, ``2026-12-01T10:00``, with or
    without ``Z``), or an age (``30m``, ``24h``, ``7d``); nanoseconds since 1970."""
    text = text.strip()
    match = _RELATIVE.fullmatch(text)
    if match:
        seconds = int(match.group(1)) * _UNIT[match.group(2)]
        return max(0, int(((now if now is not None else time.time()) - seconds) * 1e9))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"--since {text!r} is neither a UTC date or time nor an age",
            hint="e.g. --since 2026-12-01, --since 2026-12-01T10:00Z, --since 24h or --since 7d",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return min(MAX_NS, max(0, int(moment.timestamp()) * 1_000_000_000))


def iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _known(store: Store, name: str) -> dict[str, str]:
    """version -> digest of every version the log records for ``name``."""
    found: dict[str, str] = {}
    for version, event in store.recorded_versions(name).items():
        digest = event.get("digest")
        if isinstance(digest, str):
            found[version] = digest
    return found


def served(store: Store, name: str, since_ns: int = 0) -> dict[str, Any]:
    """Which versions of ``name`` served how many requests (traces), when, under which
    alias; every group whose digest is not the one the log records for that version is
    flagged (``problem``): something served that was never bumped, or a relabelled one."""
    known = _known(store, name)
    by_digest = {digest: version for version, digest in known.items()}
    groups = []
    for version, digest, alias, requests, spans, first, last in rows(
        store,
        "SELECT version, digest, alias, COUNT(DISTINCT trace_id), COUNT(*), MIN(start_ns), MAX(start_ns)"
        " FROM spans WHERE bundle = ? AND start_ns >= ? GROUP BY version, digest, alias"
        " ORDER BY MAX(start_ns) DESC",
        (name, since_ns),
    ):
        problem = None
        if digest is None:
            problem = "no readable promptver.bundle.digest on these spans"
        elif version is None:
            owner = by_digest.get(digest, "no version")
            problem = f"no readable promptver.bundle.version on these spans (the digest is {owner}'s)"
        elif digest not in by_digest:
            problem = "no version in the log has this digest: it was never bumped"
        elif known.get(version) != digest:
            problem = f"stamped {version}, but this digest is version {by_digest[digest]}"
        groups.append(
            {
                "version": version,
                "digest": digest,
                "alias": alias,
                "requests": requests,
                "spans": spans,
                "first": iso(first),
                "last": iso(last),
                "problem": problem,
            }
        )
    return {"bundle": name, "since": iso(since_ns) if since_ns else None, "served": groups}


def last_serving(store: Store, name: str, alias: str) -> dict[str, Any] | None:
    """The last span stamped ``name`` through ``alias``: which version, when."""
    found = rows(
        store,
        "SELECT version, digest, start_ns, trace_id FROM spans WHERE bundle = ? AND alias = ?"
        " ORDER BY start_ns DESC LIMIT 1",
        (name, alias),
    )
    if not found:
        return None
    version, digest, start, trace_id = found[0]
    known = _known(store, name)
    return {
        "version": version,
        "digest": digest,
        "time": iso(start),
        "trace_id": trace_id,
        "known": digest is not None and known.get(version) == digest,
    }


def online_scores(store: Store, name: str) -> dict[str, dict[str, Any]]:
    """digest -> ``{"version", "count", "mean"}`` of the feedback given on the traces that
    rendered that version (feedback on any span of a trace counts for the versions stamped
    in that trace, once per feedback span)."""
    found: dict[str, dict[str, Any]] = {}
    for version, digest, count, mean in rows(
        store,
        "SELECT s.version, s.digest, COUNT(*), AVG(f.feedback) FROM"
        " (SELECT DISTINCT version, digest, trace_id FROM spans WHERE bundle = ? AND digest IS NOT NULL) s"
        " JOIN spans f ON f.trace_id = s.trace_id AND f.feedback IS NOT NULL"
        " GROUP BY s.version, s.digest",
        (name,),
    ):
        found[digest] = {"version": version, "count": count, "mean": mean}
    return found


def online_by_version(store: Store, name: str) -> dict[str, dict[str, Any]]:
    """version -> ``{"count", "mean"}`` for the versions whose stamped digest is the one
    the log records (an unknown digest is `served`'s business, not a version's score)."""
    known = _known(store, name)
    return {
        found["version"]: {"count": found["count"], "mean": round(found["mean"], 4)}
        for digest, found in online_scores(store, name).items()
        if known.get(found["version"]) == digest
    }
