"""Token counts when the provider does not report them: estimated, and marked so.

Counting goes through `promptver.bundle.tokens` (the model's own tiktoken encoding when it can be
loaded, else the offline ``cl100k_base`` copy), so no estimate ever needs the network.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from promptver.evals.execution.providers import Usage

MESSAGE_OVERHEAD = 4  # tokens of chat framing per message (role, separators)


@cache
def _tokenizer(model: str | None, encoding: str | None) -> Any:
    from promptver.bundle.tokens import tokenizer

    return tokenizer(model, encoding)


def estimate(
    messages: list[dict[str, str]], output: str, model: str | None = None, encoding: str | None = None
) -> Usage | None:
    """Input and output tokens, or None when no tokenizer is available at all."""
    counter = _tokenizer(model, encoding)
    prompt = 0
    for message in messages:
        count = counter.count(message.get("content", ""))
        if count is None:
            return None
        prompt += count + MESSAGE_OVERHEAD
    produced = counter.count(output)
    return None if produced is None else Usage(prompt, produced, estimated=True)
