"""Every Markdown output stays inert whatever the case ids, messages and model output
(issue 24, item 2): ci-report, ``diff --format markdown``, ``changelog``, the eval report
in Markdown and JUnit, rendered with markdown-it-py (tests/markdown_check.py)."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from promptver.safetext import one_line
from tests.evals.conftest import openai_model, write_bundle
from tests.fakeserver import FakeLLMServer
from tests.markdown_check import CONTROL, assert_inert, code_spans
from tests.test_safetext import HOSTILE

IDS = [text for text in HOSTILE if text.strip()]
MESSAGE = "Release\n\n" + "\n".join(IDS)


@pytest.fixture
def hostile(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str], monkeypatch: pytest.MonkeyPatch, pv
) -> Path:  # type: ignore[no-untyped-def]
    """demo@1.0.0 with one case, demo@1.1.0 adding a case per hostile id, both evaluated;
    the model echoes the question (a hostile string), and every case fails its assertion."""
    cases = [{"id": "plain", "vars": {"question": "q"}}]
    folder = write_bundle(
        tmp_path,
        cases,
        model=openai_model(llm_server),
        dataset_extra='assert = [{ type = "equals", value = "{{ question }} no" }]',
    )
    monkeypatch.chdir(tmp_path)
    assert pv("bump", "minor", "demo", "--initial", "1.0.0", "-m", MESSAGE).code == 0
    cases += [{"id": text, "vars": {"question": text}} for text in IDS]
    (folder / "evals" / "golden.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases))
    (folder / "prompts" / "answer.j2").write_text("Q: {{ question }} `` ![x](https://evil.example/x)")
    assert pv("bump", "minor", "demo", "-m", MESSAGE).code == 0
    assert pv("eval", "demo@1.0.0", "--quiet").code == 0
    return tmp_path


def test_every_markdown_output_is_inert(hostile: Path, pv) -> None:  # type: ignore[no-untyped-def]
    eval_md = pv("eval", "demo@1.1.0", "--format", "markdown", "--compare", "1.0.0")
    assert eval_md.code in (0, 1), eval_md.err
    outputs = {
        "eval --format markdown": eval_md.out,
        "ci-report": pv("ci-report", "demo@1.1.0").out,
        "diff --format markdown": pv("diff", "demo@1.0.0", "demo@1.1.0", "--format", "markdown").out,
        "changelog": pv("changelog", "demo").out,
    }
    for name, markdown in outputs.items():
        assert markdown.strip(), name
        assert_inert(markdown)
    spans = code_spans(outputs["ci-report"])
    for text in IDS:  # each id shown whole, as itself, in a code span of the added cases
        assert one_line(text) in spans, (text, spans)


def test_junit_is_well_formed_and_holds_no_control_character(hostile: Path, pv) -> None:  # type: ignore[no-untyped-def]
    result = pv("eval", "demo@1.1.0", "--format", "junit")
    assert not CONTROL.search(result.out)
    suite = ET.fromstring(result.out.split("\n", 1)[1])
    names = {case.get("name") for case in suite.iter("testcase")}
    assert {one_line(text) for text in IDS} <= names
    messages = [f.get("message") or "" for f in suite.iter("failure")]
    assert any("\\x1b]8;;https://evil.example" in m for m in messages)


def test_model_output_and_case_ids_reach_the_terminal_escaped(hostile: Path, pv) -> None:  # type: ignore[no-untyped-def]
    """The model echoes the hostile questions (OSC 8 links, clear screen...) back."""
    result = pv("eval", "demo@1.1.0")
    assert result.code in (0, 1) and "Traceback" not in result.err
    assert not CONTROL.search(result.out + result.err)
    run_id = next(r["id"] for r in json.loads(pv("runs", "demo", "--json").out) if r["version"] == "1.1.0")
    for args in (("run", "show", run_id), ("runs", "demo"), ("run", "show", run_id, "--json")):
        shown = pv(*args)
        assert shown.code == 0, shown.err
        assert not CONTROL.search(shown.out + shown.err), args
    assert "\\x1b]8;;https://evil.example" in pv("run", "show", run_id).out
