"""``similar`` by embeddings (cosine, threshold, cached) and ``similar-text`` (the ratio)."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptver.errors import ConfigError
from tests.evals.conftest import openai_model, write_bundle
from tests.evals.test_evals_runner import run
from tests.fakeserver import FakeLLMServer

CASES = [
    {"id": "same", "vars": {"question": "q1"}, "expected": "refunds within thirty days"},
    {"id": "other", "vars": {"question": "q2"}, "expected": "refunds within thirty days"},
]
SIMILAR = (
    'assert = [{ type = "similar", value = "{{ expected }}", threshold = 0.9, '
    'embedding_model = "embed-small" }]\n'
)


def answers(server: FakeLLMServer) -> None:
    server.add(match="q1", reply="Refunds within thirty days", model="gpt-4o-mini")
    server.add(match="q2", reply="Our office cat is orange", model="gpt-4o-mini")


def test_similar_by_embeddings_is_cosine_and_cached(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str]
) -> None:
    answers(llm_server)
    folder = write_bundle(tmp_path, CASES, model=openai_model(llm_server), dataset_extra=SIMILAR)
    result = run(folder)
    by_id = {r["id"]: r for r in result.records}
    same, other = by_id["same"]["asserts"][0], by_id["other"]["asserts"][0]
    # the fake server's vectors are a hashed bag of lower-cased words: the same words, cosine 1
    assert same["pass"] and same["score"] == pytest.approx(1.0, abs=1e-5)
    assert not other["pass"] and other["score"] < 0.5
    assert other["reason"].startswith("cosine similarity 0.") and other["reason"].endswith("< 0.9")
    embedded = llm_server.count("/embeddings")
    assert embedded >= 1
    run(folder, cache=True)
    assert llm_server.count("/embeddings") == embedded  # the vectors came from the store's cache


def test_similar_text_stays_the_string_ratio(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str]
) -> None:
    answers(llm_server)
    extra = 'assert = [{ type = "similar-text", value = "{{ expected }}", threshold = 0.9 }]\n'
    folder = write_bundle(tmp_path, CASES, model=openai_model(llm_server), dataset_extra=extra)
    by_id = {r["id"]: r for r in run(folder).records}
    # rapidfuzz ratio: only the capital R differs in 26 characters -> 1 - 2/52
    assert by_id["same"]["asserts"][0]["score"] == pytest.approx(1 - 2 / 52, abs=1e-6)
    assert llm_server.count("/embeddings") == 0


def test_an_unusable_embeddings_endpoint_stops_before_any_request(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str]
) -> None:
    extra = SIMILAR.replace(
        'embedding_model = "embed-small"', 'embedding_model = "e", embedding_provider = "anthropic"'
    )
    folder = write_bundle(tmp_path, CASES, model=openai_model(llm_server), dataset_extra=extra)
    with pytest.raises(ConfigError, match="embedding_model 'e'"):
        run(folder)
    assert llm_server.requests == []
