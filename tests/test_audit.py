"""`promptver audit`: every kind of event, filters, the hash chain; concurrent alias moves."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from promptver.governance.aliases import aliases_path
from promptver.store.store import Store
from tests.alias_support import PRODUCTION, REVIEWER, events, new_version, set_policy
from tests.conftest import ROOT, run_process, tree_state


@pytest.fixture
def history(project: Path, store: Store, pv) -> Store:
    """Bumps, a rejected then approved version, promotions and a rollback."""
    set_policy(project, PRODUCTION)
    new_version(store, project)  # 1: 0.1.0
    new_version(store, project)  # 2: 0.2.0
    assert pv("approve", "bot@0.1.0", "--by", REVIEWER).code == 0  # 3
    assert pv("promote", "bot@0.1.0", "--to", "production").code == 0  # 4
    assert pv("reject", "bot@0.2.0", "--by", REVIEWER, "--note", "too long").code == 0  # 5
    assert pv("approve", "bot@0.2.0", "--by", REVIEWER).code == 0  # 6
    assert pv("promote", "bot@0.2.0", "--to", "production").code == 0  # 7
    assert pv("alias", "set", "bot", "staging", "0.2.0").code == 0  # 8
    assert pv("rollback", "bot", "production", "-m", "latency").code == 0  # 9
    return store


def _seqs(result) -> list[int]:  # type: ignore[no-untyped-def]
    assert result.code == 0, result.err
    return [e["seq"] for e in json.loads(result.out)["events"]]


def test_audit_lists_everything_and_filters(history: Store, pv) -> None:
    result = pv("audit", "bot")
    assert result.code == 0
    for expected in (
        "bump (first) -> 0.1.0 (minor)",
        "Rui Reviewer",
        "approved 0.1.0",
        "promote production (none) -> 0.1.0 (approved in event 3)",
        "requested changes to 0.2.0: too long",
        "set staging (none) -> 0.2.0",
        "rollback production 0.2.0 -> 0.1.0: latency",
        "9 of 9 events; hash chain intact",
    ):
        assert expected in result.out, (expected, result.out)
    assert _seqs(pv("audit", "bot", "--json")) == list(range(1, 10))
    assert _seqs(pv("audit", "bot", "--alias", "production", "--json")) == [4, 7, 9]
    assert _seqs(pv("audit", "bot", "--actor", "rui@", "--json")) == [3, 5, 6]
    assert _seqs(pv("audit", "bot", "--event", "bump", "--event", "review", "--json")) == [1, 2, 3, 5, 6]
    today = history.events("bot")[0]["time"][:10]
    assert _seqs(pv("audit", "bot", "--since", today, "--until", today, "--json")) == list(range(1, 10))
    assert _seqs(pv("audit", "bot", "--until", "2000-01-01", "--json")) == []
    assert _seqs(pv("audit", "bot", "--since", "2999-01-01T00:00", "--json")) == []
    data = json.loads(pv("audit", "bot", "--json").out)
    assert data["chain_ok"] and data["total"] == 9
    assert data["events"][8]["action"] == "rollback" and data["events"][8]["reason"] == "latency"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "yesterday"), "'yesterday' is not a date"),
        (("--until", "2026-02-30"), "is not a date"),
        (("--since", "2026-12-01", "--until", "2026-11-01"), "is after --until"),
        (("--alias", "Prod!"), "is not a valid alias name"),
    ],
)
def test_audit_bad_filters(history: Store, pv, args: tuple[str, ...], message: str) -> None:
    result = pv("audit", "bot", *args)
    assert result.code == 1 and message in result.err and "Traceback" not in result.err


def test_audit_of_unknown_bundle(project: Path, pv) -> None:
    result = pv("audit", "bto")
    assert result.code == 1 and "did you mean 'bot'?" in result.err


def test_audit_names_a_reordered_event(history: Store, pv) -> None:
    log = history.log_path("bot")
    lines = log.read_bytes().splitlines(keepends=True)
    lines[5], lines[6] = lines[6], lines[5]
    log.write_bytes(b"".join(lines))
    result = pv("audit", "bot")
    assert result.code == 1 and "hash chain BROKEN" in result.out
    assert "log.jsonl:6: audit chain broken at event 6" in result.out
    assert json.loads(pv("audit", "bot", "--json").out)["chain_ok"] is False


def test_two_processes_moving_one_alias(project: Path, store: Store) -> None:
    """Both processes' moves are recorded, in order, chained; the pointer is the last one."""
    for _ in range(3):
        new_version(store, project)
    script = (
        "import sys\n"
        "from promptver.governance.promotion import set_alias\n"
        "from promptver.errors import ConflictError\n"
        "from promptver.store.store import Store\n"
        "store = Store.find()\n"
        "done = 0\n"
        "for i in range(40):\n"
        "    try:\n"
        "        set_alias(store, 'bot', 'canary', sys.argv[1 + i % 2], reason=sys.argv[3] + str(i))\n"
        "        done += 1\n"
        "    except ConflictError:\n"
        "        pass\n"
        "print(done)\n"
    )
    (project / "mover.py").write_text(script)
    env = {"PYTHONPATH": str(ROOT), "PROMPTVER_USER": "mover"}
    procs = [
        subprocess.Popen(
            [sys.executable, "mover.py", a, b, tag],
            cwd=project,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            text=True,
        )
        for a, b, tag in (("0.1.0", "0.2.0", "A"), ("0.2.0", "0.3.0", "B"))
    ]
    done = [int(p.communicate(timeout=120)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    moves = events(store, "alias")
    assert len(moves) == sum(done) and sum(done) > 40
    assert {m["reason"][0] for m in moves} == {"A", "B"}
    # in order: each move starts where the previous one ended
    for before, after in itertools.pairwise(moves):
        assert after["from"] == before["to"] and after["seq"] > before["seq"]
    pointer = json.loads(aliases_path(store, "bot").read_text())["canary"]
    assert pointer["version"] == moves[-1]["to"] and pointer["seq"] == moves[-1]["seq"]
    result = run_process("verify", cwd=project)
    assert result.returncode == 0, result.stdout


def test_promote_with_nothing_missing_changes_only_log_and_pointer(history: Store, pv) -> None:
    before = tree_state(history.root)
    assert pv("promote", "bot@0.2.0", "--to", "production").code == 0
    after = tree_state(history.root)
    changed = {k for k in after if before.get(k) != after[k]} | (set(before) - set(after))
    assert changed == {"bundles/bot/log.jsonl", "bundles/bot/aliases.json"}


def test_forced_bumps_are_marked(project: Path, store: Store, pv) -> None:
    from promptver.versions.bump import bump

    (project / "bundles/bot/prompts/system.j2").write_text("Be brief.\n")
    bump(store, "bot", "patch", force=True, author="Ana <ana@example.com>")
    result = pv("audit", "bot", "--event", "bump")
    assert result.code == 0 and "bump (first) -> 0.1.0 (patch) FORCED" in result.out
    assert json.loads(pv("audit", "bot", "--json").out)["events"][0]["forced"] is True


def test_a_log_reading_process_ends_with_all_its_output_and_its_code(history: Store, pv) -> None:
    """A whole process of a command that reads the log skips the interpreter's teardown
    (cli/main.py `_end`): what it printed (more than a pipe holds) still reaches the
    reader whole, its exit code is kept, and what a writing command wrote is there."""
    from promptver.governance.approvals import decide

    decide(history, "bot", "0.1.0", "approved", "Long <long@example.com>", note="n" * 100_000)
    for args in (("audit", "bot"), ("audit", "bot", "--json"), ("log", "bot"), ("verify",)):
        done = run_process(*args, cwd=history.root.parent)
        inside = pv(*args)
        assert (done.returncode, done.stdout, done.stderr) == (inside.code, inside.out, inside.err), args
    moved = run_process("alias", "set", "bot", "staging", "0.1.0", cwd=history.root.parent)
    assert moved.returncode == 0, moved.stderr
    assert (events(history)[-1]["alias"], events(history)[-1]["to"]) == ("staging", "0.1.0")
    assert pv("verify").code == 0
    log = history.log_path("bot")
    lines = log.read_bytes().splitlines(keepends=True)
    lines[5], lines[6] = lines[6], lines[5]
    log.write_bytes(b"".join(lines))
    broken = run_process("audit", "bot", cwd=history.root.parent)
    assert broken.returncode == 1 and broken.stdout == pv("audit", "bot").out
    assert "hash chain BROKEN" in broken.stdout


FILTERS: list[dict] = [  # type: ignore[type-arg]
    {"alias": "production"},
    {"alias": "staging"},
    {"alias": "canary"},
    {"kinds": ("review",)},
    {"kinds": ("alias", "bump")},
    {"kinds": ("eval",)},
    {"alias": "production", "kinds": ("alias", "review")},
    {"alias": "production", "kinds": ("review",)},
]


def _filtered_whole(store: Store, alias: str | None = None, kinds: tuple[str, ...] = ()) -> tuple:  # type: ignore[type-arg]
    """The careful answer: every event of the unfiltered trail, filtered here."""
    from promptver.governance.audit import audit

    whole = audit(store, "bot")
    shown = [
        e
        for e in whole.events
        if (not kinds or e.get("event") in kinds)
        and (alias is None or (e.get("event") == "alias" and e.get("alias") == alias))
    ]
    return shown, whole.total, whole.chain_problems


def test_an_alias_or_kind_filter_reads_only_the_lines_naming_it(
    history: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a sound log, ``--alias``/``--event`` parse only the lines holding the alias's or
    the kind's name (every event is not read) and find what filtering every event finds,
    whatever other fields hold those names; a log with a ``\\u`` escape or a broken chain
    is read whole, with the same answer."""
    from promptver.governance import audit as audit_module
    from promptver.governance.approvals import decide
    from promptver.store.events import forget_parsed

    decide(history, "bot", "0.1.0", "approved", "P <p@x>", note='"production" "alias" {"event": "alias"}')
    decide(history, "bot", "0.2.0", "approved", "production <production@x>", note="staging")
    assert history.events("bot")[-1]["note"] == "staging"
    reads: list[str] = []
    every = Store.events

    def counted(self: Store, name: str) -> list[dict]:  # type: ignore[type-arg]
        reads.append(name)
        return every(self, name)

    monkeypatch.setattr(Store, "events", counted)

    def each_filter_as_the_whole_read(whole_reads: list[str]) -> None:
        for filters in FILTERS:
            expected = _filtered_whole(history, **filters)
            forget_parsed()
            reads.clear()
            trail = audit_module.audit(history, "bot", **filters)
            assert (trail.events, trail.total, trail.chain_problems) == expected, filters
            assert reads == whole_reads, filters

    each_filter_as_the_whole_read([])
    log = history.log_path("bot")
    sound = log.read_bytes()
    history.append_event(
        "bot", {"event": "review", "decision": "approved", "actor": "E <e@x>", "note": "\x01"}
    )
    assert b"\\u0001" in log.read_bytes()
    lines = sound.splitlines(keepends=True)
    lines[5], lines[6] = lines[6], lines[5]
    for data in (log.read_bytes(), b"".join(lines)):
        log.write_bytes(data)
        each_filter_as_the_whole_read(["bot"])
