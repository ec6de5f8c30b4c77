"""Async model providers over aiohttp: OpenAI-compatible chat-completions and Anthropic Messages.

Each request has a total deadline (``timeout``); 429, 5xx, timeouts and connection errors
are retried with exponential backoff and jitter, waiting at least what ``Retry-After``
asks. API keys are read from the environment when the provider is built, sent in a header,
and never stored, printed or put in an error message.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from promptver.bundle.spec import ModelRef
from promptver.errors import ConfigError, PromptverError
from promptver.evals.execution.ratelimit import MAX_RATE_WAITS, Limits, Throttle, estimate_tokens
from promptver.evals.execution.transport import Transport

# The run's pacing (evals/execution/ratelimit.py); the old name stays for callers of the library.
RateLimiter = Throttle

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
OPENAI_URL = "https://api.openai.com/v1"
ANTHROPIC_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"


class ProviderError(PromptverError):
    """A request failed for good (after retries, or with an error not worth retrying)."""

    attempts = 1


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None, rate_limited: bool = False) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.rate_limited = rate_limited  # a 429: wait it out without using up a retry


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int
    estimated: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"input": self.input_tokens, "output": self.output_tokens, "estimated": self.estimated}


@dataclass(frozen=True)
class Completion:
    text: str
    usage: Usage | None
    latency_ms: float
    attempts: int = 1
    facts: dict[str, Any] | None = None  # reproducibility facts: seed, system_fingerprint, model


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 120.0

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with equal jitter: half fixed, half random."""
        ceiling = min(self.max_delay, self.base_delay * 2**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)


