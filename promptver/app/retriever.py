"""``bundle.retriever()``: the eval's retrieval pipeline, at run time, behind a sync API.

::

    bot = promptver.load("support-bot")
    chunks = bot.retriever().search("Can I get a refund?")   # [{title, text, source, score}]
    bot.messages("answer", question=q, retrieve=True)        # chunks in [rag] context_var

It runs exactly what ``promptver eval --target rag`` measured: the version's corpus, its
``[rag.chunking]``, its retriever (bm25, dense, hybrid), ``top_k`` and reranker, with the
same endpoint and key rules. The index is built on the first search. The HTTP clients live
on a private event loop, so ``search`` is a plain call; one retriever serves one thread at
a time (a lock keeps it so). Imported only when a retriever is asked for: this pulls in
numpy, bm25s and the HTTP client.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from promptver.bundle.spec import BundleSpec

if TYPE_CHECKING:
    from promptver.evals.retrieval.rag import Retriever as AsyncRetriever


class Bundle(Protocol):
    """What retrieval reads of a loaded version (`promptver.app.runtime.Bundle`, which
    builds a `Retriever`: typed by what it offers, not by its class)."""

    spec: BundleSpec

    @property
    def ref(self) -> str: ...
    def files_index(self) -> dict[str, Any]: ...
    def read_bytes(self, path: str) -> bytes: ...


class Retriever:
    """Search a loaded bundle version's corpus with its own ``[rag]`` settings."""

    def __init__(
        self,
        bundle: Bundle,
        *,
        cache: Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        from promptver.evals.execution.embeddings import EmbeddingCache
        from promptver.evals.execution.providers import make_provider
        from promptver.evals.retrieval import rag

        where = f"{bundle.ref}:bundle.toml"
        self.settings = rag.settings(bundle.spec.raw, bundle.spec.model, where)
        corpus = rag.Corpus(bundle.ref, bundle.files_index(), bundle.read_bytes, self.settings.corpus)
        store = EmbeddingCache(cache / "embeddings.sqlite") if cache is not None else None
        self._loop = asyncio.new_event_loop()
        self._lock = threading.Lock()

        async def create() -> AsyncRetriever:  # clients are made on the loop that uses them
            def make(ref: Any) -> Any:
                return make_provider(ref, timeout=timeout, max_connections=2, env=env)

            return rag.Retriever(corpus, self.settings, make=make, cache=store, where=where)

        try:
            self._retriever = self._loop.run_until_complete(create())
        except BaseException:
            self._loop.close()
            raise
        self._cache = store
        # Closed when dropped (or at exit) even if nobody calls close(): its HTTP session,
        # event loop and cache connection are never left open.
        self._shutdown = weakref.finalize(self, _shutdown, self._loop, self._retriever, store)

    @property
    def top_k(self) -> int:
        return self.settings.top_k

    @property
    def context_var(self) -> str:
        return self.settings.context_var

    def search(self, query: str) -> list[dict[str, Any]]:
        """The ``top_k`` best chunks for ``query``, best first: ``title``, ``text``,
        ``source`` (the document's path in the bundle) and ``score``."""
        with self._lock:
            hits = self._loop.run_until_complete(self._retriever.search(query))
        return [hit.to_context() for hit in hits]

    def close(self) -> None:
        with self._lock:
            self._shutdown()

    def __enter__(self) -> Retriever:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _shutdown(loop: asyncio.AbstractEventLoop, retriever: AsyncRetriever, cache: Any) -> None:
    if loop.is_closed():
        return
    loop.run_until_complete(retriever.aclose())
    loop.close()
    if cache is not None:
        cache.close()
