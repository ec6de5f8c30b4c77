"""Reading a long audit log stays linear (issue 24, item 4): the kind scan of
``store/events.log_events`` and each person's latest decision (``approvals.decisions``).

The scaling tests time the same work at n and 8n and compare: a linear scan takes about
8x as long, the old quadratic ones took 50x and more. The ratio does not depend on how
fast or loaded the machine is, only on the shape of the cost."""

from __future__ import annotations

import gc
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptver.errors import IntegrityError
from promptver.governance.approvals import Decision, decisions
from promptver.governance.identities import same_person
from promptver.store.events import fast_event, forget_parsed, log_events, parse_event
from promptver.store.store import Store

DIGEST = "sha256:" + "a" * 64


def _review(actor: str, decision: str = "approved", digest: str = DIGEST, seq: int = 0) -> dict[str, Any]:
    return {
        "event": "review",
        "decision": decision,
        "actor": actor,
        "new": {"version": "0.1.0", "digest": digest},
        "seq": seq,
    }


def _write_log(store: Store, name: str, events: list[dict[str, Any]]) -> Path:
    path = store.log_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    prev = None
    lines = []
    for seq, event in enumerate(events, start=1):
        line = json.dumps({**event, "seq": seq, "prev": prev}, sort_keys=True).encode()
        prev = hashlib.sha256(line).hexdigest()
        lines.append(line)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _best_of(action: Callable[[], object], runs: int = 3) -> float:
    """The fastest of ``runs`` runs, the cycle collector off (its pauses are noise here)."""
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(runs):
            start = time.perf_counter()
            action()
            best = min(best, time.perf_counter() - start)
            if best > 1.0:  # slow enough to tell (the quadratic code took minutes)
                break
    finally:
        gc.enable()
    return best


def _naive_decisions(events: list[dict[str, Any]], digest: str) -> list[tuple[str, str, int]]:
    """The definition: a decision replaces every earlier one by the same person."""
    latest: list[tuple[str, str, int]] = []
    for event in events:
        if event.get("event") != "review" or event["new"].get("digest") != digest:
            continue
        latest = [d for d in latest if not same_person(d[0], event["actor"])]
        latest.append((event["actor"], event["decision"], event["seq"]))
    return latest


def _summary(found: list[Decision]) -> list[tuple[str, str, int]]:
    return [(d.actor, d.decision, d.seq or 0) for d in found]


IDENTITIES = [
    "Ana",
    "ana",
    "Ana <ana@example.com>",
    "ANA <Ana@Example.com>",
    "Ana <other@example.com>",
    "ana@example.com",
    "Rui <rui@example.com>",
    "Rui",
    "rui@example.com",
    "Olga <ana@example.com>",
    "  Olga  ",
    "@",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(IDENTITIES),
            st.sampled_from(["approved", "changes_requested"]),
            st.sampled_from([DIGEST, "sha256:" + "b" * 64]),
        ),
        max_size=30,
    )
)
def test_decisions_keep_each_persons_latest_in_log_order(picks: list[tuple[str, str, str]]) -> None:
    events = [_review(actor, decision, digest, seq) for seq, (actor, decision, digest) in enumerate(picks)]
    assert _summary(decisions(events, DIGEST)) == _naive_decisions(events, DIGEST)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(IDENTITIES[:7]),
            st.sampled_from(["approved", "changes_requested"]),
            st.sampled_from(["2026-12-01T10:00:00Z", "2026-12-01T10:00:01Z", "2026-12-02T09:00:00Z"]),
        ),
        max_size=20,
    )
)
def test_decisions_order_by_time_then_place(picks: list[tuple[str, str, str]]) -> None:
    """A log whose times are not in log order (a pull puts a teammate's earlier decisions
    after local ones): the latest by time wins, ties by place; listed in log order."""
    events = [
        {**_review(actor, decision, seq=seq), "time": time}
        for seq, (actor, decision, time) in enumerate(picks, start=1)
    ]
    by_time = sorted(events, key=lambda e: (e["time"], e["seq"]))
    expected = sorted(_naive_decisions(by_time, DIGEST), key=lambda d: d[2])
    assert _summary(decisions(events, DIGEST)) == expected


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from([*IDENTITIES, "ΟΔΥΣΣΕΥΣ <O@x.gr>", "Οδυσσευς", "İlker <i@x.tr>", "i̇lker"]) | st.text(),
    st.sampled_from([*IDENTITIES, "ΟΔΥΣΣΕΥΣ", "ilker <I@X.TR>", "İLKER"]) | st.text(),
)
def test_the_quick_test_of_a_repeated_decision_misses_no_same_person(a: str, b: str) -> None:
    """`approve` counts a version's decisions only when someone who may be the reviewer
    made the same decision before: that test never misses who `same_person` matches."""
    from promptver.governance.approvals import _may_be

    if same_person(a, b):
        assert _may_be(a, b)