class Provider(Protocol):
    label: str

    async def complete(self, messages: list[dict[str, str]], params: Mapping[str, Any]) -> Completion: ...

    async def aclose(self) -> None: ...


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _HTTPProvider:
    """The retry loop over the run's HTTP session; subclasses build and parse requests."""

    kind = ""

    def __init__(
        self,
        ref: ModelRef,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float,
        retry: RetryPolicy,
        limiter: Throttle | None,
        max_connections: int,
        transport: Transport | None = None,
    ) -> None:
        self.ref = ref
        self.base_url = base_url.rstrip("/")
        self.label = f"{ref.provider}:{ref.name}"
        self.timeout = timeout
        self.retry = retry
        self.limiter = limiter
        self._key = api_key
        # The run shares one session between its providers (target and grader); a provider
        # built on its own gets its own and closes it.
        self._owns_transport = transport is None
        self._transport = transport if transport is not None else Transport(max_connections)

    def __repr__(self) -> str:  # never show the key
        return f"<{type(self).__name__} {self.label} {self.base_url}>"

    async def aclose(self) -> None:
        if self._owns_transport:
            await self._transport.aclose()

    def _request(
        self, messages: list[dict[str, str]], params: Mapping[str, Any]
    ) -> tuple[str, dict[str, str], dict[str, Any]]:
        raise NotImplementedError

    def _parse(self, data: Any) -> tuple[str, Usage | None]:
        raise NotImplementedError

    def _parse_event(self, event: Any) -> str:
        raise NotImplementedError

    async def complete(self, messages: list[dict[str, str]], params: Mapping[str, Any]) -> Completion:
        url, headers, body = self._request(messages, params)

        def parse(data: Any) -> tuple[str, Usage | None, dict[str, Any] | None]:
            return (*self._parse(data), answer_facts(data))

        result, latency, attempts = await self.call(url, headers, body, parse)
        text, usage, facts = result if len(result) == 3 else (*result, None)  # a stream has no facts
        return Completion(text, usage, latency, attempts, facts)

    async def call(
        self,
        url: str,
        headers: dict[str, str],
        body: dict[str, Any],
        parse: Callable[[Any], Any] | None = None,
    ) -> tuple[Any, float, int]:
        """POST ``body`` as JSON with the deadline, retries and rate limit of every request;
        returns (``parse(response JSON)``, latency in ms, attempts). ``parse`` defaults to
        the chat answer's; embeddings and rerank requests (evals/execution/embeddings.py) pass theirs."""
        attempt = 0
        rate_waits = 0
        while True:
            if self.limiter is not None:
                await self.limiter.acquire(estimate_tokens(body))
            start = time.perf_counter()
            try:
                async with asyncio.timeout(self.timeout):
                    if body.get("stream"):
                        result: Any = await self._send_stream(url, headers, body)
                    else:
                        result = await self._send(url, headers, body, parse)
                latency = (time.perf_counter() - start) * 1000
                return result, latency, attempt + 1
            except TimeoutError:
                failure = _Retryable(f"timed out after {self.timeout:g}s")
            except _Retryable as exc:
                failure = exc
            except Exception as exc:  # transport errors: connection refused, reset, bad framing...
                import aiohttp

                if not isinstance(exc, aiohttp.ClientError):
                    raise
                if isinstance(exc, aiohttp.InvalidURL):
                    raise ProviderError(f"{self.label}: invalid URL {self.base_url!r}") from exc
                failure = _Retryable(f"{type(exc).__name__}: {exc}")
            if failure.rate_limited and self.limiter is not None and rate_waits < MAX_RATE_WAITS:
                wait = failure.retry_after
                if wait is None or wait <= self.retry.max_retry_after:
                    # the whole run slows down; this request is sent again in its turn
                    self.limiter.pause(self.retry.backoff(rate_waits) if wait is None else wait)
                    rate_waits += 1
                    continue
            if attempt >= self.retry.max_retries:
                error = ProviderError(f"{self.label}: {failure} (after {attempt + 1} attempts)")
                error.attempts = attempt + 1
                raise error
            wait = failure.retry_after
            if wait is not None and wait > self.retry.max_retry_after:
                error = ProviderError(f"{self.label}: {failure}; the server asks to wait {wait:g}s")
                error.attempts = attempt + 1
                raise error
            delay = self.retry.backoff(attempt) if wait is None else wait + random.uniform(0, 0.1)
            await asyncio.sleep(delay)
            attempt += 1

    def _check_status(self, status: int, headers: Mapping[str, str], text: str) -> None:
        detail = _error_detail(text, self._key)
        if status == 429 and "insufficient_quota" in text:  # OpenAI: no credit left, waiting will not help
            raise ProviderError(
                f"{self.label}: the account's quota is used up (HTTP 429){detail}",
                hint="check the plan and billing details of the provider account",
            )
        if status in RETRY_STATUS or status >= 500:
            wait = parse_retry_after(headers.get("retry-after"))
            if wait is None and status == 429:
                wait = Limits(headers).exhausted_for()
            raise _Retryable(f"HTTP {status}{detail}", wait, rate_limited=status == 429)
        if status in (401, 403):
            raise ProviderError(
                f"{self.label}: authentication failed (HTTP {status}){detail}",
                hint="check the API key in the environment",
            )
        raise ProviderError(f"{self.label}: HTTP {status}{detail}")

    async def _send(
        self,
        url: str,
        headers: dict[str, str],
        body: dict[str, Any],
        parse: Callable[[Any], Any] | None = None,
    ) -> Any:
        import msgspec

        async with self._transport.post(url, {**headers, **_JSON}, _dumps(body)) as response:
            content = await response.read()
            if self.limiter is not None:
                self.limiter.observe(response.headers)
            if response.status >= 300:  # redirects are not followed: a key stays where it was sent
                self._check_status(response.status, response.headers, _text(content))
        try:
            data = msgspec.json.decode(content)
        except msgspec.DecodeError as exc:
            raise ProviderError(f"{self.label}: malformed JSON in the response") from exc
        try:
            return (parse or self._parse)(data)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ProviderError(f"{self.label}: unexpected response shape ({exc!r})") from exc

    async def _send_stream(
        self, url: str, headers: dict[str, str], body: dict[str, Any]
    ) -> tuple[str, Usage | None]:
        """Read server-sent events (``data:`` lines) until ``[DONE]`` or the end of the body."""
        parts: list[str] = []
        async with self._transport.post(url, {**headers, **_JSON}, _dumps(body)) as response:
            if self.limiter is not None:
                self.limiter.observe(response.headers)
            if response.status >= 300:
                self._check_status(response.status, response.headers, _text(await response.read()))
            async for line in _lines(response.content.iter_any()):
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    break
                try:
                    parts.append(self._parse_event(json.loads(payload)))
                except (ValueError, KeyError, IndexError, TypeError) as exc:
                    raise ProviderError(f"{self.label}: malformed stream event") from exc
        return "".join(parts), None


_JSON = {"Content-Type": "application/json"}


def answer_facts(data: Any) -> dict[str, Any] | None:
    """What an answer says about the model that gave it: OpenAI's ``system_fingerprint``
    (the backend configuration) and both providers' ``model`` (the dated version served)."""
    if not isinstance(data, dict):
        return None
    facts = {k: data[k] for k in ("system_fingerprint", "model") if isinstance(data.get(k), str) and data[k]}
    return facts or None


def _dumps(body: dict[str, Any]) -> bytes:
    import msgspec

    return msgspec.json.encode(body)


def _text(content: bytes) -> str:
    return content.decode("utf-8", errors="replace")


async def _lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """Lines of a byte stream (``\n`` or ``\r\n`` ends), of any length."""
    rest = b""
    async for chunk in chunks:
        *lines, rest = (rest + chunk).split(b"\n")
        for line in lines:
            yield _text(line.removesuffix(b"\r"))
    if rest:
        yield _text(rest.removesuffix(b"\r"))


def _error_detail(text: str, key: str | None) -> str:
    """The start of an error body, redacted before it is cut: the key in use, every other
    key read from the environment, and anything that looks like a key (providers echo a
    partly masked key in 401 messages). See `promptver.evals.execution.redact`."""
    from promptver.evals.execution.redact import MASK, cut

    if key:
        text = text.replace(key, MASK)
    text = cut(text, 200)
    return f": {text}" if text else ""


