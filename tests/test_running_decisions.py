"""The re-check of a log's promotions counts each version's decisions as it goes
(`approvals.RunningDecisions`) and, where the cited approvals alone prove the policy held
(`checks._proven_citations`), does not count everyone's decisions at each promotion: at
50,000 approvals that was every approval times every promotion (issue 24, item 4).

Both must say exactly what the whole count says: Hypothesis writes logs of reviews
(people with and without emails, the author, working copies, other decisions, junk
signatures, times out of order) and promotions citing the right approvals or others, and
the re-check's findings are compared with those of the whole count alone."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptver.bundle.scaffold import scaffold
from promptver.governance import approvals, checks
from promptver.governance.approvals import RunningDecisions, decisions
from promptver.governance.policy import declared_policies
from promptver.store.events import event_id, forget_parsed
from promptver.store.manifest import Manifest
from promptver.store.store import Store
from tests.alias_support import AUTHOR, new_version, set_policy

POLICIES = (  # one version per policy: the policy a promotion answers to is its version's
    "[aliases.production]\napprovals = 2\napprover_not_author = false\n",
    "[aliases.production]\napprovals = 1\n",  # (approver_not_author: true by default)
    '[aliases.production]\napprovals = 2\napprover_not_author = false\napprovers = ["Bo", "Cy <cy@example.com>", "ana@example.com"]\n',
    '[aliases.production]\napprovals = 2\napprover_not_author = true\napprovers = ["Bo", "ana@example.com"]\n',
)
PEOPLE = (
    AUTHOR,
    "ana@EXAMPLE.com",  # the author, by email alone
    "Bo <bo@example.com>",
    "Cy <cy@example.com>",
    "CY <Cy@Example.com>",
    "Dee <dee@example.com>",
    "Eve <eve@example.com>",
    "Bo <bo@elsewhere.example>",  # another Bo: the same name, another person
)
NAMES_ONLY = ("Ana Author", "Bo")  # a name alone: the running count ends, the whole count decides


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, list[Manifest]]:
    root = tmp_path_factory.mktemp("running") / "proj"
    root.mkdir()
    store, _ = Store.init(root)
    scaffold(root / "bundles" / "bot", "bot")
    made = []
    for policy in POLICIES:
        set_policy(root, policy)
        made.append(new_version(store, root))
    return store, made


@st.composite
def logs(draw: st.DrawFn, store: Store, versions: list[Manifest]) -> list[dict[str, Any]]:
    """Reviews and promotions, placed and chained by seq (their hash chain is not what the
    re-check reads)."""
    events: list[dict[str, Any]] = []
    main = draw(st.sampled_from(versions))  # most events are about one version
    messy = draw(st.integers(0, 3)) == 0  # names alone, earlier times, format-3 signatures
    people = PEOPLE + NAMES_ONLY if messy else PEOPLE
    last = draw(st.integers(1, 40))
    once = draw(st.booleans())  # one promotion, at the end (a warm command's re-check)
    for seq in range(1, last + 1):
        version = main if draw(st.integers(0, 4)) else draw(st.sampled_from(versions))
        if seq < last if once else seq < 6 or draw(st.integers(0, 3)):  # a review (a few first)
            event: dict[str, Any] = {
                "event": "review",
                "decision": draw(st.sampled_from(["approved"] * 10 + ["changes_requested", "meh", "meh"])),
                "actor": draw(st.sampled_from(people)),
                "time": f"2026-12-06T10:{draw(st.sampled_from([seq] * 9 + [0])) if messy else seq:02d}:00Z",
                "new": {
                    "version": None if draw(st.integers(0, 4)) == 0 else version.version,
                    "digest": version.digest,
                },
            }
            if draw(st.integers(0, 5)) == 0:
                event["signature"] = {"armored": "-----BEGIN SSH SIGNATURE-----\nnot one\n"}
            if messy and draw(st.integers(0, 9)) == 0:
                event["after"] = "sha256:0"
        else:  # a promotion, citing the approvals the whole count would cite, or others
            reviews = [e for e in events if e.get("event") == "review"]
            cited = _first_counted(store, version, reviews)
            on = [e for e in reviews if e["new"]["digest"] == version.digest]
            if on and draw(st.booleans()):  # one of them another decision on the version
                at = draw(st.integers(0, len(cited)))
                cited[at : at + 1] = [draw(st.sampled_from(on))]
            if reviews and draw(st.integers(0, 9)) == 0:  # any reviews
                cited = draw(st.lists(st.sampled_from(reviews), max_size=3))
            event = {
                "event": "alias",
                "action": "promote",
                "alias": "production",
                "to": version.version,
                "to_digest": version.digest,
                "actor": "Ops <ops@example.com>",
                "approval_ids": [event_id(e) for e in cited],
                "approvals": [e["seq"] for e in cited],
            }
        event["seq"] = seq
        events.append(event)
    return events


def _first_counted(store: Store, version: Manifest, reviews: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The approvals a promotion now would cite: the first its policy asks for, counted."""
    policy = declared_policies(store, version)["production"]
    on = [e for e in reviews if e["new"]["digest"] == version.digest]
    counted = checks.check_policy(store, version, "production", policy, on).approvals
    return [d.event for d in counted[: policy.approvals]]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_re_check_finds_what_the_whole_count_finds(
    versions: tuple[Store, list[Manifest]], monkeypatch: pytest.MonkeyPatch, data: st.DataObject
) -> None:
    store, made = versions
    events = data.draw(logs(store, made))
    forget_parsed()
    running = checks._bad_moves(store, "bot", events, None, False)
    with monkeypatch.context() as patched:
        patched.setattr(checks, "_proven_citations", lambda *args: None)
        forget_parsed()
        whole = checks._bad_moves(store, "bot", events, None, False)
    assert running == whole


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_running_decisions_are_the_decisions_of_the_reviews_taken(data: st.DataObject) -> None:
    """While `simple`, each email's latest event in order, and the change requests among
    them, are what `decisions` finds of the same reviews, however they were taken in."""
    reviews: list[dict[str, Any]] = []
    running = RunningDecisions("sha256:a")
    for seq in range(1, data.draw(st.integers(1, 25)) + 1):
        reviews.append(
            {
                "event": data.draw(st.sampled_from(["review"] * 9 + ["alias"])),
                "decision": data.draw(st.sampled_from(["approved", "changes_requested"])),
                "actor": data.draw(st.sampled_from((*PEOPLE[2:7], "x@example.com", 7, "Bo"))),
                "time": f"2026-12-06T10:{data.draw(st.sampled_from([seq, seq, seq, 0])):02d}:00Z",
                "new": {
                    "version": "0.1.0",
                    "digest": data.draw(st.sampled_from(["sha256:a"] * 5 + ["sha256:b"])),
                },
                "seq": data.draw(st.sampled_from([seq] * 9 + [0])),
            }
        )
        if data.draw(st.booleans()):
            running.take(reviews)
    running.take(reviews)
    if not running.simple:
        return
    forget_parsed()
    counted = decisions(reviews, "sha256:a")
    assert [d.event for d in counted] == list(running.latest.values())
    assert {e["actor"].lower() for e in running.latest.values() if e["decision"] == "changes_requested"} >= {
        d.actor.lower() for d in counted if d.decision == "changes_requested"
    }
    assert len(running.rejecting) == sum(d.decision == "changes_requested" for d in counted)


