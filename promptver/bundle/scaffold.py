"""`promptver new NAME`: a small, commented bundle to start from."""

from __future__ import annotations

from pathlib import Path

from promptver.errors import ConflictError
from promptver.store.store import check_name

BUNDLE_TOML = """\
# {name}: a promptver bundle. Reference: docs/bundle-format.md
[bundle]
name = "{name}"
description = "What this AI feature does, in one line"
owners = []                      # e.g. ["ana@example.com"]
tags = []

[model]
provider = "openai"              # openai | anthropic | any OpenAI-compatible server
name = "gpt-4o-mini"
# base_url = "http://localhost:8000/v1"

[model.params]                   # passed to the provider as they are
temperature = 0.2
max_tokens = 400

[prompts]
system = "prompts/system.j2"

[prompts.templates]              # name = Jinja2 file; its variables are its interface
answer = "prompts/answer.j2"

# Optional retrieval set-up. Uncomment and adapt.
# [rag]
# corpus = "corpus"              # a folder in this bundle
# embedding_model = "text-embedding-3-small"
# retriever = "hybrid"
# top_k = 4
# [rag.chunking]
# unit = "tokens"
# size = 400
# overlap = 40

[evals.golden]                   # eval dataset: one JSON case per line
path = "evals/golden.jsonl"
template = "answer"
assert = [{{ type = "icontains", value = "{{{{ expected }}}}" }}]
judge_prompt = "judges/judge.md"  # what llm-judge assertions ask the grader (versioned)
# grader = {{ provider = "openai", name = "gpt-4o", params = {{ temperature = 0 }} }}

[aliases.production]
# What `promptver promote NAME@VERSION --to production` checks (docs/aliases.md): one
# approval by someone other than the version's author, and a recorded eval run of the
# exact version by its own [model] on evals/golden.jsonl, with no errored case, scoring
# at least min_score. Add `require_signed = true` to count only SSH-signed approvals.
approvals = 1
eval = {{ dataset = "golden", target = "model", min_score = 0.8 }}
"""

SYSTEM = """\
You are a helpful assistant. Answer briefly and say so when you do not know.
"""

ANSWER = """\
Question: {{ question }}
"""

JUDGE = """\
You grade an AI system's answer against a rubric.

Read the rubric, the input the system was given and the system's answer. Decide whether
the answer meets the rubric. Judge only what the answer says; do not reward length,
confidence or style the rubric does not ask for.
"""

EVALS = """\
{"id": "greeting", "vars": {"question": "Say hello."}, "expected": "hello", "tags": ["smoke"]}
{"id": "capital", "vars": {"question": "What is the capital of France?"}, "expected": "Paris"}
"""


def scaffold(folder: Path, name: str) -> list[Path]:
    """Create a new bundle folder; refuses to touch an existing one."""
    check_name(name)
    if folder.exists() and any(folder.iterdir()):
        raise ConflictError(
            f"{folder} already exists and is not empty", hint="pick another name or remove the folder"
        )
    files = {
        "bundle.toml": BUNDLE_TOML.format(name=name),
        "prompts/system.j2": SYSTEM,
        "prompts/answer.j2": ANSWER,
        "evals/golden.jsonl": EVALS,
        "judges/judge.md": JUDGE,
    }
    existed = folder.exists()
    written = []
    try:
        for rel, text in files.items():
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    except OSError as exc:
        import shutil

        from promptver.store.atomic import write_failed

        if not existed:
            shutil.rmtree(folder, ignore_errors=True)
        raise write_failed(folder, exc) from None
    return written
