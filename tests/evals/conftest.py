"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakeserver import FakeLLMServer


@pytest.fixture
def llm_server() -> Iterator[FakeLLMServer]:
    """A fake OpenAI + Anthropic server on 127.0.0.1 (random port), stopped after the test."""
    with FakeLLMServer() as server:
        yield server
