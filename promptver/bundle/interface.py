"""A template's interface: the variables it reads, required or optional. Kept apart from
the analyser (``bundle/variables.py``, which needs jinja2) so that diff results can carry
it without importing jinja2."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Variables:
    """Template variables of one side: ``required`` are used unguarded, ``optional`` only
    under ``is defined`` or ``| default``."""

    required: frozenset[str]
    optional: frozenset[str]

    @property
    def all(self) -> frozenset[str]:
        return self.required | self.optional

    def to_json(self) -> dict[str, Any]:
        return {"required": sorted(self.required), "optional": sorted(self.optional)}