def test_decisions_worked_out_again_are_those_of_the_events_given() -> None:
    """A command that counts one version's decisions twice over the same parsed events gets
    the first answer again; other events, or the same at other places, are counted anew."""
    events = [_review(f"P{i} <p{i}@example.com>", seq=i) for i in range(1, 6)]
    first = decisions(events, DIGEST)
    assert _summary(decisions(list(events), DIGEST)) == _summary(first)
    withdrawn = [*events, _review("P1 <p1@example.com>", "changes_requested", seq=6)]
    assert ("P1 <p1@example.com>", "changes_requested", 6) in _summary(decisions(withdrawn, DIGEST))
    unplaced = [{k: v for k, v in e.items() if k != "seq"} for e in events]  # placed by index
    in_order = [d.actor for d in decisions(unplaced, DIGEST)]
    assert [d.actor for d in decisions(unplaced[::-1], DIGEST)] == in_order[::-1]
    again = decisions(events, DIGEST)
    assert _summary(again) == _summary(first) and again is not first  # a list of its own


def test_decisions_are_linear_in_distinct_approvers() -> None:
    def run(count: int) -> Callable[[], object]:
        events = [_review(f"Person {i} <p{i}@example.com>", seq=i) for i in range(count)]
        return lambda: decisions(events, DIGEST)

    small, large = _best_of(run(500), 7), _best_of(run(4000), 7)
    assert len(decisions([_review(f"p{i}@x.org", seq=i) for i in range(4000)], DIGEST)) == 4000
    assert large < 30 * small, f"8x the approvers took {large / small:.0f}x as long"


def test_log_events_are_linear_in_the_log(store: Store) -> None:
    def run(count: int) -> Callable[[], object]:
        events: list[dict[str, Any]] = []
        for i in range(count):
            events.append({"event": "alias", "alias": f"a{i % 7}", "to": "0.1.0", "actor": "x"})
            events.append({"event": "eval", "run": f"r{i}", "note": "x" * 100})
        name = f"b{count}"
        _write_log(store, name, events)
        return lambda: (forget_parsed(), log_events(store, name, "alias"))  # each run parses

    small, large = _best_of(run(1000), 5), _best_of(run(8000), 5)
    assert large < 20 * small, f"8x the events took {large / small:.0f}x as long"


def test_log_events_still_name_the_line_of_an_edited_event(store: Store) -> None:
    path = _write_log(store, "bot", [{"event": "alias", "alias": f"a{i}"} for i in range(5)])
    lines = path.read_bytes().splitlines()
    lines[3] = b'{"event": "alias", broken'
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(IntegrityError) as caught:
        log_events(store, "bot", "alias")
    assert caught.value.location == f"{path}:4"


