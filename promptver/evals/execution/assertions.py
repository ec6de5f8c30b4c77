"""Assertions: how one output is scored.

Every type is checked by ``validate`` before any request is sent (unknown type, missing
value, bad regex, bad schema, unimportable scorer), and ``evaluate`` never raises: a
scorer that fails gives a failed result with the reason. String values may use Jinja2
(``"{{ expected }}"``) over the case's vars plus ``expected`` and ``id``; a value that is
exactly one ``{{ name }}`` keeps the variable's JSON type.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from promptver.bundle.assertions import assertion_problems
from promptver.errors import ConfigError
from promptver.evals.execution.bundle import BundleView, Case
from promptver.evals.execution.providers import Completion, Usage

_SINGLE_VAR = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}\Z")
_FENCE = re.compile(r"^```(?:json)?\s*\n(.*?)\n?```\n?\Z", re.DOTALL)

Judge = Callable[[list[dict[str, str]]], Awaitable[Completion]]


@dataclass(frozen=True)
class AssertionResult:
    type: str
    passed: bool
    score: float
    weight: float
    reason: str = ""
    judge: dict[str, Any] | None = None  # the judge's digest, on judged scores
    error: str | None = None  # no verdict at all (the judge never replied validly)

    def to_json(self) -> dict[str, Any]:
        out = {
            "type": self.type,
            "pass": self.passed,
            "score": round(self.score, 6),
            "weight": self.weight,
            "reason": self.reason,
        }
        if self.judge is not None:
            out["judge"] = self.judge
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass
class Context:
    """What a scorer may look at besides the output."""

    case: Case
    bundle: BundleView | None = None
    prompt: str = ""
    latency_ms: float | None = None
    cost: float | None = None
    usage: Usage | None = None
    sources: list[str] = field(default_factory=list)
    judge: Judge | None = None
    embedders: Any = None  # `semantic.Embedders` of `similar` with embedding_model
    grader: Any = None  # the grader's CachedModel (its model and parameters name the judge)
    judge_prompt: str | None = None  # the dataset's judge prompt file (None: built in)


def validate(spec: dict[str, Any], where: str, *, has_grader: bool) -> None:
    """Raise ConfigError for an assertion that can never be evaluated: the rules of
    `promptver.bundle.assertions` (which `check` applies too), then what they cannot see."""
    problems = assertion_problems(spec)
    if problems:
        first = problems[0]
        raise ConfigError(f"{where}: {first.message}", hint=first.hint)
    kind = str(spec["type"])
    if kind.startswith("python:"):
        load_scorer(kind, where)
        return
    value = spec.get("value")
    if kind == "json-schema" and isinstance(value, dict):
        _check_schema(value, where)
    if kind == "llm-judge" and "judge_prompt" in spec and not isinstance(spec["judge_prompt"], str):
        raise ConfigError(f"{where}: 'judge_prompt' must be the path of a file in the bundle")
    if kind == "llm-judge" and not has_grader:
        raise ConfigError(
            f"{where}: 'llm-judge' needs a grader model",
            hint='add grader = { provider = "...", name = "..." } to the dataset',
        )


def import_python_ref(ref: str, where: str) -> Callable[..., Any]:
    """The function a ``python:package.module:function`` reference names (targets and
    scorers), or a `ConfigError` saying what is wrong with it."""
    parts = ref.split(":")
    if len(parts) != 3 or parts[0] != "python" or not parts[1] or not parts[2]:
        raise ConfigError(f"{where}: {ref!r} should be python:package.module:function")
    try:
        module = importlib.import_module(parts[1])
    except ImportError as exc:
        raise ConfigError(
            f"{where}: cannot import {parts[1]!r}: {exc}",
            hint="run from the folder that holds the module, or install it",
        ) from exc
    function = getattr(module, parts[2], None)
    if not callable(function):
        raise ConfigError(f"{where}: {parts[1]!r} has no function {parts[2]!r}")
    return function


def _check_schema(schema: dict[str, Any], where: str) -> None:
    import jsonschema

    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ConfigError(f"{where}: invalid JSON Schema: {exc.message}") from exc


def load_scorer(kind: str, where: str) -> Callable[..., Any]:
    """``python:package.module:function`` -> the function."""
    return import_python_ref(kind, where)


def interpolate(value: Any, case: Case) -> Any:
    """Render Jinja2 in string values with the case's vars, ``expected`` and ``id``."""
    if isinstance(value, list):
        return [interpolate(v, case) for v in value]
    if not isinstance(value, str) or ("{{" not in value and "{%" not in value):
        return value
    names = {**case.vars, "vars": case.vars, "expected": case.expected, "id": case.id}
    single = _SINGLE_VAR.match(value.strip())
    if single and single.group(1) in names:
        return names[single.group(1)]
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(undefined=jinja2.StrictUndefined)
    return env.from_string(value).render(**names)


