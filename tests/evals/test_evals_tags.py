"""`promptver runs --target/--tag` and `promptver run tag`: filter and label stored runs;
a tag leaves a recorded run evidence (it is not among the files its event hashes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.evals.test_evals_cli import cli, project  # noqa: F401 (project: the fixture)


def _ids(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    code, out, err = cli(capsys, "runs", "demo", "--json", *args)
    assert code == 0, err
    return [m["id"] for m in json.loads(out)]


def test_runs_filter_by_target_and_tag(project: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    assert cli(capsys, "eval", "demo@1.0.0")[0] == 0
    code, _, err = cli(capsys, "eval", "demo@1.1.0", "--target", "python:evals_scorers:echo_target")
    assert code == 0, err
    model_run, python_run = _ids(capsys, "--target", "model"), _ids(capsys, "--target", "python")
    assert len(model_run) == 1 and len(python_run) == 1 and model_run != python_run
    assert _ids(capsys, "--target", "python:evals_scorers:echo_target") == python_run
    assert _ids(capsys, "--target", "rag") == []
    assert cli(capsys, "runs", "demo", "--target", "rag")[1] == "no runs of demo with target rag\n"

    code, out, _ = cli(capsys, "run", "tag", model_run[0], "baseline")
    assert code == 0 and out == f"run {model_run[0]} (demo): tags baseline\n"
    assert _ids(capsys, "--tag", "baseline") == model_run
    assert _ids(capsys, "--tag", "baseline", "--target", "python") == []
    listed = cli(capsys, "runs", "demo")[1]
    assert f"{model_run[0]}" in listed and "[baseline]" in listed
    # still evidence: verify checks the recorded run's files and finds them unchanged
    code, out, err = cli(capsys, "verify")
    assert code == 0, out + err
    code, out, _ = cli(capsys, "run", "tag", model_run[0], "baseline", "--remove", "--json")
    assert json.loads(out) == {"run": model_run[0], "bundle": "demo", "tags": []}
    assert _ids(capsys, "--tag", "baseline") == []


def test_bad_tags_and_runs_are_one_clear_message(project: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    assert cli(capsys, "eval", "demo@1.0.0")[0] == 0
    run_id = _ids(capsys)[0]
    code, _, err = cli(capsys, "run", "tag", run_id, "../x")
    assert code == 1 and err.startswith("Error: '../x' is not a valid run tag")
    code, _, err = cli(capsys, "run", "tag", "no-such-run", "baseline")
    assert code == 1 and err.startswith("Error: no run 'no-such-run'")
    # a hostile tags.json reads as no tags
    folder = next((project / ".promptver" / "runs" / "demo").glob(f"{run_id}"))
    (folder / "tags.json").write_text('["ok", "\\u001b[31mred"]')
    assert json.loads(cli(capsys, "runs", "demo", "--json")[1])[0]["tags"] == []
