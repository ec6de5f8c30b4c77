"""The eval call cache shared through the remote: a second machine re-runs for free."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptver.remote.callcache import RemoteCallCache, index_key
from promptver.remote.config import RemoteConfig
from promptver.remote.transport import open_transport
from tests.evals.conftest import openai_model, write_bundle
from tests.fakeserver import FakeLLMServer

CASES = [{"id": f"c{i:02}", "vars": {"question": f"capital {i}"}} for i in range(12)]


@pytest.fixture(params=["file", "s3"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "file":
        (tmp_path / "shared").mkdir()
        return f"file://{tmp_path}/shared"
    return str(request.getfixturevalue("s3_url"))


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-openai")


def machine(root: Path, server: FakeLLMServer, url: str, pv, rubric: str = "is short") -> Path:  # type: ignore[no-untyped-def]
    """A checkout of the same project on another machine: its own store, the same remote."""
    grader = f'grader = {{ provider = "openai", name = "judge", base_url = "{server.openai_base}" }}'
    write_bundle(
        root,
        CASES,
        model=openai_model(server),
        dataset_extra=f'{grader}\nassert = [{{ type = "llm-judge", value = "{rubric}" }}]',
    )
    import os

    endpoint = ["--endpoint", os.environ["AWS_ENDPOINT_URL"]] if url.startswith("s3://") else []
    assert pv("--store", str(root / ".promptver"), "remote", "add", "origin", url, *endpoint).code == 0
    return root


def evaluate(pv, root: Path, *more: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    result = pv("--store", str(root / ".promptver"), "eval", "demo", "-q", "--json", *more)
    assert result.code == 0, result.err
    data: dict = json.loads(result.out)  # type: ignore[type-arg]
    return data


def test_second_machine_makes_no_provider_call(tmp_path: Path, url: str, keys: None, pv) -> None:  # type: ignore[no-untyped-def]
    with FakeLLMServer() as server:
        server.add(match="Answer to grade", reply='{"pass": true, "score": 1}')
        first = machine(tmp_path / "a", server, url, pv)
        ran = evaluate(pv, first)
        assert ran["run"]["summary"]["errors"] == 0 and server.count() == 24  # 12 answers, 12 gradings

        second = machine(tmp_path / "b", server, url, pv)
        before = server.count()
        again = evaluate(pv, second)
        assert server.count() == before, "the second machine found every call on the remote"
        assert again["run"]["summary"]["cached"] == 12 and again["run"]["summary"]["passed"] == 12
        assert sorted(r["output"] for r in again["cases"]) == sorted(r["output"] for r in ran["cases"])

        # A changed rubric re-grades (12 judge calls) without regenerating.
        third = machine(tmp_path / "c", server, url, pv, rubric="is polite")
        before = server.count()
        evaluate(pv, third)
        assert server.count() - before == 12
        assert all("Answer to grade" in r.body["messages"][-1]["content"] for r in server.requests[before:])

        # --no-cache sends every request again.
        before = server.count()
        evaluate(pv, second, "--no-cache")
        assert server.count() - before == 24

    stats = pv("--store", str(second / ".promptver"), "cache", "stats", "--json")
    data = json.loads(stats.out)
    assert data["local"]["generation"]["entries"] == 12 and data["local"]["judge"]["entries"] == 12
    assert data["remote"] == {"generation": 12, "judge": 24}
    pruned = pv("--store", str(second / ".promptver"), "cache", "prune", "--older-than", "0", "--json")
    assert json.loads(pruned.out)["removed"] == 24
    assert (
        json.loads(pv("--store", str(second / ".promptver"), "cache", "stats", "--json").out)["local"][
            "generation"
        ]["entries"]
        == 0
    )


def test_a_tampered_remote_entry_is_a_miss(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    transport = open_transport(RemoteConfig("origin", f"file://{tmp_path}/shared"))
    shared = RemoteCallCache(transport)
    key = "ab" * 32
    shared.put("generation", key, b'{"key": "' + key.encode() + b'", "text": "Paris"}')
    assert shared.get("generation", key) is not None
    # the object the index names is changed on the remote: its hash no longer matches
    digest = (tmp_path / "shared" / index_key("generation", key)).read_text().split()[0]  # "sha256 size"
    obj = tmp_path / "shared" / "objects" / digest
    obj.write_bytes(obj.read_bytes()[:-3] + b"xyz")
    assert shared.get("generation", key) is None and shared.problems == 1
    # an index entry that is not a hash, and an index of another key, are misses too
    other = "cd" * 32
    (tmp_path / "shared" / index_key("generation", other)).parent.mkdir(parents=True)
    (tmp_path / "shared" / index_key("generation", other)).write_text("../../etc/passwd")
    assert shared.get("generation", other) is None


def test_an_entry_answers_only_its_own_key(tmp_path: Path) -> None:
    from promptver.evals.execution.cache import decode_entry

    raw = json.dumps({"key": "ab" * 32, "text": "Paris", "usage": None, "latency_ms": 1}).encode()
    assert decode_entry(raw, "ab" * 32) is not None
    assert decode_entry(raw, "cd" * 32) is None
    assert decode_entry(b"not json", "ab" * 32) is None


def test_the_key_holds_what_decides_the_answer_and_no_secret() -> None:
    from promptver.evals.execution.cache import request_key

    messages = [{"role": "user", "content": "hi"}]
    base = request_key("openai", "https://api.example.com/v1", "m", {"seed": 1}, messages)
    assert base == request_key(
        "openai", "https://user:sk-secret@api.example.com/v1?key=sk-secret", "m", {"seed": 1}, messages
    )
    others = {
        request_key("openai", "https://api.example.com/v1", "m", {"seed": 2}, messages),
        request_key(
            "openai", "https://api.example.com/v1", "m", {"seed": 1, "tools": [{"type": "x"}]}, messages
        ),
        request_key("openai", "https://api.example.com/v1", "m2", {"seed": 1}, messages),
        request_key("anthropic", "https://api.example.com/v1", "m", {"seed": 1}, messages),
        request_key("openai", "https://api.example.com/v1", "m", {"seed": 1}, messages, purpose="judge"),
        request_key("openai", "https://api.example.com/v1", "m", {"seed": 1}, messages, sample=1),
    }
    assert base not in others and len(others) == 6
