"""Issue 11, problem 6: no part of an API key is ever stored or printed.

A provider other than OpenAI (``VLLM_API_KEY``) against a server whose 401 body echoes the
Authorization header after 170 characters: the body used to be cut to 200 characters
before redaction, so ``Bearer Zq9SECRETvalue0123`` reached the run's case error.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptver.bundle.spec import ModelRef
from promptver.cli.main import main
from promptver.evals.execution.providers import ProviderError, make_provider
from promptver.evals.execution.redact import MASK, redact, redact_json
from tests.evals.conftest import write_bundle
from tests.fakeserver import FakeLLMServer

KEY = "Zq9SECRETvalue0123456789"
PREFIX = KEY[:8]  # any piece of the key this long would be a leak


def _all_text(root: Path) -> str:
    parts = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            parts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


def _echo_rule(server: FakeLLMServer, status: int = 401) -> None:
    server.add(match="", status=status, error_body="x" * 170 + " you sent: ", echo_header="Authorization")


async def test_provider_error_redacts_before_cutting(
    llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLLM_API_KEY", KEY)
    _echo_rule(llm_server)
    provider = make_provider(ModelRef("vllm", "llama", base_url=llm_server.openai_base))
    with pytest.raises(ProviderError) as info:
        await provider.complete([{"role": "user", "content": "hi"}], {})
    await provider.aclose()
    assert llm_server.requests[0].headers["authorization"] == f"Bearer {KEY}"  # the key was sent
    message = str(info.value)
    assert f"you sent: Bearer {MASK}" in message
    assert PREFIX not in message and "Zq9" not in message


def test_eval_run_stores_and_prints_no_piece_of_the_key(
    tmp_path: Path,
    llm_server: FakeLLMServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("VLLM_API_KEY", KEY)
    _echo_rule(llm_server)
    model = f'[model]\nprovider = "vllm"\nname = "llama"\nbase_url = "{llm_server.openai_base}"\n'
    write_bundle(tmp_path, [{"id": "a", "vars": {"question": "q"}}], model=model)
    monkeypatch.chdir(tmp_path)
    try:
        main(["bump", "minor", "demo"])
    except SystemExit as exc:
        assert exc.code == 0
    capsys.readouterr()
    try:
        main(["eval", "demo@0.1.0", "--json"])
    except SystemExit:
        pass
    out, err = capsys.readouterr()
    runs = list((tmp_path / ".promptver" / "runs").rglob("cases.jsonl"))
    assert runs, "the run was stored"
    record = json.loads(runs[0].read_text().splitlines()[0])
    assert "authentication failed" in record["error"] and "Bearer" in record["error"]
    stored = _all_text(tmp_path / ".promptver")
    for text in (stored, out, err):
        assert PREFIX not in text
        assert "Zq9SECRET" not in text


def test_exact_values_of_every_api_key_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOMEPROVIDER_API_KEY", "plain-looking-value-42")
    monkeypatch.setenv("SHORT_API_KEY", "1")  # too short to be a secret: left alone
    text = "a plain-looking-value-42 b 1"
    assert redact(text) == f"a {MASK} b 1"
    assert redact_json({"k": [text, 3]}) == {"k": [f"a {MASK} b 1", 3]}
