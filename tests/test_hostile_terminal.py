"""Text from data never drives the terminal and is never Rich markup (issue 24, item 3):
control characters in messages, names, notes, case ids and model output are shown as
escapes by every command; ``[/]`` and ``[link=...]`` are shown as they are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Result
from tests.markdown_check import CONTROL

# clear screen, red, an OSC window title, an OSC 8 link, a bell, DEL, a C1 CSI, RTL override
ESCAPES = (
    "\x1b[2J\x1b[31mred\x1b]0;pwned\x07\x1b]8;;https://evil.example\x07click\x1b]8;;\x07\x7f\x9b2J\u202e"
)
MARKUP = "[/] [link=https://evil.example]site[/link] [bold]"
MESSAGE = f"release {ESCAPES} {MARKUP}\nsecond line {ESCAPES}"
ACTOR = f"Mallory {ESCAPES} <m@example.com>"


def clean(result: Result) -> None:
    text = result.out + result.err
    assert "Traceback" not in text and "MarkupError" not in text, text
    assert not CONTROL.search(text), repr(CONTROL.search(text))


@pytest.fixture
def hostile(project: Path, pv, monkeypatch: pytest.MonkeyPatch) -> Path:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PROMPTVER_USER", ACTOR)
    golden = project / "bundles" / "bot" / "evals" / "golden.jsonl"
    with golden.open("a") as file:
        file.write(json.dumps({"id": f"case {ESCAPES}", "vars": {"question": "q"}}) + "\n")
    result = pv("bump", "minor", "bot", "-m", MESSAGE)
    assert result.code == 0, result.err
    clean(result)
    return project


@pytest.mark.parametrize(
    "args",
    [
        ("log", "bot"),
        ("show", "bot@0.1.0"),
        ("show", "bot@latest"),
        ("changelog", "bot"),
        ("audit", "bot"),
        ("status", "bot"),
        ("diff", "bot@0.1.0", "bot"),
        ("log", "bot", "--json"),
        ("show", "bot@0.1.0", "--json"),
        ("audit", "bot", "--json"),
    ],
)
def test_read_commands_show_escapes(hostile: Path, pv, args: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    result = pv(*args)
    assert result.code == 0, result.err
    clean(result)
    if "--json" in args:  # the same JSON, with every control character as a \\u escape
        assert "\\u001b]8;;https://evil.example" in result.out and ESCAPES in result.out.encode().decode(
            "unicode_escape"
        )
    elif args[0] == "changelog":  # Markdown: the escape, its backslash escaped again
        assert "\\\\x1b\\]8;;https\\://evil.example" in result.out
    elif args[0] in ("log", "show", "audit"):
        assert "\\x1b]8;;https://evil.example" in result.out


def test_show_prints_markup_as_text(hostile: Path, pv, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COLUMNS", "1000")
    result = pv("show", "bot@0.1.0")
    assert result.code == 0, result.err
    assert "[/] [link=https://evil.example]site[/link] [bold]" in result.out
    assert "\\x1b[2J\\x1b[31mred" in result.out


def test_log_never_cuts_an_escape_in_half(hostile: Path, pv, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    for columns in range(60, 140, 7):
        monkeypatch.setenv("COLUMNS", str(columns))
        result = pv("log", "bot")
        clean(result)


def test_notes_and_error_messages_are_escaped(hostile: Path, pv) -> None:  # type: ignore[no-untyped-def]
    refused = pv("approve", "bot@0.1.0")  # the author may not: the error names them, escaped
    assert refused.code == 1 and "\\x1b]0;pwned\\x07" in refused.err
    clean(refused)
    approved = pv(
        "approve", "bot@0.1.0", "--by", f"Rev {ESCAPES} <r@example.com>", "--note", f"ok {ESCAPES} {MARKUP}"
    )
    assert approved.code == 0, approved.err
    clean(approved)
    audit = pv("audit", "bot")
    clean(audit)
    assert "ok \\x1b[2J" in audit.out
    missing = pv("show", f"bot@{ESCAPES}")  # an error naming the outside text
    assert missing.code == 1
    clean(missing)


def test_every_console_is_the_safe_one() -> None:
    """The class stays closed: no command makes its own rich console (which would print
    markup and control characters as they are); they all take `common.console()`."""
    root = Path(__file__).resolve().parent.parent / "promptver"
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.name != "common.py" and ("Console(" in path.read_text() or "markup=True" in path.read_text())
    ]
    assert offenders == []
