"""Reading a bundle's audit log (``bundles/<name>/log.jsonl``) and event timestamps.

Writing stays with ``Store.append_event`` (it holds the chain); this module is the one
place where higher layers (aliases, approvals, eval records) read events by kind.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from promptver.errors import IntegrityError
from promptver.store import jsontext

if TYPE_CHECKING:
    from promptver.store.store import Store


def utc_now() -> str:
    """The event time format: ``2026-11-26T15:20:00Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def parse_event(line: bytes, where: str) -> dict[str, Any]:
    """One log line as its event; IntegrityError (at ``where``, ``file:line``) for a line that
    is not JSON or is JSON but not an object (``[1,2]``, ``null``): the log was edited."""
    try:
        event = jsontext.loads(line)
    except ValueError as exc:
        event = None
        what = f"is not JSON ({str(exc).split(':')[0]})"
    else:
        what = f"is JSON but not an event object ({type(event).__name__})"
    if not isinstance(event, dict):
        raise IntegrityError(
            f"audit log line {what}",
            location=where,
            hint="the log was edited by hand; run `promptver verify`",
        )
    return event


def log_events(store: Store, name: str, *kinds: str) -> list[dict[str, Any]]:
    """The events of these kinds, in log order. Lines that cannot be one of them (no
    ``"kind"`` token) are skipped before JSON parsing: logs only grow, moves replay them."""
    path = store.log_path(name)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    tokens = [json.dumps(kind).encode() for kind in kinds]
    found = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not any(token in line for token in tokens):
            continue
        event = parse_event(line, f"{path}:{number}")
        if event.get("event") in kinds:
            found.append(event)
    return found
