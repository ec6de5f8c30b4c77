"""Retrieval, evaluated: the offline BM25 target, RAG execution over a version's
[rag] (embeddings, reranking) and the retrieval metrics."""
