"""The eval commands end to end: stored versions, runs, compare, gates, formats, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from promptver.cli.main import main
from tests.evals.conftest import openai_model, write_bundle
from tests.fakeserver import FakeLLMServer

CASES = [
    {"id": "fr", "vars": {"question": "capital of France"}, "expected": "Paris"},
    {"id": "jp", "vars": {"question": "capital of Japan"}, "expected": "Tokyo"},
    {"id": "it", "vars": {"question": "capital of Italy"}, "expected": "Rome"},
]
DEFAULT = 'assert = [{ type = "icontains", value = "{{ expected }}" }]'
ROOT = Path(__file__).resolve().parents[2]


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
    """demo@1.0.0 answers fr/jp right and it wrong; demo@1.1.0 gets fr wrong and it right."""
    llm_server.add(match="^Q: capital of France", reply="Paris")
    llm_server.add(match="^Q: capital of Japan", reply="Tokyo")
    llm_server.add(match="^Q: capital of Italy", reply="Milan")
    llm_server.add(match="^Question: capital of France", reply="Lyon")
    llm_server.add(match="^Question: capital of Japan", reply="Tokyo")
    llm_server.add(match="^Question: capital of Italy", reply="Rome")
    folder = write_bundle(tmp_path, CASES, model=openai_model(llm_server), dataset_extra=DEFAULT)
    monkeypatch.chdir(tmp_path)
    assert cli(capsys, "bump", "minor", "demo", "--initial", "1.0.0")[0] == 0
    (folder / "prompts" / "answer.j2").write_text("Question: {{ question }}")
    assert cli(capsys, "bump", "minor", "demo", "--force")[0] == 0
    return tmp_path


def test_eval_version_is_stored_and_listed(
    project: Path, llm_server: FakeLLMServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "eval", "demo@1.0.0", "--json")
    assert code == 0
    data = json.loads(out)
    manifest = json.loads(
        (project / ".promptver" / "bundles" / "demo" / "versions" / "1.0.0.json").read_text()
    )
    run = data["run"]
    assert run["version"] == "1.0.0" and run["digest"] == manifest["digest"]
    assert run["summary"]["passed"] == 2 and len(data["cases"]) == 3
    code, out, _ = cli(capsys, "runs", "demo", "--json")
    assert [m["id"] for m in json.loads(out)] == [run["id"]]
    code, out, _ = cli(capsys, "runs", "demo")
    assert run["id"] in out and "1.0.0" in out
    code, out, _ = cli(capsys, "run", "show", run["id"])
    assert "FAIL  it: icontains: output lacks 'Rome'" in out and "pass rate 66.7%" in out
    code, out, _ = cli(capsys, "run", "show", run["id"], "--json")
    assert json.loads(out)["run"]["id"] == run["id"]
    code, _, err = cli(capsys, "run", "show", "nope")
    assert code == 1 and "Error: no run 'nope'" in err and "Traceback" not in err


def test_working_copy_is_kept_only_with_save(
    project: Path, llm_server: FakeLLMServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "eval", "demo", "--quiet")
    assert code == 0 and "demo@working copy" in out
    assert cli(capsys, "runs", "demo")[1].strip() == "no runs of demo"
    cli(capsys, "eval", "demo", "--save")
    assert len(json.loads(cli(capsys, "runs", "demo", "--json")[1])) == 1


def test_compare_gates_and_formats(
    project: Path, llm_server: FakeLLMServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "eval", "demo@1.0.0")[0] == 0
    code, out, _ = cli(capsys, "eval", "demo@1.1.0", "--compare", "1.0.0", "--max-regressions", "0")
    assert code == 1
    assert "regressed fr: pass 1.000 -> fail 0.000" in out
    assert "improved  it: fail 0.000 -> pass 1.000" in out
    assert "gate failed: 1 cases regressed (at most 0 allowed)" in out
    code, out, _ = cli(capsys, "eval", "compare", "demo@1.0.0", "demo@1.1.0", "--json")
    assert code == 0
    comparison = json.loads(out)["comparison"]
    assert [c["id"] for c in comparison["regressed"]] == ["fr"]
    assert [c["id"] for c in comparison["improved"]] == ["it"]
    assert comparison["deltas"]["score"] == 0.0 and comparison["unchanged"] == 1
    code, out, _ = cli(capsys, "eval", "demo@1.1.0", "--fail-under", "0.9", "--format", "junit", "--quiet")
    assert code == 1
    suite = ET.fromstring(out.split("\n", 1)[1])
    assert suite.get("tests") == "3" and suite.get("failures") == "1"
    gate = [c for c in suite.iter("testcase") if c.get("name") == "gate"]
    assert gate and "score 0.667 is under 0.9" in gate[0][0].get("message", "")
    code, out, _ = cli(capsys, "eval", "demo@1.1.0", "--format", "markdown", "--compare", "1.0.0")
    assert code == 0 and "### Compared with" in out and "- regressed: `fr`" in out
    assert llm_server.count() == 6, "repeated evals of a version are answered from the cache"


def test_configuration_errors_are_clean(
    project: Path,
    llm_server: FakeLLMServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    code, _, err = cli(capsys, "eval", "demo@1.0.0")
    assert code == 1 and "Error: missing API key" in err and "OPENAI_API_KEY" in err
    code, _, err = cli(capsys, "eval", "demo@9.9.9")
    assert code == 1 and err.startswith("Error:")
    code, _, err = cli(capsys, "eval", "compare", "demo@1.0.0", "demo@1.1.0")
    assert code == 1 and "no complete run of demo@1.0.0" in err
    assert llm_server.count() == 0


def _wait_for(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def test_ctrl_c_keeps_finished_cases_and_resume_finishes(
    project: Path, llm_server: FakeLLMServer, capsys: pytest.CaptureFixture[str]
) -> None:
    many = [{"id": f"c{i:02}", "vars": {"question": f"q{i}"}} for i in range(30)]
    folder = project / "bundles" / "demo"
    (folder / "evals" / "golden.jsonl").write_text("".join(json.dumps(c) + "\n" for c in many))
    assert cli(capsys, "bump", "patch", "demo")[0] == 0
    llm_server.latency = 0.1
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-m", "promptver", "eval", "demo@1.1.1", "--concurrency", "1"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    runs = project / ".promptver" / "runs" / "demo"

    def three_done() -> bool:
        files = list(runs.glob("*/cases.jsonl"))
        return bool(files) and files[0].read_text().count("\n") >= 3

    _wait_for(three_done)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=20)
    assert child.returncode == 130, err
    run_id = next(runs.iterdir()).name
    assert f"--resume {run_id}" in err
    assert f"Interrupted: run {run_id} keeps its " in err and err.lower().count("interrupted") == 1, err
    meta = json.loads((runs / run_id / "run.json").read_text())
    kept = meta["summary"]["cases"]
    assert meta["status"] == "interrupted" and 3 <= kept < 30
    llm_server.latency = 0.0
    code, out, _ = cli(capsys, "eval", "demo@1.1.1", "--resume", run_id, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["run"]["status"] == "complete" and len(data["cases"]) == 30
    assert sorted(c["id"] for c in data["cases"]) == [c["id"] for c in many]


def test_a_bundle_named_like_a_subcommand_can_be_evaluated(
    tmp_path: Path,
    llm_server: FakeLLMServer,
    api_keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`eval run NAME` always evaluates; NAME@VERSION never reads as a subcommand."""
    llm_server.add(match="capital of", reply="Paris Tokyo Rome")
    write_bundle(tmp_path, CASES, name="compare", model=openai_model(llm_server), dataset_extra=DEFAULT)
    monkeypatch.chdir(tmp_path)
    assert cli(capsys, "bump", "minor", "compare")[0] == 0
    code, out, err = cli(capsys, "eval", "compare@0.1.0", "--json")
    assert code == 0, err
    assert json.loads(out)["run"]["bundle"] == "compare"
    code, out, err = cli(capsys, "eval", "run", "compare", "--json")
    assert code == 0, err
    assert json.loads(out)["run"]["version"] is None  # the working copy
    # `eval compare A B` is still the comparison of two runs
    code, out, err = cli(capsys, "eval", "compare", "compare@0.1.0", "compare@0.1.0", "--json")
    assert code == 0, err
    assert "regressed" in out


