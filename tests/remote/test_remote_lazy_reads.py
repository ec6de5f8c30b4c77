"""Every command that reads a pulled version's content fetches its objects from the remote
when they are not here yet (pulls are lazy), like ``diff`` and ``checkout`` always did."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptver.store.store import Store
from tests.evals.conftest import openai_model, write_bundle
from tests.fakeserver import FakeLLMServer

CASES = [
    {"id": "fr", "vars": {"question": "capital of France"}, "expected": "Paris"},
    {"id": "jp", "vars": {"question": "capital of Japan"}, "expected": "Tokyo"},
]
ASSERT = 'assert = [{ type = "icontains", value = "{{ expected }}" }]'


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-openai")
    with FakeLLMServer() as fake:
        fake.add(match="capital of France", reply="Paris")
        fake.add(match="capital of Japan", reply="Tokyo")
        yield fake


def _published(tmp_path: Path, server: FakeLLMServer, pv) -> str:  # type: ignore[no-untyped-def]
    """Clone A: demo@1.0.0 and demo@1.1.0, each evaluated, pushed to a file:// remote."""
    url = f"file://{tmp_path}/shared"
    (tmp_path / "shared").mkdir()
    folder = write_bundle(tmp_path / "a", CASES, model=openai_model(server), dataset_extra=ASSERT)
    a = str(tmp_path / "a" / ".promptver")
    assert pv("--store", a, "remote", "add", "origin", url).code == 0
    assert pv("--store", a, "bump", "minor", "demo", "--initial", "1.0.0").code == 0
    (folder / "prompts" / "answer.j2").write_text("Question: {{ question }}")
    assert pv("--store", a, "bump", "minor", "demo", "--force").code == 0
    for version in ("1.0.0", "1.1.0"):
        assert pv("--store", a, "eval", f"demo@{version}", "-q").code == 0
    assert pv("--store", a, "alias", "set", "demo", "production", "1.0.0").code == 0
    pushed = pv("--store", a, "push")
    assert pushed.code == 0, pushed.err
    return url


def _pulled(tmp_path: Path, url: str, pv) -> Store:  # type: ignore[no-untyped-def]
    """Clone B: a fresh store that pulled, with none of the versions' objects here."""
    (tmp_path / "b").mkdir()
    b, _ = Store.init(tmp_path / "b")
    assert pv("--store", str(b.root), "remote", "add", "origin", url).code == 0
    pulled = pv("--store", str(b.root), "pull")
    assert pulled.code == 0, pulled.err
    b = Store.find(override=b.root)
    manifest = b.resolve("demo", "1.0.0")
    # only what the pull checks a move's policy against (the alias target's bundle.toml) is here
    missing = [f.path for f in manifest.files if not b.has_object(f.digest.removeprefix("sha256:"))]
    assert missing == [f.path for f in manifest.files if f.path != "bundle.toml"]
    return b


READERS = {
    "eval": ["eval", "demo@1.0.0", "-q", "--json"],
    "eval compare": ["eval", "compare", "demo@1.0.0", "demo@1.1.0", "--json"],
    "eval --compare": ["eval", "demo@1.1.0", "-q", "--compare", "1.0.0", "--json"],
    "ci-report": ["ci-report", "demo@1.1.0", "1.0.0", "--json"],
    "show": ["show", "demo@1.0.0", "--json"],
    "show alias": ["show", "demo@production", "--json"],  # what serves: bundle.toml's evals
    "diff": ["diff", "demo", "1.0.0", "1.1.0", "--json"],
    "export": ["export", "demo@1.0.0", "-o", "{tmp}/out.pvb", "--json"],
    "export prompty": ["export", "demo@1.0.0", "--format", "prompty", "-o", "{tmp}/prompty/", "--json"],
    "checkout": ["checkout", "demo@1.0.0", "--to", "{tmp}/demo-1.0.0"],
}


@pytest.mark.parametrize("command", list(READERS))
def test_a_command_reading_a_pulled_version_fetches_its_objects(
    tmp_path: Path,
    server: FakeLLMServer,
    pv,
    command: str,  # type: ignore[no-untyped-def]
) -> None:
    b = _pulled(tmp_path, _published(tmp_path, server, pv), pv)
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in READERS[command]]
    result = pv("--store", str(b.root), *args)
    assert result.code == 0, result.err
    assert "missing" not in result.err and "Traceback" not in result.err
    if "--json" in args:
        json.loads(result.out)
    manifest = b.resolve("demo", "1.0.0")
    if command != "show":  # show reads the manifest only
        assert any(b.has_object(f.digest.removeprefix("sha256:")) for f in manifest.files)
    assert pv("--store", str(b.root), "verify").code == 0


def test_the_review_reads_a_pulled_version_through_the_remote(
    tmp_path: Path,
    server: FakeLLMServer,
    pv,  # type: ignore[no-untyped-def]
) -> None:
    """`promptver review` opens its store like every command (`get_store`): the loader
    behind the screen reads both trees and their runs."""
    from promptver.cli.common import lazy_remote
    from promptver.tui.loader import load_review

    b = _pulled(tmp_path, _published(tmp_path, server, pv), pv)
    review = load_review(lazy_remote(Store.find(override=b.root)), "demo", "1.0.0", "1.1.0")
    assert review.new.digest == b.resolve("demo", "1.1.0").digest
    changed = b.resolve("demo", "1.1.0").file_map()["prompts/answer.j2"].digest  # the diff read it
    assert b.has_object(changed.removeprefix("sha256:"))