def test_parsed_events_follow_appends_and_edits_of_the_log(store: Store) -> None:
    """Lines parsed once are not parsed again, but never outlive a change of the file:
    an append is seen, and an edit of the same length is read afresh."""
    path = _write_log(store, "bot", [{"event": "alias", "alias": "a", "to": "0.1.0"}])
    assert [e["to"] for e in log_events(store, "bot", "alias")] == ["0.1.0"]
    store.append_event("bot", {"event": "alias", "alias": "a", "to": "0.2.0"})
    assert [e["to"] for e in log_events(store, "bot", "alias")] == ["0.1.0", "0.2.0"]
    path.write_bytes(path.read_bytes().replace(b'"0.1.0"', b'"0.9.0"'))
    assert [e["to"] for e in log_events(store, "bot", "alias")] == ["0.9.0", "0.2.0"]
    assert [e.get("to") for e in store.events("bot")] == ["0.9.0", "0.2.0"]
    with path.open("ab") as handle:  # a torn last line, then completed
        handle.write(b'{"event": "alias", "alias": "a", "to": "0.3')
    with pytest.raises(IntegrityError):
        log_events(store, "bot", "alias")
    with path.open("ab") as handle:
        handle.write(b'.0"}\n')
    assert [e["to"] for e in log_events(store, "bot", "alias")][-1] == "0.3.0"
    good = path.read_bytes()
    path.write_bytes(good + b'{"event": "alias", "alias": "a", "to": "0.4.0"}\n{"event": "alias", torn')
    with pytest.raises(IntegrityError):  # 0.4.0 was parsed before the torn line stopped the read
        log_events(store, "bot", "alias")
    path.write_bytes(good + b'{"event": "alias", "alias": "a", "to": "0.5.0"}\n')  # rewritten since
    assert [e["to"] for e in log_events(store, "bot", "alias")][-1] == "0.5.0"


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=40),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
            lambda inner: (
                st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
            ),
            max_leaves=8,
        ).map(lambda value: json.dumps(value).encode()),
    )
)
def test_the_fast_parse_agrees_with_the_careful_one(line: bytes) -> None:
    """msgspec parses a line or declines it; what it returns is what ``parse_event`` returns."""
    fast = fast_event(line)
    try:
        careful: object = parse_event(line, "log.jsonl:1")
    except IntegrityError:
        careful = None
    if fast is not None:
        assert fast == careful or (fast != fast and careful != careful)  # NaN inside


