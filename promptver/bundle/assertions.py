"""What an assertion may say: its types and options, checked without running anything.

`check` applies these rules to every ``assert`` of ``bundle.toml`` and locates each
problem at its line and column; the eval runner applies the same rules (plus the ones that
need more than the text: importing a ``python:`` scorer, reading a schema file, a grader)
before any request. The scoring itself lives in ``promptver.evals.execution.assertions``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

TYPES = (
    "equals",
    "contains",
    "icontains",
    "not-contains",
    "not-icontains",
    "regex",
    "is-json",
    "json-schema",
    "json-field",
    "similar",
    "similar-text",
    "llm-judge",
    "latency-under",
    "cost-under",
    "sources",
)
NEEDS_VALUE = frozenset(TYPES) - {"is-json", "sources"}
COMMON_OPTIONS = ("type", "value", "weight")
OPTIONS: dict[str, tuple[str, ...]] = {
    "regex": ("ignore_case",),
    "json-field": ("path",),
    "similar": ("threshold", "embedding_model", "embedding_provider", "embedding_base_url"),
    "similar-text": ("threshold",),
    "llm-judge": ("threshold", "judge_prompt"),
}
_PYTHON_REF = re.compile(r"^python:[A-Za-z_][\w.]*:[A-Za-z_]\w*\Z")


@dataclass(frozen=True)
class AssertionProblem:
    """One thing wrong with an assertion; ``key`` is the option it is about."""

    message: str
    key: str = "type"
    hint: str | None = None


def assertion_problems(spec: dict[str, Any]) -> list[AssertionProblem]:
    """Every problem of one assertion table that can be seen in the table itself."""
    from promptver.errors import did_you_mean

    kind = spec.get("type")
    if not isinstance(kind, str):
        return [AssertionProblem("an assertion needs a 'type'", hint=f"types: {', '.join(TYPES)}")]
    problems = []
    weight = spec.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
        problems.append(AssertionProblem("'weight' must be a number >= 0", "weight"))
    if kind.startswith("python:"):
        if not _PYTHON_REF.match(kind):
            problems.append(AssertionProblem(f"{kind!r} should be python:package.module:function"))
        return problems  # a scorer reads whatever options it likes (its `config`)
    if kind not in TYPES:
        hint = did_you_mean(kind, TYPES) or f"types: {', '.join(TYPES)}"
        return [AssertionProblem(f"unknown assertion type {kind!r}", hint=hint)]
    allowed = COMMON_OPTIONS + OPTIONS.get(kind, ())
    for key in spec:
        if key not in allowed:
            extra = OPTIONS.get(kind, ())
            hint = did_you_mean(key, allowed) or (
                f"{kind!r} takes {', '.join(repr(k) for k in extra)}"
                if extra
                else f"{kind!r} takes no options"
            )
            problems.append(AssertionProblem(f"unknown option {key!r} for assertion {kind!r}", key, hint))
    if kind in NEEDS_VALUE and "value" not in spec:
        problems.append(AssertionProblem(f"assertion {kind!r} needs a 'value'"))
        return problems
    value = spec.get("value")
    templated = isinstance(value, str) and "{{" in value
    if kind == "regex" and not templated:
        try:
            re.compile(str(value))
        except re.error as exc:
            problems.append(AssertionProblem(f"bad regular expression {value!r}: {exc}", "value"))
    if kind == "regex" and not isinstance(spec.get("ignore_case", False), bool):
        problems.append(AssertionProblem("'ignore_case' must be true or false", "ignore_case"))
    if kind == "json-field" and not isinstance(spec.get("path"), str):
        problems.append(
            AssertionProblem(
                "'json-field' needs a 'path' (e.g. \"answer.items[0]\")", "path" if "path" in spec else "type"
            )
        )
    if kind in ("latency-under", "cost-under") and (
        isinstance(value, bool) or not isinstance(value, int | float)
    ):
        problems.append(AssertionProblem(f"{kind!r} needs a number", "value"))
    if kind in ("similar", "similar-text", "llm-judge"):
        threshold = spec.get("threshold", 0.8)
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
            problems.append(AssertionProblem("'threshold' must be between 0 and 1", "threshold"))
    return problems
