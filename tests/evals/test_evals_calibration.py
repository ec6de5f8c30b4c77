"""Judge calibration: Wilson intervals against published values, the labels file, the
calibration stored and recorded, the alias policy's judge requirement, show NAME@ALIAS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptver.errors import ConfigError, IntegrityError
from promptver.evals import EvalOptions, evaluate
from promptver.evals.analysis.calibration import read_labels, recorded, wilson
from promptver.evals.source import open_bundle
from promptver.governance.deployment import deployment
from promptver.governance.policy import effective_policy
from promptver.governance.promotion import check_policy
from promptver.store.store import Store
from promptver.versions.bump import bump
from tests.evals.conftest import openai_model, write_bundle
from tests.fakeserver import FakeLLMServer


@pytest.mark.parametrize(
    "k, n, low, high",
    # Newcombe (1998), Statistics in Medicine 17:857-872, Table II, method 3 (Wilson score)
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)],
)
def test_wilson_matches_newcombe(k: int, n: int, low: float, high: float) -> None:
    interval = wilson(k, n)
    assert interval is not None
    assert (round(interval[0], 4), round(interval[1], 4)) == (low, high)


def test_wilson_of_nothing_is_none() -> None:
    assert wilson(0, 0) is None


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"id": "a", "output": "x", "pass": true}\nnot json\n', r"labels.jsonl:2:1: not JSON"),
        ('{"id": "a", "output": "x", "pass": "yes"}\n', r"labels.jsonl:1:1: 'pass' must be true or false"),
        ('{"id": "a", "output": "x", "pass": true, "verdict": 1}\n', r"unknown key 'verdict'"),
        ('{"output": "x", "pass": true}\n', r"'id' must be the id of an eval case"),
        ("\n", r"labels.jsonl: no labels"),
    ],
)
def test_bad_labels_are_located(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        read_labels(text.encode(), "demo/labels.jsonl")


LABELS = [
    {"id": "fr", "output": "Paris", "pass": True},
    {"id": "fr", "output": "It is Paris.", "pass": True},
    {"id": "fr", "output": "Lyon", "pass": False},
    {"id": "fr", "output": "Marseille", "pass": False},
    {"id": "fr", "output": "Not Paris but Lyon", "pass": False, "note": "wrong city"},
    {"id": "fr", "output": "Gibberish", "pass": False},
]
CASES = [{"id": "fr", "vars": {"question": "capital of France"}, "expected": "Paris"}]


def policy_toml(min_tnr: float) -> str:
    return (
        "\n[aliases.production]\napprovals = 0\n"
        'eval = { dataset = "golden", min_score = 0.5 }\n'
        f"judge = {{ min_tpr = 0.9, min_tnr = {min_tnr}, min_labels = 5 }}\n"
    )


def judged_bundle(tmp_path: Path, server: FakeLLMServer, min_tnr: float = 0.6) -> Path:
    extra = (
        f'grader = {{ provider = "openai", name = "judge", base_url = "{server.openai_base}" }}\n'
        'judge_prompt = "judges/judge.md"\n'
        'assert = [{ type = "llm-judge", value = "Names Paris as the capital" }]\n' + policy_toml(min_tnr)
    )
    labels = "".join(json.dumps(label) + "\n" for label in LABELS)
    return write_bundle(
        tmp_path,
        CASES,
        model=openai_model(server),
        dataset_extra=extra,
        files={"judges/judge.md": "Grade capitals.\n", "evals/labels.jsonl": labels},
    )


def judge_rules(server: FakeLLMServer) -> None:
    server.add(match="That reply is not valid", reply="still nonsense", model="judge")
    server.add(match=r"<answer-\w+>\nGibberish\n", reply="nonsense", model="judge")
    server.add(
        match=r"<answer-\w+>\n[^<]*Paris", reply='{"pass": true, "reason": "names Paris"}', model="judge"
    )
    server.add(match="answer-", reply='{"pass": false, "reason": "not Paris"}', model="judge")
    server.add(match="France", reply="Paris", model="gpt-4o-mini")


def test_calibrate_reports_rates_intervals_and_disagreements(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str], pv, monkeypatch: pytest.MonkeyPatch
) -> None:
    judge_rules(llm_server)
    judged_bundle(tmp_path, llm_server)
    store = Store.find(tmp_path)
    version = bump(store, "demo", "minor").manifest.version
    monkeypatch.chdir(tmp_path)
    result = pv("judge", "calibrate", f"demo@{version}", "--labels", "evals/labels.jsonl", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    s = data["summary"]
    assert (s["labels"], s["judged"], s["errors"]) == (6, 5, 1)
    assert (s["tp"], s["fn"], s["tn"], s["fp"]) == (2, 0, 2, 1)
    assert s["tpr"]["value"] == 1.0 and (round(s["tpr"]["low"], 4), s["tpr"]["high"]) == (0.3424, 1.0)
    assert s["tnr"]["value"] == pytest.approx(2 / 3)
    assert (round(s["tnr"]["low"], 4), round(s["tnr"]["high"], 4)) == (0.2077, 0.9385)
    assert data["judge"]["prompt"] == "judges/judge.md" and data["labels"]["count"] == 6
    differ = [r for r in data["records"] if r.get("agree") is False]
    assert [(r["output"], r["note"]) for r in differ] == [("Not Paris but Lyon", "wrong city")]
    errored = [r for r in data["records"] if r.get("error")]
    assert [r["output"] for r in errored] == ["Gibberish"] and "after one retry" in errored[0]["error"]
    # stored like a run and recorded in the audit log
    assert (store.root / "calibrations" / "demo" / data["id"] / "cases.jsonl").is_file()
    assert [m["id"] for m in recorded(store.root, "demo")] == [data["id"]]
    audit = pv("audit", "demo", "--event", "calibration")
    assert audit.code == 0, audit.err
    assert f"calibrated on 5 labels: TPR 1.00, TNR 0.67, run {data['id']}" in audit.out
    assert pv("verify").code == 0  # the log with its calibration event still checks out
    text = pv("judge", "calibrate", f"demo@{version}", "--labels", "evals/labels.jsonl")
    assert "TPR 1.00 [0.34, 1.00], TNR 0.67 [0.21, 0.94]" in text.out
    assert "differ fr (line 5): human fail, judge pass: names Paris (note: wrong city)" in text.out


def test_unknown_case_in_labels_is_located(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str], pv, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = judged_bundle(tmp_path, llm_server)
    (folder / "evals" / "labels.jsonl").write_text('{"id": "de", "output": "Berlin", "pass": true}\n')
    monkeypatch.chdir(tmp_path)
    result = pv("judge", "calibrate", "demo", "--labels", "evals/labels.jsonl")
    assert result.code != 0
    assert "demo/evals/labels.jsonl:1:1: no case 'de' in dataset 'golden'" in result.err
    assert llm_server.requests == []


def _policy_missing(store: Store, ref: str) -> list[str]:
    manifest = store.resolve("demo", ref)
    policy = effective_policy(store, "production", manifest, None)
    return check_policy(store, manifest, "production", policy, []).missing


@pytest.mark.parametrize("min_tnr, counts", [(0.6, True), (0.9, False)])
def test_policy_counts_judged_runs_only_from_calibrated_judges(
    tmp_path: Path,
    llm_server: FakeLLMServer,
    api_keys: dict[str, str],
    min_tnr: float,
    counts: bool,
    pv,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from promptver.evals.analysis.calibration import calibrate

    judge_rules(llm_server)
    judged_bundle(tmp_path, llm_server, min_tnr=min_tnr)
    store = Store.find(tmp_path)
    version = bump(store, "demo", "minor").manifest.version
    run = evaluate(open_bundle(f"demo@{version}", store), EvalOptions(), store_root=store.root)
    assert run.meta["summary"]["pass_rate"] == 1.0 and run.meta["judges"]
    missing = _policy_missing(store, version)
    assert len(missing) == 1 and "is not calibrated (TPR >= 0.9 and TNR >=" in missing[0]
    calibrate(open_bundle(f"demo@{version}", store), "evals/labels.jsonl", store_root=store.root)
    missing = _policy_missing(store, version)
    if counts:
        assert missing == []
        monkeypatch.chdir(tmp_path)
        assert pv("promote", f"demo@{version}", "--to", "production").code == 0
        shown_text = pv("show", "demo@production").out
        line = next(x for x in shown_text.splitlines() if x.startswith("judge "))
        assert line.split(None, 1)[1].startswith("openai/judge with judges/judge.md: calibrated on 5 labels")
    else:
        assert len(missing) == 1 and "is calibrated below it" in missing[0]
    shown = deployment(store, store.resolve("demo", version), "production")
    judge = shown["evals"][0]["judges"][0]
    assert judge["model"] == "openai/judge" and judge["prompt"] == "judges/judge.md"
    assert judge["calibrated"].startswith(f"calibrated on 5 labels (evals/labels.jsonl of demo@{version}")


def test_an_edited_calibration_no_longer_counts(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str]
) -> None:
    from promptver.evals.analysis.calibration import calibrate

    judge_rules(llm_server)
    judged_bundle(tmp_path, llm_server)
    store = Store.find(tmp_path)
    version = bump(store, "demo", "minor").manifest.version
    meta = calibrate(open_bundle(f"demo@{version}", store), "evals/labels.jsonl", store_root=store.root)
    path = store.root / "calibrations" / "demo" / meta["id"] / "run.json"
    path.write_text(path.read_text().replace('"tn": 2', '"tn": 3'))
    assert recorded(store.root, "demo") == []
    from promptver.governance.verify import bundle_problems

    assert f"demo: judge calibration {meta['id']} was edited after it was recorded" in bundle_problems(
        store, "demo"
    )


def test_a_calibration_travels_with_push_and_pull(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str]
) -> None:
    from promptver.evals.analysis.calibration import calibrate
    from promptver.remote.config import RemoteConfig
    from promptver.remote.sync import Remote, pull, push

    judge_rules(llm_server)
    judged_bundle(tmp_path / "a", llm_server)
    a = Store.find(tmp_path / "a")
    version = bump(a, "demo", "minor").manifest.version
    meta = calibrate(open_bundle(f"demo@{version}", a), "evals/labels.jsonl", store_root=a.root)
    (tmp_path / "shared").mkdir()
    url = f"file://{tmp_path}/shared"
    push(a, Remote(a, RemoteConfig("origin", url)), "demo")
    (tmp_path / "b").mkdir()
    b, _ = Store.init(tmp_path / "b")
    pull(b, Remote(b, RemoteConfig("origin", url)), "demo")
    assert [m["id"] for m in recorded(b.root, "demo")] == [meta["id"]]
    # a calibration altered on the remote is refused by the next pull into a fresh store
    shared = tmp_path / "shared" / "calibrations" / "demo" / meta["id"] / "run.json"
    shared.write_text(shared.read_text().replace('"tn": 2', '"tn": 3'))
    (tmp_path / "c").mkdir()
    c, _ = Store.init(tmp_path / "c")
    with pytest.raises(
        IntegrityError, match=f"judge calibration {meta['id']} of demo on the remote does not match"
    ):
        pull(c, Remote(c, RemoteConfig("origin", url)), "demo")


def test_terminal_output_drops_control_characters() -> None:
    from promptver.cli.cmd_judge import _plain

    assert _plain("wrong\x1b[2J city\r\nnote") == "wrong [2J city  note"
