"""Issue 24: the fast paths of the remote commands over a long log refuse what the careful
path refuses.

A pull whose remote log the local log already holds (byte for byte) parses nothing; one
that brings events parses the remote log once (msgspec, `store.events.parse_lines`) for the
chain, the signatures and the merge, and computes event ids only when a signed event needs
them. Each hostile remote log below is pulled twice: by a teammate whose log is the genuine
one (the byte comparison is tried first) and by a new project (nothing to compare: every
check runs). Both must refuse it with the same message, naming the same line, and change
nothing."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptver.errors import IntegrityError, PromptverError
from promptver.governance.approvals import decide
from promptver.governance.promotion import set_alias
from promptver.remote import sync
from promptver.remote.config import RemoteConfig
from promptver.remote.proof import check_chain
from promptver.remote.sync import Remote, pull, push
from promptver.store.events import parse_event, parse_lines
from promptver.store.store import Store
from tests.signing_support import rechain

from .conftest import clone
from .trust_support import OTHER, scene

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH's ssh-keygen")

LOG = "bundles/bot/log.jsonl"
EVE = "Eve <eve@example.com>"


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The issue-21 scene (signed bumps, a signed approval and promotion), then an unsigned
    move of staging and a signed approval made after it (its ``after`` names the unsigned
    event), all pushed to a file:// remote: ``root/a`` and ``root/shared``."""
    root = tmp_path_factory.mktemp("fast")
    (root / "shared").mkdir()
    s = scene(root, f"file://{root}/shared")
    olga = root / "keys" / "olga"
    set_alias(s.store, "bot", "staging", "0.2.0")
    decide(s.store, "bot", "0.2.0", "approved", actor=OTHER, key=olga)
    push(s.store, s.remote)
    return root


def genuine(root: Path) -> list[bytes]:
    return (root / "shared" / LOG).read_bytes().splitlines()


def teammates(published: Path, tmp_path: Path) -> tuple[Store, Store, str]:
    """A copy of the remote, a teammate holding its log (a clone of the project, no memory
    of the remote) and a new project with the team's allowed signers: (holder, fresh, url)."""
    shutil.copytree(published / "shared", tmp_path / "shared")
    clone(published / "a", tmp_path / "holder")
    holder = Store.find(override=tmp_path / "holder" / ".promptver")
    fresh, _ = Store.init(tmp_path / "fresh")
    shutil.copy(holder.root / "allowed_signers", fresh.root / "allowed_signers")
    return holder, fresh, f"file://{tmp_path}/shared"


def pulled(store: Store, url: str) -> str | None:
    """What pulling ``url`` into ``store`` says when it refuses (None: it pulled)."""
    try:
        pull(store, Remote(store, RemoteConfig("origin", url)))
    except PromptverError as exc:
        return str(exc)
    return None


def edited(lines: list[bytes], number: int, **fields: object) -> list[bytes]:
    event = json.loads(lines[number - 1])
    event.update(fields)
    return [*lines[: number - 1], json.dumps(event, sort_keys=True).encode(), *lines[number:]]


def unsigned(line: bytes, **fields: object) -> bytes:
    """A signed event's line made an unsigned one, by Eve, with these fields."""
    event = json.loads(line)
    for key in ("signature", "sig_v", "after"):
        event.pop(key, None)
    event.update({"actor": EVE, **fields})
    return json.dumps(event, sort_keys=True).encode()


