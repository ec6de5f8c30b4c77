"""Issue 23, item 2: no self-approval under `require_signed`. A bump can be signed with the
same keys as decisions; with `require_signed` a version's author must be a signed identity,
and an approval signed with the key (or principal) that signed the bump is the author's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from promptver.store.store import Store
from tests.alias_support import AUTHOR, REVIEWER, set_policy
from tests.signing_support import make_key

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH's ssh-keygen")

POLICY = "\n[aliases.production]\napprovals = 1\nrequire_signed = true\n"
INTERN = "Intern <intern@example.com>"


@pytest.fixture
def keys(tmp_path: Path, store: Store) -> dict[str, Path]:
    """Rui's key is listed under two principals (his own and the intern's); Ana has her own."""
    folder = tmp_path / "keys"
    rui, rui_pub = make_key(folder, "rui")
    ana, ana_pub = make_key(folder, "ana")
    (store.root / "allowed_signers").write_text(
        f"rui@example.com,intern@example.com {rui_pub}\nana@example.com {ana_pub}\n"
    )
    return {"rui": rui, "ana": ana}


def _edit(project: Path, text: str) -> None:
    with open(project / "bundles/bot/prompts/system.j2", "a") as handle:
        handle.write(text)


def test_rui_cannot_approve_his_own_bump_made_as_someone_else(
    project: Path,
    store: Store,
    pv,
    keys: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    """Attack (issue 23, 2): bump as "Intern", approve with your own signed key, promote; on
    old main the policy read "met"."""
    set_policy(project, POLICY)
    # unsigned bump: the author is declared, not authenticated
    monkeypatch.setenv("PROMPTVER_USER", INTERN)
    _edit(project, "one\n")
    assert pv("bump", "minor", "bot").code == 0
    monkeypatch.setenv("PROMPTVER_USER", REVIEWER)
    assert pv("approve", "bot@0.1.0", "--key", str(keys["rui"])).code == 0
    result = pv("promote", "bot@0.1.0", "--to", "production")
    assert result.code == 1
    assert (
        "a signed author: bot@0.1.0 was bumped by Intern <intern@example.com>, not a signed identity"
        in result.err
    )
    assert "(its bump is unsigned)" in result.err and "`promptver bump --key`" in result.err
    # signed as the intern with Rui's key (listed for both): the approval is the author's
    monkeypatch.setenv("PROMPTVER_USER", INTERN)
    _edit(project, "two\n")
    assert pv("bump", "minor", "bot", "--key", str(keys["rui"])).code == 0
    monkeypatch.setenv("PROMPTVER_USER", REVIEWER)
    assert pv("approve", "bot@0.2.0", "--key", str(keys["rui"])).code == 0
    result = pv("promote", "bot@0.2.0", "--to", "production")
    assert result.code == 1
    assert (
        "Rui Reviewer <rui@example.com>, signed with the key that signed the bump (intern@example.com):"
        " the author" in result.err
    )
    # signed bump whose key is not the named author's: not a signed identity
    monkeypatch.setenv("PROMPTVER_USER", "Olga <olga@example.com>")
    _edit(project, "three\n")
    assert pv("bump", "minor", "bot", "--key", str(keys["rui"])).code == 0
    monkeypatch.setenv("PROMPTVER_USER", AUTHOR)
    assert pv("approve", "bot@0.3.0", "--key", str(keys["ana"])).code == 0
    result = pv("promote", "bot@0.3.0", "--to", "production")
    assert result.code == 1
    assert "not a signed identity (signed by rui@example.com, but the event names Olga" in result.err


def test_a_signed_author_and_another_signer_meet_the_policy(
    project: Path,
    store: Store,
    pv,
    keys: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    set_policy(project, POLICY)
    monkeypatch.setenv("PROMPTVER_USER", AUTHOR)
    monkeypatch.setenv("PROMPTVER_SIGNING_KEY", str(keys["ana"]))  # the config that signs decisions
    _edit(project, "one\n")
    assert pv("bump", "minor", "bot").code == 0
    monkeypatch.delenv("PROMPTVER_SIGNING_KEY")
    monkeypatch.setenv("PROMPTVER_USER", REVIEWER)
    assert pv("approve", "bot@0.1.0", "--key", str(keys["rui"])).code == 0
    result = pv("promote", "bot@0.1.0", "--to", "production", "--dry-run", "--json")
    assert result.code == 0, result.err
    assert pv("promote", "bot@0.1.0", "--to", "production").code == 0
    show = pv("show", "bot@0.1.0")
    assert "Ana Author <ana@example.com> (bump signed by ana@example.com)" in show.out
    show = pv("show", "bot@production")
    assert "bump signed by ana@example.com" in show.out and "signed by rui@example.com" in show.out
    assert json.loads(pv("show", "bot@0.1.0", "--json").out)["author_signed_by"] == "ana@example.com"
    audit = json.loads(pv("audit", "bot", "--json").out)["events"]
    assert [(e["event"], e.get("signed_by")) for e in audit] == [
        ("bump", "ana@example.com"),
        ("review", "rui@example.com"),
        ("alias", None),
    ]
    text = pv("audit", "bot").out
    assert "[signed by ana@example.com]" in text
    assert pv("verify").code == 0
