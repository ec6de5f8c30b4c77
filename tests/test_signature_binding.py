"""Issue 23, item 1: a signature is bound to its place in the history (the bundle's log and
the id of the event it was signed after, ``after``, which a pull's re-link never changes),
so a signed line copied, moved or re-ordered by someone without a key is refused by
`verify`, `promote` and `pull`, as "replayed or moved" (not as an edit), while a pull that
puts an unpushed signed event after a teammate's keeps it good. Logs signed before the
binding (no ``sig_v``) or bound to the previous line's hash (``sig_v`` 2) still verify."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptver.governance.signing import NAMESPACE, sign_bytes
from promptver.governance.verify import bundle_problems
from promptver.store.store import Store
from tests.alias_support import REVIEWER, new_version, set_policy
from tests.signing_support import make_key, rechain, write_lines

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH's ssh-keygen")

POLICY = "\n[aliases.production]\napprovals = 1\nrequire_signed = true\n"


@pytest.fixture
def rita(tmp_path: Path, store: Store) -> Path:
    key, pub = make_key(tmp_path / "keys", "rui")
    (store.root / "allowed_signers").write_text(f"rui@example.com {pub}\n")
    return key


def _author_key(store: Store) -> Path:
    """Ana's key, listed: her bumps are signed, so `require_signed` can be met."""
    key, pub = make_key(store.root.parent / "keys-ana", "ana")
    signers = store.root / "allowed_signers"
    signers.write_text(signers.read_text() + f"ana@example.com {pub}\n")
    return key


def _withdrawn_approval(project: Path, store: Store, pv, key: Path) -> list[bytes]:  # type: ignore[no-untyped-def]
    """Rui approves 0.1.0, then withdraws it ("do NOT ship"), both signed; the log's lines."""
    set_policy(project, POLICY)
    new_version(store, project)
    assert pv("approve", "bot@0.1.0", "--by", REVIEWER, "--key", str(key)).code == 0
    assert (
        pv(
            "reject", "bot@0.1.0", "--by", REVIEWER, "--key", str(key), "--note", "regression: do NOT ship"
        ).code
        == 0
    )
    assert pv("verify").code == 0
    return store.log_path("bot").read_bytes().splitlines()


def test_a_replayed_approval_is_refused(project: Path, store: Store, pv, rita: Path) -> None:  # type: ignore[no-untyped-def]
    """Attack (issue 23, 1): re-append the withdrawn signed approval with a fresh seq and
    prev; on old main the approval counted again and `promote` succeeded."""
    lines = _withdrawn_approval(project, store, pv, rita)
    write_lines(store.log_path("bot"), rechain([*lines, lines[1]]))
    result = pv("verify")
    assert result.code == 1
    assert (
        "audit event 4 repeats signed event 2 (review by Rui Reviewer <rui@example.com>): the line was"
        " replayed (copied)" in result.out
    )
    assert "\n1 problem: " in result.out  # one copied line, one problem
    result = pv("promote", "bot@0.1.0", "--to", "production")
    assert result.code == 1 and "the line was replayed (copied) into the log" in result.err
    assert "Traceback" not in result.err


def test_a_moved_approval_is_refused_as_moved_not_edited(project: Path, store: Store, pv, rita: Path) -> None:  # type: ignore[no-untyped-def]
    """Attack: move the approval after the rejection (no duplicate signature to spot): the
    rejection was signed after the approval, which is no longer earlier."""
    bump, approval, rejection = _withdrawn_approval(project, store, pv, rita)
    write_lines(store.log_path("bot"), rechain([bump, rejection, approval]))
    result = pv("verify")
    assert result.code == 1
    assert "bot event 2 (changes_requested 0.1.0, by Rui Reviewer <rui@example.com>)" in result.out
    assert "it was signed for another place in the history (after event sha256:" in result.out
    assert "the line was replayed or moved" in result.out
    assert "edited after signing" not in result.out
    result = pv("promote", "bot@0.1.0", "--to", "production")
    assert result.code == 1 and "replayed or moved" in result.err


