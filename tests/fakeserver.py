"""The project's test model server, kept importable from its old place: it ships in the
package as `promptver.testing.server` (``python -m promptver.testing.server``)."""

from promptver.testing.server import FakeLLMServer, Rule, Seen, embed, embed_many, main, rerank_score, words

__all__ = ["FakeLLMServer", "Rule", "Seen", "embed", "embed_many", "main", "rerank_score", "words"]

if __name__ == "__main__":
    main()
