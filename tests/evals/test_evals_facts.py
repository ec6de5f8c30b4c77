"""Reproducibility facts per case (seed, system_fingerprint, model) and compare's notice."""

from __future__ import annotations

from pathlib import Path

from promptver.evals import compare_runs
from promptver.evals.analysis.report import comparison_lines
from tests.evals.conftest import openai_model, write_bundle
from tests.evals.test_evals_runner import run
from tests.fakeserver import FakeLLMServer

CASES = [{"id": f"c{i}", "vars": {"question": f"q{i}"}} for i in range(3)]


def test_facts_are_recorded_and_compare_says_when_they_differ(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str]
) -> None:
    llm_server.fingerprint = "fp_a1"
    folder = write_bundle(
        tmp_path, CASES, model=openai_model(llm_server, params="[model.params]\nseed = 7\n")
    )
    first = run(folder, save=True)
    assert first.records[0]["facts"] == {"seed": 7, "system_fingerprint": "fp_a1", "model": "gpt-4o-mini"}
    cached = run(folder, save=True)  # answers from the cache keep the facts they were given with
    assert cached.records[0]["cached"] and cached.records[0]["facts"]["system_fingerprint"] == "fp_a1"
    assert compare_runs(first, cached).reproducibility == []

    llm_server.fingerprint = "fp_b2`<script>"
    second = run(folder, save=True, cache=False)
    notes = compare_runs(first, second).reproducibility
    assert notes == ["the provider's system_fingerprint differs: fp_a1 -> fp_b2??script?"]
    assert any(
        "reproducibility: the provider's system_fingerprint differs" in line
        for line in comparison_lines(compare_runs(first, second))
    )
    assert compare_runs(first, second).to_json()["reproducibility"] == notes