def parse_json(output: str) -> Any:
    text = output.strip()
    fenced = _FENCE.match(text)
    return json.loads(fenced.group(1) if fenced else text)


def json_path(data: Any, path: str) -> Any:
    """Follow ``a.b[0].c`` into parsed JSON; KeyError when a step is missing."""
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        if index:
            if not isinstance(data, list) or int(index) >= len(data):
                raise KeyError(path)
            data = data[int(index)]
        else:
            if not isinstance(data, dict) or name not in data:
                raise KeyError(path)
            data = data[name]
    return data


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


async def evaluate(spec: dict[str, Any], output: str, ctx: Context) -> AssertionResult:
    kind = str(spec.get("type"))
    weight = float(spec.get("weight", 1))
    judge = error = None
    try:
        value = interpolate(spec.get("value"), ctx.case)
        if kind == "llm-judge":
            from promptver.evals.execution.judges import judge_assertion

            passed, score, reason, judge = await judge_assertion(spec, str(value), output, ctx)
        else:
            passed, score, reason = await _score(kind, spec, value, output, ctx)
    except Exception as exc:  # a scorer's own failure is that assertion's failure
        passed, score, reason = False, 0.0, f"{type(exc).__name__}: {exc}"
        if getattr(exc, "per_case", False):  # no verdict: the case's error, never a pass
            reason = error = str(exc)
    return AssertionResult(kind, passed, max(0.0, min(1.0, score)), weight, reason, judge, error)


def _bool(ok: bool, reason: str) -> tuple[bool, float, str]:
    return ok, 1.0 if ok else 0.0, "" if ok else reason


async def _score(
    kind: str, spec: dict[str, Any], value: Any, output: str, ctx: Context
) -> tuple[bool, float, str]:
    if kind == "equals":
        if isinstance(value, str):
            return _bool(output.strip() == value.strip(), f"expected {value!r}")
        try:
            return _bool(parse_json(output) == value, f"expected {json.dumps(value)}")
        except ValueError:
            return False, 0.0, "output is not JSON"
    if kind in ("contains", "icontains", "not-contains", "not-icontains"):
        fold = kind.endswith("icontains")
        haystack = output.casefold() if fold else output
        needles = _as_list(value)
        found = [n for n in needles if (n.casefold() if fold else n) in haystack]
        if kind.startswith("not-"):
            return _bool(not found, f"output contains {found[0]!r}" if found else "")
        missing = [n for n in needles if n not in found]
        return _bool(not missing, f"output lacks {missing[0]!r}" if missing else "")
    if kind == "regex":
        flags = re.IGNORECASE if spec.get("ignore_case") else 0
        return _bool(re.search(str(value), output, flags) is not None, f"no match for /{value}/")
    if kind == "is-json":
        try:
            parse_json(output)
            return True, 1.0, ""
        except ValueError as exc:
            return False, 0.0, f"not JSON: {exc}"
    if kind == "json-schema":
        return _json_schema(value, output, ctx)
    if kind == "json-field":
        try:
            found = json_path(parse_json(output), str(spec["path"]))
        except ValueError:
            return False, 0.0, "output is not JSON"
        except KeyError:
            return False, 0.0, f"no field {spec['path']!r}"
        reason = f"{spec['path']} is {json.dumps(found)}, not {json.dumps(value)}"
        return _bool(found == value, reason)
    if kind == "similar" and spec.get("embedding_model") is not None:
        from promptver.evals.execution.semantic import endpoint

        threshold = float(spec.get("threshold", 0.8))
        model = ctx.bundle.model if ctx.bundle is not None else None
        ref = endpoint(spec, model, "similar")
        cosine = await ctx.embedders.similarity(ref, output.strip(), [v.strip() for v in _as_list(value)])
        ok = cosine >= threshold
        return ok, cosine, "" if ok else f"cosine similarity {cosine:.2f} < {threshold:g}"
    if kind in ("similar", "similar-text"):
        from rapidfuzz import fuzz

        threshold = float(spec.get("threshold", 0.8))
        ratio = max(fuzz.ratio(output.strip(), v.strip()) / 100 for v in _as_list(value))
        ok = ratio >= threshold
        return ok, ratio, "" if ok else f"similarity {ratio:.2f} < {threshold:g}"
    if kind == "latency-under":
        if ctx.latency_ms is None:
            return False, 0.0, "no latency measured"
        return _bool(ctx.latency_ms < float(value), f"{ctx.latency_ms:.0f} ms >= {value} ms")
    if kind == "cost-under":
        if ctx.cost is None:
            return False, 0.0, "cost unknown (no price for this model)"
        return _bool(ctx.cost < float(value), f"${ctx.cost:.6f} >= ${value}")
    if kind == "sources":
        return _sources(value, ctx)
    if kind.startswith("python:"):
        return await _python(kind, spec, value, output, ctx)
    raise ConfigError(f"unknown assertion type {kind!r}")


