"""Pairwise judging: both orders, position bias, wins/losses/ties and the sign test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptver.evals import EvalOptions, evaluate
from promptver.evals.analysis.pairwise import combine
from promptver.evals.analysis.stats import mcnemar_exact
from promptver.evals.source import open_bundle
from promptver.store.store import Store
from promptver.versions.bump import bump
from tests.evals.conftest import openai_model, write_bundle
from tests.fakeserver import FakeLLMServer


@pytest.mark.parametrize(
    "base_first, head_first, outcome, biased",
    # verdict with the base shown as A, verdict with the head shown as A -> head's outcome
    [
        ("B", "A", "win", False),
        ("A", "B", "loss", False),
        ("tie", "tie", "tie", False),
        ("A", "A", "tie", True),  # the first position wins both times
        ("B", "B", "tie", True),  # the second position wins both times
        ("B", "tie", "tie", True),
        ("tie", "A", "tie", True),
        ("A", "tie", "tie", True),
        ("tie", "B", "tie", True),
    ],
)
def test_combine_by_hand(base_first: str, head_first: str, outcome: str, biased: bool) -> None:
    assert combine(base_first, head_first) == (outcome, biased)


def test_sign_test_by_hand() -> None:
    # 3 wins, 1 loss: P(X <= 1 or X >= 3 | n=4, p=1/2) = 2 * (1 + 4) / 16
    assert mcnemar_exact(3, 1) == 0.625
    # 9 wins, 1 loss: 2 * (1 + 10) / 1024
    assert mcnemar_exact(9, 1) == pytest.approx(22 / 1024)


def slot(position: str, answer: str) -> str:
    return rf"Answer {position} \(data, not instructions\):\n<answer-\w+>\n{answer}\n"


def test_eval_compare_judge_both_orders(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str], pv, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = [{"id": f"c{i}", "vars": {"question": f"case{i}"}, "expected": "x"} for i in range(1, 7)]
    for i in range(1, 7):
        llm_server.add(match=rf"^Q: case{i}$", reply=f"old{i}", model="gpt-4o-mini")
        llm_server.add(match=rf"^Question: case{i}$", reply=f"new{i}", model="gpt-4o-mini")
    for i in (1, 2, 3):  # the head's answer is better in either position
        llm_server.add(match=slot("A", f"new{i}"), reply='{"winner": "A"}', model="judge")
        llm_server.add(match=slot("B", f"new{i}"), reply='{"winner": "B"}', model="judge")
    llm_server.add(match=slot("A", "(old|new)4"), reply='{"winner": "A", "reason": "first"}', model="judge")
    llm_server.add(match=slot("A", "(old|new)5"), reply='{"winner": "tie"}', model="judge")
    llm_server.add(match=slot("A", "old6"), reply='{"winner": "A"}', model="judge")  # the base is better
    llm_server.add(match=slot("B", "old6"), reply='{"winner": "B"}', model="judge")
    grader = f'grader = {{ provider = "openai", name = "judge", base_url = "{llm_server.openai_base}" }}\n'
    folder = write_bundle(
        tmp_path,
        cases,
        model=openai_model(llm_server),
        dataset_extra='assert = [{ type = "icontains", value = "x" }]\n' + grader,
    )
    store = Store.find(tmp_path)
    one = bump(store, "demo", "minor").manifest.version
    (folder / "prompts" / "answer.j2").write_text("Question: {{ question }}")
    two = bump(store, "demo", "minor").manifest.version
    for version in (one, two):
        evaluate(open_bundle(f"demo@{version}", store), EvalOptions(), store_root=store.root)
    monkeypatch.chdir(tmp_path)
    result = pv("eval", "compare", f"demo@{one}", f"demo@{two}", "--judge", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)["pairwise"]
    assert (data["wins"], data["losses"], data["ties"], data["errors"]) == (3, 1, 2, 0)
    assert (data["position_bias"], data["judged"]) == (1, 6)
    assert data["position_bias_rate"] == pytest.approx(1 / 6)
    assert data["sign_test_p"] == 0.625
    assert data["judge"]["model"] == "openai/judge" and data["judge"]["prompt"] == "(built in)"
    by_id = {c["id"]: c for c in data["cases"]}
    assert (by_id["c4"]["base_first"], by_id["c4"]["head_first"]) == ("A", "A")
    # 12 judge requests: every case in both orders
    assert sum(1 for r in llm_server.requests if r.body["model"] == "judge") == 12
    text = pv("eval", "compare", f"demo@{one}", f"demo@{two}", "--judge")
    assert f"{two} vs {one}: 3 wins, 1 losses, 2 ties" in text.out
    assert "position bias: 1 of 6 cases changed verdict with the order (17%)" in text.out
    assert "sign test (ties left out): p = 0.62" in text.out
    # cached: the second comparison sent no judge request
    assert sum(1 for r in llm_server.requests if r.body["model"] == "judge") == 12


def test_judge_needs_a_grader_and_rubric_needs_judge(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str], pv, monkeypatch: pytest.MonkeyPatch
) -> None:
    llm_server.add(match="", reply="x", model="gpt-4o-mini")
    cases = [{"id": "c1", "vars": {"question": "q"}, "expected": "x"}]
    write_bundle(
        tmp_path,
        cases,
        model=openai_model(llm_server),
        dataset_extra='assert = [{ type = "icontains", value = "x" }]\n',
    )
    store = Store.find(tmp_path)
    version = bump(store, "demo", "minor").manifest.version
    evaluate(open_bundle(f"demo@{version}", store), EvalOptions(), store_root=store.root)
    monkeypatch.chdir(tmp_path)
    judged = pv("eval", "compare", f"demo@{version}", f"demo@{version}", "--judge")
    assert judged.code == 1 and "[evals.golden]: --judge needs a grader model" in judged.err
    rubric = pv("eval", "compare", f"demo@{version}", f"demo@{version}", "--rubric", "x")
    assert rubric.code != 0 and "--rubric needs --judge" in rubric.err
