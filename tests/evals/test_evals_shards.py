"""--shard i/N slices a run by case id; `eval merge` makes one run of the N shards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptver.errors import ConfigError
from promptver.evals.shards import parse_shard, shard_of
from tests.evals.conftest import openai_model, write_bundle
from tests.evals.test_evals_cli import cli
from tests.fakeserver import FakeLLMServer

CASES = [{"id": f"case-{i:02}", "vars": {"question": f"q{i}"}, "expected": f"q{i}"} for i in range(20)]
DEFAULT = 'assert = [{ type = "icontains", value = "{{ expected }}" }]'


def test_shard_specs_and_slices() -> None:
    assert parse_shard("2/4") == (2, 4) and parse_shard(" 1 / 1 ") == (1, 1)
    for bad in ("0/4", "5/4", "a/b", "3", "-1/2"):
        with pytest.raises(ConfigError, match="bad --shard"):
            parse_shard(bad)
    slices = [shard_of(f"id-{i}", 4) for i in range(1000)]
    assert set(slices) == {1, 2, 3, 4} and all(180 < slices.count(s) < 320 for s in range(1, 5))
    assert slices == [shard_of(f"id-{i}", 4) for i in range(1000)]  # the same on every machine


@pytest.fixture
def project(
    tmp_path: Path,
    llm_server: FakeLLMServer,
    api_keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Path:
    folder = write_bundle(tmp_path, CASES, model=openai_model(llm_server), dataset_extra=DEFAULT)
    monkeypatch.chdir(tmp_path)
    assert cli(capsys, "bump", "minor", "demo", "--initial", "1.0.0")[0] == 0
    (folder / "prompts" / "answer.j2").write_text("Question: {{ question }}")
    assert cli(capsys, "bump", "minor", "demo", "--force")[0] == 0
    return tmp_path


def shard_run(capsys: pytest.CaptureFixture[str], ref: str, spec: str) -> dict:  # type: ignore[type-arg]
    code, out, err = cli(capsys, "eval", ref, "--shard", spec, "-q", "--json")
    assert code == 0, err
    data: dict = json.loads(out)  # type: ignore[type-arg]
    return data


def test_three_shards_merge_into_the_whole_run(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shards = [shard_run(capsys, "demo@1.0.0", f"{i}/3") for i in (1, 2, 3)]
    ids = [[r["id"] for r in s["cases"]] for s in shards]
    assert sorted(i for s in ids for i in s) == [c["id"] for c in CASES], (
        "disjoint slices that cover every case"
    )
    assert all(s["run"]["status"] == "partial" for s in shards)
    # a shard is not the version's run: compare finds no complete run yet
    code, _, err = cli(capsys, "eval", "compare", "demo@1.0.0", "demo@1.0.0")
    assert code == 1 and "no complete run" in err

    code, out, err = cli(capsys, "eval", "merge", *(s["run"]["id"] for s in reversed(shards)), "--json")
    assert code == 0, err
    merged = json.loads(out)
    assert merged["run"]["status"] == "complete" and merged["run"]["summary"]["cases"] == 20
    assert [r["id"] for r in merged["cases"]] == [c["id"] for c in CASES], "in dataset order"
    assert merged["run"]["shards"] == [s["run"]["id"] for s in shards]
    assert merged["run"]["options"]["shard"] is None
    code, out, _ = cli(capsys, "run", "show", merged["run"]["id"], "--json")
    assert code == 0
    # the merged run is the version's evidence, recorded in its audit log
    code, out, _ = cli(capsys, "eval", "compare", "demo@1.0.0", "demo@1.0.0", "--json")
    assert code == 0 and json.loads(out)["run"]["id"] == merged["run"]["id"]


def test_merge_refuses_what_is_not_one_run(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = shard_run(capsys, "demo@1.0.0", "1/2")["run"]["id"]
    two = shard_run(capsys, "demo@1.0.0", "2/2")["run"]["id"]
    other_version = shard_run(capsys, "demo@1.1.0", "2/2")["run"]["id"]
    other_count = shard_run(capsys, "demo@1.0.0", "2/3")["run"]["id"]
    again = shard_run(capsys, "demo@1.0.0", "1/2")["run"]["id"]
    code, out, err = cli(capsys, "eval", "demo@1.0.0", "-q", "--json")
    whole = json.loads(out)["run"]["id"]
    for runs, message in (
        ([one], "shard 2/2 missing"),
        ([one, other_version], "has another version"),
        ([one, other_count], "the others are of 2"),
        ([one, again], "are both shard 1/2"),
        ([one, whole], "is not a shard"),
        (["nope"], "no run 'nope'"),
    ):
        code, _, err = cli(capsys, "eval", "merge", *runs)
        assert code == 1 and message in err, err
        assert err.count("\n") <= 3 and "Traceback" not in err
    assert cli(capsys, "eval", "merge", one, two)[0] == 0


def test_shard_of_an_interrupted_run_resumes_its_own_slice(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from promptver.evals import EvalOptions, evaluate
    from promptver.evals.source import find_store, open_bundle

    store = find_store(None)
    options = EvalOptions(shard="2/2")
    run = evaluate(open_bundle("demo@1.0.0", store), options, store_root=store.root)
    assert run.meta["planned"] == len(run.records) == sum(1 for c in CASES if shard_of(c["id"], 2) == 2)
    code, _, err = cli(capsys, "eval", "demo@1.0.0", "--resume", run.id, "-q")
    assert code == 1 and "already complete" in err