def log_of(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def moved(lines: list[bytes], source: int, target: int) -> list[bytes]:
    out = list(lines)
    out.insert(target - 1, out.pop(source - 1))
    return out


# name -> (the hostile remote log from the genuine lines, what the refusal says)
HOSTILE: dict[str, tuple[Callable[[list[bytes]], bytes], str]] = {
    "a line that is not JSON": (
        lambda lines: log_of([*lines[:2], b'{"seq": 3, "event": ', *lines[3:]]),
        "log.jsonl:3: remote log line is not a JSON event",
    ),
    "a line with half a surrogate pair (the careful parse)": (
        lambda lines: log_of([*lines[:4], b'{"event": "alias", "alias": "\\ud800"}', *lines[5:]]),
        "log.jsonl:5: remote log line is not a JSON event",
    ),
    "the last line cut short": (
        lambda lines: log_of(lines)[:-5],
        "log.jsonl:6: remote log line is not a JSON event",
    ),
    "a broken chain (two lines swapped)": (
        lambda lines: log_of(moved(lines, 3, 2)),
        "log.jsonl:2: the remote log's hash chain is broken",
    ),
    "an edited signed approval (re-chained)": (
        lambda lines: log_of(rechain(edited(lines, 2, decision="rejected"))),
        "log.jsonl:2: signed event 2 (review by Rui Reviewer <rui@example.com>): the signature by"
        " rui@example.com does not verify",
    ),
    "a signed approval copied to the end (re-chained)": (
        lambda lines: log_of(rechain([*lines, lines[1]])),
        "log.jsonl:7: signed event 7 (review by Rui Reviewer <rui@example.com>): repeats signed event 2",
    ),
    "a signed approval moved before the unsigned event it was signed after": (
        lambda lines: log_of(rechain(moved(lines, 6, 5))),
        "log.jsonl:5: signed event 5 (review by Olga Other <olga@example.com>): it was signed for"
        " another place in the history",
    ),
    "a signed bump moved before the promotion it was signed after": (
        lambda lines: log_of(rechain(moved(lines, 4, 2))),
        "log.jsonl:2: signed event 2 (bump by Ana Author <ana@example.com>): it was signed for another place",
    ),
    "an unsigned promotion of an unapproved version (chained)": (
        lambda lines: log_of(rechain([*lines[:4], edited(lines, 5, alias="production", actor=EVE)[4]])),
        "refused; nothing was changed",
    ),
    "an unsigned event after ours, chained to the wrong line": (
        lambda lines: log_of([*lines, json.dumps({"event": "review", "seq": 7, "prev": "0" * 64}).encode()]),
        "log.jsonl:7: the remote log's hash chain is broken",
    ),
    "a line holding a carriage return (chained)": (
        lambda lines: log_of(
            [
                *lines,
                b'{"event": "review",\r "prev": "%s", "seq": 7}'
                % hashlib.sha256(lines[-1]).hexdigest().encode(),
            ]
        ),
        "log.jsonl:7: remote log line holds a carriage return",
    ),
    "an unsigned event after ours numbered out of turn (chained)": (
        lambda lines: log_of([*lines, unsigned(lines[2], seq=9, prev=hashlib.sha256(lines[-1]).hexdigest())]),
        "log.jsonl:7: the remote log's hash chain is broken",
    ),
    "an unsigned promotion to a list (hashed as a version name)": (
        lambda lines: log_of(rechain([*lines, unsigned(lines[2], to=["0.2.0"], **{"from": {"a": 1}})])),
        "audit event 7 (promote of production to ['0.2.0'], by Eve <eve@example.com>) breaks the policy",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_remote_log_is_refused_alike_by_a_holder_and_a_new_project(
    published: Path, tmp_path: Path, case: str
) -> None:
    make, says = HOSTILE[case]
    holder, fresh, url = teammates(published, tmp_path)
    before = holder.log_path("bot").read_bytes()
    (tmp_path / "shared" / LOG).write_bytes(make(genuine(published)))
    refusals = [pulled(holder, url), pulled(fresh, url)]
    assert refusals[0] is not None and says in refusals[0], refusals[0]
    assert refusals[0] == refusals[1]
    assert holder.log_path("bot").read_bytes() == before
    assert not fresh.log_path("bot").exists()


def test_the_genuine_log_is_pulled_by_a_new_project_and_verifies(published: Path, tmp_path: Path) -> None:
    """The ids of unsigned events, computed only when a signed one needs them, are right:
    Olga's approval, signed after the unsigned staging move, is accepted at its place."""
    from promptver.governance.verify import bundle_problems

    _, fresh, url = teammates(published, tmp_path)
    pull(fresh, Remote(fresh, RemoteConfig("origin", url)), objects=True)
    assert fresh.log_path("bot").read_bytes().splitlines() == genuine(published)
    assert bundle_problems(fresh, "bot") == []


def test_a_log_held_here_is_up_to_date_without_being_parsed(
    published: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder, _, url = teammates(published, tmp_path)
    checked: list[tuple[int, int]] = []  # (first line, lines) of each chain check
    real = sync.check_chain

    def counted(
        lines: list[bytes], where: str, first: int = 1, previous: bytes | None = None
    ) -> list[dict[str, object]]:
        checked.append((first, len(lines)))
        return real(lines, where, first, previous)

    monkeypatch.setattr(sync, "check_chain", counted)
    remote = Remote(holder, RemoteConfig("origin", url))
    # a remote log that is a prefix of ours (we are ahead) is held
    (tmp_path / "shared" / LOG).write_bytes(log_of(genuine(published)[:4]))
    assert [r.events for r in pull(holder, remote)] == [0]
    # and so is one equal to ours
    shutil.copy(published / "shared" / LOG, tmp_path / "shared" / LOG)
    assert [r.events for r in pull(holder, remote)] == [0]
    assert checked == []
    # one new byte after our history (an unended line): the line past ours is checked
    (tmp_path / "shared" / LOG).write_bytes((published / "shared" / LOG).read_bytes() + b"{")
    with pytest.raises(IntegrityError):
        pull(holder, remote)
    assert checked == [(7, 1)]


def test_a_rolled_back_remote_is_refused_though_our_log_holds_it(published: Path, tmp_path: Path) -> None:
    """The byte comparison comes after the check that the remote is no older than what this
    machine saw: a remote cut back to a prefix of our log is not "up to date"."""
    holder, _, url = teammates(published, tmp_path)
    assert pulled(holder, url) is None  # the holder has now seen all six events
    (tmp_path / "shared" / LOG).write_bytes(log_of(genuine(published)[:5]))
    refusal = pulled(holder, url)
    assert refusal is not None and "older than what this machine has seen: 5 events, seen 6" in refusal


def test_parse_lines_gives_the_events_and_names_the_line_the_careful_parse_names() -> None:
    good = [b'{"seq": 1, "event": "bump"}', b'{"seq": 2, "n": 1.5, "s": "caf\\u00e9"}', b'{"a": [1, {}]}']
    assert parse_lines(good, "log") == [json.loads(line) for line in good]
    for bad in (b"[1, 2]", b"null", b"{", b'{"a": "\\udc00"}', b"", b'{"a": 1} x', b"NaN"):
        for index in range(len(good) + 1):
            lines = [*good[:index], bad, *good[index:]]
            with pytest.raises(IntegrityError) as fast:
                parse_lines(lines, "log")
            with pytest.raises(IntegrityError) as careful:
                parse_event(bad, f"log:{index + 1}")
            assert fast.value.location == careful.value.location == f"log:{index + 1}"
            assert fast.value.message == careful.value.message
            with pytest.raises(IntegrityError) as remote:
                check_chain(lines, "log")
            assert remote.value.location == f"log:{index + 1}"


_MOVES = st.lists(
    st.tuples(
        st.sampled_from(["production", "canary", "staging"]),
        st.sampled_from(["set", "promote", "rollback", "remove"]),
        st.sampled_from(["0.1.0", "0.2.0", "0.3.0", None]),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(moves=_MOVES, others=st.integers(0, 3))
def test_a_push_writes_the_pointers_a_replay_of_every_move_gives(
    moves: list[tuple[str, str, str | None]], others: int
) -> None:
    """The pushed ``aliases.json`` replays only each alias's last move: the same bytes as a
    replay of all of them (rollbacks and removals included)."""
    from promptver.governance.aliases import pointer_bytes, replay

    events: list[dict[str, object]] = [{"event": "review", "seq": 0}] * others
    for seq, (alias, action, to) in enumerate(moves, start=1):
        events.append(
            {"event": "alias", "alias": alias, "action": action, "to": to, "to_digest": f"d{to}", "seq": seq}
        )
    assert sync._pointer_bytes(events) == pointer_bytes(replay(events))


def test_push_names_a_local_line_that_is_not_an_event(published: Path, tmp_path: Path) -> None:
    """Push parses the local log once (msgspec); a damaged line is named, not a traceback."""
    holder, _, url = teammates(published, tmp_path)
    lines = genuine(published)
    holder.log_path("bot").write_bytes(log_of([*lines[:2], b'{"seq": 3', *lines[3:]]))
    with pytest.raises(IntegrityError) as refused:
        push(holder, Remote(holder, RemoteConfig("origin", url)))
    assert refused.value.location == f"{holder.log_path('bot')}:3"
    assert (tmp_path / "shared" / LOG).read_bytes().splitlines() == lines


def test_a_remote_move_naming_a_list_meets_our_unpushed_move(published: Path, tmp_path: Path) -> None:
    """Conflicts are looked for by alias name: a hostile name that is a list, not a string,
    is no name (it was a TypeError traceback)."""
    holder, _, url = teammates(published, tmp_path)
    set_alias(holder, "bot", "canary", "0.1.0")
    lines = genuine(published)
    (tmp_path / "shared" / LOG).write_bytes(log_of(rechain([*lines, unsigned(lines[4], alias=["canary"])])))
    assert pulled(holder, url) is None
    assert holder.log_path("bot").read_bytes().splitlines()[:7] == rechain(
        [*lines, unsigned(lines[4], alias=["canary"])]
    )


def test_a_teammate_behind_by_a_signed_event_pulls_it(published: Path, tmp_path: Path) -> None:
    """Only the lines past ours are parsed for the chain; a signed one among them is checked
    at its place in the whole log: Olga's approval was signed after the staging move, which
    is in the part we hold."""
    holder, _, url = teammates(published, tmp_path)
    lines = genuine(published)
    holder.log_path("bot").write_bytes(log_of(lines[:5]))
    assert pulled(holder, url) is None
    assert holder.log_path("bot").read_bytes().splitlines() == lines


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    kind=st.sampled_from(["flip", "truncate", "drop", "repeat", "swap"]),
    at=st.integers(0, 10**6),
    mask=st.integers(1, 255),
)
def test_any_change_to_the_remote_log_is_judged_alike_by_a_holder_and_a_new_project(
    published: Path, tmp_path_factory: pytest.TempPathFactory, kind: str, at: int, mask: int
) -> None:
    """Whatever a bucket writer does to the log, the teammate whose log holds the genuine
    one (bytes compared, only the lines past the shared ones checked) refuses it as
    damaged or tampered (chain, JSON, signatures) exactly when a new project (everything
    checked) does, with the same message. (The teammate may also meet a conflict: the
    genuine events past a changed line are, to them, local events not yet pushed.)"""
    holder, fresh, url = teammates(published, tmp_path_factory.mktemp("changed"))
    log = Path(url.removeprefix("file://")) / LOG
    data, lines = log.read_bytes(), log.read_bytes().splitlines()
    index = at % len(lines)
    if kind == "flip":
        data = data[: at % len(data)] + bytes([data[at % len(data)] ^ mask]) + data[at % len(data) + 1 :]
    elif kind == "truncate":
        data = data[: at % len(data)]
    elif kind == "drop":
        data = log_of(lines[:index] + lines[index + 1 :])
    elif kind == "repeat":
        data = log_of(rechain([*lines, lines[index]]))
    else:
        data = log_of(rechain(moved(lines, index + 1, (at // 7) % len(lines) + 1)))
    log.write_bytes(data)
    damaged = [_damage(holder, url), _damage(fresh, url)]
    assert damaged[0] == damaged[1]


def _damage(store: Store, url: str) -> str | None:
    """The IntegrityError a pull refuses with (None: it pulled, or refused otherwise)."""
    try:
        pull(store, Remote(store, RemoteConfig("origin", url)))
    except IntegrityError as exc:
        return str(exc)
    except PromptverError:
        return None
    return None


def test_a_pulled_log_that_cannot_be_read_back_is_put_back(
    published: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever stops the re-check of a written pull (here the log read back as broken),
    the log is put back as it was, without the versions the pull brought."""
    from promptver.governance import checks

    holder, fresh, url = teammates(published, tmp_path)
    before = holder.log_path("bot").read_bytes()
    lines = genuine(published)
    (tmp_path / "shared" / LOG).write_bytes(log_of(rechain([*lines, unsigned(lines[2], reason="x")])))

    def unreadable(*args: object, **kwargs: object) -> None:
        raise IntegrityError("audit log line is not JSON", location="log.jsonl:7")

    monkeypatch.setattr(checks, "bad_moves", unreadable)
    for store in (holder, fresh):
        assert "log.jsonl:7: audit log line is not JSON" in str(pulled(store, url))
    assert holder.log_path("bot").read_bytes() == before
    assert not fresh.log_path("bot").exists() and fresh.version_names("bot") == []
