"""The bundle's RAG pipeline, executed: retrieve with the version's own ``[rag]`` settings.

    settings()   every ``[rag]`` check, and the endpoints' keys, before any request
    Retriever    chunks the corpus (``[rag.chunking]``), indexes it, and answers queries:
                 bm25 (bm25s), dense (embeddings + cosine in numpy), hybrid (reciprocal rank
                 fusion of both), then the optional reranker over the fused candidates
    RagTarget    ``--target rag``: retrieve, put the chunks in ``[rag] context_var``,
                 render, call the model; ``--target retrieval:configured``: the same
                 retrieval without the model

Indexes are kept per process by (corpus digest, chunking, retriever, embedding model), so
several runs of one version, ``--repeat`` and the run-time retriever index once; the
vectors themselves are cached in the store (evals/execution/embeddings.py), so a re-run makes no
embedding request.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from promptver.bundle.chunking import TEXT_SUFFIXES, Chunk, Chunking, document_title
from promptver.bundle.spec import ModelRef
from promptver.errors import ConfigError, did_you_mean
from promptver.evals.execution.bundle import Case
from promptver.evals.execution.embeddings import Embedder, EmbeddingCache, Reranker
from promptver.evals.execution.providers import Provider
from promptver.evals.execution.targets import Answer, CachedModel
from promptver.evals.retrieval.offline import BM25Index, rag_table, terms, top_k

RETRIEVERS = ("bm25", "dense", "hybrid")
DEFAULT_CONTEXT_VAR = "context"
DEFAULT_CANDIDATES = 20
DEFAULT_RRF_K = 60
SLICE = 64  # documents chunked (or chunks tokenized) between two turns of the event loop


@dataclass(frozen=True)
class RagSettings:
    """The ``[rag]`` table, checked."""

    corpus: str
    top_k: int
    chunking: Chunking
    retriever: str
    context_var: str
    candidates: int  # chunks each retriever passes on to fusion and reranking
    embedding: ModelRef | None
    reranker: ModelRef | None
    bm25_weight: float = 1.0
    dense_weight: float = 1.0
    rrf_k: int = DEFAULT_RRF_K

    @property
    def label(self) -> str:
        rerank = "+rerank" if self.reranker else ""
        return f"{self.retriever}{rerank}:top{self.top_k}"


def _endpoint(table: dict[str, Any], prefix: str, name: str, model: ModelRef | None, where: str) -> ModelRef:
    """``<prefix>_provider`` / ``<prefix>_base_url``, defaulting to the [model]'s."""
    provider = table.get(f"{prefix}_provider")
    if provider is None:
        if model is None:
            raise ConfigError(
                f"{where}: [rag] {prefix}_provider is needed (the bundle has no [model] to borrow it from)"
            )
        provider = model.provider
    if not isinstance(provider, str) or not provider:
        raise ConfigError(f"{where}: [rag] {prefix}_provider must be a provider name")
    base_url = table.get(f"{prefix}_base_url")
    if base_url is None and model is not None and model.provider == provider:
        base_url = model.base_url
    return ModelRef(provider=provider, name=name, base_url=base_url)


