"""What answers a case: the bundle's own model, or the user's ``python:pkg.mod:fn``."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from promptver.bundle.spec import ModelRef
from promptver.errors import ConfigError
from promptver.evals.execution.assertions import import_python_ref
from promptver.evals.execution.bundle import BundleView, Case
from promptver.evals.execution.cache import RequestCache, request_key
from promptver.evals.execution.providers import Completion, Provider, Usage


@dataclass
class Answer:
    output: str
    usage: Usage | None
    latency_ms: float
    cached: bool = False
    attempts: int = 0  # requests sent (0 when answered from the cache)
    sources: list[str] = field(default_factory=list)
    batch: bool = False  # answered by the provider's batch API (billed at the batch price)
    facts: dict[str, Any] | None = None  # system_fingerprint, model version (evals/execution/providers.py)
    # retrieved chunks, best first ({source, chunk, score}), for targets that retrieve
    retrieved: list[dict[str, Any]] | None = None


class Target(Protocol):
    label: str
    renders: bool  # whether the runner renders messages for it

    async def answer(self, case: Case, messages: list[dict[str, str]] | None, repeat: int = 0) -> Answer: ...

    async def aclose(self) -> None: ...


class CachedModel:
    """A provider plus the request cache; also used for the llm-judge grader."""

    def __init__(
        self, ref: ModelRef, provider: Provider, params: dict[str, Any], cache: RequestCache | None
    ) -> None:
        self.ref = ref
        self.provider = provider
        self.params = params
        self.cache = cache
        self.calls = 0
        # answers of a --batch run by request key (evals/batchrun.py): a Completion, or why none
        self.batch: dict[str, Completion | str] | None = None

    def key(self, messages: list[dict[str, str]], sample: int = 0) -> str:
        return request_key(
            self.ref.provider,
            getattr(self.provider, "base_url", None),
            self.ref.name,
            self.params,
            messages,
            sample,
            self.cache.kind if self.cache is not None else "generation",
        )

    async def complete(self, messages: list[dict[str, str]], sample: int = 0) -> Answer:
        key = None
        cache = self.cache
        if cache is not None or self.batch is not None:
            key = self.key(messages, sample)
        if cache is not None and key is not None:
            # the shared layer (the remote) blocks: off the event loop
            hit = cache.get(key) if cache.shared is None else await cache.run(cache.get, key)
            if hit is not None:
                return Answer(hit.text, hit.usage, hit.latency_ms, cached=True, facts=hit.facts)
        batched = self.batch.get(key) if self.batch is not None and key is not None else None
        if isinstance(batched, str):
            from promptver.evals.execution.providers import ProviderError

            raise ProviderError(f"{self.ref.provider}:{self.ref.name}: {batched}")
        if batched is None:
            self.calls += 1
            completion = await self.provider.complete(messages, self.params)
        else:
            completion = batched
        if key is not None and cache is not None:
            if cache.shared is None:
                cache.put(key, completion)
            else:
                await cache.run(cache.put, key, completion)
        return Answer(
            completion.text,
            completion.usage,
            completion.latency_ms,
            attempts=completion.attempts,
            batch=batched is not None,
            facts=completion.facts,
        )

    async def as_completion(self, messages: list[dict[str, str]]) -> Completion:
        answer = await self.complete(messages)
        return Completion(answer.output, answer.usage, answer.latency_ms)


class ModelTarget:
    renders = True

    def __init__(self, model: CachedModel) -> None:
        self.model = model
        self.label = f"model:{model.ref.provider}:{model.ref.name}"

    async def answer(self, case: Case, messages: list[dict[str, str]] | None, repeat: int = 0) -> Answer:
        assert messages is not None
        return await self.model.complete(messages, repeat)

    async def aclose(self) -> None:
        await self.model.provider.aclose()


class PythonTarget:
    """``fn(bundle, case)``, sync (run in a thread) or async; returns the output or a dict
    with ``output`` and optionally ``usage`` ({input, output}) and ``sources``."""

    renders = False

    def __init__(self, spec: str, function: Callable[..., Any], bundle: BundleView) -> None:
        self.label = spec
        self.function = function
        self.bundle = bundle

    async def answer(self, case: Case, messages: list[dict[str, str]] | None, repeat: int = 0) -> Answer:
        start = time.perf_counter()
        if inspect.iscoroutinefunction(self.function):
            result = await self.function(self.bundle, case)
        else:
            result = await asyncio.to_thread(self.function, self.bundle, case)
            if inspect.isawaitable(result):
                result = await result
        latency = (time.perf_counter() - start) * 1000
        usage = None
        sources: list[str] = []
        if isinstance(result, dict) and "output" in result:
            raw = result.get("usage")
            if isinstance(raw, dict):
                usage = Usage(int(raw.get("input", 0)), int(raw.get("output", 0)))
            sources = [str(s) for s in result.get("sources") or []]
            result = result["output"]
        output = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
        return Answer(output, usage, latency, attempts=0, sources=sources)  # a call, not a request

    async def aclose(self) -> None:
        return None


def load_function(spec: str) -> Callable[..., Any]:
    if not spec.startswith("python:"):
        raise ConfigError(f"bad target {spec!r}", hint="use 'model' or python:package.module:function")
    return import_python_ref(spec, f"target {spec!r}")


def model_params(ref: ModelRef, bundle: BundleView | None) -> dict[str, Any]:
    """The parameters sent with every request: ``[model.params]`` plus the response format."""
    params = dict(ref.params)
    fmt = ref.response_format
    if fmt and ref.provider.lower() != "anthropic":
        kind = fmt.get("type")
        if kind == "json_object":
            params.setdefault("response_format", {"type": "json_object"})
        elif kind == "json_schema" and fmt.get("schema") is not None:
            schema = fmt["schema"]
            if isinstance(schema, str):
                if bundle is None:
                    raise ConfigError("a response_format schema file needs a bundle")
                try:
                    schema = json.loads(bundle.read_bytes(schema))
                except ValueError as exc:
                    raise ConfigError(f"response_format schema {fmt['schema']!r} is not JSON") from exc
            params.setdefault(
                "response_format",
                {
                    "type": "json_schema",
                    "json_schema": {"name": "response", "schema": schema, "strict": True},
                },
            )
    return params