def test_a_pass_over_many_promotions_counts_each_approval_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ten promotions of a version approved by 2,000 people: the whole count is never made
    (each promotion's cited approvals prove it), and the findings are none."""
    root = tmp_path / "proj"
    root.mkdir()
    store, _ = Store.init(root)
    scaffold(root / "bundles" / "bot", "bot")
    set_policy(root, "[aliases.production]\napprovals = 2\n")
    version = new_version(store, root)
    events: list[dict[str, Any]] = []
    for n in range(2000):
        events.append(
            {
                "event": "review",
                "decision": "approved",
                "actor": f"r{n}@example.com",
                "time": "2026-12-06T10:00:00Z",
                "new": {"version": version.version, "digest": version.digest},
            }
        )
        if n % 200 == 199:
            cited = [e for e in events if e["event"] == "review"][:2]
            events.append(_promotion(version, cited, 0))  # (placed below)
    for seq, event in enumerate(events, start=1):
        event["seq"] = seq
    monkeypatch.setattr(checks, "check_policy", lambda *a, **k: pytest.fail("counted everyone's decisions"))
    assert checks._bad_moves(store, "bot", events, None, False) == []
    shutil.rmtree(root, ignore_errors=True)


def test_a_cited_working_copy_approval_by_the_author_does_not_count(
    versions: tuple[Store, list[Manifest]],
) -> None:
    """Approving their own working copy (``new.version`` null) counts for no author, even
    where the policy lets authors approve their versions: a promotion citing it is named."""
    store, made = versions
    version = made[0]  # two approvals, authors allowed
    reviews = [
        {
            "event": "review",
            "decision": "approved",
            "actor": actor,
            "time": f"2026-12-06T10:0{seq}:00Z",
            "new": {"version": on, "digest": version.digest},
            "seq": seq,
        }
        for seq, (actor, on) in enumerate([(PEOPLE[3], version.version), (AUTHOR, None)], start=1)
    ]
    promotion = _promotion(version, reviews, 3)
    forget_parsed()
    (found,) = checks._bad_moves(store, "bot", [*reviews, promotion], None, False)
    assert (
        "has 1 (not counted: Ana Author <ana@example.com>, the author, approving their own working copy)"
        in found[2]
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_promotions_first_approvals_are_those_of_the_whole_count(
    versions: tuple[Store, list[Manifest]], data: st.DataObject
) -> None:
    """`promote` cites the approvals `first_approvals` finds, when it finds them: the same
    the whole count (`check_policy`) would cite, which then finds nothing missing in the
    approvals (no change request, enough of them, a policy that can be met)."""
    store, made = versions
    events = data.draw(logs(store, made))
    reviews = [e for e in events if e["event"] == "review"]
    for version in made:
        policy = declared_policies(store, version)["production"]
        forget_parsed()
        first = checks.first_approvals(version, policy, reviews)
        whole = checks.check_policy(store, version, "production", policy, reviews)
        if first is not None:
            assert [d.event for d in first] == [d.event for d in whole.approvals[: policy.approvals]]
            assert whole.ok


def _promotion(version: Manifest, cited: list[dict[str, Any]], seq: int) -> dict[str, Any]:
    """A promotion of ``version`` to production citing these reviews by id."""
    return {
        "event": "alias",
        "action": "promote",
        "alias": "production",
        "to": version.version,
        "to_digest": version.digest,
        "approval_ids": [event_id(e) for e in cited],
        "seq": seq,
    }


def _review(actor: str, minute: int, seq: int, version: Manifest) -> dict[str, Any]:
    return {
        "event": "review",
        "decision": "approved",
        "actor": actor,
        "time": f"2026-12-06T10:{minute:02d}:00Z",
        "new": {"version": version.version, "digest": version.digest},
        "seq": seq,
    }


@pytest.mark.parametrize(
    "people, first",
    [
        # a name alone, later, is everyone of that name: Bo's approval with an email is replaced
        ([("Bo <bo@example.com>", 1), ("Cy <cy@example.com>", 2), ("Bo", 3)], ["Cy <cy@example.com>", "Bo"]),
        # times decide the order before places: Dee's, written later, was made first
        ([("Eve <eve@example.com>", 5), ("Dee <dee@example.com>", 1), ("Cy <cy@example.com>", 6)], None),
    ],
)
def test_first_approvals_in_the_order_decisions_are_counted(
    versions: tuple[Store, list[Manifest]], people: list[tuple[str, int]], first: list[str] | None
) -> None:
    store, made = versions
    version = made[0]  # two approvals, authors allowed
    policy = declared_policies(store, version)["production"]
    reviews = [_review(actor, minute, seq, version) for seq, (actor, minute) in enumerate(people, start=1)]
    whole = checks.check_policy(store, version, "production", policy, reviews).approvals[:2]
    found = checks.first_approvals(version, policy, reviews)
    assert found is None if first is None else [d.actor for d in found] == first == [d.actor for d in whole]


def test_a_single_promotion_citing_what_does_not_count_is_named(
    versions: tuple[Store, list[Manifest]],
) -> None:
    """A warm re-check proves its one promotion by a scan only when the promotion cites
    what the scan finds: citing a decision that is no approval is named."""
    store, made = versions
    version = made[0]  # two approvals, authors allowed
    people = ("Cy <cy@example.com>", "Dee <dee@example.com>", "Eve <eve@example.com>")
    reviews = [_review(actor, seq, seq, version) for seq, actor in enumerate(people, start=1)]
    reviews[2]["decision"] = "meh"
    promotion = _promotion(version, [reviews[0], reviews[2]], 4)
    forget_parsed()
    (found,) = checks._bad_moves(store, "bot", [*reviews, promotion], None, False)
    assert "which no counted approval is" in found[2]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_decisions_after_a_re_check_are_those_counted_anew(
    versions: tuple[Store, list[Manifest]], data: st.DataObject
) -> None:
    """A re-check hands its running decisions over to `decisions` of the same events (a
    cold `show` re-checks, then lists them): what it gets is what a count anew finds."""
    store, made = versions
    events = data.draw(logs(store, made))
    if data.draw(st.booleans()):  # a review after the last promotion: taken in at the end
        events.append({**_review(PEOPLE[5], 59, len(events) + 1, made[0]), "decision": "changes_requested"})
    forget_parsed()
    checks._bad_moves(store, "bot", events, None, False)
    handed = [decisions(events, version.digest) for version in made]
    forget_parsed()
    anew = [decisions(events, version.digest) for version in made]
    assert handed == anew
    assert [[d.event for d in found] for found in handed] == [[d.event for d in found] for found in anew]


def _handed_over(events: list[dict[str, Any]], digest: str) -> list[Any]:
    """`decisions` of ``events`` right after `RunningDecisions.offer` of them, and whether
    the count was handed over (`approvals._decisions` not called)."""
    forget_parsed()
    RunningDecisions(digest).offer(events)
    counted: list[bool] = []
    whole = approvals._decisions

    def counting(*args: Any) -> Any:
        counted.append(True)
        return whole(*args)

    approvals._decisions = counting  # type: ignore[assignment]
    try:
        found = decisions(events, digest)
    finally:
        approvals._decisions = whole  # type: ignore[assignment]
    return [found, not counted]


def test_decisions_are_handed_over_only_for_the_very_events_offered(
    versions: tuple[Store, list[Manifest]],
) -> None:
    version = versions[1][0]
    reviews = [_review(f"r{n}@example.com", n, n, version) for n in range(1, 6)]
    found, handed = _handed_over(reviews, version.digest)
    assert handed and [d.event for d in found] == reviews
    for changed in (
        [*reviews[:2], {**reviews[2], "seq": "3"}, *reviews[3:]],  # a place by index, not seq
        [*reviews[:2], {**reviews[2], "actor": 3}, *reviews[3:]],  # not a decision: skipped
        [*reviews[:2], {**reviews[2], "new": {"digest": "sha256:other"}}, *reviews[3:]],  # another version
    ):
        found, handed = _handed_over(changed, version.digest)
        forget_parsed()
        assert not handed and found == decisions(changed, version.digest)
    forget_parsed()
    RunningDecisions(version.digest).offer(reviews)
    later = [*reviews, _review("r9@example.com", 9, 9, version)]  # the log grew since
    assert [d.event for d in decisions(later, version.digest)] == later
    forget_parsed()
    RunningDecisions(version.digest).offer(reviews)
    other = [*reviews[:4], _review("z@example.com", 5, 5, version)]  # as many, not the same
    assert [d.actor for d in decisions(other, version.digest)][-1] == "z@example.com"
