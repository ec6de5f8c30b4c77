"""Semantic diff of bundles: one module per component kind, the model in ``model.py``.

Importing this package is cheap (the model loads on first use); jinja2, deepdiff and
tiktoken load only when a component that needs them has changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptver.diff.model import (
        SCHEMA_VERSION,
        BundleDiff,
        CaseChange,
        Change,
        ChunkCounts,
        ComponentDiff,
        EvalDiff,
        FieldChange,
        FileChange,
        FilesDiff,
        Hunk,
        Impact,
        Line,
        RagDiff,
        Row,
        Segment,
        Side,
        SideInfo,
        Summary,
        TextDiff,
        TokenCounts,
        Variables,
    )

__all__ = [
    "SCHEMA_VERSION",
    "BundleDiff",
    "CaseChange",
    "Change",
    "ChunkCounts",
    "ComponentDiff",
    "EvalDiff",
    "FieldChange",
    "FileChange",
    "FilesDiff",
    "Hunk",
    "Impact",
    "Line",
    "RagDiff",
    "Row",
    "Segment",
    "Side",
    "SideInfo",
    "Summary",
    "TextDiff",
    "TokenCounts",
    "Variables",
]


def __getattr__(name: str) -> Any:
    """The model's names, imported on first use: a bump with nothing to compare (a first
    version) never builds the model's 22 dataclasses (12 ms)."""
    if name in __all__:
        from promptver.diff import model

        return getattr(model, name)
    raise AttributeError(f"module 'promptver.diff' has no attribute {name!r}")