def test_a_signed_line_copied_from_another_bundle_is_refused(
    project: Path, store: Store, pv, rita: Path
) -> None:  # type: ignore[no-untyped-def]
    from promptver.bundle.scaffold import scaffold
    from promptver.versions.bump import bump

    lines = _withdrawn_approval(project, store, pv, rita)
    scaffold(project / "bundles" / "other", "other")
    bump(store, "other", "minor", author="Ana <ana@example.com>")
    other = store.log_path("other")
    # the event's subject would be wrong too, but even its place alone is refused
    write_lines(other, rechain([*other.read_bytes().splitlines(), lines[1]]))
    problems = bundle_problems(store, "other", anchored=False)
    assert any("in the log of bot): the line was replayed or moved" in p for p in problems), problems


def test_a_log_signed_before_the_binding_still_verifies(project: Path, store: Store, pv, rita: Path) -> None:  # type: ignore[no-untyped-def]
    """Format 1 (no ``sig_v``): the event without seq, prev and signature was signed."""
    from promptver.governance.approvals import Reviewed, review_event
    from promptver.governance.signing import payload

    manifest = new_version(store, project)
    event = review_event("bot", "approved", REVIEWER, None, Reviewed(manifest.version, manifest.digest))
    armored = sign_bytes(payload(event, "bot"), rita)
    store.append_event(
        "bot", {**event, "signature": {"format": "ssh", "namespace": NAMESPACE, "armored": armored}}
    )
    result = pv("verify")
    assert result.code == 0, result.out
    assert "signed by rui@example.com" in result.out


def test_pull_refuses_a_remote_log_with_a_moved_signed_line(
    tmp_path: Path,
    project: Path,
    store: Store,
    pv,
    rita: Path,  # type: ignore[no-untyped-def]
) -> None:
    """The remote's log is re-chained by someone with write access to the bucket but no key."""
    from tests.remote.conftest import clone

    (tmp_path / "shared").mkdir()
    url = f"file://{tmp_path}/shared"
    assert pv("remote", "add", "origin", url).code == 0
    _withdrawn_approval(project, store, pv, rita)
    assert pv("push").code == 0
    clone(project, tmp_path / "teammate")
    remote_log = tmp_path / "shared" / "bundles" / "bot" / "log.jsonl"
    bump, approval, rejection = remote_log.read_bytes().splitlines()
    # the teammate is one event behind: the remote's last two events are new to them
    teammate = Store.find(override=tmp_path / "teammate" / ".promptver")
    write_lines(teammate.log_path("bot"), [bump])
    write_lines(remote_log, rechain([bump, rejection, approval]))
    result = pv("--store", str(teammate.root), "pull")
    assert result.code == 1
    assert "log.jsonl:2: signed event 2 (review by Rui Reviewer <rui@example.com>)" in result.err
    assert "replayed or moved" in result.err and "nothing was pulled" in result.err
    assert teammate.log_path("bot").read_bytes().splitlines() == [bump]


# --- the property: any signed event copied, moved or re-ordered is refused ----------------

SIGNED = 4  # signed events after the bump (signing costs ~25 ms each: made once per test)

_moves = st.one_of(
    st.tuples(st.just("copy"), st.integers(0, SIGNED - 1), st.integers(0, SIGNED)),
    st.tuples(st.just("move"), st.integers(0, SIGNED - 1), st.integers(0, SIGNED - 1)),
    st.tuples(st.just("swap"), st.integers(0, SIGNED - 1), st.integers(0, SIGNED - 1)),
)


def _apply(signed: list[bytes], op: tuple[str, int, int]) -> list[bytes]:
    kind, i, j = op
    out = list(signed)
    if kind == "copy":
        out.insert(j, signed[i])
    elif kind == "move":
        out.insert(j, out.pop(i))
    else:
        out[i], out[j] = out[j], out[i]
    return out


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(_moves, min_size=1, max_size=3))
def test_any_copied_moved_or_reordered_signed_event_is_refused(
    project: Path, store: Store, rita: Path, ops: list[tuple[str, int, int]]
) -> None:
    from promptver.governance.approvals import decide

    log = store.log_path("bot")
    if not hasattr(store, "_original_log"):
        new_version(store, project)
        for n in range(SIGNED):
            decide(
                store,
                "bot",
                "0.1.0",
                "changes_requested" if n % 2 else "approved",
                REVIEWER,
                f"round {n}",
                rita,
            )
        store._original_log = log.read_bytes()  # type: ignore[attr-defined]
    lines = store._original_log.splitlines()  # type: ignore[attr-defined]
    head, signed = lines[:1], lines[1:]
    for op in ops:
        signed = _apply(signed, op)
    tampered = rechain(head + signed)
    write_lines(log, tampered)
    problems = bundle_problems(store, "bot", anchored=False)
    if tampered == lines:  # the moves cancelled out: nothing to find
        assert problems == []
    else:
        assert any("replayed" in p for p in problems), (ops, problems)
        assert not any("edited after signing" in p for p in problems), (ops, problems)


