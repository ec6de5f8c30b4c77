"""The checkpoint of a log's move re-check (governance/checkpoint.py): a later command
re-checks only the moves after it; it is a hint that can only ever miss. An edit of the
checked prefix, another allowed-signers file, a garbage, forged or foreign file all mean a
whole re-check, so a bad move is always named."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptver.governance import checkpoint, checks
from promptver.governance.checks import bad_moves
from promptver.store.events import forget_parsed
from promptver.store.store import Store
from promptver.versions.bump import bump

MOVES = 40


@pytest.fixture
def moved(project: Path) -> Store:
    """Two versions of bot (whose `production` is protected, as `new` writes it) and
    ``MOVES`` moves of unprotected aliases, written straight into the log."""
    store = Store.find(project)
    for i in range(2):
        with open(project / "bundles/bot/prompts/system.j2", "a") as handle:
            handle.write(f"edit {i}\n")
        bump(store, "bot", "minor", author="Ana <ana@example.com>")
    for i in range(MOVES):
        _append(
            store, {"event": "alias", "action": "set", "alias": f"a{i % 5}", "to": ["0.1.0", "0.2.0"][i % 2]}
        )
    return store


def _append(store: Store, event: dict[str, Any]) -> None:
    path = store.log_path("bot")
    lines = path.read_bytes().splitlines()
    manifest = store.manifest("bot", event["to"])
    record = {**event, "to_digest": manifest.digest, "from": None, "actor": "x", "bundle": "bot"}
    record.update(seq=len(lines) + 1, prev=hashlib.sha256(lines[-1]).hexdigest())
    with open(path, "ab") as out:
        out.write(json.dumps(record, sort_keys=True).encode() + b"\n")


def _checked(store: Store, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> tuple[list[int], int]:
    """(the seqs of the bad moves, how many moves were checked), as a new command sees it
    (each move checked is first offered to the moves kept aside, `checks._FreeMoves`)."""
    calls = []
    real = checks._FreeMoves.take

    def counted(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(checks._FreeMoves, "take", counted)
    forget_parsed()
    found = [seq for seq, _ in bad_moves(store, "bot", **kw)]
    monkeypatch.setattr(checks._FreeMoves, "take", real)
    return found, len(calls)


def _bad_move(store: Store) -> int:
    _append(store, {"event": "alias", "action": "set", "alias": "production", "to": "0.2.0"})
    return len(store.log_path("bot").read_bytes().splitlines())


def test_a_later_check_starts_at_the_checkpoint(moved: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = _bad_move(moved)
    assert _checked(moved, monkeypatch) == ([bad], MOVES + 1)  # a whole check, then kept
    assert _checked(moved, monkeypatch) == ([bad], 0)  # nothing new: the kept verdicts
    _append(moved, {"event": "alias", "action": "set", "alias": "a1", "to": "0.1.0"})
    assert _checked(moved, monkeypatch) == ([bad], 1)  # only the move after it
    assert _checked(moved, monkeypatch, alias="production") == ([bad], 0)
    assert _checked(moved, monkeypatch, full=True) == ([bad], MOVES + 2)  # verify --full


def test_an_edit_of_the_checked_prefix_is_a_miss(moved: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _checked(moved, monkeypatch) == ([], MOVES)
    path = moved.log_path("bot")
    edited = path.read_bytes().replace(b'"alias": "a3"', b'"alias": "production"', 1)
    path.write_bytes(edited)
    found, count = _checked(moved, monkeypatch)
    assert count == MOVES and len(found) == 1  # the edited move, named


def test_other_allowed_signers_are_a_miss(moved: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _checked(moved, monkeypatch) == ([], MOVES)
    (moved.root / "allowed_signers").write_text("ana@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI\n")
    assert _checked(moved, monkeypatch) == ([], MOVES)
    assert _checked(moved, monkeypatch) == ([], 0)  # kept again, under these signers


@pytest.mark.parametrize(
    "garbage",
    [b"", b"{", b"[]", b"null", b'{"mac": 1}', b"\xff\xfe", b'{"mac": "00"}', b"[" * 100000],
)
def test_a_garbage_checkpoint_is_a_miss(
    moved: Store, monkeypatch: pytest.MonkeyPatch, garbage: bytes
) -> None:
    bad = _bad_move(moved)
    assert _checked(moved, monkeypatch) == ([bad], MOVES + 1)
    (moved.root / "cache/checkpoints/bot.moves.json").write_bytes(garbage)
    assert _checked(moved, monkeypatch) == ([bad], MOVES + 1)


def test_a_forged_or_foreign_checkpoint_never_lets_a_bad_move_pass(
    moved: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Someone who can write the store (or commits its cache) writes a checkpoint that
    clears the log: without the user's key its HMAC does not verify."""
    bad = _bad_move(moved)
    assert _checked(moved, monkeypatch) == ([bad], MOVES + 1)
    path = moved.root / "cache/checkpoints/bot.moves.json"
    record = json.loads(path.read_bytes())
    assert record["found"]["problems"] and record["events"] == bad
    record["found"]["problems"] = []
    del record["mac"]
    body = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    for key in (b"\0" * 32, b"another user's key, 32 bytes...."):
        forged = {**record, "mac": hmac.new(key, body, hashlib.sha256).hexdigest()}
        path.write_text(json.dumps(forged))
        assert _checked(moved, monkeypatch) == ([bad], MOVES + 1)
    # made under this user's key it would be believed: the key is what the trust rests on
    key = checkpoint.key_path().read_bytes()
    assert checkpoint.key_path().stat().st_mode & 0o077 == 0
    path.write_text(json.dumps({**record, "mac": hmac.new(key, body, hashlib.sha256).hexdigest()}))
    assert _checked(moved, monkeypatch) == ([], 0)