def test_eval_help_lists_the_run_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "eval", "--help")
    assert code == 0
    assert "Usage: promptver eval [OPTIONS] NAME[@VERSION] | COMMAND [ARGS]..." in out
    for option in ("--concurrency", "--target", "--fail-under", "--fail-if-worse", "--dataset", "--repeat"):
        assert option in out
    for command in ("compare", "history", "run"):
        assert f"  {command} " in out


def test_an_invalid_working_copy_stops_before_any_request(
    project: Path, llm_server: FakeLLMServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check` said the working copy was invalid (a case lacks a variable its template
    needs) and `eval` sent the requests anyway; docs/evals.md says it stops first."""
    golden = project / "bundles" / "demo" / "evals" / "golden.jsonl"
    golden.write_text(golden.read_text() + json.dumps({"id": "novars", "vars": {}, "expected": "x"}) + "\n")
    assert cli(capsys, "check", "demo")[0] == 1
    llm_server.reset()
    for args in (["eval", "demo"], ["eval", "demo", "--save", "--target", "model"]):
        code, _, err = cli(capsys, *args)
        assert code == 1 and err.count("Error:") == 1
        assert "bundle 'demo' is invalid (1 problem)" in err
        assert "case 'novars': template 'answer' needs question" in err
    assert llm_server.count() == 0
    assert not (project / ".promptver" / "runs" / "demo").exists() or not any(
        json.loads(p.read_text()).get("version") is None
        for p in (project / ".promptver" / "runs" / "demo").glob("*/run.json")
    )
