"""An API key from the environment goes only to its provider's host or to hosts allowed
outside the bundle (issue 24, item 1); the fake server records the headers it received."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptver.bundle.spec import ModelRef
from promptver.errors import ConfigError
from promptver.evals.execution.providers import make_provider
from tests.conftest import Result
from tests.evals.conftest import openai_model, write_bundle
from tests.evals.test_evals_retrieval import CORPUS
from tests.fakeserver import FakeLLMServer

KEY = "sk-ci-secret-0123456789"
CASES = [{"id": "a", "vars": {"question": "capital of France"}}]


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """CI's key in the environment, no host allowed yet, an empty user configuration folder."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("PROMPTVER_ALLOWED_HOSTS")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    config = tmp_path / "xdg"
    config.mkdir()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.chdir(tmp_path)
    return config


def keys_seen(server: FakeLLMServer) -> list[str]:
    return [r.headers.get("authorization", "") for r in server.requests]


def test_a_bundle_url_gets_no_key(keyed: Path, tmp_path: Path, llm_server: FakeLLMServer, pv) -> None:  # type: ignore[no-untyped-def]
    """The pull request's bundle points [model] base_url at its own server: eval refuses
    before any request, naming the host and how to allow it."""
    write_bundle(tmp_path, CASES, model=openai_model(llm_server))
    result: Result = pv("eval", "demo")
    assert result.code == 1 and llm_server.requests == []
    assert "OPENAI_API_KEY would be sent to 127.0.0.1" in result.err
    assert "PROMPTVER_ALLOWED_HOSTS=127.0.0.1" in result.err and "Traceback" not in result.err
    assert KEY not in result.out + result.err


def test_a_project_config_cannot_allow_a_host(
    keyed: Path,
    tmp_path: Path,
    llm_server: FakeLLMServer,
    pv,  # type: ignore[no-untyped-def]
) -> None:
    """.promptver/config.toml is committed: a change under review can edit it, so it allows nothing."""
    write_bundle(tmp_path, CASES, model=openai_model(llm_server))
    with (tmp_path / ".promptver" / "config.toml").open("a") as config:
        config.write('\n[evals]\nallowed_hosts = ["127.0.0.1"]\n')
    assert pv("eval", "demo").code == 1 and llm_server.requests == []


@pytest.mark.parametrize("how", ["environment", "user config", "base url variable"])
def test_hosts_allowed_outside_the_bundle_get_the_key(
    how: str,
    keyed: Path,
    tmp_path: Path,
    llm_server: FakeLLMServer,
    monkeypatch: pytest.MonkeyPatch,
    pv,  # type: ignore[no-untyped-def]
) -> None:
    write_bundle(tmp_path, CASES, model=openai_model(llm_server))
    if how == "environment":
        monkeypatch.setenv("PROMPTVER_ALLOWED_HOSTS", f"llm.example.com, 127.0.0.1:{llm_server.port}")
    elif how == "user config":
        (keyed / "promptver").mkdir()
        (keyed / "promptver" / "config.toml").write_text('[evals]\nallowed_hosts = ["127.0.0.1"]\n')
    else:  # the environment chose the URL
        monkeypatch.setenv("OPENAI_BASE_URL", llm_server.openai_base)
    result = pv("eval", "demo")
    assert result.code == 0, result.err
    assert keys_seen(llm_server) == [f"Bearer {KEY}"]


def test_embedding_and_reranker_urls_follow_the_same_rule(
    keyed: Path,
    tmp_path: Path,
    llm_server: FakeLLMServer,
    pv,  # type: ignore[no-untyped-def]
) -> None:
    for endpoint in ("embedding", "reranker"):
        rag = '[rag]\ncorpus = "corpus"\ntop_k = 2\n' + (
            f'retriever = "dense"\nembedding_model = "e"\nembedding_base_url = "{llm_server.openai_base}"\n'
            if endpoint == "embedding"
            else f'reranker = "r"\nreranker_base_url = "{llm_server.openai_base}"\n'
        )
        model = '[model]\nprovider = "openai"\nname = "gpt-4o-mini"\n' + rag
        write_bundle(tmp_path, CASES, model=model, files=CORPUS, name=f"rag-{endpoint}")
        result = pv("eval", f"rag-{endpoint}", "--target", "retrieval:configured")
        assert result.code == 1 and "OPENAI_API_KEY would be sent to 127.0.0.1" in result.err, result.err
        assert llm_server.requests == []


