"""The fake LLM server itself: both wire formats and every injected failure."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import Any

from promptver.testing.server import FakeLLMServer


@dataclass
class Reply:
    status_code: int
    headers: Message
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def _post(url: str, body: dict[str, Any]) -> Reply:
    """A plain standard-library POST (the server is tested apart from the client under test)."""
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return Reply(response.status, response.headers, response.read().decode())
    except urllib.error.HTTPError as error:
        with error:
            return Reply(error.code, error.headers, error.read().decode())


def _chat(server: FakeLLMServer, text: str, **extra: object) -> Reply:
    body = {"model": "m", "messages": [{"role": "user", "content": text}], **extra}
    return _post(f"{server.openai_base}/chat/completions", body)


def test_openai_echo_and_usage(llm_server: FakeLLMServer) -> None:
    data = _chat(llm_server, "hello world").json()
    assert data["choices"][0]["message"]["content"] == "echo: hello world"
    assert data["usage"]["prompt_tokens"] == 2
    assert llm_server.count("/chat/completions") == 1


def test_anthropic_scripted_reply(llm_server: FakeLLMServer) -> None:
    llm_server.add(match="capital", reply="Paris")
    body = {"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "capital?"}]}
    data = _post(f"{llm_server.url}/v1/messages", body).json()
    assert data["content"][0]["text"] == "Paris"
    assert data["usage"] == {"input_tokens": 1, "output_tokens": 1}


def test_429_with_retry_after_then_success(llm_server: FakeLLMServer) -> None:
    llm_server.add(match="x", status=429, retry_after="1", times=1)
    first = _chat(llm_server, "x")
    assert first.status_code == 429 and first.headers["retry-after"] == "1"
    assert _chat(llm_server, "x").status_code == 200


def test_malformed_latency_and_trickle(llm_server: FakeLLMServer) -> None:
    llm_server.add(match="bad", malformed=True)
    llm_server.add(match="slow", latency=0.2)
    llm_server.add(match="drip", trickle=0.01)
    try:
        json.loads(_chat(llm_server, "bad").text)
        raise AssertionError("expected malformed JSON")
    except ValueError:
        pass
    start = time.perf_counter()
    assert _chat(llm_server, "slow").status_code == 200
    assert time.perf_counter() - start >= 0.2
    start = time.perf_counter()
    assert _chat(llm_server, "drip").json()["choices"][0]["message"]["content"] == "echo: drip"
    assert time.perf_counter() - start >= 0.1


def test_sse_stream(llm_server: FakeLLMServer) -> None:
    llm_server.add(match="s", reply="one two three")
    text = _chat(llm_server, "s", stream=True).text
    assert text.count("data: ") == 4 and text.rstrip().endswith("[DONE]")


def _run_module(*args: str, cwd: Any) -> Any:
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, "-m", "promptver.testing.server", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_server_runs_from_the_installed_package_with_rules(tmp_path: Any) -> None:
    """`python -m promptver.testing.server` from any folder (no checkout of the tests),
    with rules from a JSON file; the old tests/fakeserver.py path is the same server."""
    import tests.fakeserver

    assert tests.fakeserver.FakeLLMServer is FakeLLMServer
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{"match": "capital of France", "reply": "Paris"}]))
    proc = _run_module("--rules", str(rules), cwd=tmp_path)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        body = {"model": "m", "messages": [{"role": "user", "content": "The capital of France?"}]}
        answer = _post(f"{url}/v1/chat/completions", body).json()
        assert answer["choices"][0]["message"]["content"] == "Paris"
        echo = {"model": "m", "messages": [{"role": "user", "content": "hello there"}]}
        assert (
            "hello there"
            in _post(f"{url}/v1/chat/completions", echo).json()["choices"][0]["message"]["content"]
        )
    finally:
        proc.terminate()
        proc.communicate(timeout=10)  # closes the pipes


def test_bad_rules_are_one_clear_message(tmp_path: Any) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{"match": "x", "replly": "y"}]))
    proc = _run_module("--rules", str(rules), cwd=tmp_path)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert err.startswith(f"Error: {rules} rule 1: unknown field 'replly'") and "Traceback" not in err
