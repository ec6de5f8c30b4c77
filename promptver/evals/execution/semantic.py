"""``similar`` by meaning: cosine similarity of the provider's embeddings.

    { type = "similar", value = "Refunds within 30 days", threshold = 0.85,
      embedding_model = "text-embedding-3-small" }

With ``embedding_model`` the output and each value are embedded (``POST
{base_url}/embeddings`` of ``embedding_provider``, default the bundle's ``[model]``
provider and base URL; the key and ``<PROVIDER>_BASE_URL`` as for models) and the score is
the best cosine similarity. Vectors are cached in the store's embedding cache, so a re-run
embeds nothing again. Without ``embedding_model``, ``similar`` is the string ratio, as
``similar-text`` always is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from promptver.bundle.spec import ModelRef
from promptver.errors import ConfigError
from promptver.evals.execution.providers import Provider


def endpoint(spec: dict[str, Any], model: ModelRef | None, where: str) -> ModelRef:
    """The embeddings endpoint an assertion names (ConfigError when it cannot be built)."""
    name = spec.get("embedding_model")
    provider = spec.get("embedding_provider")
    base_url = spec.get("embedding_base_url")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: 'embedding_model' must be a model name")
    for key, value in (("embedding_provider", provider), ("embedding_base_url", base_url)):
        if value is not None and (not isinstance(value, str) or not value):
            raise ConfigError(f"{where}: {key!r} must be a string")
    if provider is None:
        if model is None:
            raise ConfigError(
                f"{where}: 'similar' with embedding_model needs embedding_provider",
                hint="the bundle has no [model] to borrow the provider from",
            )
        provider = model.provider
    if base_url is None and model is not None and model.provider == provider:
        base_url = model.base_url
    return ModelRef(provider=str(provider), name=name, base_url=base_url)


def key(ref: ModelRef) -> str:
    return f"{ref.provider}|{ref.base_url}|{ref.name}"


class Embedders:
    """One `Embedder` per embeddings endpoint the run's ``similar`` assertions name."""

    def __init__(self) -> None:
        self._by_key: dict[str, Any] = {}

    def add(self, ref: ModelRef, make: Callable[[ModelRef], Provider], cache: Any, where: str) -> None:
        from promptver.evals.execution.embeddings import Embedder

        if key(ref) not in self._by_key:
            try:
                self._by_key[key(ref)] = Embedder(make(ref), ref.name, cache, where)
            except ConfigError as exc:
                raise ConfigError(
                    f"{where}: embedding_model {ref.name!r}: {exc.message}", hint=exc.hint
                ) from None

    def __bool__(self) -> bool:
        return bool(self._by_key)

    async def similarity(self, ref: ModelRef, output: str, values: list[str]) -> float:
        """The best cosine similarity of the output to one of the values."""
        embedder = self._by_key[key(ref)]
        vectors = await embedder.embed([output, *values])
        return max(float(vectors[0] @ vectors[i]) for i in range(1, len(values) + 1))

    async def aclose(self) -> None:
        for embedder in self._by_key.values():
            await embedder.aclose()