def test_re_checking_moves_reads_each_version_once(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`verify` re-checks every alias move against its policy: the manifests and bundle.toml
    of the versions moved between are read once per re-check, not once per move (at
    100,000 events that re-reading took 19 s)."""
    from promptver.governance.checks import bad_moves, move_problems
    from promptver.versions.bump import bump

    store = Store.find(project)
    versions = []
    for i in range(2):
        with open(project / "bundles/bot/prompts/system.j2", "a") as handle:
            handle.write(f"edit {i}\n")
        versions.append(bump(store, "bot", "minor", author="Ana <ana@example.com>").manifest)
    path = store.log_path("bot")
    lines = path.read_bytes().splitlines()
    prev, seq = hashlib.sha256(lines[-1]).hexdigest(), len(lines)
    with open(path, "ab") as out:
        for i in range(200):
            seq += 1
            v = versions[i % 2]
            event = {"event": "alias", "action": "set", "alias": f"a{i % 5}", "to": v.version}
            event.update(to_digest=v.digest, actor="x", bundle="bot", seq=seq, prev=prev)
            event["from"] = None
            line = json.dumps(event, sort_keys=True).encode()
            out.write(line + b"\n")
            prev = hashlib.sha256(line).hexdigest()
    reads: list[str] = []
    real_manifest, real_read = Store.manifest, Store.read_object

    def counted_manifest(self: Store, name: str, version: str, **kw: Any) -> Any:
        reads.append(version)
        return real_manifest(self, name, version, **kw)

    def counted_read(self: Store, *args: Any, **kw: Any) -> Any:
        reads.append("object")
        return real_read(self, *args, **kw)

    monkeypatch.setattr(Store, "manifest", counted_manifest)
    monkeypatch.setattr(Store, "read_object", counted_read)
    assert move_problems(store, "bot") == []
    assert sorted(set(reads)) == ["0.1.0", "0.2.0", "object"]
    assert len(reads) <= 4  # two manifests and their bundle.toml (790 reads before)
    # a production move that breaks the policy (protected by `new`) is still named, once
    event = {"event": "alias", "action": "set", "alias": "production", "to": "0.2.0"}
    event.update(to_digest=versions[1].digest, actor="x", bundle="bot", seq=seq + 1, prev=prev)
    event["from"] = None
    with open(path, "ab") as out:
        out.write(json.dumps(event, sort_keys=True).encode() + b"\n")
    bad = bad_moves(store, "bot")
    assert [s for s, _ in bad] == [seq + 1] and "only a promotion may move it" in bad[0][1]


def test_a_log_read_again_is_the_log_as_it_is_now(store: Store) -> None:
    """`log_lines` answers an unchanged log from what it read before, but a copy (a caller
    may change its list), and an edit or an append is read afresh."""
    from promptver.store.events import log_lines

    path = _write_log(store, "bot", [{"event": "alias", "alias": "a", "to": "0.1.0"}])
    first = log_lines(path)
    first.clear()
    assert [e["to"] for _, e in log_lines(path)] == ["0.1.0"]  # type: ignore[index]
    path.write_bytes(path.read_bytes().replace(b'"0.1.0"', b'"0.9.0"'))  # same size
    assert [e["to"] for _, e in log_lines(path)] == ["0.9.0"]  # type: ignore[index]
    store.append_event("bot", {"event": "alias", "alias": "a", "to": "0.2.0"})
    assert [e["to"] for _, e in log_lines(path)] == ["0.9.0", "0.2.0"]  # type: ignore[index]
    path.write_bytes(path.read_bytes() + b"{torn\n")
    assert isinstance(log_lines(path)[-1][1], IntegrityError)


def test_a_stores_events_are_the_callers_own_list(store: Store) -> None:
    """`Store.events` answers from the one parse of the log, in a list the caller may
    change; a line that is not an event is the error that names it."""
    path = _write_log(store, "bot", [{"event": "alias", "alias": "a", "to": "0.1.0"}])
    first = store.events("bot")
    first.append({"event": "mine"})
    assert [e["event"] for e in store.events("bot")] == ["alias"]
    path.write_bytes(path.read_bytes() + b"{torn\n")
    with pytest.raises(IntegrityError, match="line is not JSON") as caught:
        store.events("bot")
    assert caught.value.location == f"{path}:2"


def test_an_event_id_is_that_of_its_content() -> None:
    """Ids are computed once per event object, and are always those of its content."""
    from promptver.store.events import event_id

    event = {"event": "review", "actor": "a@x", "seq": 1, "prev": None}
    first = event_id(event)
    assert event_id(event) == first == event_id(dict(event))
    assert event_id({**event, "seq": 9, "prev": "f" * 64}) == first  # place-independent
    assert event_id({**event, "actor": "b@x"}) != first


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(_JSON_VALUES)
def test_the_fast_canonical_json_is_the_careful_one(value: Any) -> None:
    """Event ids hash `canonical_json`; its msgspec path must give the very bytes
    ``json.dumps`` gives (ids recorded in logs, citations and signatures depend on them),
    floats in exponent notation and infinity included (they take the ``json`` path)."""
    from promptver.store.events import canonical_json

    careful = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert canonical_json(value) == careful.encode()
    for tricky in (1e16, 1e-5, float("inf"), -float("inf"), 5e-324, {"a": [1e300]}, {1: "x"}, (1, 2)):
        careful = json.dumps(tricky, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        assert canonical_json(tricky) == careful.encode()


def test_a_promotions_citations_are_found_by_id_whatever_their_hints() -> None:
    """`audit` shows where each cited approval is now: the recorded seq is only a hint,
    checked against the id; a wrong or missing hint makes it look the id up."""
    from promptver.governance.audit import _cited, _Positions
    from promptver.store.events import event_id

    approvals = [_review(f"r{n}@x", seq=n) for n in (1, 2, 3)]
    ids = [event_id(e) for e in approvals]
    events = [*approvals, {"event": "alias", "seq": 4}]
    right = {"approval_ids": ids, "approvals": [1, 2, 3]}
    assert _cited(right, _Positions(lambda: events))["approvals"] == [1, 2, 3]
    relinked = {"approval_ids": ids, "approvals": [3, 1, 2]}  # a pull moved them
    assert _cited(relinked, _Positions(lambda: events))["approvals"] == [1, 2, 3]
    unknown = {"approval_ids": [ids[0], "sha256:" + "0" * 64, 7], "approvals": [1, 2]}
    assert _cited(unknown, _Positions(lambda: events))["approvals"] == [1, "?", "?"]


def test_one_aliass_moves_are_those_of_every_alias_filtered(store: Store) -> None:
    """`alias_events` parses only the lines naming the alias, and finds the same moves as
    reading every alias event; a name spelt with ``\\u`` escapes is still found."""
    from promptver.store.events import alias_events

    moves = [
        {"event": "alias", "alias": name, "to": "0.1.0"}
        for name in ("production", "staging", "prod", "production", "staging")
    ]
    noise = [_review("production@x"), {"event": "bump", "version": "0.1.0", "message": '"production"'}]
    _write_log(store, "bot", [moves[0], noise[0], *moves[1:3], noise[1], *moves[3:]])
    for alias in ("production", "staging", "prod", "canary"):
        forget_parsed()
        expected = [e for e in log_events(store, "bot", "alias") if e["alias"] == alias]
        assert alias_events(store, "bot", alias) == expected
    assert [e["seq"] for e in alias_events(store, "bot", "production")] == [1, 6]
    path = store.log_path("bot")
    escaped = json.dumps({"event": "alias", "alias": "production", "to": "0.2.0", "seq": 8}).replace(
        '"production"', '"\\u0070roduction"'
    )
    path.write_bytes(path.read_bytes() + escaped.encode() + b"\n")
    forget_parsed()
    assert [e["seq"] for e in alias_events(store, "bot", "production")] == [1, 6, 8]


def test_a_decision_made_from_its_event_is_the_dataclasss() -> None:
    """`Decision.of` skips the dataclass's ``__init__``: the result is the same value."""
    event = {**_review("Ana <a@x>", seq=4), "note": "ok", "time": "2026-11-26T12:00:00Z"}
    made = Decision.of(event)
    assert made == Decision("Ana <a@x>", "approved", "2026-11-26T12:00:00Z", "ok", 4, "0.1.0", event)
    assert hash(made) == hash(Decision("Ana <a@x>", "approved", "2026-11-26T12:00:00Z", "ok", 4, "0.1.0"))
    assert made.signed_by is None and made.event is event and "Ana" in repr(made)
    with pytest.raises(AttributeError):
        made.actor = "someone else"  # type: ignore[misc]


def test_a_log_read_again_after_a_same_size_edit_is_read_anew(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bytes of a log are kept between reads only once its last change has settled:
    a same-size edit right after a read (the same clock tick keeps the times) is seen."""
    import os

    from promptver.store import events as log

    path = _write_log(store, "bot", [{"event": "alias", "alias": "a", "to": "0.1.0"}])
    assert log.log_bytes(path) == path.read_bytes()
    edited = path.read_bytes().replace(b"0.1.0", b"0.9.0")
    stat = path.stat()
    path.write_bytes(edited)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with the old mtime
    assert log.log_bytes(path) == edited
    again = edited.replace(b"0.9.0", b"0.8.0")  # changed just now: read anew, each time
    path.write_bytes(again)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert log.log_bytes(path) == again
    assert log.log_bytes(path) is log.log_bytes(path)  # equal bytes read anew: one copy shared
    monkeypatch.setattr(log, "RACY", -1)  # as if its last change were long ago
    assert log.log_bytes(path) is log.log_bytes(path)  # kept, found again by its stat
    path.write_bytes(again.replace(b"0.8.0", b"0.10.0"))  # another size: read anew
    assert log.log_bytes(path) == path.read_bytes()
    with open(path, "ab") as handle:
        handle.write(b"{}\n")
    assert log.log_bytes(path) == path.read_bytes()


def test_under_its_lock_a_log_just_written_is_read_once_until_it_changes(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log written less than `events.RACY` ago is read anew by each reader, but not while
    this process holds the bundle's lock (no other promptver process writes it then): once
    per holding, and again when its size or times change (an append of its own)."""
    from promptver.store import events

    path = _write_log(store, "bot", [{"event": "alias", "alias": "a", "to": "0.1.0"}])
    reads: list[Path] = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda p: (reads.append(p) if p == path else None) or real(p))
    forget_parsed()
    events.log_bytes(path)
    events.log_bytes(path)
    assert len(reads) == 2  # just written, no lock: each reader reads it
    with store.lock("bot"):
        first = events.log_bytes(path)
        assert events.log_bytes(path) is first and len(reads) == 3
        store.append_event("bot", {"event": "alias", "alias": "a", "to": "0.2.0"})
        grown = events.log_bytes(path)
        assert grown.startswith(first) and grown != first
        count = len(reads)
        assert events.log_bytes(path) is grown and len(reads) == count
    events.log_bytes(path)
    assert len(reads) == count + 1  # the lock released: read anew
    with store.lock("bot"):
        events.log_bytes(path)
        assert len(reads) == count + 2  # another holding: not what was read under the last one
    with store.lock("bot"):
        events.log_bytes(path)
        assert len(reads) == count + 3  # (nothing read between the two holdings)
        real_key = events._stat_key
        keys = iter([real_key(path), (0,)])  # written while it was read (its times moved)
        monkeypatch.setattr(events, "_stat_key", lambda p: next(keys, None) or real_key(p))
        events._BYTES.clear()
        events.log_bytes(path)
        monkeypatch.setattr(events, "_stat_key", real_key)
        events.log_bytes(path)
        assert len(reads) == count + 5  # what was read while it changed is read again


def test_a_pulled_log_keeps_the_parse_it_was_checked_with(store: Store) -> None:
    """A first pull writes the remote's log as it is (`events.adopt`): its re-check takes
    the events the pull parsed and checked rather than parsing the written log again, as
    long as one pass parses those bytes the same way (no ``\\r``, no ``\\u`` escape);
    other bytes are parsed anew."""
    from promptver.store.events import adopt, parse_lines, read_log

    path = store.log_path("bot")
    path.parent.mkdir(parents=True, exist_ok=True)
    first = b'{"event": "review", "seq": 1}'
    for second, taken in (
        (b'{"event": "review", "note": "b", "seq": 2}', True),
        (b'{"event": "review", "note": "\\u00e9", "seq": 2}', False),
    ):
        lines = [first, second]
        parsed = parse_lines(lines, str(path))
        forget_parsed()
        data = adopt(path, lines, parsed)
        assert data == first + b"\n" + second + b"\n"
        path.write_bytes(data)
        found = read_log(path)[1]
        assert found == [json.loads(line) for line in lines]
        assert (found is parsed) == taken  # taken, or parsed anew
    cr = b'{"event": "review",\r "seq": 2}'  # a line a `\\r` ends for this store's readers
    forget_parsed()
    path.write_bytes(adopt(path, [first, cr], parse_lines([first, cr], str(path))))
    with pytest.raises(IntegrityError, match="not JSON"):
        read_log(path)  # read as it is, not as the pull split it
    forget_parsed()
    path.write_bytes(first + b"\n")
    adopt(path, [first], [{"event": "alias"}, {"event": "x"}])  # not its events: not kept
    assert read_log(path)[1] == [{"event": "review", "seq": 1}]
