"""`promptver eval NAME@V --model A --model B`: one version, several models, side by side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptver.cli.main import main
from promptver.errors import ConfigError
from promptver.evals.runner import override_model
from promptver.evals.runs.storage import RunStore
from promptver.evals.runs.summaries import latest_complete
from tests.evals.conftest import openai_model, write_bundle
from tests.fakeserver import FakeLLMServer

CASES = [
    {"id": "fr", "vars": {"question": "capital of France"}, "expected": "Paris"},
    {"id": "jp", "vars": {"question": "capital of Japan"}, "expected": "Tokyo"},
    {"id": "it", "vars": {"question": "capital of Italy"}, "expected": "Rome"},
]
DEFAULT = 'assert = [{ type = "icontains", value = "{{ expected }}" }]'


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def project(
    tmp_path: Path,
    llm_server: FakeLLMServer,
    api_keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Path:
    """gpt-4o-mini knows France and Japan; claude-3-5-haiku (Anthropic API) knows Japan and Italy."""
    for model, answers in (
        ("gpt-4o-mini", ("Paris", "Tokyo", "Milan")),
        ("claude-3-5-haiku", ("Lyon", "Tokyo", "Rome")),
    ):
        for country, answer in zip(("France", "Japan", "Italy"), answers, strict=True):
            llm_server.add(match=f"capital of {country}", reply=answer, model=model)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", llm_server.url)
    write_bundle(tmp_path, CASES, model=openai_model(llm_server), dataset_extra=DEFAULT)
    monkeypatch.chdir(tmp_path)
    assert cli(capsys, "bump", "minor", "demo", "--initial", "1.0.0")[0] == 0
    return tmp_path


def test_matrix_runs_each_model_and_stores_each_run(
    project: Path, llm_server: FakeLLMServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(
        capsys,
        "eval",
        "demo@1.0.0",
        "--model",
        "gpt-4o-mini",
        "--model",
        "anthropic/claude-3-5-haiku",
        "--json",
        "-q",
    )
    assert code == 0, err
    data = json.loads(out)
    models = {m["model"]: m for m in data["models"]}
    assert models["gpt-4o-mini"]["target"] == "model:openai:gpt-4o-mini"
    assert models["anthropic/claude-3-5-haiku"]["target"] == "model:anthropic:claude-3-5-haiku"
    assert models["gpt-4o-mini"]["summary"]["passed"] == 2
    assert models["gpt-4o-mini"]["wins"] == 1 and models["anthropic/claude-3-5-haiku"]["wins"] == 1
    winners = {c["id"]: c["winner"] for c in data["cases"]}
    assert winners == {"fr": "gpt-4o-mini", "jp": None, "it": "anthropic/claude-3-5-haiku"}
    paths = {s.path for s in llm_server.requests}
    assert any(p.endswith("/messages") for p in paths) and any(p.endswith("/chat/completions") for p in paths)
    # both runs are stored, with the model they used; neither stands for the version's own run
    metas = RunStore(project / ".promptver" / "runs").list("demo")
    assert sorted(m["options"]["model"] for m in metas) == ["anthropic/claude-3-5-haiku", "gpt-4o-mini"]
    assert {m["model"]["provider"] for m in metas} == {"openai", "anthropic"}
    assert latest_complete(metas, metas[0]["digest"], "golden") is None
    # and each is comparable like any other run
    ids = [m["id"] for m in metas]
    code, out, _ = cli(capsys, "eval", "compare", ids[1], ids[0])
    assert code == 0 and "verdict: no detectable difference" in out


def test_matrix_text_and_gate(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(
        capsys,
        "eval",
        "demo@1.0.0",
        "--model",
        "gpt-4o-mini",
        "--model",
        "anthropic/claude-3-5-haiku",
        "--fail-under",
        "0.9",
        "-q",
    )
    assert code == 1
    assert "model                       score   pass" in out
    assert "cases where the models disagree (2 of 3):" in out
    assert "fr: gpt-4o-mini pass  anthropic/claude-3-5-haiku FAIL" in out
    assert "gate failed: gpt-4o-mini: score 0.667 is under 0.9" in out


def test_one_model_override_is_a_normal_run(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "eval", "demo@1.0.0", "--model", "anthropic/claude-3-5-haiku", "--json", "-q")
    assert code == 0
    run = json.loads(out)["run"]
    assert (
        run["target"] == "model:anthropic:claude-3-5-haiku"
        and run["options"]["model"] == "anthropic/claude-3-5-haiku"
    )


def test_matrix_errors_stop_before_any_request(
    project: Path,
    llm_server: FakeLLMServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    code, _, err = cli(
        capsys, "eval", "demo@1.0.0", "--model", "gpt-4o-mini", "--model", "anthropic/claude-3-5-haiku"
    )
    assert code == 1 and "ANTHROPIC_API_KEY" in err and "Traceback" not in err
    assert llm_server.requests == []
    code, _, err = cli(capsys, "eval", "demo@1.0.0", "--model", "a", "--model", "b", "--compare", "1.0.0")
    assert code != 0 and "takes no --compare" in err
    code, _, err = cli(capsys, "eval", "demo@1.0.0", "--model", "openai/")
    assert code == 1 and "bad --model 'openai/'" in err


def test_override_model_keeps_parameters() -> None:
    from promptver.bundle.spec import ModelRef

    ref = ModelRef("openai", "gpt-4o-mini", {"temperature": 0.2}, base_url="http://127.0.0.1:1/v1")
    assert override_model(ref, "gpt-4o", "b") == ModelRef(
        "openai", "gpt-4o", {"temperature": 0.2}, base_url="http://127.0.0.1:1/v1"
    )
    other = override_model(ref, "vllm/meta-llama/Llama-3-8B", "b")
    assert (other.provider, other.name, other.base_url, other.params) == (
        "vllm",
        "meta-llama/Llama-3-8B",
        None,
        {"temperature": 0.2},
    )
    with pytest.raises(ConfigError, match="no \\[model\\]"):
        override_model(None, "gpt-4o", "b")
    assert override_model(None, "openai/gpt-4o", "b") == ModelRef("openai", "gpt-4o")
