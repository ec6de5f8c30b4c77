"""docs/review.md stays true to the key table: every key listed, the footer as drawn."""

from __future__ import annotations

import re
from pathlib import Path

from promptver.tui.keys import APP_KEYS

DOC = Path(__file__).resolve().parents[2] / "docs" / "review.md"


def keys_table() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Keys", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0] not in ("key", "---"):
            rows[cells[0]] = cells[1]
    return rows


def test_every_key_is_in_the_docs_table() -> None:
    documented = set().union(*(re.findall(r"`([^`]+)`", key) for key in keys_table()))
    for key in APP_KEYS:
        for label in key.label.split():
            assert label in documented, f"{label} ({key.description}) missing from docs/review.md"
    assert "E" in documented and "enter" in documented


def test_the_docs_footer_is_the_real_one() -> None:
    footer = " ".join(f"{key.label.split()[0]} {key.footer}" for key in APP_KEYS if key.footer)
    layout = DOC.read_text(encoding="utf-8").split("## Layout", 1)[1].split("```")[1]
    assert layout.rstrip().splitlines()[-1] == footer
