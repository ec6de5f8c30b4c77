"""Shared fixtures for the eval tests: the fake LLM server and a project with one bundle."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakeserver import FakeLLMServer

SCORERS = Path(__file__).parent / "scorers"


@pytest.fixture(autouse=True)
def scorers_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """``python:evals_scorers:...`` scorers and targets import from tests/evals/scorers."""
    monkeypatch.syspath_prepend(str(SCORERS))


@pytest.fixture
def llm_server() -> Iterator[FakeLLMServer]:
    """A fake OpenAI + Anthropic server on 127.0.0.1 (random port), stopped after the test."""
    with FakeLLMServer() as server:
        yield server


def write_bundle(
    project: Path,
    cases: list[dict[str, Any]],
    *,
    name: str = "demo",
    model: str = "",
    dataset_extra: str = "",
    files: dict[str, str] | None = None,
) -> Path:
    """A project (with a store, ``.promptver/``) holding ``bundles/<name>``."""
    from promptver.store.store import Store

    Store.init(project)
    folder = project / "bundles" / name
    (folder / "prompts").mkdir(parents=True, exist_ok=True)
    (folder / "evals").mkdir(exist_ok=True)
    (folder / "bundle.toml").write_text(
        f'[bundle]\nname = "{name}"\n\n{model}\n'
        '[prompts]\nsystem = "prompts/system.j2"\n\n'
        '[prompts.templates]\nanswer = "prompts/answer.j2"\n\n'
        f'[evals.golden]\npath = "evals/golden.jsonl"\ntemplate = "answer"\n{dataset_extra}\n'
    )
    (folder / "prompts" / "system.j2").write_text("You are a terse assistant.")
    (folder / "prompts" / "answer.j2").write_text("Q: {{ question }}")
    (folder / "evals" / "golden.jsonl").write_text("".join(json.dumps(case) + "\n" for case in cases))
    for path, text in (files or {}).items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    return folder


def openai_model(server: FakeLLMServer, name: str = "gpt-4o-mini", params: str = "") -> str:
    return f'[model]\nprovider = "openai"\nname = "{name}"\nbase_url = "{server.openai_base}"\n{params}\n'


@pytest.fixture
def api_keys(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    keys = {"OPENAI_API_KEY": "sk-test-secret-openai", "ANTHROPIC_API_KEY": "sk-ant-secret"}
    for key, value in keys.items():
        monkeypatch.setenv(key, value)
    return keys
