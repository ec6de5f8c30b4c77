"""Render exported files with the official packages, and the bundle's own messages."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from promptver.app.runtime import Bundle
from promptver.evals.execution.bundle import parse_cases
from promptver.store.store import Store

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = ("support-bot", "ticket-triage")


def example_store() -> Store:
    return Store.find(REPO)


def eval_cases(bundle: Bundle) -> list[tuple[str, dict[str, Any]]]:
    """(template, vars) of every eval case of the version."""
    out = []
    for dataset in bundle.spec.evals.values():
        for case in parse_cases(bundle.read_bytes(dataset.path), dataset.path):
            template = case.template or dataset.template or bundle.templates[0]
            out.append((template, case.vars))
    return out


def prompty_messages(path: Path, variables: dict[str, Any]) -> list[dict[str, str]]:
    prompty = pytest.importorskip("prompty")
    agent = prompty.load(str(path))
    return [{"role": m.role, "content": m.text} for m in prompty.prepare(agent, variables)]


def dotprompt_messages(path: Path, variables: dict[str, Any]) -> list[dict[str, str]]:
    dotpromptz = pytest.importorskip("dotpromptz")
    source = path.read_text(encoding="utf-8")
    folder = path.parent

    async def render() -> Any:
        dp = dotpromptz.Dotprompt(partials=_partials(folder))
        return await dp.render(source, dotpromptz.DataArgument(input=variables))

    rendered = asyncio.run(render())
    roles = {"model": "assistant"}
    return [
        {
            "role": roles.get(str(m.role.value), str(m.role.value)),
            "content": "".join(p.text for p in m.content),
        }
        for m in rendered.messages
    ]


def _partials(folder: Path) -> dict[str, str]:
    return {p.stem.lstrip("_"): p.read_text(encoding="utf-8") for p in folder.glob("_*.prompt")}


def trimmed(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Prompty drops blank lines at both ends of each message (its parser does)."""
    return [{"role": m["role"], "content": m["content"].strip("\n")} for m in messages]