def _file_name(path: str) -> str:
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def _sources(value: Any, ctx: Context) -> tuple[bool, float, str]:
    """Every expected source (``value``, else the case's ``expected_sources``), matched by
    file name, is among the target's sources; the score is the share found (recall)."""
    expected = _as_list(value) if value is not None else [str(s) for s in ctx.case.expected_sources]
    if not expected:
        return True, 1.0, ""
    found = {_file_name(s) for s in ctx.sources}
    missing = [e for e in expected if _file_name(e) not in found]
    score = 1 - len(missing) / len(expected)
    if not missing:
        return True, 1.0, ""
    got = ", ".join(_file_name(s) for s in ctx.sources) or "none"
    return False, score, f"sources lack {', '.join(missing)} (retrieved: {got})"


def _json_schema(value: Any, output: str, ctx: Context) -> tuple[bool, float, str]:
    import jsonschema

    schema = value
    if isinstance(value, str):
        if ctx.bundle is None:
            return False, 0.0, "a schema file needs a bundle"
        schema = json.loads(ctx.bundle.read_bytes(value))
    try:
        data = parse_json(output)
    except ValueError:
        return False, 0.0, "output is not JSON"
    error = jsonschema.exceptions.best_match(
        jsonschema.validators.validator_for(schema)(schema).iter_errors(data)
    )
    if error is None:
        return True, 1.0, ""
    where = "/".join(str(p) for p in error.absolute_path)
    return False, 0.0, f"{where or '(root)'}: {error.message}"


async def _python(
    kind: str, spec: dict[str, Any], value: Any, output: str, ctx: Context
) -> tuple[bool, float, str]:
    function = load_scorer(kind, "assertion")
    context = {
        "vars": ctx.case.vars,
        "expected": ctx.case.expected,
        "case": ctx.case.to_json(),
        "value": value,
        "config": spec,
        "latency_ms": ctx.latency_ms,
        "cost": ctx.cost,
        "usage": ctx.usage.to_json() if ctx.usage else None,
        "sources": ctx.sources,
    }
    result = function(output, context)
    if inspect.isawaitable(result):
        result = await result
    if isinstance(result, bool):
        return _bool(result, "the scorer returned False")
    if isinstance(result, int | float):
        threshold = float(spec.get("threshold", 0.5))
        ok = float(result) >= threshold
        return ok, float(result), "" if ok else f"score {float(result):.2f} < {threshold:g}"
    if isinstance(result, dict) and "pass" in result:
        passed = bool(result["pass"])
        score = float(result.get("score", 1.0 if passed else 0.0))
        return passed, score, str(result.get("reason", ""))
    raise TypeError(
        f"{kind} returned {type(result).__name__}; expected bool, number or "
        "{'pass': ..., 'score': ..., 'reason': ...}"
    )


def case_outcome(results: list[AssertionResult]) -> tuple[bool, float]:
    """A case passes when every assertion passes; its score is the weighted mean."""
    if not results:
        return True, 1.0
    total = sum(r.weight for r in results)
    score = sum(r.weight * r.score for r in results) / total if total else 1.0
    return all(r.passed for r in results), score