def test_without_a_key_nothing_is_kept(moved: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert _checked(moved, monkeypatch) == ([], MOVES)
    assert _checked(moved, monkeypatch) == ([], MOVES)
    assert not (moved.root / "cache/checkpoints/bot.moves.json").exists()


def test_moves_that_could_not_be_checked_are_not_kept(moved: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A version missing here (a store whose objects are fetched lazily) leaves its moves
    unchecked: no checkpoint may say they were fine."""
    manifest = moved.manifest_path("bot", "0.1.0")
    saved = manifest.read_bytes()
    manifest.unlink()
    _checked(moved, monkeypatch)
    assert not (moved.root / "cache/checkpoints/bot.moves.json").exists()
    manifest.write_bytes(saved)
    assert _checked(moved, monkeypatch) == ([], MOVES)


def test_verify_full_checks_every_move(moved: Store, monkeypatch: pytest.MonkeyPatch, pv) -> None:  # type: ignore[no-untyped-def]
    pv("verify")  # (it names the pointers this log's moves did not write)
    assert _checked(moved, monkeypatch) == ([], 0)
    calls = []
    real = checks._FreeMoves.take
    monkeypatch.setattr(checks._FreeMoves, "take", lambda *a: calls.append(1) or real(*a))
    forget_parsed()
    pv("verify", "--full")
    assert len(calls) == MOVES


def _chain_problems(store: Store) -> list[str]:
    from promptver.governance.verify import bundle_problems

    forget_parsed()
    return [p for p in bundle_problems(store, "bot") if "audit chain broken" in p]


def _forge_log_checkpoint(store: Store, key: bytes) -> None:
    """A checkpoint of the log's chain check that says it found nothing, HMAC'd with ``key``."""
    path = store.root / "cache/checkpoints/bot.log.json"
    record = json.loads(path.read_bytes())
    del record["mac"]
    data = store.log_path("bot").read_bytes()
    record.update(
        bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), found={"problems": [], "signed": []}
    )
    record["events"] = data.count(b"\n")
    body = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    path.write_text(json.dumps({**record, "mac": hmac.new(key, body, hashlib.sha256).hexdigest()}))


def test_the_chain_check_is_kept_and_only_ever_misses(moved: Store) -> None:
    """The chain and signature check of the log is kept the same way: an edit of the
    checked lines is found again, and a forged checkpoint is a miss."""
    assert _chain_problems(moved) == []
    assert (moved.root / "cache/checkpoints/bot.log.json").exists()
    path = moved.log_path("bot")
    lines = path.read_bytes().splitlines(keepends=True)
    lines[5], lines[6] = lines[6], lines[5]  # two checked lines swapped
    path.write_bytes(b"".join(lines))
    assert [p.split(": audit chain")[0].rsplit(":", 1)[1] for p in _chain_problems(moved)] == ["6", "7", "8"]
    _forge_log_checkpoint(moved, b"\0" * 32)
    assert len(_chain_problems(moved)) == 3  # not the user's key: a miss
    _forge_log_checkpoint(moved, checkpoint.key_path().read_bytes())
    assert _chain_problems(moved) == []  # the user's own key: believed (the trust rests on it)
    lines.append(lines[-1])  # a line appended after the checkpoint is checked
    path.write_bytes(b"".join(lines))
    assert len(_chain_problems(moved)) == 1


def test_a_torn_line_after_a_whole_checkpoint_is_named(moved: Store) -> None:
    """A checkpoint of the whole log does not hide a line added after it without its newline."""
    assert _chain_problems(moved) == []
    path = moved.log_path("bot")
    path.write_bytes(path.read_bytes() + b'{"event": "alias", "torn')
    from promptver.governance.verify import bundle_problems

    forget_parsed()
    assert any("is not JSON" in p for p in bundle_problems(moved, "bot"))


def test_audit_takes_a_promotions_checked_citations_from_the_checkpoint(
    project: Path, store: Store, pv, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """The moves' re-check finds each cited approval by id; where the promotion's recorded
    seqs are those places, the checkpoint says so and `audit` needs no ids of its own."""
    from promptver.governance.approvals import decide
    from promptver.store import events
    from tests.alias_support import PRODUCTION, new_version, set_policy

    set_policy(project, PRODUCTION.replace("approvals = 1", "approvals = 3"))
    new_version(store, project)
    for n in range(3):
        decide(store, "bot", "0.1.0", "approved", f"R{n} <r{n}@example.com>")
    assert pv("promote", "bot@0.1.0", "--to", "production").code == 0
    assert pv("verify").code == 0  # the checkpoint, the promotion included
    ids: list[int] = []
    real = events.event_id
    monkeypatch.setattr(events, "event_id", lambda e: ids.append(1) or real(e))
    forget_parsed()
    cited = json.loads(pv("audit", "bot", "--json").out)["events"][-1]["approvals"]
    assert cited == [2, 3, 4] and ids == []
    moves = store.root / "cache/checkpoints/bot.moves.json"
    moves.unlink()
    forget_parsed()
    assert json.loads(pv("audit", "bot", "--json").out)["events"][-1]["approvals"] == [2, 3, 4]
    assert ids == [] and moves.exists()  # audit's own check made it again before citing
    moves.write_text("{}")  # not one: each citation is checked by id
    monkeypatch.setattr(checkpoint, "write_moves", lambda *args, **kw: None)
    forget_parsed()
    assert json.loads(pv("audit", "bot", "--json").out)["events"][-1]["approvals"] == [2, 3, 4]
    assert ids


def test_a_key_others_can_write_is_not_used(moved: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _checked(moved, monkeypatch) == ([], MOVES)
    checkpoint.key_path().chmod(0o666)
    try:
        assert _checked(moved, monkeypatch) == ([], MOVES)  # not believed: checked again
    finally:
        checkpoint.key_path().chmod(0o600)
    assert _checked(moved, monkeypatch) == ([], 0)


def test_pointers_are_checked_against_the_checkpoints_heads(project: Path, store: Store, pv) -> None:  # type: ignore[no-untyped-def]
    """With the whole log checked, `verify` compares aliases.json with the heads the
    checkpoint kept: a hand edit is still named, and a version removed since sends it back
    to the log."""
    from promptver.governance.aliases import aliases_path
    from tests.alias_support import new_version

    new_version(store, project)
    new_version(store, project)
    assert pv("alias", "set", "bot", "staging", "0.1.0").code == 0
    assert pv("verify").code == 0 and pv("verify").code == 0  # the second from the checkpoint
    path = aliases_path(store, "bot")
    saved = path.read_text()
    path.write_text(saved.replace('"0.1.0"', '"0.2.0"'))
    forget_parsed()
    shown = pv("verify")
    assert (
        shown.code == 1
        and "alias staging points at 0.2.0 but the last move (event 3) set it to 0.1.0" in shown.out
    )
    path.write_text(saved)
    store.manifest_path("bot", "0.1.0").unlink()
    forget_parsed()
    shown = pv("verify")
    assert shown.code == 1 and "(alias staging -> 0.1.0): version 0.1.0 does not exist" in shown.out


def test_an_escaped_eval_event_is_still_checked_with_a_whole_checkpoint(moved: Store) -> None:
    """With a checkpoint of the whole log, the recorded runs are found by their kind's
    token; an event kind spelt with a ``\\u`` escape sends the check back to every line."""
    from promptver.governance.verify import bundle_problems

    path = moved.log_path("bot")
    lines = path.read_bytes().splitlines()
    event = {"event": "eval", "run": "20261126T120000Z-000000", "digest": "sha256:" + "0" * 64}
    event.update(bundle="bot", seq=len(lines) + 1, prev=hashlib.sha256(lines[-1]).hexdigest())
    line = json.dumps(event, sort_keys=True).replace('"eval"', '"\\u0065val"')
    path.write_bytes(path.read_bytes() + line.encode() + b"\n")
    forget_parsed()
    first = [p for p in bundle_problems(moved, "bot") if "20261126T120000Z-000000" in p]
    forget_parsed()
    again = [p for p in bundle_problems(moved, "bot") if "20261126T120000Z-000000" in p]
    assert first and again == first  # named both times, the second with the checkpoint kept


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=8), st.lists(st.integers(0, 400), max_size=6))
def test_a_prefix_hashed_on_from_a_shorter_one_is_its_sha256(parts: list[bytes], sizes: list[int]) -> None:
    """`_prefix` goes on from the hash of a shorter prefix of the same bytes (and never of
    other bytes of the same length): each answer is the sha256 and line count of its own."""
    data = b"\n".join(parts) + b"\n"
    other = bytes(reversed(data))  # same length, other bytes
    checkpoint._FACTS.clear()
    for size in [min(s, len(data)) for s in sizes] + [len(data)]:
        for bytes_ in (data, other):
            expected = (hashlib.sha256(bytes_[:size]).hexdigest(), bytes_[:size].count(b"\n"))
            assert checkpoint._prefix(bytes_, size) == expected
