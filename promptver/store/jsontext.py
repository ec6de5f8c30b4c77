"""JSON read from files a person could have edited: parsed, or one ValueError.

``json.loads`` accepts two things promptver cannot carry on with: nesting deep enough to
raise RecursionError, and ``\\u`` escapes of half a surrogate pair, which give a Python
string that cannot be encoded (printing it later fails with UnicodeEncodeError). Both are
turned into a ValueError here, so callers keep their one ``except ValueError``.
"""

from __future__ import annotations

import json
import re
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
