"""Issue 21: the remote is an untrusted mirror. Each attack of the issue, by a bucket writer
without a signing key, on a file:// remote and on SeaweedFS."""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import pytest

import promptver
from promptver.errors import IntegrityError, NotFoundError
from promptver.remote.objects import CHUNKED, WHOLE, object_key
from promptver.remote.sync import verify_remote

from .trust_support import Scene, scene

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH's ssh-keygen")


@pytest.fixture(params=["file", "s3"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "file":
        (tmp_path / "shared").mkdir()
        return f"file://{tmp_path}/shared"
    return str(request.getfixturevalue("s3_url"))


@pytest.fixture
def s(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> Scene:
    made = scene(tmp_path, url)
    # production servers check signed decisions against the team's file (never the bucket's)
    monkeypatch.setenv("PROMPTVER_ALLOWED_SIGNERS", str(made.store.root / "allowed_signers"))
    return made


def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, label: str) -> None:
    """Another machine: an empty runtime cache."""
    monkeypatch.setenv("PROMPTVER_CACHE", str(tmp_path / f"cache-{label}"))


def load(s: Scene, ref: str) -> promptver.Bundle:
    from .trust_support import endpoint

    return promptver.load(ref, remote=s.url, endpoint=endpoint(s.url))


def follow(s: Scene, ref: str, every: float = 0) -> promptver.Follow:
    from .trust_support import endpoint

    return promptver.follow(ref, remote=s.url, every=every, endpoint=endpoint(s.url))


def pointer_to(s: Scene, version: str) -> bytes:
    manifest = s.store.manifest("bot", version) if version != "6.6.6" else forged_manifest(s, "6.6.6")
    return (
        f'{{"production": {{"version": "{version}", "digest": "{manifest.digest}", "seq": 99}}}}\n'.encode()
    )


def forged_manifest(s: Scene, version: str, content: str = "0.2.0"):  # type: ignore[no-untyped-def]
    """A self-consistent manifest of another version's content (default: the unapproved
    one) under ``version``."""
    return dataclasses.replace(s.store.manifest("bot", content), version=version)


def problems(s: Scene) -> str:
    report = verify_remote(s.store, s.remote)
    assert not report["ok"]
    return "\n".join(report["problems"])


# ---- attack 1: the pointer rewritten -----------------------------------------------------


def test_a_rewritten_pointer_is_not_followed(
    s: Scene, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = follow(s, "bot@production")
    assert live.version == "0.1.0"
    s.put("bundles/bot/aliases.json", pointer_to(s, "0.2.0"))
    assert live.refresh() is False and live.version == "0.1.0"
    fresh_cache(tmp_path, monkeypatch, "b")
    assert load(s, "bot@production").version == "0.1.0"
    assert "production points at 0.2.0, but the log's last move of production (event 3) set it to 0.1.0" in (
        problems(s)
    )
    live.close()


# ---- attack 2: injected and swapped versions ---------------------------------------------


def test_an_injected_version_is_never_served(
    s: Scene, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s.put("bundles/bot/versions/6.6.6.json", forged_manifest(s, "6.6.6").dumps())
    s.put("bundles/bot/aliases.json", pointer_to(s, "6.6.6"))
    assert load(s, "bot@production").version == "0.1.0"
    with pytest.raises(NotFoundError, match="no version bot@6.6.6"):
        load(s, "bot@6.6.6")
    assert load(s, "bot@latest").version == "0.2.0"  # the log's highest, not the listing's
    assert "bot@6.6.6: manifest on the remote" in problems(s)


def test_a_swapped_manifest_is_refused_and_a_forged_cache_is_not_served(
    s: Scene, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = s.get("bundles/bot/versions/0.1.0.json")
    genuine = s.store.manifest("bot", "0.1.0").digest
    s.put("bundles/bot/versions/0.1.0.json", forged_manifest(s, "0.1.0").dumps())
    with pytest.raises(IntegrityError, match="not the one its bump event .* recorded: it was replaced"):
        load(s, "bot@0.1.0")
    with pytest.raises(IntegrityError, match="replaced"):
        load(s, "bot@production")
    assert "bot@0.1.0: manifest on the remote" in problems(s)
    # the bucket is repaired; a cache that holds the forged manifest (as an older release
    # kept it) must not serve it: cached manifests are checked against the verified log
    s.put("bundles/bot/versions/0.1.0.json", good)
    assert load(s, "bot@0.1.0").digest == genuine
    cached = next(Path(str(tmp_path / "runtime-cache")).rglob("versions/0.1.0.json"))
    cached.chmod(0o644)
    cached.write_bytes(forged_manifest(s, "0.1.0").dumps())
    assert load(s, "bot@0.1.0").digest == genuine


def test_follow_keeps_the_verified_version_when_a_new_manifest_was_swapped(s: Scene) -> None:
    from promptver.governance.approvals import decide
    from promptver.governance.promotion import promote
    from promptver.remote.sync import push

    from .trust_support import REVIEWER

    live = follow(s, "bot@production")
    decide(s.store, "bot", "0.2.0", "approved", actor=REVIEWER, key=s.key)
    promote(s.store, "bot", "0.2.0", "production", key=s.key)
    push(s.store, s.remote)
    good = s.get("bundles/bot/versions/0.2.0.json")
    s.put("bundles/bot/versions/0.2.0.json", forged_manifest(s, "0.2.0", "0.1.0").dumps())
    assert live.refresh() is False and live.version == "0.1.0"
    assert "0.2.0" in (live.last_error or "")
    s.put("bundles/bot/versions/0.2.0.json", good)
    assert live.refresh() is True and live.version == "0.2.0" and live.last_error is None
    live.close()


# ---- attack 3: decompression bombs --------------------------------------------------------


def _victim(s: Scene) -> str:
    entry = s.store.manifest("bot", "0.1.0").file_map()["prompts/system.j2"]
    return entry.digest.removeprefix("sha256:")


@pytest.mark.parametrize("kind", ["header", "no-header", "recipe"])
def test_a_decompression_bomb_is_refused_before_it_is_allocated(s: Scene, kind: str) -> None:
    import json

    import zstandard

    if kind == "header":  # a small object whose frame says 256 MB
        blob = WHOLE + zstandard.ZstdCompressor(level=1).compress(b"\0" * (256 << 20))
    elif kind == "no-header":  # no size in the header: it must stop at the manifest's size
        blob = WHOLE + zstandard.ZstdCompressor(level=1, write_content_size=False).compress(
            b"\0" * (64 << 20)
        )
    else:  # a recipe repeating one 1 MiB frame 100,000 times
        span = ["0" * 64, 0, 1000, 0, 1 << 20]
        recipe = json.dumps({"size": 100_000 << 20, "spans": [span] * 100_000}).encode()
        blob = CHUNKED + zstandard.ZstdCompressor(level=3).compress(recipe)
    assert len(blob) < 256 << 10
    s.put(object_key(_victim(s)), blob)
    with pytest.raises(IntegrityError, match="refused|recipe rebuilds"):
        load(s, "bot@production")
    assert "object " in problems(s)


def test_follow_survives_any_failure_in_its_thread(s: Scene) -> None:
    live = follow(s, "bot@production", every=0.05)
    real = live.cache.changed

    def broken(*args: object) -> object:
        raise MemoryError("out of memory")

    live.cache.changed = broken  # type: ignore[method-assign]
    deadline = time.monotonic() + 10
    while live.last_error is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert live.last_error == "MemoryError: out of memory"
    assert live._thread is not None and live._thread.is_alive() and live.version == "0.1.0"
    live.cache.changed = real  # type: ignore[method-assign]
    while live.last_error is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert live.last_error is None and live._thread.is_alive()
    live.close()


# ---- attack 4: a forged promotion through pull -------------------------------------------


def forged_promotion(s: Scene) -> None:
    old, new = s.store.manifest("bot", "0.1.0"), s.store.manifest("bot", "0.2.0")
    s.append_forged(
        {
            "event": "alias",
            "action": "promote",
            "bundle": "bot",
            "alias": "production",
            "from": "0.1.0",
            "from_digest": old.digest,
            "to": "0.2.0",
            "to_digest": new.digest,
            "actor": "Mallory <m@example.com>",
            "time": "2026-12-01T00:00:00Z",
            "reason": None,
            "policy": None,
            "approvals": [2],
            "eval_runs": [],
        }
    )


def test_a_forged_promotion_is_refused_by_pull_and_named_by_verify(s: Scene, tmp_path: Path, pv) -> None:  # type: ignore[no-untyped-def]
    from promptver.errors import PolicyError
    from promptver.governance.promotion import promote
    from promptver.governance.verify import verify_store
    from promptver.remote.sync import pull

    forged_promotion(s)
    log = s.store.log_path("bot").read_bytes()
    with pytest.raises(PolicyError, match=r"audit event 5 \(promote of production to 0.2.0, by Mallory"):
        pull(s.store, s.remote)
    assert s.store.log_path("bot").read_bytes() == log  # nothing was changed
    assert s.store.resolve("bot", "production").version == "0.1.0"
    assert "audit event 5 (promote of production to 0.2.0" in problems(s)
    # the same move in a local log (pulled by an older release): verify names it, and no
    # promotion builds on a trail that holds it
    s.store.append_event("bot", {k: v for k, v in s.log()[-1].items() if k not in ("seq", "prev")})
    report = verify_store(s.store, anchored=False)
    assert any("event 5 (promote of production to 0.2.0" in p and "has 0" in p for p in report.problems)
    with pytest.raises(IntegrityError, match="does not verify"):
        promote(s.store, "bot", "0.1.0", "production")
    # no command resolves the alias through it
    shown = pv("--store", str(s.store.root), "show", "bot@production")
    assert shown.code == 1 and "bot@production is not followed: bot: audit event 5" in shown.err
    assert pv("--store", str(s.store.root), "show", "bot@0.1.0").code == 0


# ---- attack 6: the whole remote rolled back or rewritten ----------------------------------


def test_a_rolled_back_remote_is_refused_by_load_follow_and_pull(s: Scene, tmp_path: Path) -> None:
    from promptver.governance.approvals import decide
    from promptver.governance.promotion import promote
    from promptver.remote.sync import pull, push

    from .trust_support import REVIEWER

    old_log = s.get("bundles/bot/log.jsonl")  # 4 events: 0.1.0 in production
    decide(s.store, "bot", "0.2.0", "approved", actor=REVIEWER, key=s.key)
    promote(s.store, "bot", "0.2.0", "production", key=s.key)
    push(s.store, s.remote)
    assert load(s, "bot@production").version == "0.2.0"
    live = follow(s, "bot@production")
    s.put("bundles/bot/log.jsonl", old_log)  # a genuine, older snapshot
    older = "the remote's history for bot is older than what this machine has seen: 4 events, seen 6"
    with pytest.raises(IntegrityError, match=older):
        load(s, "bot@production")
    assert live.refresh() is False and live.version == "0.2.0" and older in (live.last_error or "")
    with pytest.raises(IntegrityError, match=older):
        pull(s.store, s.remote)
    assert older in problems(s)
    # the remote lost its newest events: a push from a clone that has them repairs it
    lines = old_log.splitlines()
    s.put("bundles/bot/log.jsonl", b"\n".join(lines[:3]) + b"\n")
    push(s.store, s.remote)  # a clone with the history repairs it
    assert load(s, "bot@production").version == "0.2.0"
    live.close()


def test_load_and_follow_do_not_follow_a_forged_promotion(
    s: Scene, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from promptver.errors import PolicyError

    live = follow(s, "bot@production")
    assert live.version == "0.1.0"  # the genuine, signed promotion is followed
    forged_promotion(s)
    assert live.refresh() is False and live.version == "0.1.0"
    assert "breaks the policy in force at that point" in (live.last_error or "")
    fresh_cache(tmp_path, monkeypatch, "b")
    with pytest.raises(PolicyError, match=r"bot@production on .* is not followed: .*audit event 5"):
        load(s, "bot@production")
    # without the team's allowed-signers file, signed decisions cannot be checked: refused
    monkeypatch.delenv("PROMPTVER_ALLOWED_SIGNERS")
    fresh_cache(tmp_path, monkeypatch, "c")
    s.put(
        "bundles/bot/log.jsonl",
        b"".join(line + b"\n" for line in s.get("bundles/bot/log.jsonl").splitlines()[:4]),
    )
    with pytest.raises(PolicyError, match="PROMPTVER_ALLOWED_SIGNERS"):
        load(s, "bot@production")
    live.close()


# ---- attack 5: a pull must not rewrite committed history ------------------------------------


def _git(folder: Path, *args: str) -> None:
    import subprocess

    subprocess.run(
        ["git", "-c", "user.name=Bea", "-c", "user.email=bea@example.com", *args],
        cwd=folder,
        check=True,
        capture_output=True,
    )


def _bea(s: Scene, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Bea's clone of the project, committed to git."""
    from promptver.remote.config import RemoteConfig
    from promptver.remote.sync import Remote
    from promptver.store.store import Store

    from .conftest import clone
    from .trust_support import endpoint

    clone(tmp_path / "a", tmp_path / "bea")
    _git(tmp_path / "bea", "init", "-q")
    _git(tmp_path / "bea", "add", "-A")
    _git(tmp_path / "bea", "commit", "-qm", "clone")
    bea = Store.find(override=tmp_path / "bea" / ".promptver")
    return bea, Remote(bea, RemoteConfig("origin", s.url, endpoint(s.url)))


def test_a_pull_keeps_committed_events_verifiable_and_citations_right(s: Scene, tmp_path: Path) -> None:
    from promptver.governance.approvals import decide
    from promptver.governance.promotion import promote, set_alias
    from promptver.governance.verify import verify_store
    from promptver.remote.sync import pull, push

    from .trust_support import REVIEWER

    bea, bea_remote = _bea(s, tmp_path)
    decide(bea, "bot", "0.2.0", "approved", actor=REVIEWER, key=s.key)
    promote(bea, "bot", "0.2.0", "production", key=s.key)
    _git(tmp_path / "bea", "add", "-A")
    _git(tmp_path / "bea", "commit", "-qm", "approve and promote 0.2.0")  # as the docs advise
    set_alias(s.store, "bot", "staging", "0.2.0")  # Carl pushes first
    push(s.store, s.remote)
    pull(bea, bea_remote)
    report = verify_store(bea, anchored=True)
    assert report.anchored == "HEAD" and report.ok, report.problems
    events = bea.events("bot")
    approval = next(e for e in events if e.get("event") == "review" and e["new"]["version"] == "0.2.0")
    promotion = events[-1]
    # the signed promotion is unchanged (its signature still holds) and cites the approval
    # by identity: the audit trail names the event it meant, now at 6
    from promptver.governance.audit import audit, summary
    from promptver.store.events import event_id

    assert promotion["action"] == "promote" and promotion["approval_ids"] == [event_id(approval)]
    assert approval["seq"] == 6 and "(approved in event 6)" in summary(audit(bea, "bot").events[-1])
    assert bea.resolve("bot", "production").version == "0.2.0"
    push(bea, bea_remote)
    assert load(s, "bot@production").version == "0.2.0"


def test_an_offline_promotion_is_re_checked_after_the_pull(s: Scene, tmp_path: Path) -> None:
    from promptver.errors import PolicyError
    from promptver.governance.approvals import decide
    from promptver.governance.promotion import promote
    from promptver.remote.sync import pull, push

    from .trust_support import OTHER, REVIEWER

    bea, bea_remote = _bea(s, tmp_path)
    decide(bea, "bot", "0.2.0", "approved", actor=REVIEWER, key=s.key)
    promote(bea, "bot", "0.2.0", "production", key=s.key)  # offline
    decide(s.store, "bot", "0.2.0", "changes_requested", actor=OTHER, note="leaks card numbers", key=s.olga)
    push(s.store, s.remote)  # Olga's rejection lands first
    log = bea.log_path("bot").read_bytes()
    with pytest.raises(PolicyError, match=r"audit event 7 \(promote of production to 0.2.0.*Olga Other"):
        pull(bea, bea_remote)
    assert bea.log_path("bot").read_bytes() == log  # refused, nothing changed: her move is named


def test_a_copied_signed_decision_is_refused(s: Scene) -> None:
    from promptver.governance.approvals import decide
    from promptver.governance.promotion import promote
    from promptver.governance.verify import verify_store

    from .trust_support import REVIEWER

    approval = decide(s.store, "bot", "0.2.0", "approved", actor=REVIEWER, key=s.key)
    decide(s.store, "bot", "0.2.0", "changes_requested", actor=REVIEWER, note="do NOT ship", key=s.key)
    s.store.append_event("bot", {k: v for k, v in approval.items() if k not in ("seq", "prev")})  # replayed
    report = verify_store(s.store, anchored=False)
    assert any("audit event 7 repeats signed event 5" in p for p in report.problems)
    with pytest.raises(IntegrityError, match="repeats signed event 5"):
        promote(s.store, "bot", "0.2.0", "production", key=s.key)


def test_follow_reports_a_remote_whose_signed_timestamp_expired(
    s: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    from promptver.remote.sync import push

    from .trust_support import REVIEWER

    config = s.store.root / "config.toml"
    config.write_text(config.read_text() + '\n[remote]\nmax_age = "3s"\n')
    monkeypatch.setenv("PROMPTVER_SIGNING_KEY", str(s.key))
    monkeypatch.setenv("PROMPTVER_USER", REVIEWER)
    from promptver.remote.sync import Remote
    from promptver.store.store import Store

    store = Store.find(override=s.store.root)  # config.toml read again
    s = dataclasses.replace(s, store=store, remote=Remote(store, s.remote.config))
    push(s.store, s.remote)  # nothing new: only the signed timestamp
    live = follow(s, "bot@production")
    assert live.refresh() is False and not live.stale
    time.sleep(4)  # nobody pushes: the remote is frozen
    assert live.refresh() is False and live.stale and live.version == "0.1.0"
    assert "signed timestamp for bot" in (live.last_error or "") and "expired" in (live.last_error or "")
    push(s.store, s.remote)  # a key holder refreshes it
    assert live.refresh() is False and not live.stale
    # a bucket writer cannot extend it without a key
    data = s.get("bundles/bot/timestamp.json").replace(b'"expires": "20', b'"expires": "21')
    s.put("bundles/bot/timestamp.json", data)
    time.sleep(4)
    live.refresh()
    assert "not signed by an allowed signer" in (live.last_error or "")
    # nor hide a freeze by deleting it: the last verified expiry still holds
    push(s.store, s.remote)
    assert live.refresh() is False and not live.stale
    s.delete("bundles/bot/timestamp.json")
    time.sleep(4)
    assert live.refresh() is False and live.stale and "expired" in (live.last_error or "")
    live.close()