class OpenAIProvider(_HTTPProvider):
    """Any OpenAI-compatible chat-completions server (OpenAI, vLLM, Ollama, llama.cpp...)."""

    kind = "openai"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key}"} if self._key else {}

    def _request(
        self, messages: list[dict[str, str]], params: Mapping[str, Any]
    ) -> tuple[str, dict[str, str], dict[str, Any]]:
        headers = self.auth_headers()
        body: dict[str, Any] = {"model": self.ref.name, "messages": messages, **params}
        return f"{self.base_url}/chat/completions", headers, body

    def _parse(self, data: Any) -> tuple[str, Usage | None]:
        text = data["choices"][0]["message"]["content"] or ""
        usage = data.get("usage")
        if isinstance(usage, dict) and "prompt_tokens" in usage:
            return text, Usage(int(usage["prompt_tokens"]), int(usage.get("completion_tokens", 0)))
        return text, None

    def _parse_event(self, event: Any) -> str:
        choices = event.get("choices") or []
        return str((choices[0].get("delta") or {}).get("content") or "") if choices else ""


class AnthropicProvider(_HTTPProvider):
    """The Anthropic Messages API; system messages go to the top-level ``system`` field."""

    kind = "anthropic"

    def _request(
        self, messages: list[dict[str, str]], params: Mapping[str, Any]
    ) -> tuple[str, dict[str, str], dict[str, Any]]:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if self._key:
            headers["x-api-key"] = self._key
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        body: dict[str, Any] = {
            "model": self.ref.name,
            "max_tokens": 1024,
            "messages": [m for m in messages if m["role"] != "system"],
            **params,
        }
        if system:
            body["system"] = system
        return f"{self.base_url}/v1/messages", headers, body

    def _parse(self, data: Any) -> tuple[str, Usage | None]:
        text = "".join(b.get("text", "") for b in data["content"] if b.get("type") == "text")
        usage = data.get("usage")
        if isinstance(usage, dict) and "input_tokens" in usage:
            return text, Usage(int(usage["input_tokens"]), int(usage.get("output_tokens", 0)))
        return text, None

    def _parse_event(self, event: Any) -> str:
        if event.get("type") == "content_block_delta":
            return str(event["delta"].get("text") or "")
        return ""


def key_variable(provider: str) -> str:
    """The environment variable holding a provider's API key (``OPENAI_API_KEY``...)."""
    return provider.upper().replace("-", "_").replace(".", "_") + "_API_KEY"


def make_provider(
    ref: ModelRef,
    *,
    timeout: float = 60.0,
    retry: RetryPolicy | None = None,
    limiter: Throttle | None = None,
    max_connections: int = 10,
    env: Mapping[str, str] | None = None,
    transport: Transport | None = None,
) -> Provider:
    """Build the client for a model reference, or raise ConfigError before any request.

    ``openai`` and ``anthropic`` need their key (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``);
    any other provider name is an OpenAI-compatible server that needs a ``base_url`` and uses
    ``<NAME>_API_KEY`` when it is set. ``<NAME>_BASE_URL`` overrides the base URL.
    ``transport`` is the run's shared HTTP session (the caller closes it); without one the
    provider opens its own with ``max_connections`` connections and closes it in ``aclose``.
    """
    env = os.environ if env is None else env
    name = ref.provider.lower()
    variable = key_variable(name)
    key = env.get(variable) or None
    from promptver.evals.execution.redact import remember

    remember(key)
    env_base = env.get(name.upper().replace("-", "_") + "_BASE_URL") or None
    base = env_base or ref.base_url
    options: dict[str, Any] = {
        "timeout": timeout,
        "retry": retry or RetryPolicy(),
        "limiter": limiter,
        "max_connections": max_connections,
        "transport": transport,
    }
    if name in ("openai", "anthropic") and key is None:
        raise ConfigError(
            f"missing API key for provider {ref.provider!r}", hint=f"set the environment variable {variable}"
        )
    if name not in ("openai", "anthropic") and not base:
        raise ConfigError(
            f"unknown provider {ref.provider!r}",
            hint="use openai or anthropic, or give the OpenAI-compatible server's base_url "
            f"in [model] (or {name.upper().replace('-', '_')}_BASE_URL)",
        )
    url = base or (ANTHROPIC_URL if name == "anthropic" else OPENAI_URL)
    if key is not None:  # a bundle's URL never receives a key by itself (evals/execution/hosts.py)
        from promptver.evals.execution.hosts import check_key_destination

        check_key_destination(name, variable, url, env=env, from_env=env_base is not None)
    if name == "anthropic":
        return AnthropicProvider(ref, url, key, **options)
    return OpenAIProvider(ref, url, key, **options)
