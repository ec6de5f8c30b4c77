"""Embeddings and reranking over HTTP, through the providers' request path.

``Embedder`` calls an OpenAI-compatible ``POST {base_url}/embeddings``; ``Reranker`` a
Cohere/Jina-style ``POST {base_url}/rerank``. Both are built by ``make_provider``, so the
provider name, base URL (``<NAME>_BASE_URL``), API key (``<NAME>_API_KEY``), deadlines,
retries, rate limit and key masking are those of model requests.

Vectors are cached in the store's cache (``cache/embeddings.sqlite``) by (provider, base
URL, model, sha256 of the text): re-chunking embeds only the new chunks, and a re-run of an
unchanged version sends no embedding request.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import sqlite3
import threading
from pathlib import Path
from typing import Any

from promptver.errors import ConfigError
from promptver.evals.execution.providers import OpenAIProvider, Provider, ProviderError

BATCH = 128  # texts per embeddings request
PARALLEL = 8  # embeddings requests in flight at once
MEMO = 5000  # vectors of short lists (queries) kept in memory


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class EmbeddingCache:
    """(model key, text digest) -> float32 vector, in one SQLite file shared by runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS vectors (model TEXT, digest TEXT, vector BLOB,"
                " PRIMARY KEY (model, digest)) WITHOUT ROWID"
            )
            self._db = db
        return self._db

    def get(self, model: str, digests: list[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        with self._lock:
            db = self._connect()
            for start in range(0, len(digests), 500):
                part = digests[start : start + 500]
                marks = ",".join("?" * len(part))
                rows = db.execute(
                    f"SELECT digest, vector FROM vectors WHERE model = ? AND digest IN ({marks})",
                    [model, *part],
                )
                found.update(rows)
        return found

    def put(self, model: str, items: list[tuple[str, bytes]]) -> None:
        with self._lock:
            db = self._connect()
            with db:
                db.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", [(model, d, v) for d, v in items]
                )

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def _openai_compatible(provider: Provider, what: str, where: str) -> OpenAIProvider:
    if not isinstance(provider, OpenAIProvider):
        raise ConfigError(
            f"{where}: {what} needs an OpenAI-compatible endpoint; {provider.label} has none",
            hint="name another provider with its base URL in [rag]",
        )
    return provider


class Embedder:
    """Unit-length vectors for texts, from the cache or the embeddings endpoint."""

    def __init__(self, provider: Provider, model: str, cache: EmbeddingCache | None, where: str) -> None:
        self.provider = _openai_compatible(provider, "embedding_model", where)
        self.model = model
        self.cache = cache
        self.key = f"{provider.label}@{self.provider.base_url}"
        self.requests = 0  # embedding requests sent (retries included)
        self._memo: dict[str, Any] = {}

    async def embed(self, texts: list[str]) -> Any:
        """An (n, d) float32 numpy array, each row of length 1."""
        import numpy as np

        digests = [text_digest(t) for t in texts]
        vectors: dict[str, Any] = {d: self._memo[d] for d in digests if d in self._memo}
        unknown = list(dict.fromkeys(d for d in digests if d not in vectors))
        if unknown and self.cache is not None:
            known = self.cache.get(self.key, unknown)
            vectors.update((d, np.frombuffer(v, dtype=np.float32)) for d, v in known.items())
        missing = list(dict.fromkeys(d for d in digests if d not in vectors))
        text_of = dict(zip(digests, texts, strict=True))
        gate = asyncio.Semaphore(PARALLEL)

        async def fetch(batch: list[str]) -> None:
            async with gate:
                rows = await self._request([text_of[d] for d in batch])
            norms = np.linalg.norm(rows, axis=1, keepdims=True)
            rows = rows / np.where(norms > 0, norms, 1)
            fresh = []
            for digest, vector in zip(batch, rows, strict=True):
                vectors[digest] = vector
                fresh.append((digest, vector.tobytes()))
            if self.cache is not None:
                self.cache.put(self.key, fresh)

        await asyncio.gather(*(fetch(missing[i : i + BATCH]) for i in range(0, len(missing), BATCH)))
        if len(texts) <= MEMO:  # queries: kept in memory for the searches that follow
            if len(self._memo) > 4 * MEMO:
                self._memo.clear()
            self._memo.update((d, vectors[d]) for d in digests)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        sizes = {len(vectors[d]) for d in digests}
        if len(sizes) > 1:
            raise ProviderError(f"{self.provider.label}: embeddings of different lengths ({sorted(sizes)})")
        return np.stack([vectors[d] for d in digests])

    async def _request(self, texts: list[str]) -> Any:
        """The texts' raw vectors as one (n, d) float32 array.

        Asked for as base64 (little-endian float32, as OpenAI's own client does): a batch
        of 128 vectors of 1,536 dimensions is 200,000 numbers, which cost both sides far
        more as JSON text. A server that ignores ``encoding_format`` sends lists of
        numbers, which are read too (`embedding_rows`)."""
        provider = self.provider
        body = {"model": self.model, "input": texts, "encoding_format": "base64"}

        def parse(data: Any) -> Any:
            return embedding_rows(data, len(texts))

        rows, _latency, attempts = await provider.call(
            f"{provider.base_url}/embeddings", provider.auth_headers(), body, parse
        )
        self.requests += attempts
        return rows

    async def aclose(self) -> None:
        await self.provider.aclose()


def embedding_rows(data: Any, count: int) -> Any:
    """The vectors of an embeddings response as one (count, d) float32 array, in input
    order; ValueError saying what is wrong with the response otherwise."""
    import numpy as np

    def vector(value: Any) -> Any:
        if isinstance(value, str):
            try:
                raw = base64.b64decode(value, validate=True)
            except ValueError:
                raise ValueError("an embedding is a string that is not base64") from None
            if len(raw) % 4:
                raise ValueError("a base64 embedding is not a whole number of float32 values")
            return np.frombuffer(raw, dtype="<f4")
        return np.asarray(value, dtype=np.float32)

    items = sorted(data["data"], key=lambda item: item.get("index", 0))
    if len(items) != count:
        raise ValueError(f"{len(items)} embeddings for {count} texts")
    vectors = [vector(item["embedding"]) for item in items]
    if any(v.ndim != 1 or not len(v) for v in vectors) or len({len(v) for v in vectors}) > 1:
        raise ValueError("the embeddings are not lists of numbers of one length")
    rows = np.stack(vectors).astype(np.float32) if vectors else np.zeros((0, 0), np.float32)
    if not np.isfinite(rows).all():
        raise ValueError("an embedding holds a value that is not a finite number")
    return rows


class Reranker:
    """Scores documents against a query with a ``/rerank`` endpoint (Cohere, Jina, TEI...)."""

    def __init__(self, provider: Provider, model: str, where: str) -> None:
        self.provider = _openai_compatible(provider, "reranker", where)
        self.model = model
        self.requests = 0

    async def rerank(self, query: str, documents: list[str]) -> list[tuple[int, float]]:
        """(position in ``documents``, relevance score), best first."""
        if not documents:
            return []
        provider = self.provider
        body = {"model": self.model, "query": query, "documents": documents, "top_n": len(documents)}

        def parse(data: Any) -> list[tuple[int, float]]:
            out = [(int(r["index"]), float(r["relevance_score"])) for r in data["results"]]
            if any(not 0 <= i < len(documents) for i, _ in out):
                raise ValueError("a rerank result points outside the documents")
            return out

        results, _latency, attempts = await provider.call(
            f"{provider.base_url}/rerank", provider.auth_headers(), body, parse
        )
        self.requests += attempts
        ranked: list[tuple[int, float]] = sorted(results, key=lambda item: (-item[1], item[0]))
        return ranked

    async def aclose(self) -> None:
        await self.provider.aclose()
