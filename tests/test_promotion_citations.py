"""A promotion cites the approvals it relies on, as many as its policy asks for (issue 24,
item 4: citing all 50,000 of a much-approved version made every promotion a 4 MB line).
`verify` accepts promotions made before, which cited every counted approval, and names one
that cites fewer than its policy asks for."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from promptver.governance import promotion
from promptver.governance.approvals import decide
from promptver.store.events import event_id, forget_parsed
from promptver.store.store import Store
from tests.alias_support import new_version, set_policy

APPROVERS = 5


@pytest.fixture
def approved(project: Path, store: Store) -> Store:
    """bot@0.1.0 approved by five people; production asks for two approvals."""
    set_policy(project, "[aliases.production]\napprovals = 2\n")
    new_version(store, project)
    for n in range(APPROVERS):
        decide(store, "bot", "0.1.0", "approved", f"R{n} <r{n}@example.com>")
    return store


def _promotion(store: Store) -> dict[str, Any]:
    return [e for e in store.events("bot") if e.get("action") == "promote"][-1]


def _verified_cold(store: Store, pv) -> Any:  # type: ignore[no-untyped-def]
    """`promptver verify` as a fresh clone runs it: no checkpoint, nothing parsed kept."""
    shutil.rmtree(store.root / "cache" / "checkpoints", ignore_errors=True)
    forget_parsed()
    return pv("verify")


def test_a_promotion_cites_the_first_approvals_its_policy_asks_for(approved: Store, pv) -> None:  # type: ignore[no-untyped-def]
    assert pv("promote", "bot@0.1.0", "--to", "production").code == 0
    reviews = [e for e in approved.events("bot") if e.get("event") == "review"]
    event = _promotion(approved)
    assert event["approval_ids"] == [event_id(e) for e in reviews[:2]]
    assert event["approvals"] == [e["seq"] for e in reviews[:2]]
    assert _verified_cold(approved, pv).code == 0


def test_a_promotion_to_an_unprotected_alias_cites_none(approved: Store, pv) -> None:  # type: ignore[no-untyped-def]
    assert pv("promote", "bot@0.1.0", "--to", "staging", "--create").code == 0
    assert _promotion(approved)["approval_ids"] == []
    assert _verified_cold(approved, pv).code == 0


def test_a_promotion_made_before_citing_every_approval_still_verifies(
    approved: Store, pv, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(promotion, "first_approvals", lambda *args: None)  # every approval counted
    monkeypatch.setattr(promotion, "cited_approvals", lambda result, policy: result.approvals)
    assert pv("promote", "bot@0.1.0", "--to", "production").code == 0
    assert len(_promotion(approved)["approval_ids"]) == APPROVERS
    assert _verified_cold(approved, pv).code == 0


def test_a_promotion_citing_fewer_than_its_policy_asks_is_named(
    approved: Store, pv, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(promotion, "cited_approvals", lambda result, policy: result.approvals[:1])
    assert pv("promote", "bot@0.1.0", "--to", "production").code == 0
    result = _verified_cold(approved, pv)
    assert result.code != 0
    assert "it cites 1 approval of 0.1.0; the policy asks for 2" in result.out + result.err


def test_a_seq_only_citation_of_too_few_is_named(approved: Store, pv) -> None:  # type: ignore[no-untyped-def]
    """The oldest promotions cite by ``seq`` alone: the same rule holds, duplicates counted once."""
    path = approved.log_path("bot")
    lines = path.read_bytes().splitlines()
    review = next(json.loads(line) for line in lines if b'"review"' in line)
    manifest = approved.manifest("bot", "0.1.0")
    event = {
        "event": "alias",
        "action": "promote",
        "bundle": "bot",
        "alias": "production",
        "from": None,
        "from_digest": None,
        "to": "0.1.0",
        "to_digest": manifest.digest,
        "actor": "x",
        "time": "2026-12-06T10:00:00Z",
        "approvals": [review["seq"], review["seq"]],
        "seq": len(lines) + 1,
        "prev": hashlib.sha256(lines[-1]).hexdigest(),
    }
    with open(path, "ab") as out:
        out.write(json.dumps(event, sort_keys=True).encode() + b"\n")
    result = _verified_cold(approved, pv)
    assert "it cites 1 approval of 0.1.0; the policy asks for 2" in result.out + result.err
