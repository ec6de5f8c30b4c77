"""Semantic diff of bundles: one module per component kind, the model in ``model.py``.

Importing this package is cheap; jinja2, deepdiff and tiktoken load only when a
component that needs them has changed.
"""

from __future__ import annotations

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
