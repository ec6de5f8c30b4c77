"""The first check of a log with no checkpoint (a fresh clone, CI) is linear with small
constants (issue 24, item 4): each version's decisions are counted once per re-check while
they do not change, `verify --full` checks the aliases' pointers with what its own re-check
of the moves found, resolving ``NAME@ALIAS`` keeps a checkpoint, the lines of a sound log
are parsed in one pass and their ids made without a walk for floats. Each is the same
answer as the careful way, which these tests compare it with."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from promptver.errors import PromptverError
from promptver.governance import aliases, checkpoint, checks
from promptver.governance.approvals import decide
from promptver.governance.promotion import promote
from promptver.governance.verify import verify_store
from promptver.store import events
from promptver.store.events import event_id, forget_parsed, log_events, read_lines
from promptver.store.store import Store
from tests.alias_support import PRODUCTION, new_version, set_policy


@pytest.fixture
def promoted(project: Path, store: Store) -> Store:
    """bot's protected production promoted 0.1.0, 0.2.0, 0.1.0: two promotions of 0.1.0
    with no decision on it between them."""
    set_policy(project, PRODUCTION)
    new_version(store, project)
    new_version(store, project)
    for n in range(3):
        decide(store, "bot", "0.1.0", "approved", f"R{n} <r{n}@example.com>")
    decide(store, "bot", "0.2.0", "approved", "S <s@example.com>")
    for version in ("0.1.0", "0.2.0", "0.1.0"):
        promote(store, "bot", version, "production")
    return store


def _counting(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    calls: list[int] = []
    real = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def test_a_versions_decisions_are_counted_once_per_recheck(
    promoted: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checks, "_proven_citations", lambda *args: None)  # the whole count decides
    calls = _counting(monkeypatch, checks, "check_policy")
    forget_parsed()
    assert checks.bad_moves(promoted, "bot", full=True) == []
    assert len(calls) == 2  # 0.1.0's decisions once for both its promotions, 0.2.0's once
    decide(promoted, "bot", "0.2.0", "approved", "T <t@example.com>")  # a new decision: counted again
    promote(promoted, "bot", "0.2.0", "production")
    calls.clear()
    forget_parsed()
    assert checks.bad_moves(promoted, "bot", full=True) == []
    assert len(calls) == 3


def test_a_move_made_after_a_new_decision_is_checked_against_it(promoted: Store) -> None:
    """Counted once means the same verdict: a promotion of 0.1.0 appended after a rejection
    of it breaks the policy, though its earlier promotions did not."""
    path = promoted.log_path("bot")
    earlier = json.loads(path.read_bytes().splitlines()[-1])  # the last promotion of 0.1.0
    decide(promoted, "bot", "0.1.0", "changes_requested", "R0 <r0@example.com>")
    promote(promoted, "bot", "0.2.0", "production")
    lines = path.read_bytes().splitlines()
    forged = {
        **earlier,
        "from": "0.2.0",
        "seq": len(lines) + 1,
        "prev": hashlib.sha256(lines[-1]).hexdigest(),
    }
    with open(path, "ab") as out:
        out.write(json.dumps(forged, sort_keys=True).encode() + b"\n")
    forget_parsed()
    bad = checks.bad_moves(promoted, "bot", full=True)
    assert [seq for seq, _ in bad] == [len(lines) + 1] and "requested changes" in bad[0][1]


def test_verify_full_checks_the_pointers_with_its_own_recheck(
    promoted: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    replays = _counting(monkeypatch, aliases, "replay")
    forget_parsed()
    assert verify_store(promoted, full=True).problems == []
    assert replays == []  # the pointers: the heads the moves' re-check just found
    (promoted.root / "bundles/bot/aliases.json").write_text('{"production": {"version": "0.2.0"}}')
    forget_parsed()
    assert any("production points at 0.2.0" in p for p in verify_store(promoted, full=True).problems)


def test_resolving_an_alias_keeps_a_checkpoint(promoted: Store) -> None:
    """The first `show NAME@ALIAS` of a fresh clone checks the whole log; it keeps what it
    found, so the next command does not."""
    from promptver.governance.checks import alias_guard

    folder = promoted.root / "cache/checkpoints"
    for kept in folder.glob("*"):
        kept.unlink()
    forget_parsed()
    promoted.alias_check = alias_guard(promoted)
    assert promoted.resolve("bot", "production").version == "0.1.0"
    assert (folder / "bot.moves.json").exists()


def test_reading_stored_runs_does_not_load_the_runner() -> None:
    """`show NAME@ALIAS` reads the evidence of stored runs: asyncio, ssl and the eval
    runner are loaded only by a run."""
    code = (
        "import sys, promptver.governance.deployment, promptver.evals.runs.summaries;"
        "print(sorted(m for m in ('asyncio', 'ssl', 'promptver.evals.runner') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    from promptver.evals import EvalOptions, evaluate  # the package's names still there, on use

    assert callable(evaluate) and EvalOptions.__name__ == "EvalOptions"


def _canonical_id(event: dict[str, Any]) -> str:
    """The definition of an event id (store/events.py `event_id`)."""
    body = {k: v for k, v in event.items() if k not in ("seq", "prev")}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
EVENTS = st.lists(
    st.fixed_dictionaries(
        {"event": st.sampled_from(["review", "alias", "eval", "x\u00e9"]) | VALUES},
        optional={
            "score": VALUES,
            "new": VALUES,
            "note": st.text(max_size=6),
            "alias": st.sampled_from(["production", "a\u00e9"]) | VALUES,
        },
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(EVENTS, st.booleans(), st.sampled_from([1, 2, events.WALKED]), st.sampled_from([1, 3, events.CHUNK]))
@example(
    [
        {"event": "review"},
        {"event": "eval"},
        {"event": ["review"]},
        {"event": "alias", "alias": "production"},
    ],
    False,
    1,
    events.CHUNK,
)
@example([{"event": "review"}, {"event": "eval", "score": 1e16}, {"event": "review"}], False, 1, 1)
def test_ids_and_kinds_of_a_parsed_log_are_the_definitions(
    tmp_path_factory: pytest.TempPathFactory,
    drafts: list[dict[str, Any]],
    whole_first: bool,
    walked: int,
    chunk: int,
) -> None:
    """Whichever way a log is read (whole, or by kind), its events' ids are the sha256 of
    their canonical JSON (floats written as ``json`` writes them) and the events of a kind
    are the same; whether the events parsed without a float were indexed (after ``walked``
    ids) or not yet, and whatever lines were decoded together (``chunk``)."""
    saved, events.WALKED = events.WALKED, walked
    racy, events.RACY = events.RACY, -(10**12)  # a log just written is kept read too
    lines, events.CHUNK = events.CHUNK, chunk
    try:
        _ids_and_kinds(tmp_path_factory, drafts, whole_first)
    finally:
        events.WALKED, events.RACY, events.CHUNK = saved, racy, lines


def _chained(drafts: list[dict[str, Any]]) -> list[bytes]:
    """The lines of a log of these events, each given its ``seq`` and ``prev``."""
    prev, lines = None, []
    for seq, draft in enumerate(drafts, start=1):
        line = json.dumps({**draft, "seq": seq, "prev": prev}, sort_keys=True).encode()
        prev = hashlib.sha256(line).hexdigest()
        lines.append(line)
    return lines


def _ids_and_kinds(
    tmp_path_factory: pytest.TempPathFactory, drafts: list[dict[str, Any]], whole_first: bool
) -> None:
    store, _ = Store.init(tmp_path_factory.mktemp("p"))
    path = store.log_path("bot")
    path.parent.mkdir(parents=True)
    lines = _chained(drafts)
    path.write_bytes(b"\n".join(lines) + b"\n")
    expected = [json.loads(line) for line in lines]
    forget_parsed()
    if whole_first:
        read_lines(path)
    reviews = log_events(store, "bot", "review")
    _, parsed = read_lines(path)
    assert reviews == [e for e in expected if e["event"] == "review"]
    for kinds in (("review",), ("eval", "review"), ("alias", "alias", "x\u00e9"), ("nothing",)):
        assert log_events(store, "bot", *kinds) == [e for e in expected if e["event"] in kinds]
    for alias in ("production", "a\u00e9", "staging"):
        moves = [e for e in expected if e["event"] == "alias" and e.get("alias") == alias]
        assert events.alias_events(store, "bot", alias) == moves
    assert [event_id(e) for _, e in parsed] == [_canonical_id(e) for e in expected]  # type: ignore[arg-type]
    events._IDS.clear()
    assert [event_id(e) for e in reviews] == [_canonical_id(e) for e in expected if e["event"] == "review"]


def test_a_log_reading_process_runs_without_the_cycle_collector(project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    """A whole process (no ``argv``) of a command that reads the log turns the collector
    off; called in-process (as here) the caller's collector is left as it was."""
    import gc

    code = (  # a log reader ends through os._exit (no atexit): asked there too
        "import atexit, gc, os, sys; atexit.register(lambda: print(gc.isenabled(), file=sys.stderr));"
        "end = os._exit; os._exit = lambda c: print(gc.isenabled(), file=sys.stderr) or end(c);"
        "sys.argv = ['promptver', *sys.argv[1:]]; from promptver.cli.main import main; main()"
    )
    for args, enabled in ((["verify"], "False"), (["pull"], "False"), (["status"], "True")):
        done = subprocess.run(
            [sys.executable, "-c", code, *args], cwd=project, capture_output=True, text=True, check=False
        )
        assert done.stderr.strip().splitlines()[-1] == enabled, done.stderr
    assert gc.isenabled()
    pv("verify")
    assert gc.isenabled()


