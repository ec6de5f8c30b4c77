"""Issue 11, problem 10: one-line errors instead of tracebacks.

- a log line that is JSON but not an object (``[1,2]``, ``null``) in verify and audit, and
  approve does not append after such a line;
- a read-only store: bump, alias, approve and eval say so in one line, exit 1;
- `Bundle.render` turns any exception a template raises into TemplateRenderError naming the
  template and line;
- ``{% include "missing.j2" %}`` and a template that includes itself fail `check`.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import promptver
from promptver.errors import TemplateRenderError
from tests.conftest import ROOT, tree_state

BOT = Path("bundles/bot")
LOG = Path(".promptver/bundles/bot/log.jsonl")


@pytest.mark.parametrize("line", ["[1, 2]", "null", '"text"', "3"])
def test_log_line_that_is_json_but_not_an_object(project: Path, pv, line: str) -> None:
    assert pv("bump", "minor", "bot").code == 0
    log = project / LOG
    log.write_bytes(log.read_bytes() + line.encode() + b"\n")
    before = log.read_bytes()
    result = pv("verify")
    assert result.code == 1 and "Traceback" not in result.err
    assert f"{log}:2: audit log line is JSON but not an event object" in result.out + result.err
    result = pv("audit", "bot")
    assert result.code == 1, result.out
    assert result.err.startswith(f"Error: {log}:2: audit log line is JSON but not an event object")
    result = pv("approve", "bot@0.1.0", "--by", "Rita Reviewer <rita@example.com>")
    assert result.code == 1 and "Traceback" not in result.err
    assert f"{log}:2: audit log line is JSON but not an event object" in result.err
    assert log.read_bytes() == before  # nothing appended after the corrupt line


def test_approve_does_not_append_after_a_line_that_is_not_json(project: Path, pv) -> None:
    assert pv("bump", "minor", "bot").code == 0
    log = project / LOG
    log.write_bytes(log.read_bytes() + b'{"event": "bump", "seq": 2\n')
    before = log.read_bytes()
    result = pv("approve", "bot@0.1.0", "--by", "Rita Reviewer <rita@example.com>")
    assert result.code == 1 and "audit log line is not JSON" in result.err
    assert log.read_bytes() == before


# --- a read-only store -----------------------------------------------------------------


def _drop_root_override() -> None:
    """In the child, before exec: root ignores file modes through CAP_DAC_OVERRIDE (and
    CAP_DAC_READ_SEARCH); dropping both from the bounding set makes modes count for it too."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.fixture
def read_only_store(project: Path, pv) -> Iterator[Path]:
    """A project with one version whose store (.promptver/) nobody may write."""
    assert pv("bump", "minor", "bot").code == 0
    store = project / ".promptver"
    for folder, _, files in os.walk(store):
        for name in files:
            os.chmod(os.path.join(folder, name), 0o444)
        os.chmod(folder, 0o555)
    yield project
    for folder, _, _ in os.walk(store):
        os.chmod(folder, 0o755)


def _run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OPENAI_API_KEY": "sk-unused-key-0000",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
    }
    return subprocess.run(
        [sys.executable, "-m", "promptver", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=_drop_root_override if os.geteuid() == 0 else None,
    )


@pytest.mark.parametrize(
    "args",
    [
        ("bump", "minor", "bot", "--force"),
        ("alias", "set", "bot", "staging", "0.1.0"),
        ("approve", "bot@0.1.0", "--by", "Rita Reviewer <rita@example.com>"),
        ("eval", "bot@0.1.0"),
    ],
    ids=["bump", "alias", "approve", "eval"],
)
def test_read_only_store_is_one_clear_line(read_only_store: Path, args: tuple[str, ...]) -> None:
    before = tree_state(read_only_store)
    done = _run(read_only_store, *args)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("Error: permission denied: "), done.stderr
    assert ".promptver" in lines[0]
    assert len(lines) <= 2 and (len(lines) == 1 or lines[1].lstrip().startswith("hint:"))
    assert tree_state(read_only_store) == before


# --- templates ---------------------------------------------------------------------------


def _load_with_answer(project: Path, pv, answer: str) -> promptver.Bundle:
    (project / BOT / "prompts/answer.j2").write_text(answer)
    result = pv("bump", "minor", "bot")
    assert result.code == 0, result.out + result.err
    promptver.clear_cache()
    return promptver.load("bot@latest", store=project / ".promptver")


@pytest.mark.parametrize(
    ("source", "line", "what"),
    [
        ("Question: {{ question }}\n{{ 1 / 0 }}\n", 2, "ZeroDivisionError"),
        ("Q\n\n{{ question + 1 }}\n", 3, "TypeError"),
        ("{{ question['a']['b'] | int // 0 }}\n", 1, "ZeroDivisionError"),
    ],
)
def test_render_errors_name_the_template_and_line(
    project: Path, pv, source: str, line: int, what: str
) -> None:
    bundle = _load_with_answer(project, pv, source)
    with pytest.raises(TemplateRenderError) as info:
        bundle.render("answer", question={"a": {"b": "3"}} if "['a']" in source else "q")
    assert info.value.location == f"prompts/answer.j2:{line}"
    assert what in info.value.message and "'answer'" in info.value.message


def test_endless_recursion_in_a_template(project: Path, pv) -> None:
    source = "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(question) }}\n"
    bundle = _load_with_answer(project, pv, source)
    with pytest.raises(TemplateRenderError, match="endless recursion"):
        bundle.render("answer", question=1)


def test_include_of_a_missing_template_fails_check(project: Path, pv) -> None:
    (project / BOT / "prompts/answer.j2").write_text('Q: {{ question }}\n\n{% include "missing.j2" %}\n')
    result = pv("check", "bot")
    assert result.code == 1
    assert "prompts/answer.j2:3: loads template 'missing.j2', which is not in the bundle" in result.out
    assert pv("bump", "minor", "bot").code == 1


def test_self_including_template_fails_check(project: Path, pv) -> None:
    (project / BOT / "prompts/answer.j2").write_text('Q: {{ question }}\n{% include "prompts/answer.j2" %}\n')
    result = pv("check", "bot")
    assert result.code == 1
    assert "prompts/answer.j2:2: template loads itself" in result.out


def test_include_cycle_and_a_broken_included_file(project: Path, pv) -> None:
    prompts = project / BOT / "prompts"
    (prompts / "answer.j2").write_text('{% include "prompts/a.j2" %}\n{% include "prompts/bad.j2" %}\n')
    (prompts / "a.j2").write_text('A\n{% include "prompts/answer.j2" %}\n')
    (prompts / "bad.j2").write_text("{% if %}\n")
    result = pv("check", "bot")
    assert result.code == 1
    assert (
        "prompts/a.j2:2: template loads itself (prompts/answer.j2 -> prompts/a.j2 -> prompts/answer.j2)"
        in result.out
    )
    assert "prompts/bad.j2:1: template syntax error" in result.out


def test_a_valid_include_passes_and_a_later_deletion_is_caught(project: Path, pv) -> None:
    prompts = project / BOT / "prompts"
    (prompts / "answer.j2").write_text('{% include "prompts/part.j2" %}\n')
    (prompts / "part.j2").write_text("Q: {{ question }}\n")
    assert pv("check", "bot").code == 0  # now cached as valid
    (prompts / "part.j2").unlink()
    result = pv("check", "bot")
    assert result.code == 1 and "loads template 'prompts/part.j2'" in result.out
