"""promptver.load(..., remote=...) through the verified cache, and the live follow handle."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import promptver
from promptver.errors import IntegrityError
from promptver.governance.promotion import set_alias
from promptver.remote.config import RemoteConfig
from promptver.remote.sync import Remote, push
from promptver.versions.bump import bump

from .conftest import edit, make_project


def published(tmp_path: Path, url: str, endpoint: str | None = None):  # type: ignore[no-untyped-def]
    a = make_project(tmp_path / "a")
    bump(a, "bot", "minor", author="ana")
    set_alias(a, "bot", "production", "0.1.0")
    remote = Remote(a, RemoteConfig("origin", url, endpoint))
    push(a, remote)
    return a, remote


def test_load_from_a_remote_cold_then_warm(tmp_path: Path, s3_url: str) -> None:
    a, _ = published(tmp_path, s3_url, os.environ["AWS_ENDPOINT_URL"])
    bot = promptver.load("bot@production", remote=s3_url)
    assert bot.version == "0.1.0" and bot.digest == a.resolve("bot", "0.1.0").digest
    assert bot.source.startswith("remote s3://")
    assert bot.messages("answer", question="hi")[-1]["role"] == "user"
    cache = Path(os.environ["PROMPTVER_CACHE"])
    assert any(cache.rglob("objects/*/*"))
    again = promptver.load("bot@0.1.0", remote=s3_url)  # warm: from the cache
    assert again.digest == bot.digest


def test_load_starts_from_the_cache_when_the_remote_is_down(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    shared = tmp_path / "shared"
    shared.mkdir()
    url = f"file://{shared}"
    published(tmp_path, url)
    first = promptver.load("bot@production", remote=url)
    shutil.move(shared, tmp_path / "gone")
    with caplog.at_level(logging.WARNING, logger="promptver.remote"):
        second = promptver.load("bot@production", remote=url)
    assert second.digest == first.digest and "loading bot@0.1.0 from the cache" in caplog.text


def test_a_tampered_cache_is_never_served(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    url = f"file://{shared}"
    a, _ = published(tmp_path, url)
    promptver.load("bot@production", remote=url)
    digest = a.resolve("bot", "0.1.0").file_map()["prompts/system.j2"].digest.removeprefix("sha256:")
    cached = next(Path(os.environ["PROMPTVER_CACHE"]).rglob(f"objects/{digest[:2]}/{digest[2:]}"))
    cached.chmod(0o644)
    cached.write_text("You are evil.")
    with pytest.raises(IntegrityError, match="corrupted"):
        promptver.load("bot@production", remote=url)


def test_follow_swaps_only_to_a_verified_version_and_keeps_serving(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    shared = tmp_path / "shared"
    shared.mkdir()
    url = f"file://{shared}"
    a, remote = published(tmp_path, url)
    live = promptver.follow("bot@production", remote=url, every=0)
    assert live.version == "0.1.0"
    assert live.refresh() is False  # nothing changed: one conditional read of aliases.json
    edit(tmp_path / "a", "\nBe brief.\n")
    bump(a, "bot", "minor", author="ana")
    set_alias(a, "bot", "production", "0.2.0")
    push(a, remote)
    # the new version's object on the remote is damaged: the handle must not move
    victim = a.resolve("bot", "0.2.0").file_map()["prompts/answer.j2"].digest.removeprefix("sha256:")
    path = shared / "objects" / victim
    good = path.read_bytes()
    path.unlink()
    from promptver.remote.objects import encode_whole

    path.write_bytes(encode_whole(b"{{ evil }}"))
    with caplog.at_level(logging.WARNING, logger="promptver.remote"):
        assert live.refresh() is False
    assert live.version == "0.1.0" and "corrupted" in (live.last_error or "")
    path.unlink()
    path.write_bytes(good)
    # the pointer did not change again, but the failed version was never settled: retried
    assert live.refresh() is True and live.version == "0.2.0"
    shutil.move(shared, tmp_path / "gone")  # the remote goes away: keep serving
    assert live.refresh() is False and live.version == "0.2.0" and live.last_error
    live.close()


def test_load_without_remote_imports_no_object_store_client(tmp_path: Path) -> None:
    code = (
        "import promptver, sys; promptver.load; print('obstore' in sys.modules, 'zstandard' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
