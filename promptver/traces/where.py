"""``--where``: which spans become eval cases. A small syntax, on purpose.

A clause is ``KEY OP VALUE``; ``OP`` is one of ``= != < <= > >=``; several clauses (repeated
``--where``, or joined with `` and ``) must all hold. Keys:

- ``status``: ``error`` when the span or any span of its trace ended in error, else the
  span's own status (``ok`` or ``unset``);
- ``feedback.score``: the span's own feedback (0 to 1, thumbs down is 0), else the lowest
  feedback on any span of its trace; a span without feedback never matches;
- ``name`` (the span name), ``trace_id``, ``template``, ``version``, ``alias`` (the stamps);
- any other key is a span attribute, e.g. ``gen_ai.response.model=gpt-4o-mini`` or
  ``app.route=/refunds``.

``<`` ``<=`` ``>`` ``>=`` compare numbers (VALUE must be one); ``=`` and ``!=`` compare
numbers as numbers and anything else as text (booleans are ``true``/``false``). A span that
lacks the key matches no clause on it, not even ``!=``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from promptver.errors import ConfigError

_CLAUSE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.\-]{0,255})\s*(<=|>=|!=|=|<|>)\s*(.*?)\s*")
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_SHORT = {
    "template": "promptver.template",
    "version": "promptver.bundle.version",
    "alias": "promptver.bundle.alias",
}
HINT = "e.g. --where 'feedback.score<0.5', --where status=error, --where app.route=/refunds"


@dataclass(frozen=True)
class Clause:
    key: str
    op: str
    value: str

    def holds(self, facts: dict[str, Any]) -> bool:
        actual = facts.get(_SHORT.get(self.key, self.key))
        if actual is None:
            return False
        wanted = _number(self.value)
        if self.op in _ORDER:
            have = actual if isinstance(actual, int | float) and not isinstance(actual, bool) else None
            return have is not None and wanted is not None and _ORDER[self.op](have, wanted)
        if isinstance(actual, bool):
            equal = self.value.lower() == ("true" if actual else "false")
        elif isinstance(actual, int | float) and wanted is not None:
            equal = actual == wanted
        elif isinstance(actual, list):
            equal = self.value in [str(v) for v in actual]
        else:
            equal = str(actual) == self.value
        return equal if self.op == "=" else not equal


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def parse_where(texts: tuple[str, ...] | list[str]) -> list[Clause]:
    """Every clause of every ``--where``; a ConfigError naming the bad one."""
    clauses = []
    for text in texts:
        for part in re.split(r"\s+and\s+", text.strip()):
            match = _CLAUSE.fullmatch(part)
            if match is None or not match.group(3):
                raise ConfigError(f"--where {part!r} is not KEY OP VALUE (OP: = != < <= > >=)", hint=HINT)
            key, op, value = match.groups()
            if op in _ORDER and _number(value) is None:
                raise ConfigError(
                    f"--where {part!r}: {op} compares numbers, and {value!r} is not one", hint=HINT
                )
            clauses.append(Clause(key, op, value))
    return clauses
