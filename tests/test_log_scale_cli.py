"""What the CLI prints about a long log stays short (issue 24, item 4): a version approved
by many people is a count plus the first names on screen (``--json`` lists all), and
``audit`` streams one plain line per event instead of laying out a table."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


def _careful_lines(events: list[dict]) -> list[str]:  # type: ignore[type-arg]
    """The streamed lines as a cell-by-cell layout makes them: each cell escaped on its
    own, each padded by a format spec."""
    from promptver.cli.cmd_audit import _cut, _time
    from promptver.governance.audit import summary
    from promptver.safetext import one_line

    seqs = [one_line(str(e.get("seq", "?"))) for e in events]
    times = [one_line(_time(e)) for e in events]
    actors = [_cut(one_line(str(e.get("actor", "")))) for e in events]
    whats = [one_line(summary(e)) for e in events]
    sw = max((len(s) for s in seqs), default=1)
    tw = max((len(t) for t in times), default=10)
    aw = max((len(a) for a in actors), default=5)
    head = f"{'#':>{sw}}  {'time (UTC)':<{tw}}  {'actor':<{aw}}  what".rstrip()
    rows = [
        f"{s:>{sw}}  {t:<{tw}}  {a:<{aw}}  {w}".rstrip()
        for s, t, a, w in zip(seqs, times, actors, whats, strict=True)
    ]
    return [head, *rows]


def _streamed(events: list[dict], capsys, numbered: bool = False) -> list[str]:  # type: ignore[no-untyped-def,type-arg]
    from promptver.cli.cmd_audit import _stream
    from promptver.governance.audit import summary

    capsys.readouterr()
    _stream(events, summary, numbered=numbered)
    return capsys.readouterr().out.split("\n")[:-1]


HOSTILE = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40) | st.sampled_from(
    ["", " ", "\x1b[2J", "a\nb", "\u202eevil", "\x9b31m", "x" * 60, "\t", "é" * 50]
)
AN_EVENT = st.fixed_dictionaries(
    {
        "event": st.sampled_from(["bump", "review", "alias", "import", ""]),
        "actor": HOSTILE,
        "time": HOSTILE | st.just("2026-12-06T09:09:41Z"),
        "seq": st.integers(0, 10**7) | HOSTILE,
    },
    optional={"message": HOSTILE, "note": HOSTILE, "reason": HOSTILE, "alias": HOSTILE, "version": HOSTILE},
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(AN_EVENT, max_size=12))
def test_streamed_audit_lines_are_the_careful_layout(events: list[dict], capsys) -> None:  # type: ignore[no-untyped-def,type-arg]
    """`audit`'s stream (columns built whole, a batch escaped only when it holds a control
    character, padded by rjust/ljust) prints what escaping and padding each cell does."""
    assert _streamed(events, capsys) == _careful_lines(events)


def test_a_control_character_in_a_later_batch_is_escaped(capsys) -> None:  # type: ignore[no-untyped-def]
    """Batches of a thousand lines are searched one by one: a control character in the
    second is escaped there, and the lines of the first are as they are."""
    events = [
        {
            "event": "review",
            "actor": f"r{n}",
            "seq": n,
            "time": "2026-12-06T09:09:41Z",
            "decision": "approved",
        }
        for n in range(2500)
    ]
    events[1500]["note"] = "ok \x1b]8;;https://x.example\x07link"
    events[2400]["actor"] = "\x1b[2Jroot"
    lines = _streamed(events, capsys)
    assert lines == _careful_lines(events)
    assert "\x1b" not in "".join(lines) and "\\x1b]8;;https://x.example\\x07link" in lines[1501]


def test_a_sound_logs_lines_are_numbered_as_its_events_are(project: Path, store: Store, pv, capsys) -> None:  # type: ignore[no-untyped-def]
    """The whole trail of a sound log is streamed with its line numbers as seqs (not read
    from each event): the same lines as each event's own seq gives; a broken log's
    events are read one by one."""
    from promptver.governance.audit import audit

    _approved_by_many(project, store, pv)
    trail = audit(store, "bot")
    assert not trail.chain_problems and len(trail.events) == trail.total
    assert _streamed(trail.events, capsys, numbered=True) == _careful_lines(trail.events)
    assert pv("audit", "bot").out.splitlines()[:-1] == _careful_lines(trail.events)
    log = store.log_path("bot")
    lines = log.read_bytes().splitlines(keepends=True)
    lines[2], lines[3] = lines[3], lines[2]
    log.write_bytes(b"".join(lines))
    broken = pv("audit", "bot")
    assert broken.code == 1
    assert broken.out.splitlines()[1 : len(lines) + 1] == _careful_lines(audit(store, "bot").events)[1:]
