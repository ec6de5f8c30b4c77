"""Impact classes: the default rules and the bundle's ``[versioning.impact]`` overrides.

Every change is classified by a *rule* (``"model.provider"``, ``"template.removed"``...).
A bundle may override any rule, and for field rules a single field under it
(``"model.params.temperature" = "patch"``), in ``bundle.toml``:

    [versioning.impact]
    "model.params" = "major"
    "model.params.temperature" = "patch"
    "evals.case" = "minor"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from promptver.errors import Problem, did_you_mean


class Impact(StrEnum):
    """Semver impact of a change; compares by size (``Impact.MAJOR > Impact.PATCH``)."""

    PATCH = "patch"
    MINOR = "minor"
    MAJOR = "major"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Impact):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Impact):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Impact):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Impact):
            return NotImplemented
        return self.rank >= other.rank


_RANK = {Impact.PATCH: 0, Impact.MINOR: 1, Impact.MAJOR: 2}


def largest(impacts: Any) -> Impact | None:
    """The largest impact of an iterable, or None when it is empty."""
    best: Impact | None = None
    for impact in impacts:
        if best is None or impact > best:
            best = impact
    return best


MAJOR, MINOR, PATCH = Impact.MAJOR, Impact.MINOR, Impact.PATCH

# rule -> (default impact, what it covers). The order is the documentation order.
RULES: dict[str, tuple[Impact, str]] = {
    "model.provider": (MAJOR, "provider changed: callers' client code differs"),
    "model.name": (MINOR, "model changed"),
    "model.params": (MINOR, "a model parameter added, removed or changed"),
    "model.base_url": (MINOR, "the model endpoint changed"),
    "model.encoding": (PATCH, "tokenizer used for token counts changed"),
    "model.response_format": (MAJOR, "response format or JSON schema changed"),
    "model.other": (MINOR, "another model setting changed"),
    "system.added": (MINOR, "system prompt added"),
    "system.removed": (MINOR, "system prompt removed"),
    "system.text": (MINOR, "system prompt text changed"),
    "system.whitespace": (PATCH, "system prompt whitespace or comments changed"),
    "template.added": (MINOR, "template added"),
    "template.removed": (MAJOR, "template removed: callers using it break"),
    "template.renamed": (MAJOR, "template renamed: callers using the old name break"),
    "template.moved": (PATCH, "template file moved, same name and content"),
    "template.text": (MINOR, "template text changed"),
    "template.whitespace": (PATCH, "template whitespace or comments changed"),
    "template.variable_required": (MAJOR, "a required template variable added or removed"),
    "template.variable_optional": (MINOR, "an optional template variable added or removed"),
    "template.invalid": (MAJOR, "a template no longer parses"),
    "rag.added": (MINOR, "RAG configuration added"),
    "rag.removed": (MAJOR, "RAG configuration removed"),
    "rag.embedding_model": (MAJOR, "embedding model changed: the vector index no longer fits"),
    "rag.chunking": (MINOR, "chunking changed: the index must be rebuilt"),
    "rag.corpus": (MINOR, "corpus reference changed: the index must be rebuilt"),
    "rag.top_k": (MINOR, "retrieval depth changed"),
    "rag.retriever": (MINOR, "retriever changed"),
    "rag.reranker": (MINOR, "reranker changed"),
    "rag.other": (MINOR, "another RAG setting changed"),
    "corpus.document": (MINOR, "corpus document added, removed or changed"),
    "evals.dataset": (PATCH, "eval dataset added, removed or reconfigured"),
    "evals.case": (PATCH, "eval cases added, removed or changed"),
    "evals.judge": (PATCH, "the judge (grader or judge prompt) changed: judged scores mean something else"),
    "metadata": (PATCH, "description, owners or tags changed"),
    "versioning": (PATCH, "the versioning policy changed"),
    "files.other": (PATCH, "a file no component refers to changed"),
    "bundle.invalid": (MAJOR, "bundle.toml no longer parses"),
}

# Rules whose overrides may also name one field below them ("model.params.temperature").
FIELD_RULES = ("model.params", "model.other", "rag.other", "rag.chunking", "metadata")


@dataclass(frozen=True)
class Policy:
    """Default rules plus a bundle's overrides (flattened dotted keys)."""

    overrides: Mapping[str, Impact] = field(default_factory=dict)

    def impact(self, rule: str, field_name: str | None = None) -> Impact:
        if field_name is not None:
            specific = self.overrides.get(f"{rule}.{field_name}")
            if specific is not None:
                return specific
        override = self.overrides.get(rule)
        if override is not None:
            return override
        return RULES[rule][0]


def parse_policy(table: Any, file: str = "bundle.toml") -> tuple[Policy, list[Problem]]:
    """The policy of a ``[versioning]`` table, with every problem found in it.

    Invalid entries are reported and ignored, so a diff never fails on a bad policy;
    ``check`` turns the problems into errors.
    """
    problems: list[Problem] = []
    if table is None:
        return Policy(), problems
    if not isinstance(table, dict):
        problems.append(Problem("[versioning] must be a table", file=file))
        return Policy(), problems
    for key in table:
        if key != "impact":
            problems.append(
                Problem(
                    f"unknown key versioning.{key}",
                    file=file,
                    hint=did_you_mean(key, ["impact"]) or "the table holds `impact` only",
                )
            )
    impact = table.get("impact", {})
    if not isinstance(impact, dict):
        problems.append(Problem("versioning.impact must be a table", file=file))
        return Policy(), problems
    overrides: dict[str, Impact] = {}
    for key, value in _flatten(impact):
        where = f"versioning.impact.{key!r}" if "." in key else f"versioning.impact.{key}"
        if not _known(key):
            problems.append(
                Problem(
                    f"unknown impact rule {key!r} in {where}",
                    file=file,
                    hint=did_you_mean(key, list(RULES)) or "see docs/diff.md for the rules",
                )
            )
            continue
        if value not in ("major", "minor", "patch"):
            problems.append(
                Problem(
                    f'{where} must be "major", "minor" or "patch", not {value!r}',
                    file=file,
                )
            )
            continue
        overrides[key] = Impact(value)
    return Policy(overrides), problems


def _known(key: str) -> bool:
    if key in RULES:
        return True
    return any(key.startswith(rule + ".") and len(key) > len(rule) + 1 for rule in FIELD_RULES)


def _flatten(table: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested tables (from unquoted dotted keys) become dotted names again."""
    out: list[tuple[str, Any]] = []
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and name not in RULES:
            out += _flatten(value, name + ".")
        else:
            out.append((name, value))
    return out
