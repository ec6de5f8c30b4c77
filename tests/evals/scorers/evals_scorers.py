"""Custom scorers and targets used by the eval tests (imported as python:...)."""

from __future__ import annotations

import asyncio
from typing import Any


def has_greeting(output: str, context: dict[str, Any]) -> bool:
    return output.lower().startswith(str(context["value"] or "hello"))


async def length_score(output: str, context: dict[str, Any]) -> float:
    await asyncio.sleep(0)
    return min(1.0, len(output) / 20)


def verdict(output: str, context: dict[str, Any]) -> dict[str, Any]:
    ok = context["expected"] in output
    return {"pass": ok, "score": 0.9 if ok else 0.1, "reason": "checked expected"}


def broken(output: str, context: dict[str, Any]) -> str:
    return "not a verdict"


def echo_target(bundle: Any, case: Any) -> str:
    return bundle.render("answer", **case.vars).upper()


async def rich_target(bundle: Any, case: Any) -> dict[str, Any]:
    await asyncio.sleep(0.01)
    return {
        "output": {"answer": case.vars["question"]},
        "usage": {"input": 10, "output": 5},
        "sources": ["faq.md"],
    }


def failing_target(bundle: Any, case: Any) -> str:
    if case.id == "boom":
        raise RuntimeError("application crashed")
    return "fine"


def introspect_target(bundle: Any, case: Any) -> dict[str, Any]:
    """Uses the run-time Bundle surface: names, interface, files, model, version."""
    return {
        "output": {
            "templates": list(bundle.templates),
            "variables": sorted(bundle.variables("answer")),
            "has_dataset": "evals/golden.jsonl" in bundle.files,
            "model": bundle.model.name,
            "version": bundle.version,
            "digest": bundle.digest[:7],
            "rag": bundle.rag,
        }
    }
