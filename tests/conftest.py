"""Shared fixtures: a project with a store, and the CLI run in-process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from promptver.bundle.scaffold import scaffold
from promptver.cli.main import main
from promptver.store.store import Store

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    code: int
    out: str
    err: str


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C tests need SIGINT handled. A shell without job control starts background
    jobs (``pytest &``) with SIGINT ignored, and children inherit that: Python would
    then never raise KeyboardInterrupt, in this process or in a promptver it spawns."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.delenv("PROMPTVER_HOME", raising=False)
    monkeypatch.setenv("PROMPTVER_USER", "Tess Tester <tess@example.com>")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "160")
    # The fake model server (tests/fakeserver.py) listens on 127.0.0.1: allowed the way a
    # CI runner allows its own hosts; the user's own configuration is not read.
    monkeypatch.setenv("PROMPTVER_ALLOWED_HOSTS", "127.0.0.1")
    monkeypatch.setenv("XDG_CONFIG_HOME", os.devnull)
    # the key of the checkpoints of move re-checks (governance/checkpoint.py), not the user's
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with an initialised store and one scaffolded bundle ``bot``."""
    root = tmp_path / "proj"
    root.mkdir()
    Store.init(root)
    scaffold(root / "bundles" / "bot", "bot")
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def store(project: Path) -> Store:
    return Store.find(project)


@pytest.fixture
def pv(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run the CLI in-process: ``pv("bump", "minor", "bot")`` -> Result(code, out, err)."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def run_process(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The real ``promptver`` command in a subprocess (for concurrency and signals)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "promptver", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def kill_after(delay: float, *args: str, cwd: Path) -> None:
    """Start the real ``promptver ARGS`` and SIGKILL it after ``delay`` seconds (it may be
    done by then): an interruption at that moment of its work."""
    import signal
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "promptver", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait()


def tree_state(folder: Path) -> dict[str, bytes]:
    """Every file under a folder with its bytes, to prove a command changed nothing."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
        and "cache" not in p.relative_to(folder).parts
        and "locks" not in p.relative_to(folder).parts
    }
