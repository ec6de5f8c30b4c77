"""What a pipe gets (`promptver alias ls | cat`): whole rows, not cut to 80 columns, and
no trailing spaces."""

from __future__ import annotations

from pathlib import Path

import pytest

LONG_ALIAS = "canary-eu-west-" + "x" * 48  # the longest alias name: 63 characters


@pytest.fixture(autouse=True)
def _no_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a pipe: no COLUMNS (rich falls back to 80 columns without it)."""
    monkeypatch.delenv("COLUMNS", raising=False)


def test_alias_ls_into_a_pipe_keeps_whole_rows(project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    assert pv("bump", "minor", "bot").code == 0
    assert pv("alias", "set", "bot", LONG_ALIAS, "0.1.0").code == 0
    out = pv("alias", "ls").out
    row = next(line for line in out.splitlines() if LONG_ALIAS in line)
    assert len(row) > 80 and row.split()[:3] == ["bot", LONG_ALIAS, "0.1.0"]
    assert "Tess Tester" in row and "…" not in out
    assert all(line == line.rstrip() for line in out.splitlines())


def test_show_into_a_pipe_has_no_trailing_spaces(project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    assert pv("bump", "minor", "bot", "-m", "a message").code == 0
    out = pv("show", "bot@0.1.0").out
    assert "bundle.toml" in out and "a message" in out
    padded = [line for line in out.splitlines() if line != line.rstrip()]
    assert padded == []
    assert pv("audit", "bot").out.splitlines()[-1] == pv("audit", "bot").out.splitlines()[-1].rstrip()


def test_log_into_a_pipe_keeps_whole_messages(project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    message = "a long message: " + "word " * 60
    assert pv("bump", "minor", "bot", "-m", message).code == 0
    row = pv("log", "bot").out.splitlines()[1]
    assert row.endswith(message.strip()) and "…" not in row
