"""The retrieval-only eval target: BM25 over the bundle's own corpus, no model, no network.

It evaluates a bundle's ``[rag]`` settings on their own: the corpus folder is chunked as
``[rag.chunking]`` says, indexed with BM25, and every case's query (``vars[query_var]``,
default ``question``) retrieves ``rag.top_k`` chunks. The output is those chunks (title,
path, text) and the answer's ``sources`` are their documents, so the ``sources``
assertion scores retrieval and text assertions (``icontains "{{ expected }}"``) check that
the fact needed for the answer was retrieved.

Chunking units: ``tokens`` (counted with the offline ``cl100k_base``, so chunks never
depend on a download or on the machine; chunks end between words), ``characters``,
``sentences`` and ``paragraphs``; ``size`` and ``overlap`` count that unit. Without
``[rag.chunking]`` every document is one chunk.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Mapping
from itertools import count
from typing import Any

from promptver.bundle.chunking import TEXT_SUFFIXES, Chunk, Chunking, document_title
from promptver.errors import ConfigError
from promptver.evals.execution.bundle import BundleView, Case
from promptver.evals.execution.targets import Answer

DEFAULT_TOP_K = 4
K1 = 1.5
B = 0.75

_TERM = re.compile(r"[^\W_]+")


# Function words that say nothing about a document (English; the corpus's language).
_STOPWORDS = (
    "a an and are as at be but by can could do does did for from has have how i if in is it "
    "its me my no not of on or our so that the their them then there these they this to us "
    "was we what when where which who why will with would you your"
)
STOPWORDS = frozenset(_STOPWORDS.split())


def terms(text: str) -> list[str]:
    """Lower-cased words and numbers without stop words: the unit BM25 counts."""
    return [t for t in _TERM.findall(text.casefold()) if t not in STOPWORDS]


class BM25Index:
    """Okapi BM25 (k1 1.5, b 0.75, Lucene's variant: the same ranking as Robertson's) over a
    list of chunks, scored by bm25s; a query's repeated words count once and ties keep the
    corpus order, so a ranking never depends on the machine."""

    def __init__(self, chunks: list[Chunk], tokens: list[list[str]] | None = None) -> None:
        """``tokens``: each chunk's `terms`, when the caller has them already."""
        import bm25s

        self.chunks = chunks
        if tokens is None:
            tokens = [terms(f"{c.title}\n{c.text}") for c in chunks]
        numbering: defaultdict[str, int] = defaultdict(count().__next__)  # a new word takes the next id
        ids = [list(map(numbering.__getitem__, doc)) for doc in tokens]
        self._vocab: dict[str, int] = dict(numbering)
        self._bm25 = bm25s.BM25(k1=K1, b=B, method="lucene", dtype="float64")
        self._empty = not self._vocab
        if chunks and not self._empty:
            self._bm25.index((ids, dict(self._vocab)), create_empty_token=False, show_progress=False)

    def scores(self, query: str) -> Any:
        """The BM25 score of every chunk for ``query`` (a numpy array)."""
        import numpy as np

        wanted = [self._vocab[t] for t in dict.fromkeys(terms(query)) if t in self._vocab]
        if not wanted or self._empty:
            return np.zeros(len(self.chunks))
        return self._bm25.get_scores_from_ids(wanted)

    def search(self, query: str, k: int) -> list[tuple[Chunk, float]]:
        return [(self.chunks[i], score) for i, score in top_k(self.scores(query), k)]


def top_k(scores: Any, k: int, *, positive: bool = True) -> list[tuple[int, float]]:
    """The ``k`` best scores (only positive ones unless ``positive`` is false) as
    (position, score), best first, ties by position."""
    import numpy as np

    candidates = np.flatnonzero(scores > 0) if positive else np.arange(len(scores))
    if len(candidates) > k:
        kth = np.partition(scores[candidates], len(candidates) - k)[len(candidates) - k]
        candidates = candidates[scores[candidates] >= kth]
    order = np.lexsort((candidates, -scores[candidates]))[:k]
    return [(int(i), float(scores[i])) for i in candidates[order]]


