"""What the CLI prints about a long log stays short (issue 24, item 4): a version approved
by many people is a count plus the first names on screen (``--json`` lists all), and
``audit`` streams one plain line per event instead of laying out a table."""

from __future__ import annotations

import json
from pathlib import Path

from promptver.cli.cmd_alias import SHOWN_PER_LIST
from promptver.governance.approvals import decide
from promptver.governance.audit import CITED_NAMED
from promptver.store.store import Store
from tests.alias_support import new_version, set_policy

APPROVERS = SHOWN_PER_LIST + 15
NEEDED = CITED_NAMED + 5  # the approvals production's policy asks for, so many are cited


def _approved_by_many(project: Path, store: Store, pv) -> None:  # type: ignore[no-untyped-def]
    set_policy(project, f"[aliases.production]\napprovals = {NEEDED}\n")
    new_version(store, project)
    for n in range(APPROVERS):
        decide(store, "bot", "0.1.0", "approved", f"Person {n} <p{n}@example.com>")
    dry = pv("promote", "bot@0.1.0", "--to", "production", "--dry-run").out
    assert dry.count("  approval: ") == SHOWN_PER_LIST + 1, dry
    assert f"(cites {NEEDED} of {APPROVERS} counted approvals: as many as the policy asks)" in dry
    assert pv("promote", "bot@0.1.0", "--to", "production").code == 0


def test_show_alias_counts_many_approvers(project: Path, store: Store, pv) -> None:  # type: ignore[no-untyped-def]
    _approved_by_many(project, store, pv)
    text = pv("show", "bot@production").out
    rows = [line for line in text.splitlines() if line.startswith("approved")]
    assert len(rows) == SHOWN_PER_LIST + 1, text
    assert "Person 0 <p0@example.com>" in rows[0]
    assert (
        f"... and {APPROVERS - SHOWN_PER_LIST} more ({APPROVERS} in all; `--json` lists every one)"
        in rows[-1]
    )
    listed = json.loads(pv("show", "bot@production", "--json").out)["deployment"]["approvals"]
    assert len(listed) == APPROVERS


def test_audit_streams_lines_and_shortens_a_long_citation(project: Path, store: Store, pv) -> None:  # type: ignore[no-untyped-def]
    _approved_by_many(project, store, pv)
    result = pv("audit", "bot")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == ["#", "time", "(UTC)", "actor", "what"]
    promotion = next(line for line in lines if "promote production" in line)
    cited = json.loads(pv("audit", "bot", "--json").out)["events"][-1]["approvals"]
    assert len(cited) == NEEDED  # --json: every one
    named = ", ".join(str(seq) for seq in cited[:CITED_NAMED])
    assert promotion.endswith(f"(approved in events {named}, and {NEEDED - CITED_NAMED} more)")
    assert lines[-1] == f"{APPROVERS + 2} of {APPROVERS + 2} events; hash chain intact"
    assert all(line == line.rstrip() for line in lines)


def test_audit_escapes_a_multi_line_note_on_its_one_line(project: Path, store: Store, pv) -> None:  # type: ignore[no-untyped-def]
    new_version(store, project)
    decide(store, "bot", "0.1.0", "approved", "Rui <rui@example.com>", note="first\nsecond\x1b[2J")
    out = pv("audit", "bot").out
    row = next(line for line in out.splitlines() if "approved 0.1.0" in line)
    assert row.endswith("approved 0.1.0: first\\x0asecond\\x1b[2J"), row
