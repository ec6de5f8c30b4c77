"""Helpers for the diff tests: bundle trees in memory and the CLI run in-process."""

from __future__ import annotations

import io
import os
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from promptver.diff.engine import diff_trees
from promptver.diff.model import BundleDiff, Side
from promptver.store.tree import MemoryTree

CONFIG = """\
[bundle]
name = "bot"
description = "Answers questions"
owners = ["ana@example.com"]

[model]
provider = "openai"
name = "gpt-4"

[model.params]
temperature = 0.2
max_tokens = 400

[prompts]
system = "prompts/system.j2"

[prompts.templates]
answer = "prompts/answer.j2"

[rag]
corpus = "corpus"
embedding_model = "text-embedding-3-small"
retriever = "hybrid"
top_k = 4

[rag.chunking]
unit = "tokens"
size = 400
overlap = 40

[evals.golden]
path = "evals/golden.jsonl"
template = "answer"
"""

FILES: dict[str, str | bytes] = {
    "bundle.toml": CONFIG,
    "prompts/system.j2": "You are a helpful support agent.\n",
    "prompts/answer.j2": "Question: {{ question }}\n{% for doc in docs %}- {{ doc }}\n{% endfor %}",
    "corpus/refunds.md": "Refunds within 30 days.\n",
    "corpus/shipping.md": "We ship worldwide.\n",
    "evals/golden.jsonl": (
        '{"id": "a", "vars": {"question": "q1"}, "expected": "x"}\n'
        '{"id": "b", "vars": {"question": "q2"}, "expected": "y"}\n'
    ),
}


def tree(files: dict[str, str | bytes], label: str = "tree") -> MemoryTree:
    return MemoryTree({p: d.encode() if isinstance(d, str) else d for p, d in files.items()}, label=label)


def changed(**edits: str | bytes | None) -> dict[str, str | bytes]:
    """FILES with some files replaced (keyword: path with '/' written as '__')."""
    out = dict(FILES)
    for key, value in edits.items():
        path = key.replace("__", "/").replace("_DOT_", ".")
        if value is None:
            out.pop(path, None)
        else:
            out[path] = value
    return out


def run(old: dict[str, str | bytes], new: dict[str, str | bytes]) -> BundleDiff:
    a, b = tree(old, "old"), tree(new, "new")
    return diff_trees(
        a, b, Side("bot", "1.0.0", a.digest, "bot@1.0.0"), Side("bot", None, b.digest, "bot (working copy)")
    )


def config(old: str, new: str) -> dict[str, str | bytes]:
    """FILES with one replacement made in bundle.toml."""
    assert old in CONFIG, old
    return {**FILES, "bundle.toml": CONFIG.replace(old, new)}


@dataclass
class Result:
    code: int
    out: str
    err: str


def cli(*args: str, cwd: Path | None = None) -> Result:
    """Run ``promptver ARGS`` in-process; stdout is not a terminal (no colours)."""
    from promptver.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    old_cwd = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    code = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                returned = main(list(args))  # click returns Exit codes outside standalone mode
                code = returned if isinstance(returned, int) else 0
            except SystemExit as exc:
                code = int(exc.code or 0)
    finally:
        os.chdir(old_cwd)
    return Result(code, out.getvalue(), err.getvalue())