def test_a_key_allowed_only_for_git_is_not_accepted_not_corrupt(
    project: Path,
    store: Store,
    pv,
    rita: Path,  # type: ignore[no-untyped-def]
) -> None:
    """Issue 23, 3: git's allowed_signers lines carry ``namespaces="git"``; on old main every
    genuine signature then read CORRUPT "edited after signing" and `verify` exited 1."""
    set_policy(project, "\n[aliases.production]\napprovals = 1\n")
    new_version(store, project)
    pub = rita.with_suffix(".pub").read_text().strip()
    signers = store.root / "allowed_signers"
    signers.write_text(f'rui@example.com namespaces="git" {pub}\n')
    assert pv("approve", "bot@0.1.0", "--by", REVIEWER, "--key", str(rita)).code == 0
    result = pv("verify")
    assert result.code == 0, result.out
    assert "CORRUPT" not in result.out and "edited" not in result.out
    assert (
        "signature not accepted: signed by rui@example.com, whose key is not accepted for namespace"
        " promptver by allowed_signers" in result.out
    )
    result = pv("promote", "bot@0.1.0", "--to", "production")
    assert result.code == 1 and "not accepted for namespace promptver" in result.err
    # one file serving both git and promptver
    signers.write_text(f'rui@example.com namespaces="git,promptver" {pub}\n')
    result = pv("verify")
    assert result.code == 0 and "signed by rui@example.com" in result.out
    assert pv("promote", "bot@0.1.0", "--to", "production").code == 0


