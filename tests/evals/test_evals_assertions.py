"""Every assertion type, passing and failing, plus validation, weights and scorers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from promptver.bundle.spec import ModelRef
from promptver.errors import ConfigError
from promptver.evals.execution.assertions import (
    AssertionResult,
    Context,
    case_outcome,
    evaluate,
    interpolate,
    json_path,
    validate,
)
from promptver.evals.execution.bundle import Case
from promptver.evals.execution.providers import Usage, make_provider
from promptver.evals.execution.targets import CachedModel
from tests.fakeserver import FakeLLMServer

CASE = Case(id="c1", vars={"question": "capital?", "city": "Paris"}, expected="Paris")
DOC = json.dumps({"answer": {"city": "Paris", "items": [1, 2]}, "ok": True})


async def check(spec: dict[str, Any], output: str, **ctx: Any) -> AssertionResult:
    validate(spec, "test", has_grader=True)
    return await evaluate(spec, output, Context(case=CASE, **ctx))


@pytest.mark.parametrize(
    ("spec", "good", "bad"),
    [
        ({"type": "equals", "value": "Paris"}, " Paris\n", "paris"),
        ({"type": "equals", "value": {"a": 1}}, '{"a": 1}', '{"a": 2}'),
        ({"type": "contains", "value": "Paris"}, "It is Paris.", "It is paris."),
        ({"type": "contains", "value": ["Paris", "France"]}, "Paris, France", "Paris"),
        ({"type": "icontains", "value": "{{ expected }}"}, "it is PARIS", "it is Lyon"),
        ({"type": "not-contains", "value": "sorry"}, "Paris", "sorry, no"),
        ({"type": "not-icontains", "value": "Sorry"}, "Paris", "SORRY"),
        ({"type": "regex", "value": r"^\d{3}-\d{4}$"}, "555-1234", "call 555-1234"),
        ({"type": "regex", "value": "paris", "ignore_case": True}, "PARIS", "Lyon"),
        ({"type": "is-json"}, '```json\n{"a": 1}\n```', "{a: 1}"),
        ({"type": "json-schema", "value": {"type": "object", "required": ["ok"]}}, DOC, "{}"),
        ({"type": "json-field", "path": "answer.city", "value": "{{ city }}"}, DOC, '{"a": 1}'),
        ({"type": "json-field", "path": "answer.items[1]", "value": 2}, DOC, "not json"),
        (
            {"type": "similar", "value": "The capital is Paris", "threshold": 0.8},
            "The capital is Paris.",
            "Lyon",
        ),
        ({"type": "python:evals_scorers:has_greeting", "value": "hello"}, "Hello there", "Hi"),
        ({"type": "python:evals_scorers:length_score", "threshold": 0.5}, "x" * 20, "x"),
        ({"type": "python:evals_scorers:verdict"}, "Paris!", "Rome"),
    ],
)
async def test_output_assertions(spec: dict[str, Any], good: str, bad: str) -> None:
    passed = await check(spec, good)
    failed = await check(spec, bad)
    assert passed.passed and passed.score > 0.5, passed
    assert not failed.passed and failed.score < 0.5 and failed.reason, failed


async def test_json_schema_from_bundle_file(tmp_path: Path) -> None:
    from promptver.evals.execution.bundle import BundleView
    from promptver.store.tree import MemoryTree

    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    tree = MemoryTree({"schemas/s.json": json.dumps(schema).encode()})
    bundle = BundleView("b", {}, tree, version=None, digest="d", label="b")
    spec = {"type": "json-schema", "value": "schemas/s.json"}
    assert (await check(spec, '{"ok": true}', bundle=bundle)).passed
    bad = await check(spec, '{"ok": "yes"}', bundle=bundle)
    assert not bad.passed and bad.reason.startswith("ok:")


async def test_latency_and_cost() -> None:
    latency = {"type": "latency-under", "value": 500}
    assert (await check(latency, "x", latency_ms=120.0)).passed
    assert not (await check(latency, "x", latency_ms=800.0)).passed
    assert not (await check(latency, "x")).passed
    cost = {"type": "cost-under", "value": 0.01}
    assert (await check(cost, "x", cost=0.001, usage=Usage(1, 1))).passed
    assert not (await check(cost, "x", cost=0.5)).passed
    unknown = await check(cost, "x")
    assert not unknown.passed and "unknown" in unknown.reason


async def test_llm_judge_through_provider(llm_server: FakeLLMServer) -> None:
    llm_server.add(match=r"<answer-\w+>\nParis\n", reply='{"pass": true, "score": 0.9, "reason": "correct"}')
    llm_server.add(match="Answer to grade", reply='{"pass": false, "score": 0.2}')
    ref = ModelRef("openai", "grader", base_url=llm_server.openai_base)
    grader = CachedModel(
        ref, make_provider(ref, env={"OPENAI_API_KEY": "k", "PROMPTVER_ALLOWED_HOSTS": "127.0.0.1"}), {}, None
    )
    spec = {"type": "llm-judge", "value": "Names the capital of {{ city }}"}
    good = await check(spec, "Paris", judge=grader.as_completion, grader=grader, prompt="capital?")
    bad = await check(spec, "Rome", judge=grader.as_completion, grader=grader)
    await grader.provider.aclose()
    assert good.passed and good.score == 0.9 and good.reason == "correct"
    assert not bad.passed and bad.score == 0.2
    sent = llm_server.requests[0].body["messages"]
    assert "Names the capital of Paris" in sent[1]["content"]
    threshold = await check({**spec, "threshold": 0.1}, "Rome", judge=None)
    assert not threshold.passed and threshold.reason == threshold.error == "no grader model"


async def test_scorer_failure_is_a_failed_result() -> None:
    result = await check({"type": "python:evals_scorers:broken"}, "x")
    assert not result.passed and "TypeError" in result.reason


def test_weights_and_outcome() -> None:
    results = [AssertionResult("a", True, 1.0, 3.0), AssertionResult("b", False, 0.0, 1.0)]
    assert case_outcome(results) == (False, 0.75)
    assert case_outcome([]) == (True, 1.0)
    assert case_outcome([AssertionResult("a", True, 0.6, 2.0)]) == (True, 0.6)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"value": 1}, "needs a 'type'"),
        ({"type": "contians", "value": "x"}, "did you mean 'contains'"),
        ({"type": "contains"}, "needs a 'value'"),
        ({"type": "regex", "value": "(["}, "bad regular expression"),
        ({"type": "json-field", "value": 1}, "needs a 'path'"),
        ({"type": "latency-under", "value": "fast"}, "needs a number"),
        ({"type": "similar", "value": "x", "threshold": 2}, "between 0 and 1"),
        ({"type": "json-schema", "value": {"type": "nope"}}, "invalid JSON Schema"),
        ({"type": "contains", "value": "x", "weight": -1}, "weight"),
        ({"type": "python:no_such_module_xyz:f"}, "cannot import"),
        ({"type": "python:evals_scorers:missing"}, "no function"),
        ({"type": "python:bad"}, "python:package.module:function"),
    ],
)
def test_validation_errors(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        validate(spec, "here", has_grader=True)


def test_llm_judge_needs_grader() -> None:
    with pytest.raises(ConfigError, match="grader"):
        validate({"type": "llm-judge", "value": "r"}, "here", has_grader=False)


def test_interpolate_and_json_path() -> None:
    assert interpolate("{{ expected }}", CASE) == "Paris"
    assert interpolate("in {{ city }}!", CASE) == "in Paris!"
    assert interpolate(["{{ city }}", 3], CASE) == ["Paris", 3]
    assert json_path({"a": [{"b": 1}]}, "a[0].b") == 1
    with pytest.raises(KeyError):
        json_path({"a": []}, "a[0]")