def test_a_log_reading_process_ends_with_its_output_and_exit_code(project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    """A whole process of a log reader ends without the interpreter's shutdown (`_end`):
    what it printed is all there, its exit code is the command's, and output it could not
    write (a full disk) is an error, not a silent success."""
    pv("bump", "minor", "bot")
    pv("alias", "set", "bot", "staging", "0.1.0")

    def run(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "promptver", *args], cwd=project, text=True, check=False, **kw
        )

    done = run("verify", capture_output=True)
    assert done.returncode == 0 and done.stdout.endswith(
        "ok: 6 objects, 1 manifest, 2 audit events checked\n"
    )
    done = run("show", "bot@nope", capture_output=True)
    assert done.returncode == 1 and done.stderr.startswith("Error: bot has no version or alias 'nope'")
    done = run("audit", "bot", "--json", capture_output=True)
    assert done.returncode == 0 and len(json.loads(done.stdout)["events"]) == 2
    if Path("/dev/full").exists():
        with open("/dev/full", "w") as full:
            done = run("verify", stdout=full, stderr=subprocess.PIPE)
        assert done.returncode != 0 and "Error:" in done.stderr


def test_audit_into_a_pipe_escapes_only_what_needs_it(
    project: Path, store: Store, pv, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """`audit` streams plain lines: a batch with no control character is written as it is
    (one search of the batch, no escaping pass per event); one with any is escaped."""
    from promptver import safetext

    new_version(store, project)
    for n in range(5):
        decide(store, "bot", "0.1.0", "approved", f"R{n} <r{n}@example.com>")
    calls = _counting(monkeypatch, safetext, "one_line")
    out = pv("audit", "bot").out
    assert calls == [] and "approved 0.1.0" in out
    decide(
        store, "bot", "0.1.0", "changes_requested", "Eve\x1b]0;pwned\x07 <eve@example.com>", note="a\x1b[2Jb"
    )
    out = pv("audit", "bot").out
    assert "\x1b" not in out and "\\x1b]0;pwned\\x07" in out and "a\\x1b[2Jb" in out


STAGING = """
[aliases.staging]
approvals = 2
"""


def _three_versions(root: Path) -> tuple[Store, list[bytes]]:
    """bot 0.1.0 protecting production, 0.2.0 protecting nothing, 0.3.0 protecting staging
    (each bumped by its author), and the lines of its log so far."""
    from promptver.bundle.scaffold import scaffold
    from promptver.versions.bump import bump

    store, _ = Store.init(root)
    scaffold(root / "bundles/bot", "bot")
    for n, toml in enumerate((PRODUCTION, "", STAGING)):
        set_policy(root, toml)
        with open(root / "bundles/bot/prompts/system.j2", "a") as handle:
            handle.write(f"change {n}\n")
        bump(store, "bot", "minor", author="Ana <ana@example.com>")
    return store, store.log_path("bot").read_bytes().splitlines()


MOVES = st.lists(
    st.tuples(
        st.sampled_from(["production", "staging", "a1", "a2"]),
        st.sampled_from(["set", "set", "set", "remove", "rollback", "promote", "zap"]),
        st.sampled_from(["0.1.0", "0.2.0", "0.3.0", "0.2.0", "9.9.9", "digest"]),  # (missing; another digest)
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=100, deadline=None)
@given(MOVES, st.data())
@example([("a1", "set", "0.2.0"), ("a1", "set", "0.3.0"), ("a1", "rollback", "0.2.0")], None)
@example([("a1", "set", "0.2.0"), ("a1", "remove", "0.2.0"), ("a1", "set", "0.1.0")], None)
@example([("staging", "set", "0.2.0"), ("staging", "promote", "0.3.0"), ("staging", "set", "0.2.0")], None)
def test_the_policy_in_force_worked_out_once_is_the_same_answer(
    tmp_path_factory: pytest.TempPathFactory, moves: list[tuple[str, str, str]], data: st.DataObject | None
) -> None:
    """A re-check works out the policy a move answers to once per (alias, version held,
    version moved to), and keeps aside the moves that answer to none: its verdicts are
    those of each move checked on its own, with nothing kept from the moves before it,
    and the checkpoint it keeps (once every version could be read) holds what each alias
    holds and its last move, as the whole fold finds them; so does a re-check of the
    moves after an earlier one's checkpoint (a warm command)."""
    store, base = _three_versions(tmp_path_factory.mktemp("p"))
    digests = {v: store.manifest("bot", v).digest for v in ("0.1.0", "0.2.0", "0.3.0")}
    digests["9.9.9"] = "sha256:" + "9" * 64
    lines = list(base)
    for alias, action, version in moves:
        to = "0.2.0" if version == "digest" else version
        event = {
            "event": "alias",
            "action": action,
            "alias": alias,
            "bundle": "bot",
            "to": None if action == "remove" and to != "0.3.0" else to,  # (a removal naming a version too)
            "to_digest": None
            if action == "remove" and to != "0.3.0"
            else digests["0.1.0" if version == "digest" else to],
            "actor": "x",
            "seq": len(lines) + 1,
            "prev": hashlib.sha256(lines[-1]).hexdigest(),
        }
        lines.append(json.dumps(event, sort_keys=True).encode())
    cut = data.draw(st.integers(len(base), len(lines))) if data is not None else len(base)
    store.log_path("bot").write_bytes(b"\n".join(lines[:cut]) + b"\n")
    forget_parsed()
    checks.bad_moves(store, "bot")  # the checkpoint of an earlier command
    store.log_path("bot").write_bytes(b"\n".join(lines) + b"\n")
    forget_parsed()
    found = checks.bad_moves(store, "bot", full=data is None)

    expected, states = [], {}  # type: ignore[var-annotated]
    for line in lines[len(base) :]:
        event = json.loads(line)
        fresh = checks._Lookups(store, "bot")  # nothing kept from the moves before
        try:
            why = checks._move_problem(store, "bot", event, states, {}, {}, dataclasses.replace, fresh, [])
        except PromptverError:
            why = None  # a version that cannot be read: `verify` names it elsewhere
        if why is not None:
            expected.append(event["seq"])
        aliases.apply(states, event)
    assert [seq for seq, _ in found] == expected
    data_now = store.log_path("bot").read_bytes()
    kept = checkpoint.read_moves(store, "bot", data_now, checkpoint.context(store))
    if not any(version in ("9.9.9", "digest") for _, _, version in moves):  # each version read
        assert kept is not None and checkpoint.whole(data_now, kept.events)
        assert kept.heads == {a: (s.version, s.last["seq"]) for a, s in states.items()}


@settings(max_examples=100, deadline=None)
@given(EVENTS, EVENTS, st.booleans(), st.sampled_from(["review", "alias"]))
def test_a_grown_log_reads_as_a_fresh_one(
    tmp_path_factory: pytest.TempPathFactory,
    first: list[dict[str, Any]],
    then: list[dict[str, Any]],
    cut: bool,
    kind: str,
) -> None:
    """A log read whole (its events kept by line, their offsets worked out only when a later
    read asks), then grown by appends (``cut``: its last line had no newline yet, and grows
    too), reads as the same events as a fresh parse, whole and by kind."""
    store, _ = Store.init(tmp_path_factory.mktemp("p"))
    path = store.log_path("bot")
    path.parent.mkdir(parents=True)
    lines = [json.dumps({**draft, "seq": n}, sort_keys=True).encode() for n, draft in enumerate(first + then)]
    old = b"\n".join(lines[: len(first)]) + b"\n"
    path.write_bytes(old[:-1] if cut else old)
    forget_parsed()
    read_lines(path)
    path.write_bytes(b"\n".join(lines) + b"\n")
    expected = [json.loads(line) for line in lines]
    assert log_events(store, "bot", kind) == [e for e in expected if e["event"] == kind]
    assert [event for _, event in read_lines(path)[1]] == expected


CHAINED = st.lists(
    st.fixed_dictionaries(
        {"event": st.sampled_from(["review", "eval", "calibration"]) | VALUES},
        optional={"signature": VALUES, "note": st.text(max_size=6)},
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(CHAINED, st.sampled_from(["none", "prev", "seq", "drop", "swap", "line"]), st.data())
def test_the_chain_check_of_two_lists_is_the_line_by_line_one(
    tmp_path_factory: pytest.TempPathFactory, drafts: list[dict[str, Any]], harm: str, data: st.DataObject
) -> None:
    """The chain check and the search for signed and run events over a sound log's lines
    and events as two lists (`sound_lines`) answer as the definitions, line by line, on
    a log chained right or harmed (a ``prev`` or ``seq`` edited, a line dropped, two lines
    swapped, a line that is not an event)."""
    from promptver.governance import verify

    store, _ = Store.init(tmp_path_factory.mktemp("p"))
    path = store.log_path("bot")
    path.parent.mkdir(parents=True)
    lines = _chained(drafts)
    at = data.draw(st.integers(0, len(lines) - 1))
    if harm in ("prev", "seq"):
        event = json.loads(lines[at])
        event[harm] = data.draw(st.sampled_from([None, "x", 0, at, at + 2, True]))
        lines[at] = json.dumps(event, sort_keys=True).encode()
    elif harm == "drop" and len(lines) > 1:
        del lines[at]
    elif harm == "swap" and len(lines) > 1:
        lines[at - 1], lines[at] = lines[at], lines[at - 1]
    elif harm == "line":
        lines[at] = data.draw(st.sampled_from([b"[1]", b"null", b"{", b"7"]))
    path.write_bytes(b"\n".join(lines) + b"\n")
    forget_parsed()
    raw, pairs = read_lines(path)
    sound = events.sound_lines(path, raw)
    careful_only = b"\\u" in raw or b"Infinity" in raw or b"NaN" in raw  # msgspec refuses the last two
    assert (sound is not None) == all(isinstance(e, dict) for _, e in pairs) or careful_only
    for skip in range(len(pairs)):
        before = hashlib.sha256(pairs[skip - 1][0]).hexdigest() if skip else None
        expected = all(
            isinstance(e, dict)
            and e.get("prev") == (hashlib.sha256(pairs[n - 2][0]).hexdigest() if n - 1 > skip else before)
            and e.get("seq") == n
            for n, (_, e) in enumerate(pairs[skip:], start=skip + 1)
        )
        assert verify._chain_holds(pairs, skip, before, sound) == expected
        assert verify._chain_holds(pairs, skip, before) == expected
    if sound is not None:
        assert verify._marked(sound[1]) == [
            i for i, e in enumerate(sound[1]) if "signature" in e or e.get("event") in verify.RUN_KINDS
        ]
        assert sound == ([line for line, _ in pairs], [e for _, e in pairs])


@given(st.binary(max_size=40) | st.text(alphabet='\\u"x\n', max_size=40).map(str.encode))
def test_a_backslash_first_finds_every_u_escape(data: bytes) -> None:
    """`has_escape` (a backslash searched for first, the faster search) is ``b"\\u" in data``."""
    assert events.has_escape(data) == (b"\\u" in data)


def test_a_log_read_again_as_equal_bytes_keeps_its_one_pass_parse(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log written a moment ago is read anew by each reader (`events.RACY`): equal bytes
    find the one-pass parse all the same, rather than searching and parsing the lines again;
    other bytes never do."""
    path = store.log_path("bot")
    path.parent.mkdir(parents=True)
    lines = _chained([{"event": "review" if seq % 2 else "alias", "alias": "a"} for seq in range(1, 11)])
    path.write_bytes(b"\n".join(lines) + b"\n")
    forget_parsed()
    read_lines(path)
    searched: list[int] = []
    real = events._events_with
    monkeypatch.setattr(events, "_events_with", lambda *a: searched.append(1) or real(*a))
    events._BYTES.clear()  # the next read returns equal bytes, another object
    assert [e["seq"] for e in log_events(store, "bot", "alias")] == [2, 4, 6, 8, 10]
    assert [e["seq"] for e in events.alias_events(store, "bot", "a")] == [2, 4, 6, 8, 10]
    assert searched == []
    path.write_bytes(b"\n".join(lines[:-1]) + b"\n")  # other bytes: read as they are now
    events._BYTES.clear()
    assert [e["seq"] for e in log_events(store, "bot", "alias")] == [2, 4, 6, 8]


PLAIN_EVENTS = st.lists(  # (no \u escape: a log parsed whole)
    st.fixed_dictionaries(
        {"event": st.sampled_from(["review", "alias", "eval", "calibration", "bump"]) | st.integers()},
        optional={"note": st.text(alphabet='ab "\\', max_size=4), "run": st.just("r1")},
    ),
    min_size=1,
    max_size=10,
)


@settings(max_examples=150, deadline=None)
@given(PLAIN_EVENTS | EVENTS, st.data())
def test_the_runs_found_by_kind_are_the_marked_events_of_an_unsigned_log(
    tmp_path_factory: pytest.TempPathFactory, drafts: list[dict[str, Any]], data: st.DataObject
) -> None:
    """A log parsed whole that nowhere holds the bytes ``"signature"`` has no signed event:
    the events `verify` looks at (signed ones and runs) are its runs, found by kind; a log
    that holds those bytes anywhere (a key, a note) is looked at event by event."""
    from promptver.governance.verify import RUN_KINDS, _marked

    for draft in drafts:
        if data.draw(st.integers(0, 5)) == 0:
            draft[data.draw(st.sampled_from(["signature", "note"]))] = data.draw(
                st.sampled_from(["signature", 1])
            )
        if data.draw(st.integers(0, 3)) == 0:
            draft["event"] = data.draw(st.sampled_from(RUN_KINDS))
    store, _ = Store.init(tmp_path_factory.mktemp("p"))
    path = store.log_path("bot")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\n".join(_chained(drafts)) + b"\n")
    forget_parsed()
    data_read, _ = read_lines(path)
    sound = events.sound_lines(path, data_read)
    runs = events.kind_places(path, data_read, RUN_KINDS)
    if sound is None:  # (a \u escape: read line by line, not by kind)
        assert runs is None
        return
    assert runs is not None
    skip = data.draw(st.integers(0, len(drafts)))
    signed = any("signature" in event for event in sound[1])
    assert not signed or b'"signature"' in data_read
    for part, start in ((sound[1][:skip], 0), (sound[1][skip:], skip)):
        if not signed:
            assert _marked(part, runs, start) == _marked(part)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {"event": st.sampled_from(["review", "alias", "bump"])},
            optional={
                "seq": st.integers(0, 10**6) | st.text(max_size=3),
                "time": st.sampled_from(["2026-12-06T10:00:00Z", "2026-12-06T10:00:00.123456Z", "", "x"])
                | st.integers(),
                "actor": st.text(max_size=50) | st.integers(),
            },
        ),
        max_size=30,
    ),
    st.booleans(),
)
def test_audit_streams_each_event_as_its_columns(drafts: list[dict[str, Any]], numbered: bool) -> None:
    """Each streamed line is an event's seq (right-aligned), time (cut to the second), actor
    (cut to its width) and summary, each on one line and padded to its column's width."""
    import io

    from promptver.cli import cmd_audit
    from promptver.safetext import one_line

    written = io.StringIO()
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(sys, "stdout", written)
        cmd_audit._stream(drafts, lambda e: f"what {e['event']}", numbered=numbered)
    rows = [
        (
            str(n) if numbered else one_line(str(e.get("seq", "?"))),
            one_line(str(e.get("time", ""))[:19].replace("T", " ")),
            cmd_audit._cut(one_line(str(e.get("actor", "")))),
            f"what {e['event']}",
        )
        for n, e in enumerate(drafts, start=1)
    ]
    widths = [max([len(row[i]) for row in rows], default=d) for i, d in ((0, 1), (1, 10), (2, 5))]
    lines = written.getvalue().split("\n")
    assert (
        lines[0] == f"{'#':>{widths[0]}}  {'time (UTC)':<{widths[1]}}  {'actor':<{widths[2]}}  what".rstrip()
    )
    assert lines[1:] == [
        f"{seq:>{widths[0]}}  {time:<{widths[1]}}  {actor:<{widths[2]}}  {what}".rstrip()
        for seq, time, actor, what in rows
    ] + [""]