def test_a_checked_signature_is_not_checked_again_by_the_next_process(
    project: Path,
    store: Store,
    pv,
    rita: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    """Issue 23, 6: verdicts are cached by content in cache/signatures/ (a new process reads
    them back instead of running OpenSSH again); a changed allowed-signers file is a new key."""
    from promptver.governance import signing

    _withdrawn_approval(project, store, pv, rita)
    assert len(list((store.root / "cache" / "signatures").glob("*.json"))) == 2
    signing._CACHE.clear()  # as in a new process
    monkeypatch.setattr(signing.shutil, "which", lambda _: None)  # no OpenSSH from here on
    result = pv("verify")
    assert result.code == 0 and result.out.count("signed by rui@example.com") == 2
    signers = store.root / "allowed_signers"
    signers.write_text(signers.read_text() + "# a new line\n")
    result = pv("verify")
    assert result.code == 1 and "signing needs OpenSSH's ssh-keygen" in result.out + result.err


def test_a_moved_approval_that_keeps_its_place_valid_is_not_the_latest(
    project: Path,
    store: Store,
    pv,
    rita: Path,  # type: ignore[no-untyped-def]
) -> None:
    """A move the ``after`` check cannot see (an unsigned event between the approval and the
    rejection, the approval put last): the latest decision is the one signed last (its
    ``time``, then its ``after``), not the last line, so the withdrawn approval stays
    withdrawn."""
    from promptver.governance.approvals import decisions

    set_policy(project, POLICY)
    manifest = new_version(store, project, key=_author_key(store))
    assert pv("approve", "bot@0.1.0", "--by", REVIEWER, "--key", str(rita)).code == 0
    assert pv("approve", "bot@0.1.0", "--by", "Olga Other <olga@example.com>").code == 0
    assert pv("reject", "bot@0.1.0", "--by", REVIEWER, "--key", str(rita), "--note", "no").code == 0
    bump, approval, olga, rejection = store.log_path("bot").read_bytes().splitlines()
    write_lines(store.log_path("bot"), rechain([bump, olga, rejection, approval]))
    assert bundle_problems(store, "bot", anchored=False) == []  # every `after` is earlier
    latest = {d.actor: d.decision for d in decisions(store.events("bot"), manifest.digest)}
    assert latest[REVIEWER] == "changes_requested"
    result = pv("promote", "bot@0.1.0", "--to", "production")
    assert result.code == 1 and "Rui Reviewer <rui@example.com> requested changes" in result.err


def test_within_one_second_the_decision_signed_after_the_other_is_the_latest() -> None:
    """The signed times tie: the decision whose ``after`` is later in the log was signed
    when the log was longer, whatever the lines' order now; with a partial list of events
    the whole log (``log``) places the ``after``."""
    from promptver.governance.approvals import decisions
    from promptver.store.events import event_id

    def review(decision: str, after: str | None, seq: int) -> dict[str, object]:
        new = {"version": "0.1.0", "digest": "sha256:d"}
        return {
            "event": "review",
            "decision": decision,
            "actor": REVIEWER,
            "time": "T",
            "new": new,
            "after": after,
            "sig_v": 3,
            "seq": seq,
        }

    bump = {"event": "bump", "version": "0.1.0", "seq": 1}
    approval = review("approved", event_id(bump), 4)
    other = {"event": "note", "seq": 2}
    rejection = review("changes_requested", event_id(other), 3)
    log = [bump, other, rejection, approval]  # the approval moved last
    assert [d.decision for d in decisions(log, "sha256:d")] == ["changes_requested"]
    assert [d.decision for d in decisions([rejection, approval], "sha256:d", log=lambda: log)] == [
        "changes_requested"
    ]
    unsigned = [{**e, "after": None} for e in (rejection, approval)]  # no `after`: log order
    assert [d.decision for d in decisions(unsigned, "sha256:d")] == ["approved"]


def test_a_signature_survives_a_pull_that_re_links_it(
    tmp_path: Path,
    project: Path,
    store: Store,
    pv,
    rita: Path,  # type: ignore[no-untyped-def]
) -> None:
    """Bea signs an approval offline, Carl pushes his first, Bea pulls: her event is put
    after Carl's (new seq and prev) and her signature still verifies and counts; pushed,
    Carl pulls it and it verifies there too. A copied or moved signed line is still refused
    after the pull."""
    from tests.remote.conftest import clone

    (tmp_path / "shared").mkdir()
    assert pv("remote", "add", "origin", f"file://{tmp_path}/shared").code == 0
    set_policy(project, POLICY)
    new_version(store, project, key=_author_key(store))
    assert pv("push").code == 0
    clone(project, tmp_path / "bea")
    bea = Store.find(override=tmp_path / "bea" / ".promptver")
    mine = pv("--store", str(bea.root), "approve", "bot@0.1.0", "--by", REVIEWER, "--key", str(rita))
    assert mine.code == 0, mine.err  # offline: not pushed
    signed_line = bea.log_path("bot").read_bytes().splitlines()[-1]
    assert pv("approve", "bot@0.1.0", "--by", "Carl <carl@example.com>").code == 0
    assert pv("push").code == 0  # Carl first
    result = pv("--store", str(bea.root), "pull")
    assert result.code == 0, result.err
    assert "1 local event(s) put after the remote's" in result.out
    lines = bea.log_path("bot").read_bytes().splitlines()
    assert len(lines) == 3 and lines[-1] != signed_line  # re-linked: new seq and prev
    result = pv("--store", str(bea.root), "verify")
    assert result.code == 0, result.out
    assert "bot event 3 (approved 0.1.0, by Rui Reviewer <rui@example.com>): signed by rui@example.com" in (
        result.out
    )
    promoted = pv("--store", str(bea.root), "promote", "bot@0.1.0", "--to", "production", "--dry-run")
    assert promoted.code == 0, promoted.err
    assert pv("--store", str(bea.root), "push").code == 0
    assert pv("pull").code == 0
    result = pv("verify")
    assert result.code == 0 and "signed by rui@example.com" in result.out
    # after the pull, the attacks are still refused in Bea's log
    log = bea.log_path("bot")
    write_lines(log, rechain([*lines, lines[2]]))  # copied
    problems = bundle_problems(bea, "bot", anchored=False)
    assert any("repeats signed event 3" in p for p in problems), problems
    write_lines(log, rechain([lines[2], lines[0], lines[1]]))  # moved before what it followed
    problems = bundle_problems(bea, "bot", anchored=False)
    assert any("event 1 (approved 0.1.0" in p and "replayed or moved" in p for p in problems), problems
    write_lines(log, lines)
    assert bundle_problems(bea, "bot", anchored=False) == []


def test_pull_does_not_move_an_unpushed_format_2_signed_event(
    tmp_path: Path,
    project: Path,
    store: Store,
    pv,
    rita: Path,  # type: ignore[no-untyped-def]
) -> None:
    """An event signed in format 2 (bound to the previous line's hash, before ``after``)
    cannot be re-linked without reading as replayed: that pull is refused, changing nothing.
    Format 3 signatures are re-linked (above)."""
    from promptver.governance.approvals import Reviewed, review_event
    from promptver.governance.signing import payload
    from promptver.store.events import chain_tip
    from tests.remote.conftest import clone

    (tmp_path / "shared").mkdir()
    assert pv("remote", "add", "origin", f"file://{tmp_path}/shared").code == 0
    manifest = new_version(store, project)
    assert pv("push").code == 0
    clone(project, tmp_path / "teammate")
    teammate = Store.find(override=tmp_path / "teammate" / ".promptver")
    assert pv("approve", "bot@0.1.0", "--by", "Olga <olga@example.com>").code == 0
    assert pv("push").code == 0
    event = review_event("bot", "approved", REVIEWER, None, Reviewed(manifest.version, manifest.digest))
    event = {**event, "sig_v": 2}
    prev = chain_tip(teammate, "bot")
    armored = sign_bytes(payload(event, "bot", prev), rita)
    signature = {
        "format": "ssh",
        "namespace": NAMESPACE,
        "armored": armored,
        "bound": {"log": "bot", "prev": prev},
    }
    teammate.append_event("bot", {**event, "signature": signature})
    verified = pv("--store", str(teammate.root), "verify")
    assert verified.code == 0 and "signed by rui@example.com" in verified.out  # format 2 still verifies
    before = teammate.log_path("bot").read_bytes()
    result = pv("--store", str(teammate.root), "pull")
    assert result.code == 1
    assert (
        "1 signed event(s) here are not pushed yet and signed in format 2 (event 2 (review by Rui"
        in result.err
    )
    assert "nothing was changed" in result.err and "Traceback" not in result.err
    assert teammate.log_path("bot").read_bytes() == before


@pytest.mark.parametrize("forged", ["unsigned", "bad signature"])
def test_under_require_signed_a_forged_later_decision_does_not_lift_a_signed_rejection(
    project: Path,
    store: Store,
    pv,
    rita: Path,
    tmp_path: Path,
    forged: str,  # type: ignore[no-untyped-def]
) -> None:
    """Rui's signed rejection blocks; Bob's signed approval would be enough alone. Mallory,
    with no key, adds a later approval in Rui's name (unsigned, or with someone else's
    signature on it): under `require_signed` only a decision whose signature verifies can
    take the place of a signed one, so the rejection still stands."""
    set_policy(project, POLICY)
    new_version(store, project, key=_author_key(store))
    bob, pub = make_key(tmp_path / "keys-bob", "bob")
    signers = store.root / "allowed_signers"
    signers.write_text(signers.read_text() + f"bob@example.com {pub}\n")
    assert pv("reject", "bot@0.1.0", "--by", REVIEWER, "--key", str(rita), "--note", "no").code == 0
    assert pv("approve", "bot@0.1.0", "--by", "Bob <bob@example.com>", "--key", str(bob)).code == 0
    key = ["--key", str(bob)] if forged == "bad signature" else []  # Bob's key, Rui's name
    pv("approve", "bot@0.1.0", "--by", REVIEWER, *key)
    result = pv("promote", "bot@0.1.0", "--to", "production")
    assert result.code == 1 and "Rui Reviewer <rui@example.com> requested changes" in result.err
    assert "Traceback" not in result.err
