"""export --format: errors are one located message, unmapped assertions are listed, the
.pvb export is unchanged, and the interop modules stay off the import path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import ROOT


def _bump(pv, project: Path, answer: str | None = None, asserts: str | None = None) -> None:  # type: ignore[no-untyped-def]
    if answer is not None:
        (project / "bundles/bot/prompts/answer.j2").write_text(answer)
    if asserts is not None:
        toml = project / "bundles/bot/bundle.toml"
        text = toml.read_text()
        start = text.index("assert = [")
        toml.write_text(text[:start] + f"assert = {asserts}\n")
    result = pv("bump", "minor", "bot", "-m", "test")
    assert result.code == 0, result.err


def test_each_format_writes_its_files(project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    _bump(pv, project)
    for fmt, name in (
        ("prompty", "answer.prompty"),
        ("dotprompt", "answer.prompt"),
        ("promptfoo", "promptfooconfig.yaml"),
    ):
        result = pv("export", "bot@0.1.0", "--format", fmt, "--json")
        assert result.code == 0, result.err
        data = json.loads(result.out)
        assert data["ref"] == "bot@0.1.0" and data["format"] == fmt
        assert [Path(p).name for p in data["files"]] == [name]
        assert (project / f"bot-0.1.0-{fmt}" / name).is_file()
    # the .pvb export is as before
    result = pv("export", "bot@0.1.0")
    assert result.code == 0 and (project / "bot-0.1.0.pvb").is_file()


def test_a_template_outside_the_portable_subset_is_a_located_error(project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    _bump(pv, project, answer="Question:\n{{ question | upper }}\n")
    for fmt in ("dotprompt", "promptfoo"):
        result = pv("export", "bot@0.1.0", "--format", fmt, "-o", f"out-{fmt}")
        assert result.code == 1
        assert "prompts/answer.j2:2: the expression Filter cannot be written as" in result.err
        assert "Traceback" not in result.err
        assert not (project / f"out-{fmt}").exists()
    # Prompty renders Jinja2 itself: filters are fine there
    assert pv("export", "bot@0.1.0", "--format", "prompty", "-o", "out-prompty").code == 0


def test_prompty_refuses_includes_and_role_lines(project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    (project / "bundles/bot/prompts/part.j2").write_text("part\n")
    _bump(pv, project, answer='{% include "prompts/part.j2" %}\n{{ question }}\n')
    result = pv("export", "bot@0.1.0", "--format", "prompty")
    assert (
        result.code == 1 and "prompts/answer.j2:1: {% include %} cannot be exported to Prompty" in result.err
    )
    (project / "bundles/bot/prompts/answer.j2").write_text("Example:\nuser:\n{{ question }}\n")
    assert pv("bump", "minor", "bot", "-m", "x").code == 0
    result = pv("export", "bot@0.2.0", "--format", "prompty")
    assert (
        result.code == 1
        and "prompts/answer.j2:2: the line 'user:' would start a new Prompty message" in result.err
    )


def test_unmapped_assertions_are_listed(project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    asserts = (
        '[{ type = "icontains", value = "{{ expected }}" }, { type = "similar", value = "hello" },'
        ' { type = "regex", value = "^hi", ignore_case = true }, { type = "json-field", path = "a[0]", value = 1 },'
        ' { type = "not-contains", value = ["x", "y"] }, { type = "llm-judge", value = "polite", threshold = 0.5 }]'
    )
    text = (project / "bundles/bot/bundle.toml").read_text()
    (project / "bundles/bot/bundle.toml").write_text(
        text.replace("[evals.golden]", '[evals.golden]\ngrader = { provider = "openai", name = "gpt-4o" }')
    )
    _bump(pv, project, asserts=asserts)
    result = pv("export", "bot@0.1.0", "--format", "promptfoo", "-o", "pf")
    assert result.code == 0, result.err
    assert "3 construct(s) not exported" in result.err
    assert "similar: similar has no javascript-free promptfoo equivalent; left out of 2 test(s)" in result.err
    assert "regex with ignore_case" in result.err and "json-field with the path 'a[0]'" in result.err
    config = yaml.safe_load((project / "pf/promptfooconfig.yaml").read_text())
    first = config["tests"][0]
    assert first["assert"] == [
        {"type": "icontains", "value": "hello"},
        {"type": "not-contains-any", "value": ["x", "y"]},
        {"type": "llm-rubric", "value": "polite", "threshold": 0.5},
    ]
    assert len(first["metadata"]["promptver_unmapped"]) == 3


def test_output_must_be_a_folder_and_version_must_exist(project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    _bump(pv, project)
    (project / "afile").write_text("x")
    result = pv("export", "bot@0.1.0", "--format", "prompty", "-o", "afile")
    assert result.code == 1 and "is a file" in result.err
    result = pv("export", "bot@9.9.9", "--format", "prompty")
    assert result.code == 1 and "9.9.9" in result.err and "Traceback" not in result.err


def test_interop_stays_off_the_import_path() -> None:
    script = "import sys, promptver, promptver.app.runtime; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    assert not {m for m in loaded if m.startswith(("promptver.interop", "yaml", "prompty", "dotpromptz"))}
