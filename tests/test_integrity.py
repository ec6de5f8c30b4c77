"""Immutable objects and manifests, verify, concurrency and killed writers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from promptver.errors import IntegrityError, StoreFormatError
from promptver.store.store import Store
from tests.conftest import ROOT, kill_after, run_process


def _bump(pv, project: Path, n: int) -> None:
    for i in range(n):
        with open(project / "bundles/bot/prompts/system.j2", "a") as f:
            f.write(f"line {i}\n")
        assert pv("bump", "patch", "bot", "--force").code == 0  # text change: minor, forced


def _writable(path: Path) -> None:
    os.chmod(path, 0o644)


def test_objects_are_read_only_and_verified_on_read(project: Path, store: Store, pv) -> None:
    _bump(pv, project, 1)
    manifest = store.resolve("bot", "latest")
    entry = manifest.file_map()["prompts/system.j2"]
    path = store.object_path(entry.digest)
    assert not os.access(path, os.W_OK) or os.geteuid() == 0
    assert (path.stat().st_mode & 0o222) == 0
    _writable(path)
    path.write_bytes(b"tampered")
    with pytest.raises(IntegrityError, match="is corrupted"):
        store.tree(manifest).read_bytes("prompts/system.j2")
    with pytest.raises(IntegrityError, match="is corrupted"):
        with store.tree(manifest).open("prompts/system.j2") as handle:
            handle.read()
    result = pv("verify")
    assert result.code == 1 and f"object {entry.digest[:12]} is corrupted" in result.out
    result = pv("checkout", "bot@latest", "--to", "out")
    assert result.code == 1 and "is corrupted" in result.err


def test_manifest_edited_by_hand_is_caught(project: Path, store: Store, pv) -> None:
    _bump(pv, project, 1)
    path = store.manifest_path("bot", "0.1.0")
    _writable(path)
    data = json.loads(path.read_text())
    data["files"][0]["size"] = 1
    data["files"][1]["digest"] = "sha256:" + "0" * 64
    path.write_text(json.dumps(data))
    result = pv("show", "bot@0.1.0")
    assert result.code == 1 and "does not match its files" in result.err
    assert pv("verify").code == 1


def test_manifest_message_edit_is_caught_by_the_audit_log(project: Path, store: Store, pv) -> None:
    _bump(pv, project, 1)
    path = store.manifest_path("bot", "0.1.0")
    _writable(path)
    path.write_text(path.read_text().replace('"author": "Tess', '"author": "Mallory'))
    result = pv("verify")
    assert result.code == 1 and "bot@0.1.0: manifest differs from the one recorded" in result.out


def test_audit_log_edit_removal_reorder_detected(project: Path, store: Store, pv) -> None:
    _bump(pv, project, 3)
    log = store.log_path("bot")
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(lines[0] + lines[2])
    out = pv("verify").out
    assert "audit chain broken at event 2" in out
    log.write_bytes(lines[1] + lines[0] + lines[2])
    assert "audit chain broken at event 1" in pv("verify").out
    log.write_bytes(b"".join(lines).replace(b"Tess", b"Mall", 1))
    assert "audit chain broken at event 2" in pv("verify").out
    log.write_bytes(b"".join(lines))
    assert pv("verify").code == 0


def test_store_from_a_newer_format(project: Path, pv) -> None:
    config = project / ".promptver/config.toml"
    config.write_text(config.read_text().replace("format = 1", "format = 99"))
    result = pv("log", "bot")
    assert result.code == 1 and "store format 99 is newer" in result.err and "upgrade" in result.err
    with pytest.raises(StoreFormatError):
        Store.find(project)


def test_manifest_from_a_newer_format(project: Path, store: Store, pv) -> None:
    _bump(pv, project, 1)
    path = store.manifest_path("bot", "0.1.0")
    _writable(path)
    path.write_text(path.read_text().replace('"format": 1', '"format": 7'))
    result = pv("show", "bot@0.1.0")
    assert result.code == 1 and "manifest format 7 is newer" in result.err


def test_no_store_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pv) -> None:
    monkeypatch.chdir(tmp_path)
    result = pv("log", "bot")
    assert result.code == 1 and "no .promptver/ store" in result.err and "promptver init" in result.err


def test_store_override_by_env_and_option(project: Path, tmp_path: Path, monkeypatch, pv) -> None:
    _bump(pv, project, 1)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTVER_HOME", str(project / ".promptver"))
    assert "0.1.0" in pv("log", "bot").out
    monkeypatch.delenv("PROMPTVER_HOME")
    assert "0.1.0" in pv("--store", str(project / ".promptver"), "log", "bot").out


def test_concurrent_bumps_get_distinct_versions(project: Path) -> None:
    """Several processes bump at once: each version is taken once, nothing half-written."""
    script = (
        "import sys, pathlib\n"
        "from promptver.store.store import Store\n"
        "from promptver.versions.bump import bump\n"
        "from promptver.errors import PromptverError\n"
        "store = Store.find()\n"
        "n = sys.argv[1]\n"
        "p = pathlib.Path('bundles/bot/prompts/system.j2')\n"
        "with store.lock('bot'):\n"
        "    p.write_text(p.read_text() + 'writer ' + n + '\\n')\n"
        "    print(bump(store, 'bot', 'patch').manifest.version)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(i)],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(6)
    ]
    versions = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert sorted(versions) == ["0.1.0"] + [f"0.1.{i}" for i in range(1, 6)], versions
    assert run_process("verify", cwd=project).returncode == 0


def test_racing_bumps_without_coordination(project: Path) -> None:
    """Unsynchronised bumps of the same content: one wins, the others fail cleanly."""
    with open(project / "bundles/bot/prompts/system.j2", "a") as f:
        f.write("change\n")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "promptver", "bump", "minor", "bot"],
            cwd=project,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [(p.wait(timeout=60), p.communicate()[1]) for p in procs]
    assert sorted(code for code, _ in results) == [0, 1, 1, 1]
    for code, err in results:
        if code:
            assert "nothing changed since 0.1.0" in err and "Traceback" not in err
    assert run_process("verify", cwd=project).returncode == 0


def test_killed_bump_leaves_no_partial_version(project: Path) -> None:
    """SIGKILL a bump at many points while it writes a large file: never a partial version."""
    big = project / "bundles/bot/evals/golden.jsonl"
    rows = [json.dumps({"id": f"c{i}", "vars": {"question": "q" * 200}}) for i in range(40_000)]
    for attempt, delay in enumerate((0.05, 0.15, 0.3, 0.45, 0.6)):
        big.write_text("\n".join(rows[attempt:]) + "\n")
        kill_after(delay, "bump", "minor", "bot", cwd=project)
        store = Store.find(project)
        for version in store.version_names("bot"):
            store.manifest("bot", str(version))  # every visible version is whole
        verify = run_process("verify", cwd=project)
        assert verify.returncode == 0, verify.stdout + verify.stderr
    final = run_process("bump", "minor", "bot", cwd=project)
    assert final.returncode == 0 or "nothing changed" in final.stderr
