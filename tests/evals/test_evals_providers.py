"""Provider clients against the fake server: formats, retries, timeouts, keys."""

from __future__ import annotations

import asyncio
import time
from email.utils import formatdate

import pytest

from promptver.bundle.spec import ModelRef
from promptver.errors import ConfigError
from promptver.evals.execution.providers import (
    ProviderError,
    RateLimiter,
    RetryPolicy,
    make_provider,
    parse_retry_after,
)
from tests.fakeserver import FakeLLMServer

FAST = RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.05)
USER = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "ping"}]
ENV = {
    "OPENAI_API_KEY": "sk-secret-1",
    "ANTHROPIC_API_KEY": "sk-ant-secret-2",
    "PROMPTVER_ALLOWED_HOSTS": "127.0.0.1",  # the fake server's host
}


def openai(server: FakeLLMServer, **kwargs: object):  # type: ignore[no-untyped-def]
    ref = ModelRef("openai", "gpt-4o-mini", base_url=server.openai_base)
    options = {"retry": FAST, "timeout": 2.0, "env": ENV, **kwargs}
    return make_provider(ref, **options)  # type: ignore[arg-type]


async def test_openai_request_params_and_usage(llm_server: FakeLLMServer) -> None:
    provider = openai(llm_server)
    done = await provider.complete(USER, {"temperature": 0.2, "max_tokens": 7})
    await provider.aclose()
    assert done.text == "echo: ping" and done.attempts == 1
    assert done.usage is not None and done.usage.input_tokens == 1 and not done.usage.estimated
    seen = llm_server.requests[0]
    assert seen.path == "/v1/chat/completions"
    assert seen.body["temperature"] == 0.2 and seen.body["max_tokens"] == 7
    assert seen.body["messages"] == USER and seen.body["model"] == "gpt-4o-mini"
    assert seen.headers["authorization"] == "Bearer sk-secret-1"
    assert "sk-secret-1" not in repr(provider)


async def test_anthropic_format(llm_server: FakeLLMServer) -> None:
    ref = ModelRef("anthropic", "claude-3-5-haiku", base_url=llm_server.url, params={"temperature": 0})
    provider = make_provider(ref, retry=FAST, env=ENV)
    done = await provider.complete(USER, ref.params)
    await provider.aclose()
    body = llm_server.requests[0].body
    assert llm_server.requests[0].path == "/v1/messages"
    assert body["system"] == "Be brief." and body["messages"] == [USER[1]]
    assert body["max_tokens"] == 1024 and body["temperature"] == 0
    assert llm_server.requests[0].headers["x-api-key"] == "sk-ant-secret-2"
    assert done.text == "echo: ping" and done.usage is not None and done.usage.output_tokens == 2


async def test_429_honours_retry_after(llm_server: FakeLLMServer) -> None:
    llm_server.add(match="ping", status=429, retry_after="1", times=1)
    provider = openai(llm_server)
    start = time.perf_counter()
    done = await provider.complete(USER, {})
    await provider.aclose()
    assert time.perf_counter() - start >= 1.0
    assert done.attempts == 2 and llm_server.count() == 2


async def test_500_retried_then_gives_up_with_attempts(llm_server: FakeLLMServer) -> None:
    llm_server.add(match="ping", status=500)
    provider = openai(llm_server)
    with pytest.raises(ProviderError) as info:
        await provider.complete(USER, {})
    await provider.aclose()
    assert "HTTP 500" in str(info.value) and info.value.attempts == 3
    assert llm_server.count() == 3
    assert "sk-secret-1" not in str(info.value)


async def test_stall_times_out_and_retries(llm_server: FakeLLMServer) -> None:
    llm_server.add(match="ping", stall=0.6, times=1)
    provider = openai(llm_server, timeout=0.3)
    done = await provider.complete(USER, {})
    await provider.aclose()
    assert done.attempts == 2 and done.text == "echo: ping"


async def test_slow_body_hits_total_deadline(llm_server: FakeLLMServer) -> None:
    """A body trickled 8 bytes per 50 ms never trips a read timeout, only the deadline."""
    llm_server.add(match="ping", trickle=0.05)
    provider = openai(llm_server, timeout=0.4, retry=RetryPolicy(max_retries=0))
    with pytest.raises(ProviderError, match="timed out"):
        await provider.complete(USER, {})
    await provider.aclose()


async def test_malformed_json_and_401_are_not_retried(llm_server: FakeLLMServer) -> None:
    llm_server.add(match="ping", malformed=True, times=1)
    llm_server.add(match="ping", status=401)
    provider = openai(llm_server)
    with pytest.raises(ProviderError, match="malformed JSON"):
        await provider.complete(USER, {})
    with pytest.raises(ProviderError, match="authentication failed") as info:
        await provider.complete(USER, {})
    await provider.aclose()
    assert info.value.hint and llm_server.count() == 2


async def test_keys_echoed_in_error_bodies_are_redacted(llm_server: FakeLLMServer) -> None:
    echo = '{"error": "Incorrect API key provided: sk-secret-1. Also sk-proj-****abcd1234"}'
    llm_server.add(match="ping", status=401, error_body=echo)
    provider = openai(llm_server)
    with pytest.raises(ProviderError) as info:
        await provider.complete(USER, {})
    await provider.aclose()
    message = str(info.value)
    assert "Incorrect API key provided" in message
    assert "sk-secret-1" not in message and "abcd1234" not in message


@pytest.mark.parametrize("provider_name", ["openai", "anthropic"])
async def test_streaming(llm_server: FakeLLMServer, provider_name: str) -> None:
    llm_server.add(match="ping", reply="one two three", trickle=0.01)
    base = llm_server.openai_base if provider_name == "openai" else llm_server.url
    provider = make_provider(ModelRef(provider_name, "m", base_url=base), env=ENV)
    done = await provider.complete(USER, {"stream": True})
    await provider.aclose()
    assert done.text == "one two three" and done.usage is None


async def test_compatible_provider_without_key(llm_server: FakeLLMServer) -> None:
    ref = ModelRef("vllm", "llama", base_url="http://127.0.0.1:9/nowhere")
    env = {"VLLM_BASE_URL": llm_server.openai_base}
    provider = make_provider(ref, env=env)
    assert (await provider.complete(USER, {})).text == "echo: ping"
    await provider.aclose()
    assert "authorization" not in llm_server.requests[0].headers


def test_configuration_errors() -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        make_provider(ModelRef("openai", "gpt-4o"), env={})
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        make_provider(ModelRef("anthropic", "claude"), env={})
    with pytest.raises(ConfigError, match="unknown provider 'mystery'"):
        make_provider(ModelRef("mystery", "m"), env={})
    with pytest.raises(ConfigError):
        RateLimiter(0)


def test_retry_after_parsing_and_backoff() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = parse_retry_after(formatdate(time.time() + 30, usegmt=True))
    assert later is not None and 25 < later <= 30
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    for attempt, ceiling in [(0, 1.0), (2, 4.0), (10, 8.0)]:
        delays = [policy.backoff(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered


async def test_rate_limiter_spaces_requests() -> None:
    limiter = RateLimiter(600)  # one every 0.1 s
    start = time.perf_counter()
    await asyncio.gather(*(limiter.acquire() for _ in range(4)))
    assert time.perf_counter() - start >= 0.29