def _number(value: Any, where: str, key: str, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ConfigError(f"{where}: [rag] {key} must be a number >= {minimum:g}")
    return float(value)


def settings(config: Mapping[str, Any], model: ModelRef | None, where: str) -> RagSettings:
    """Check ``[rag]``; raises ConfigError naming the key and the file."""
    table, folder, k = rag_table(config, where, "retrieval")
    retriever = table.get("retriever", "bm25")
    if retriever not in RETRIEVERS:
        raise ConfigError(
            f"{where}: [rag] retriever {retriever!r} is not one promptver can run",
            hint=did_you_mean(str(retriever), RETRIEVERS) or f"retrievers: {', '.join(RETRIEVERS)}",
        )
    context_var = table.get("context_var", DEFAULT_CONTEXT_VAR)
    if not isinstance(context_var, str) or not context_var.isidentifier():
        raise ConfigError(f"{where}: [rag] context_var must be a template variable name")
    candidates = table.get("candidates", max(DEFAULT_CANDIDATES, k))
    if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < k:
        raise ConfigError(f"{where}: [rag] candidates must be a whole number >= top_k ({k})")
    embedding = None
    if retriever in ("dense", "hybrid"):
        name = table.get("embedding_model")
        if not isinstance(name, str) or not name:
            raise ConfigError(
                f"{where}: [rag] retriever {retriever!r} needs an embedding_model",
                hint='e.g. embedding_model = "text-embedding-3-small" (served at <base_url>/embeddings)',
            )
        embedding = _endpoint(table, "embedding", name, model, where)
    reranker = None
    if table.get("reranker"):
        name = table["reranker"]
        if not isinstance(name, str):
            raise ConfigError(f"{where}: [rag] reranker must be a model name")
        reranker = _endpoint(table, "reranker", name, model, where)
    hybrid = table.get("hybrid") or {}
    if not isinstance(hybrid, dict):
        raise ConfigError(f"{where}: [rag.hybrid] must be a table")
    weights = (
        _number(hybrid.get("bm25_weight", 1.0), where, "hybrid.bm25_weight"),
        _number(hybrid.get("dense_weight", 1.0), where, "hybrid.dense_weight"),
    )
    if retriever == "hybrid" and not any(weights):
        raise ConfigError(f"{where}: [rag.hybrid] bm25_weight and dense_weight cannot both be 0")
    rrf_k = hybrid.get("rrf_k", DEFAULT_RRF_K)
    if isinstance(rrf_k, bool) or not isinstance(rrf_k, int) or rrf_k < 1:
        raise ConfigError(f"{where}: [rag.hybrid] rrf_k must be a whole number >= 1")
    return RagSettings(
        corpus=folder.strip("/"),
        top_k=k,
        chunking=Chunking.from_config(table.get("chunking"), where),
        retriever=str(retriever),
        context_var=context_var,
        candidates=candidates,
        embedding=embedding,
        reranker=reranker,
        bm25_weight=weights[0],
        dense_weight=weights[1],
        rrf_k=rrf_k,
    )


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with its score (BM25, cosine, fused or reranker score)."""

    chunk: Chunk
    score: float

    @property
    def source(self) -> str:
        return self.chunk.path

    def to_context(self) -> dict[str, Any]:
        """What the template sees in ``[rag] context_var``: one of a list of these."""
        c = self.chunk
        return {"title": c.title, "text": c.text, "source": c.path, "score": round(self.score, 6)}

    def to_json(self) -> dict[str, Any]:
        return {"source": self.chunk.path, "chunk": self.chunk.index, "score": round(self.score, 6)}


# -- the corpus -----------------------------------------------------------------------------


class Corpus:
    """The corpus documents of one bundle version: read through ``read_bytes`` (verified
    for a stored version), with the digest of their contents."""

    def __init__(
        self, label: str, entries: Mapping[str, Any], read_bytes: Callable[[str], bytes], folder: str
    ) -> None:
        prefix = folder.strip("/") + "/"
        self.label = label
        self.paths = sorted(p for p in entries if p.startswith(prefix) and p.lower().endswith(TEXT_SUFFIXES))
        if not self.paths:
            raise ConfigError(
                f"{label}: the corpus folder {folder!r} holds no text documents",
                hint=f"add documents ({', '.join(TEXT_SUFFIXES)}) under {folder}/ in the bundle",
            )
        listing = "\n".join(f"{p} {entries[p].digest}" for p in self.paths)
        self.digest = "sha256:" + hashlib.sha256(listing.encode()).hexdigest()
        self._read = read_bytes

    def chunks(self, chunking: Chunking) -> list[Chunk]:
        out: list[Chunk] = []
        for path in self.paths:
            out += self.document_chunks(path, chunking)
        return out

    def document_chunks(self, path: str, chunking: Chunking) -> list[Chunk]:
        try:
            text = self._read(path).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{self.label}: corpus document {path!r} is not UTF-8 text: {exc}") from exc
        title = document_title(path, text)
        return [Chunk(path, title, i, piece) for i, piece in enumerate(chunking.split(text))]


def chunk_text(chunk: Chunk) -> str:
    """What is indexed and embedded for a chunk: its document's title, then its text."""
    return f"{chunk.title}\n{chunk.text}"


class Index:
    """The chunks of a corpus with their BM25 index and/or their unit vectors."""

    def __init__(self, chunks: list[Chunk], bm25: BM25Index | None, vectors: Any) -> None:
        self.chunks = chunks
        self.bm25 = bm25
        self.vectors = vectors


_INDEXES: dict[tuple[Any, ...], Index] = {}


def index_key(corpus: Corpus, s: RagSettings, embedder: Embedder | None) -> tuple[Any, ...]:
    model = (embedder.key, s.embedding.name) if embedder is not None and s.embedding else None
    return (corpus.digest, s.chunking, s.retriever, model)


class Retriever:
    """Search one version's corpus with its ``[rag]`` settings.

    ``await search(query)`` returns ``top_k`` hits, best first. Endpoint clients are built
    (and their keys checked) in the constructor; nothing is sent before ``build()`` or
    the first search."""

    def __init__(
        self,
        corpus: Corpus,
        rag: RagSettings,
        *,
        make: Callable[[ModelRef], Provider] | None = None,
        cache: EmbeddingCache | None = None,
        where: str = "",
    ) -> None:
        self.corpus = corpus
        self.settings = rag
        self.embedder: Embedder | None = None
        self.reranker: Reranker | None = None
        self._cache = cache
        if rag.embedding is not None or rag.reranker is not None:
            assert make is not None, "dense, hybrid and reranking need a provider factory"
        if rag.embedding is not None and make is not None:
            provider = _checked(make, rag.embedding, "embedding_model", where)
            self.embedder = Embedder(provider, rag.embedding.name, cache, where)
        if rag.reranker is not None and make is not None:
            provider = _checked(make, rag.reranker, "reranker", where)
            self.reranker = Reranker(provider, rag.reranker.name, where)
        self._index: Index | None = None
        self._lock: asyncio.Lock | None = None
        self._query_vectors: dict[str, Any] = {}  # warm()'s query embeddings

    @property
    def requests(self) -> int:
        """Embedding and rerank requests sent so far."""
        return (self.embedder.requests if self.embedder else 0) + (
            self.reranker.requests if self.reranker else 0
        )

    async def build(self) -> Index:
        if self._index is not None:
            return self._index
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._index is None:
                key = index_key(self.corpus, self.settings, self.embedder)
                index = _INDEXES.get(key)
                if index is None:
                    index = await self._build()
                    if len(_INDEXES) >= 8:
                        _INDEXES.pop(next(iter(_INDEXES)))
                    _INDEXES[key] = index
                self._index = index
        assert self._index is not None
        return self._index

    async def _build(self) -> Index:
        """Chunk, then tokenize for BM25 while the chunks' embeddings are requested.

        The work is done on the event loop in slices of a few milliseconds, not in a
        thread: a thread holding the GIL made each response the loop waited for (the
        query and chunk embeddings) wait up to 5 ms more, and that set the build's pace."""
        chunks: list[Chunk] = []
        for n, path in enumerate(self.corpus.paths, start=1):
            chunks += self.corpus.document_chunks(path, self.settings.chunking)
            if n % SLICE == 0:
                await asyncio.sleep(0)
        embedding = None
        if self.embedder is not None:
            embedding = asyncio.ensure_future(self.embedder.embed([chunk_text(c) for c in chunks]))
        try:
            bm25 = None
            if self.settings.retriever in ("bm25", "hybrid"):
                tokens: list[list[str]] = []
                for start in range(0, len(chunks), SLICE):
                    tokens += [terms(chunk_text(c)) for c in chunks[start : start + SLICE]]
                    await asyncio.sleep(0)
                bm25 = BM25Index(chunks, tokens)
        finally:
            vectors = await embedding if embedding is not None else None
        return Index(chunks, bm25, vectors)

    async def warm(self, queries: list[str]) -> None:
        """Build the index while the queries are embedded (in batches), so a case's search
        sends nothing. Ranking stays per case: it overlaps the cases' model requests, where
        ranking every query up front would delay the first case."""
        unique = list(dict.fromkeys(queries))
        if self.embedder is None or not unique:
            await self.build()
            return
        asked = asyncio.ensure_future(self.embedder.embed(unique))
        try:
            await self.build()
        finally:
            vectors = await asked
        self._query_vectors.update(zip(unique, vectors, strict=True))

    def _rank(self, index: Index, query: str, vector: Any) -> list[tuple[int, float]]:
        """The candidates of one query (BM25, dense or fused), best first, before reranking."""
        s = self.settings
        n = s.candidates if (s.reranker or s.retriever == "hybrid") else s.top_k
        lists: list[tuple[float, list[tuple[int, float]]]] = []
        if index.bm25 is not None:
            lists.append((s.bm25_weight, top_k(index.bm25.scores(query), n)))
        if index.vectors is not None and vector is not None and len(index.chunks):
            similarity = index.vectors @ vector
            lists.append((s.dense_weight, top_k(similarity, n, positive=False)))
        if not lists:
            return []
        return lists[0][1] if len(lists) == 1 else fuse(lists, s.rrf_k)[:n]

    async def search(self, query: str) -> list[Hit]:
        index = await self.build()
        s = self.settings
        vector = None
        if index.vectors is not None and self.embedder is not None and len(index.chunks):
            vector = self._query_vectors.get(query)
            if vector is None:
                vector = (await self.embedder.embed([query]))[0]
        ranked = self._rank(index, query, vector)
        if self.reranker is not None and ranked:
            documents = [chunk_text(index.chunks[i]) for i, _ in ranked]
            order = await self.reranker.rerank(query, documents)
            ranked = [(ranked[i][0], score) for i, score in order]
        return [Hit(index.chunks[i], score) for i, score in ranked[: s.top_k]]

    async def aclose(self) -> None:
        if self.embedder is not None:
            await self.embedder.aclose()
        if self.reranker is not None:
            await self.reranker.aclose()


def fuse(lists: list[tuple[float, list[tuple[int, float]]]], k: int) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: sum over the lists of ``weight / (k + rank)``; ties by position."""
    fused: dict[int, float] = {}
    for weight, ranked in lists:
        for rank, (i, _score) in enumerate(ranked, start=1):
            fused[i] = fused.get(i, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def _checked(make: Callable[[ModelRef], Provider], ref: ModelRef, key: str, where: str) -> Provider:
    """The provider for an endpoint, with a ConfigError that names the ``[rag]`` key."""
    try:
        return make(ref)
    except ConfigError as exc:
        raise ConfigError(f"{where}: [rag] {key} {ref.name!r}: {exc.message}", hint=exc.hint) from None


def format_hits(hits: list[Hit]) -> str:
    return "\n\n".join(
        f"[{rank}] {h.chunk.title} ({h.chunk.path}#{h.chunk.index})\n{h.chunk.text}"
        for rank, h in enumerate(hits, start=1)
    )


class RagTarget:
    """``--target rag`` (with a model) or ``--target retrieval:configured`` (without)."""

    def __init__(self, retriever: Retriever, query_var: str, model: CachedModel | None) -> None:
        self.retriever = retriever
        self.query_var = query_var
        self.model = model
        self.renders = model is not None
        self.top_k = retriever.settings.top_k
        self.context_var = retriever.settings.context_var
        kind = retriever.settings.label
        ref = model.ref if model is not None else None
        self.label = f"rag:{kind}:model:{ref.provider}:{ref.name}" if ref else f"retrieval:{kind}"

    def query(self, case: Case) -> str:
        query = case.vars.get(self.query_var)
        if not isinstance(query, str):
            raise ValueError(f"the case has no string variable {self.query_var!r} to retrieve with")
        return query

    async def warm(self, cases: list[Case]) -> None:
        queries = [q for q in (c.vars.get(self.query_var) for c in cases) if isinstance(q, str)]
        await self.retriever.warm(queries)

    async def retrieve(self, case: Case) -> list[Hit]:
        return await self.retriever.search(self.query(case))

    async def answer(
        self,
        case: Case,
        messages: list[dict[str, str]] | None,
        repeat: int = 0,
        hits: list[Hit] | None = None,
    ) -> Answer:
        if self.model is not None:
            assert messages is not None
            return await self.model.complete(messages, repeat)
        start = time.perf_counter()
        found = hits if hits is not None else await self.retrieve(case)
        latency = (time.perf_counter() - start) * 1000
        return Answer(format_hits(found), None, latency, attempts=0)

    async def aclose(self) -> None:
        await self.retriever.aclose()
        if self.model is not None:
            await self.model.provider.aclose()
