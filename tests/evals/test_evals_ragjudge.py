"""Judged RAG metrics (Ragas's definitions): the formulas against tables worked by hand,
and a ``--target rag`` run scored by a deterministic judge on the fake server."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptver.evals import compare_runs
from promptver.evals.analysis import report
from promptver.evals.retrieval.ragjudge import answer_relevancy, context_precision, share
from tests.evals.conftest import write_bundle
from tests.evals.test_evals_rag import DENSE, TEMPLATE, model, run
from tests.evals.test_evals_retrieval import CORPUS
from tests.fakeserver import FakeLLMServer


@pytest.mark.parametrize(
    "useful, expected",
    [
        ([False, False, True, True, False], (1 / 3 + 2 / 4) / 2),  # 0.4167: relevant at ranks 3 and 4
        ([True, False, True], (1 / 1 + 2 / 3) / 2),  # 0.8333
        ([True, True], 1.0),
        ([False, True], 0.5),
        ([False, False], 0.0),
        ([], 0.0),
    ],
)
def test_context_precision_by_hand(useful: list[bool], expected: float) -> None:
    assert context_precision(useful) == pytest.approx(expected)


def test_claim_shares_and_relevancy_by_hand() -> None:
    assert share([True, False, True]) == pytest.approx(2 / 3)
    assert share([True, True]) == 1.0 and share([]) is None
    assert answer_relevancy([0.9, 0.8, 0.7], noncommittal=False) == pytest.approx(0.8)
    assert answer_relevancy([0.9, 0.8, 0.7], noncommittal=True) == 0.0


QUESTION = "Can I get a refund on my annual plan?"
CASES = [
    {"id": "refund", "vars": {"question": QUESTION}, "expected": "Refunds within 30 days. Not for add-ons."}
]


def judge_rules(server: FakeLLMServer) -> None:
    claims = '{"claims": [%s]}'
    server.add(
        match=r"^Break the text \(an answer\)",
        reply=claims % '{"claim": "a", "supported": true}, {"claim": "b", "supported": false}, '
        '{"claim": "c", "supported": true}',
        model="judge",
    )
    server.add(
        match=r"^Break the text \(an expected answer\)",
        reply=claims % '{"claim": "a", "supported": true}, {"claim": "b", "supported": false}',
        model="judge",
    )
    server.add(match=r"^For each of the 2 passages", reply='{"useful": [false, true]}', model="judge")
    questions = ", ".join(f'"{QUESTION}"' for _ in range(3))
    server.add(
        match=r"^Write 3 questions",
        reply=f'{{"questions": [{questions}], "noncommittal": false}}',
        model="judge",
    )
    server.add(
        match="Q: Can I get a refund", reply="Refunds within 30 days. We love cats.", model="gpt-4o-mini"
    )


def test_rag_run_is_scored_by_the_judge(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str]
) -> None:
    judge_rules(llm_server)
    grader = f'grader = {{ provider = "openai", name = "judge", base_url = "{llm_server.openai_base}" }}\n'
    folder = write_bundle(
        tmp_path,
        CASES,
        model=model(llm_server) + DENSE,
        dataset_extra='assert = [{ type = "icontains", value = "30 days" }]\n' + grader,
        files={**CORPUS, "prompts/answer.j2": TEMPLATE},
    )
    result = run(folder)
    record = result.records[0]
    judged = record["rag_judged"]
    assert judged["faithfulness"] == pytest.approx(2 / 3)
    assert judged["context_recall"] == 0.5
    assert judged["context_precision"] == 0.5
    assert judged["answer_relevancy"] == pytest.approx(1.0, abs=1e-5)  # the question itself, three times
    assert judged["judge"]["model"] == "openai/judge"
    assert "skipped" not in judged and "errors" not in judged
    summary = result.meta["summary"]["rag_judged"]
    assert summary["cases"] == 1 and summary["faithfulness"] == pytest.approx(2 / 3)
    assert [j["digest"] for j in result.meta["judges"]] == [judged["judge"]["digest"]]
    text = report.render("text", result.meta, result.records)
    assert "judged RAG (1 cases)  faithfulness 0.667  answer relevancy 1.000  context precision 0.500" in text
    # the same run again: every judge request and the answer come from the cache
    sent = len(llm_server.requests)
    again = run(folder)
    assert len(llm_server.requests) == sent and again.records[0]["rag_judged"][
        "faithfulness"
    ] == pytest.approx(2 / 3)
    compared = report.render("text", again.meta, again.records, compare_runs(result, again))
    assert "judged RAG faithfulness " in compared and "context recall " in compared
    # the review UI's eval pane (its Textual-free rows)
    from promptver.tui.results import compare as pane

    rows = {row.name: row for row in pane(result, again).metrics}
    assert rows["faithfulness"].old == pytest.approx(2 / 3) and rows["context precision"].new == 0.5


def test_a_bad_judge_reply_leaves_the_metric_unscored(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str]
) -> None:
    llm_server.add(match=r"^Break the text \(an answer\)", reply="no idea", model="judge")
    llm_server.add(match="That reply is not valid", reply="still no idea", model="judge")
    judge_rules(llm_server)
    grader = f'grader = {{ provider = "openai", name = "judge", base_url = "{llm_server.openai_base}" }}\n'
    cases = [{"id": "refund", "vars": {"question": QUESTION}, "expected": ["not", "text"]}]
    folder = write_bundle(
        tmp_path,
        cases,
        model=model(llm_server) + DENSE,
        dataset_extra=grader,
        files={**CORPUS, "prompts/answer.j2": TEMPLATE},
    )
    judged = run(folder).records[0]["rag_judged"]
    assert judged["faithfulness"] is None and "after one retry" in judged["errors"]["faithfulness"]
    assert judged["context_precision"] is None and judged["context_recall"] is None
    assert judged["skipped"]["context_recall"] == "the case has no expected answer"
