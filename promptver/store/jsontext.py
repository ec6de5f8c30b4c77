"""JSON read from files a person could have edited: parsed, or one ValueError.

``json.loads`` accepts two things promptver cannot carry on with: nesting deep enough to
raise RecursionError, and ``\\u`` escapes of half a surrogate pair, which give a Python
string that cannot be encoded (printing it later fails with UnicodeEncodeError). Both are
turned into a ValueError here, so callers keep their one ``except ValueError``.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def loads(data: bytes) -> Any:
    """Parse JSON bytes; ValueError (with a reason) for anything that is not JSON text."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if has_surrogate_escape(data):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("a \\u escape is half of a surrogate pair, which is not text") from None
    return value


def has_surrogate_escape(data: bytes) -> bool:
    """Whether the text holds a ``\\u`` escape of a surrogate (half of a pair, or a pair)."""
    return _SURROGATE_ESCAPE.search(data) is not None


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cycle collector off while many JSON objects are decoded (log events, eval
    cases): they make no cycles, yet every few hundred new containers would start a
    collection that walks all the objects kept so far (a quarter of a large pass)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if gc.get_count()[0] > _MANY_NEW:
                # The objects made meanwhile (a long log's million parsed dicts) are moved
                # to the oldest generation unexamined: the young pass that enabling the
                # collector sets off walked them all (0.15 s at 100,000 events) to find no
                # cycle. A cycle among them is still found, by the next full collection.
                gc.freeze()
                gc.unfreeze()
            gc.enable()


_MANY_NEW = 100_000  # containers made during a pause, past which they are not walked young
