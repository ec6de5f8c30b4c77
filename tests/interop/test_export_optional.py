"""Optional variables across formats: ``| default(60)`` exports to Dotprompt (input.default)
and promptfoo (Nunjucks' own filter), guarded and defaulted variables are not required in
Prompty, a list no case gives an example of is declared a list; each export is rendered by
the real package (dotpromptz, prompty, nunjucks) and compared with promptver's messages."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from promptver.interop.exporter import export, open_version
from promptver.store.store import Store
from tests.interop.support import dotprompt_messages, prompty_messages, trimmed

CASES = [
    {"id": "bare", "vars": {"question": "Why?"}, "expected": "x"},
    {"id": "full", "vars": {"question": "How?", "max_words": 12, "tone": "dry"}, "expected": "x"},
]
DEFAULTED = (
    "Answer in at most {{ max_words | default(60) }} words, {{ tone | default('plainly') }}.\n"
    "Q: {{ question }}\n"
)
GUARDED = (
    "{% if priority is defined %}Priority: {{ priority }}\n{% endif %}"
    "{% if docs is defined %}{% for doc in docs %}- {{ doc.title }}\n{% endfor %}{% endif %}"
    "Answer in at most {{ max_words | default(60) }} words.\nQ: {{ question }}\n"
)
RENDERS = [
    {"question": "Why?"},
    {"question": "How?", "max_words": 12, "tone": "dry"},
    {"question": "When?", "priority": "high", "docs": [{"title": "Refunds"}, {"title": "Returns"}]},
]


def _version(project: Path, pv, template: str) -> Any:  # type: ignore[no-untyped-def]
    bundle = project / "bundles" / "bot"
    (bundle / "prompts" / "answer.j2").write_text(template)
    (bundle / "evals" / "golden.jsonl").write_text("".join(json.dumps(c) + "\n" for c in CASES))
    result = pv("bump", "minor", "bot", "-m", "optional variables")
    assert result.code == 0, result.err
    return open_version(Store.find(project), "bot", "0.1.0")


def _front(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8").split("---\n")[1])


def test_default_exports_to_dotprompt_as_input_default(project: Path, pv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    version = _version(project, pv, DEFAULTED)
    result = export(version, "dotprompt", tmp_path / "out")
    path = tmp_path / "out" / "answer.prompt"
    front = _front(path)
    assert front["input"]["default"] == {"max_words": 60, "tone": "plainly"}
    assert front["input"]["schema"]["required"] == ["question"]
    assert [p.name for p in result.files] == ["answer.prompt"]
    for variables in RENDERS[:2]:
        assert dotprompt_messages(path, variables) == version.messages("answer", **variables)


def test_default_exports_to_promptfoo_and_renders_in_nunjucks(project: Path, pv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.interop.test_promptfoo import _nunjucks

    version = _version(project, pv, DEFAULTED)
    export(version, "promptfoo", tmp_path / "out")
    config = yaml.safe_load((tmp_path / "out" / "promptfooconfig.yaml").read_text(encoding="utf-8"))
    raw = config["prompts"][0]["raw"]
    assert "{{ max_words | default(60) }}" in raw and '{{ tone | default("plainly") }}' in raw
    folder = _nunjucks()
    jobs = [{"raw": raw, "vars": variables} for variables in RENDERS[:2]]
    proc = subprocess.run(
        ["node", str(Path(__file__).with_name("render_nunjucks.mjs"))],
        input=json.dumps({"prompts": jobs}),
        capture_output=True,
        text=True,
        env={**os.environ, "NUNJUCKS_FROM": folder},
        timeout=60,
        check=True,
    )
    assert json.loads(proc.stdout) == [version.messages("answer", **v) for v in RENDERS[:2]]


def test_a_default_outside_the_portable_forms_is_a_located_error(project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    _version(project, pv, "{{ question }} {{ ratio | default(0.5) }}\n")
    for fmt in ("dotprompt", "promptfoo"):
        result = pv("export", "bot@0.1.0", "--format", fmt, "-o", f"out-{fmt}")
        assert result.code == 1 and "prompts/answer.j2:1: a default filter other than" in result.err


def test_prompty_does_not_require_guarded_or_defaulted_variables(project: Path, pv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    version = _version(project, pv, GUARDED)
    export(version, "prompty", tmp_path / "out")
    path = tmp_path / "out" / "answer.prompty"
    inputs = _front(path)["inputs"]
    assert inputs["question"]["required"] is True
    for name in ("priority", "docs", "max_words"):
        assert inputs[name]["required"] is False, name
    # no case gives docs, yet the template loops over it and reads .title of its items
    assert inputs["docs"]["kind"] == "array" and inputs["docs"]["items"] == {"kind": "object"}
    assert inputs["max_words"]["kind"] == "integer"
    for variables in RENDERS:
        assert prompty_messages(path, variables) == trimmed(version.messages("answer", **variables))
