"""Test utilities that ship with promptver, for trying evals and writing CI tests without an
API key. Nothing here is imported by ``import promptver``.

- `promptver.testing.server`: a local model server (OpenAI chat completions, Anthropic
  Messages, embeddings, rerank) on 127.0.0.1 with deterministic answers;
  ``python -m promptver.testing.server --port 8765`` runs it, ``FakeLLMServer`` starts it
  in a test.
"""