@pytest.mark.parametrize(
    "base_url, env, message",
    [
        ("http://llm.example.com/v1", {"PROMPTVER_ALLOWED_HOSTS": "llm.example.com"}, "over plain http"),
        ("http://llm.example.com/v1", {"OPENAI_BASE_URL": "http://llm.example.com/v1"}, "over plain http"),
        ("https://api.openai.com.evil.example/v1", {}, "api.openai.com.evil.example, which is not"),
        ("https://evil.example/v1", {"PROMPTVER_ALLOWED_HOSTS": "evil.example:8443"}, "evil.example, which"),
        ("file:///etc/passwd", {}, "not an http(s) URL"),
    ],
)
def test_refused_destinations(base_url: str, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY would be sent") as caught:
        make_provider(ModelRef("openai", "m", base_url=base_url), env={"OPENAI_API_KEY": KEY, **env})
    assert message in caught.value.message


@pytest.mark.parametrize(
    "provider, base_url, env",
    [
        ("openai", None, {}),  # the provider's own host
        ("anthropic", "https://api.anthropic.com", {}),
        ("openai", "https://llm.example.com:8443/v1", {"PROMPTVER_ALLOWED_HOSTS": "llm.example.com:8443"}),
        ("openai", "http://localhost:8000/v1", {"PROMPTVER_ALLOWED_HOSTS": "localhost"}),
        ("vllm", "http://10.0.0.5:8000/v1", {}),  # no VLLM_API_KEY: nothing to protect
    ],
)
def test_allowed_destinations(provider: str, base_url: str | None, env: dict[str, str]) -> None:
    keys = {"OPENAI_API_KEY": KEY, "ANTHROPIC_API_KEY": KEY, **env}
    make_provider(ModelRef(provider, "m", base_url=base_url), env=keys)


async def test_a_redirect_is_not_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    """An allowed host that answers 307 does not pass the request (and its key) on."""
    with FakeLLMServer() as first, FakeLLMServer() as second:
        first.add(redirect=f"{second.openai_base}/chat/completions")
        env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": first.openai_base}
        provider = make_provider(ModelRef("openai", "m"), env=env)
        try:
            with pytest.raises(Exception, match="HTTP 307"):
                await provider.complete([{"role": "user", "content": "hi"}], {})
        finally:
            await provider.aclose()
        assert len(first.requests) == 1 and second.requests == []


def test_diff_review_and_ci_report_flag_an_endpoint_change(project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    from promptver.diff.compare import diff_bundle
    from promptver.store.store import Store
    from promptver.tui.adapter import build_review

    toml = project / "bundles" / "bot" / "bundle.toml"
    assert pv("bump", "minor", "bot").code == 0
    toml.write_text(
        toml.read_text().replace(
            '# base_url = "http://localhost:8000/v1"', 'base_url = "https://x.example/v1"'
        )
    )
    terminal = pv("diff", "bot")
    assert "security-relevant: endpoint changed: base_url: (none) -> 'https://x.example/v1'" in terminal.out
    assert json.loads(pv("diff", "bot", "--format", "json").out)["security"] == ["model.base_url"]
    markdown = pv("diff", "bot", "--format", "markdown").out
    assert (
        "**Security-relevant: an endpoint changed.**" in markdown and "`'https://x.example/v1'`" in markdown
    )
    assert pv("bump", "patch", "bot", "--force").code == 0
    report = pv("ci-report", "bot@latest").out
    assert "Security-relevant: an endpoint changed." in report.split("Semantic diff")[0]
    store = Store.find(project)
    diff = diff_bundle(store, "bot", "latest", None)
    assert diff.security_changes == ()
    review = build_review(diff_bundle(store, "bot", "0.1.0", "latest"), None, None)
    assert review.security and "base_url" in review.security[0]