def corpus_chunks(bundle: BundleView, folder: str, chunking: Chunking) -> list[Chunk]:
    prefix = folder.strip("/") + "/"
    paths = sorted(p for p in bundle.files if p.startswith(prefix) and p.lower().endswith(TEXT_SUFFIXES))
    if not paths:
        raise ConfigError(
            f"{bundle.label}: the corpus folder {folder!r} holds no text documents",
            hint=f"add documents ({', '.join(TEXT_SUFFIXES)}) under {folder}/ in the bundle",
        )
    chunks: list[Chunk] = []
    for path in paths:
        try:
            text = bundle.read_bytes(path).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{bundle.label}: corpus document {path!r} is not UTF-8 text: {exc}") from exc
        title = document_title(path, text)
        chunks.extend(Chunk(path, title, i, piece) for i, piece in enumerate(chunking.split(text)))
    return chunks


# Indexes built in this process, by bundle digest and settings: several runs of one version
# (or --repeat) index the corpus once.
_INDEXES: dict[tuple[str, str, Chunking], BM25Index] = {}


def rag_table(config: Mapping[str, Any], where: str, what: str) -> tuple[dict[str, Any], str, int]:
    """``[rag]``, its corpus folder and ``top_k``, checked (ConfigError naming the key and
    the file); ``what`` is who needs them, for the message ("the retrieval target")."""
    table = config.get("rag")
    if not isinstance(table, dict):
        raise ConfigError(
            f"{where}: {what} needs a [rag] table",
            hint='add [rag] with corpus = "corpus" (a folder of documents in the bundle)',
        )
    folder = table.get("corpus")
    if not isinstance(folder, str) or not folder.strip("/"):
        raise ConfigError(
            f"{where}: {what} needs [rag] corpus, a folder in the bundle",
            hint="corpus_uri (an external corpus) cannot be retrieved from here",
        )
    k = table.get("top_k", DEFAULT_TOP_K)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"{where}: [rag] top_k must be a whole number >= 1")
    return table, folder, k


def build_index(bundle: BundleView) -> tuple[BM25Index, int]:
    """Check ``[rag]`` and index its corpus; raises ConfigError before any case runs."""
    where = f"{bundle.label}/bundle.toml"
    table, folder, top_k = rag_table(bundle.config, where, "the retrieval target")
    chunking = Chunking.from_config(table.get("chunking"), where)
    key = (bundle.digest, folder, chunking)
    index = _INDEXES.get(key)
    if index is None:
        index = BM25Index(corpus_chunks(bundle, folder, chunking))
        if len(_INDEXES) >= 16:
            _INDEXES.pop(next(iter(_INDEXES)))
        _INDEXES[key] = index
    return index, top_k


def format_chunks(hits: list[tuple[Chunk, float]]) -> str:
    return "\n\n".join(
        f"[{rank}] {chunk.title} ({chunk.path}#{chunk.index})\n{chunk.text}"
        for rank, (chunk, _score) in enumerate(hits, start=1)
    )


class RetrievalTarget:
    """``--target retrieval``: the output is the retrieved chunks, the sources their documents."""

    renders = False
    label = "retrieval"

    def __init__(self, bundle: BundleView, query_var: str = "question") -> None:
        self.index, self.top_k = build_index(bundle)
        self.query_var = query_var
        self.label = f"retrieval:bm25:top{self.top_k}"

    async def answer(self, case: Case, messages: list[dict[str, str]] | None, repeat: int = 0) -> Answer:
        start = time.perf_counter()
        query = case.vars.get(self.query_var)
        if not isinstance(query, str):
            raise ValueError(f"the case has no string variable {self.query_var!r} to retrieve with")
        hits = self.index.search(query, self.top_k)
        sources = list(dict.fromkeys(chunk.path for chunk, _ in hits))
        latency = (time.perf_counter() - start) * 1000
        retrieved = [{"source": c.path, "chunk": c.index, "score": round(s, 6)} for c, s in hits]
        return Answer(format_chunks(hits), None, latency, attempts=0, sources=sources, retrieved=retrieved)

    async def aclose(self) -> None:
        return None


def query_var(bundle: BundleView, dataset: str) -> str:
    """``query_var`` of ``[evals.NAME]`` (default ``question``)."""
    table = (bundle.config.get("evals") or {}).get(dataset) or {}
    value = table.get("query_var", "question") if isinstance(table, dict) else "question"
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{bundle.label}/bundle.toml [evals.{dataset}]: query_var must be a variable name")
    return value
