"""The docs' examples run as written (the way sqlite-utils tests its docs):

- every Python block of README.md and docs/python-api.md is executed against a copy of
  this repository's example store, with an app that pins the example bundles; a line
  ending in a value comment (``# True``, ``# 2.0.5``) is checked against that value;
- every ``### `promptver CMD ...` `` heading of docs/cli.md names only options the command
  really has.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

import promptver
from promptver.cli.main import COMMANDS, main
from tests.conftest import ROOT
from tests.fakeserver import FakeLLMServer


def python_blocks(doc: str) -> list[str]:
    return re.findall(r"```python\n(.+?)\n```", (ROOT / doc).read_text(), flags=re.S)


def run_cli(*args: str) -> None:
    try:
        main(list(args))
    except SystemExit as exc:
        assert not exc.code, f"promptver {' '.join(args)} exited {exc.code}"


class _Completions:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def create(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        return {"choices": [{"message": {"content": "ok"}}]}


class Client:
    """Stands in for the reader's own OpenAI client (not promptver's code): it records
    what the example would send."""

    def __init__(self) -> None:
        self.chat = type("Chat", (), {})()
        self.chat.completions = _Completions()


@pytest.fixture
def docs_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A copy of the example store, an app pinning its bundles (locked), and a fake model
    server for the retriever's embeddings and reranker."""
    prompts = tmp_path / "prompts"
    shutil.copytree(ROOT / ".promptver", prompts / ".promptver")
    app = tmp_path / "app"
    app.mkdir()
    (app / "pyproject.toml").write_text(
        '[project]\nname = "app"\n\n[tool.promptver]\nstore = "../prompts/.promptver"\n\n'
        '[tool.promptver.bundles]\nsupport-bot = "^2.0"\nticket-triage = "^1.0"\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(app)
    promptver.clear_cache()
    run_cli("lock")
    with FakeLLMServer() as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-docs-test")
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base)
        yield {"store": prompts / ".promptver", "tmp": tmp_path}
    promptver.clear_cache()


def _file_remote(store: Path, tmp: Path) -> str:
    """The example store pushed to a shared-folder remote (its production alias was
    promoted through the bundle's own policy: docs/examples.md)."""
    url = (tmp / "remote").as_uri()
    (tmp / "remote").mkdir()
    run_cli("--store", str(store), "remote", "add", "origin", url)
    run_cli("--store", str(store), "push")
    return url


def run_block(code: str, namespace: dict[str, Any]) -> None:
    """Execute a block; a statement followed by ``# value`` must evaluate to that value."""
    tree = ast.parse(code)
    lines = code.splitlines()
    for node in tree.body:
        source = ast.get_source_segment(code, node) or ""
        exec(compile(ast.Module([node], []), "<doc>", "exec"), namespace)
        comment = lines[node.end_lineno - 1].partition("  #")[2].strip() if node.end_lineno else ""
        if isinstance(node, ast.Expr) and comment:
            try:
                expected = ast.literal_eval(comment)
            except (ValueError, SyntaxError):
                continue  # prose, not a value
            assert eval(source, namespace) == expected, source


@pytest.mark.parametrize("doc", ["README.md", "docs/python-api.md"])
def test_python_examples_run(doc: str, docs_app: Any) -> None:
    blocks = python_blocks(doc)
    assert blocks, f"no Python examples in {doc}"
    client = Client()
    namespace: dict[str, Any] = {  # what the reader's own code has; blocks run in one session
        "promptver": promptver,
        "q": "Can I get a refund on an annual plan?",
        "docs": [{"title": "Refunds", "text": "Annual plans can be refunded within 30 days."}],
        "client": client,
    }
    for block in blocks:
        if "s3://team-bucket/promptver" in block:
            block = block.replace(
                "s3://team-bucket/promptver", _file_remote(docs_app["store"], docs_app["tmp"])
            )
        run_block(block, namespace)
    for request in client.chat.completions.calls:  # what the examples would send
        assert request["messages"][0]["role"] == "system" and request["model"]


HEADING = re.compile(r"^### `promptver ([a-z-]+(?: [a-z-]+)?)(.*)`$", re.M)


def _help(command: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    try:
        main([*command, "--help"])
    except SystemExit:
        pass
    return capsys.readouterr().out


def test_cli_reference_names_only_real_options(capsys: pytest.CaptureFixture[str]) -> None:
    text = (ROOT / "docs/cli.md").read_text()
    checked = 0
    for words, rest in HEADING.findall(text):
        command = words.split()
        if command[0] not in COMMANDS:
            continue
        if len(command) == 2 and command[1].isupper():
            command = command[:1]
        help_text = _help(command, capsys)
        if "Usage:" not in help_text:  # "NAME" after the command, not a subcommand
            help_text = _help(command[:1], capsys)
        for option in re.findall(r"(--[a-z][a-z-]*|(?<![\w-])-[a-zA-Z]\b)", rest):
            assert option in help_text, f"docs/cli.md: `promptver {words}` shows {option}, which it lacks"
        checked += 1
    assert checked >= 30, checked
