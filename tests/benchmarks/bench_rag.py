"""RAG: index build and query time, and ``--target rag`` end to end, against the fake server.

    .venv/bin/python tests/benchmarks/bench_rag.py [--docs 10000] [--cases 1000] [--latency 0.05]

1. Index: a generated corpus of ``--docs`` documents (Zipf-distributed words), chunked one
   per document; BM25 build (tokenize + bm25s) and query; dense: embedding the chunks over
   HTTP (a fake server without latency, separate process), re-reading them from the
   store's cache, and query (cosine over the matrix + top-k).
2. End to end: ``--target rag`` (hybrid retriever) on ``--cases`` cases over a 1,000-document
   corpus at concurrency 50 against a server answering every request in ``--latency``:
   wall time against the theoretical minimum (cases x latency / concurrency, plus the round
   trips of the chunk and query embeddings, sent side by side, 8 batches of each at a time)
   with every request sent (``--no-cache``, as bench_eval.py), and this process's CPU time
   per case; then a run that fills the store's caches and a second run of the unchanged
   version in a fresh index (as a new process would) that must send no embedding request.
   The load average is printed first: on a machine busy with other work the wall times
   say little (the CPU time per case still does).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from promptver.evals import EvalOptions, runner  # noqa: E402
from promptver.evals.execution.embeddings import BATCH, PARALLEL  # noqa: E402
from promptver.evals.retrieval import rag  # noqa: E402
from promptver.evals.runs.storage import RunStore  # noqa: E402
from promptver.evals.source import open_bundle  # noqa: E402
from promptver.store.store import Store  # noqa: E402

ENV = {"OPENAI_API_KEY": "sk-bench", "PROMPTVER_ALLOWED_HOSTS": "127.0.0.1"}  # the fake server


def documents(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(20000)]
    weights = [1 / (i + 1) for i in range(len(vocab))]
    return [" ".join(rng.choices(vocab, weights, k=rng.randint(60, 200))) for _ in range(count)]


def make_project(folder: Path, base_url: str, docs: int, cases: int) -> Store:
    store, _ = Store.init(folder)
    bundle = folder / "bundles" / "bench"
    for sub in ("prompts", "evals", "corpus"):
        (bundle / sub).mkdir(parents=True)
    (bundle / "bundle.toml").write_text(
        '[bundle]\nname = "bench"\n\n'
        f'[model]\nprovider = "openai"\nname = "gpt-4o-mini"\nbase_url = "{base_url}"\n\n'
        '[prompts.templates]\nanswer = "prompts/answer.j2"\n\n'
        '[rag]\ncorpus = "corpus"\nretriever = "hybrid"\nembedding_model = "embed-bench"\ntop_k = 4\n\n'
        '[evals.golden]\npath = "evals/golden.jsonl"\ntemplate = "answer"\n'
        'assert = [{ type = "sources" }]\n'
    )
    (bundle / "prompts" / "answer.j2").write_text(
        "{% for c in context %}{{ c.title }}: {{ c.text[:80] }}\n{% endfor %}Q: {{ question }}"
    )
    texts = documents(docs)
    for n, text in enumerate(texts):
        (bundle / "corpus" / f"doc{n:05}.md").write_text(f"# Document {n}\n\n{text}\n")
    rng = random.Random(11)
    with (bundle / "evals" / "golden.jsonl").open("w") as handle:
        for n in range(cases):
            target = rng.randrange(docs)
            words = texts[target].split()
            question = " ".join(rng.sample(words, min(8, len(words))))
            case = {
                "id": f"case-{n:05}",
                "vars": {"question": question},
                "expected_sources": [f"doc{target:05}.md"],
            }
            handle.write(json.dumps(case) + "\n")
    return store


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "promptver.testing.server", "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    return server, server.stdout.readline().strip()


def index_figures(folder: Path, url: str, docs: int) -> None:
    store = make_project(folder, f"{url}/v1", docs, 200)
    bundle = open_bundle("bench", store)
    settings = rag.settings(bundle.config, bundle.model, "bench")
    corpus = rag.Corpus(bundle.label, bundle.tree.entries, bundle.read_bytes, settings.corpus)
    queries = [
        json.loads(line)["vars"]["question"]
        for line in bundle.read_bytes("evals/golden.jsonl").decode().splitlines()
    ]
    chunks = corpus.chunks(settings.chunking)
    started = time.perf_counter()
    bm25 = rag.BM25Index(chunks)
    build = time.perf_counter() - started
    started = time.perf_counter()
    for query in queries:
        rag.top_k(bm25.scores(query), 4)
    query = (time.perf_counter() - started) / len(queries)
    print(f"BM25   {len(chunks)} chunks: build {build:.2f} s, query {query * 1000:.2f} ms")

    from promptver.evals.execution.embeddings import Embedder, EmbeddingCache
    from promptver.evals.execution.providers import make_provider

    async def dense() -> None:
        assert settings.embedding is not None
        cache = EmbeddingCache(store.root / "cache" / "embeddings.sqlite")
        embedder = Embedder(
            make_provider(settings.embedding, env=ENV, max_connections=PARALLEL),
            settings.embedding.name,
            cache,
            "bench",
        )
        texts = [rag.chunk_text(c) for c in chunks]
        started = time.perf_counter()
        vectors = await embedder.embed(texts)
        cold = time.perf_counter() - started
        requests = embedder.requests
        started = time.perf_counter()
        await embedder.embed(texts)
        warm = time.perf_counter() - started
        assert embedder.requests == requests
        asked = await embedder.embed(queries)
        started = time.perf_counter()
        for row in asked:
            rag.top_k(vectors @ row, 4, positive=False)
        per_query = (time.perf_counter() - started) / len(queries)
        print(
            f"dense  {len(chunks)} chunks x {vectors.shape[1]} dims: embed over HTTP {cold:.2f} s "
            f"({requests} requests of {BATCH}, {PARALLEL} in flight, server without latency), "
            f"from the store's cache {warm:.2f} s, query {per_query * 1000:.2f} ms"
        )
        await embedder.aclose()
        cache.close()

    asyncio.run(dense())


def run_once(store: Store, concurrency: int, cache: bool) -> tuple[float, dict[str, object]]:
    bundle = open_bundle("bench", store)
    options = EvalOptions(target="rag", concurrency=concurrency, cache=cache, timeout=30, retries=2)
    plan = runner.prepare(bundle, options, store_root=store.root, env=ENV)
    writer = runner.start(plan, RunStore(store.root / "runs"))
    started, cpu = time.perf_counter(), time.process_time()
    meta = asyncio.run(runner.execute(plan, writer))
    meta["cpu_seconds"] = time.process_time() - cpu
    return time.perf_counter() - started, meta


def end_to_end(folder: Path, url: str, cases: int, latency: float, concurrency: int) -> None:
    docs = 1000
    store = make_project(folder, f"{url}/v1", docs, cases)
    wall, meta = run_once(store, concurrency, cache=False)  # every request sent, as bench_eval.py
    summary: dict[str, object] = meta["summary"]  # type: ignore[assignment]
    assert summary["errors"] == 0, summary
    chat = cases * latency / concurrency
    rounds = max(math.ceil(math.ceil(n / BATCH) / PARALLEL) for n in (docs, cases))
    theory = chat + latency * rounds
    retrieval = summary.get("retrieval") or {}
    print(
        f"--target rag (hybrid), {cases} cases, {docs} documents, concurrency {concurrency}, "
        f"{latency * 1000:.0f} ms a request: {wall:.2f} s; theory {theory:.2f} s "
        f"({chat:.2f} s of chat + embedding round trips) -> {wall / theory:.2f}x "
        f"(limit 1.5x); CPU {meta['cpu_seconds'] / cases * 1000:.2f} ms a case; "  # type: ignore[operator]
        f"embedding requests {meta.get('retrieval_requests')}; "
        f"hit@4 {retrieval.get('hit', 0):.3f} MRR {retrieval.get('mrr', 0):.3f}"
    )
    rag._INDEXES.clear()
    wall1, meta1 = run_once(store, concurrency, cache=True)
    print(
        f"with the store's caches, empty: {wall1:.2f} s, embedding requests "
        f"{meta1.get('retrieval_requests')}, chat requests {meta1['summary']['requests']}"
    )  # type: ignore[index]
    rag._INDEXES.clear()  # a new process: the index is rebuilt, the vectors come from the cache
    wall2, meta2 = run_once(store, concurrency, cache=True)
    print(
        f"second run of the unchanged version: {wall2:.2f} s, embedding requests "
        f"{meta2.get('retrieval_requests')}, chat requests {meta2['summary']['requests']}"
    )  # type: ignore[index]
    assert meta2.get("retrieval_requests") == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--docs", type=int, default=10000)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    print(
        "load average (1, 5, 15 min): "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
        + f" on {os.cpu_count()} CPUs"
    )
    fast, fast_url = start_server(0.0)
    slow, slow_url = start_server(args.latency)
    folders = [Path(tempfile.mkdtemp(prefix="promptver-bench-rag-")) for _ in range(2)]
    try:
        index_figures(folders[0], fast_url, args.docs)
        end_to_end(folders[1], slow_url, args.cases, args.latency, args.concurrency)
    finally:
        for server in (fast, slow):
            server.terminate()
            server.wait()
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
