"""The pin, unpin, lock, outdated, export, import and show commands, bad input included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import promptver
from promptver.cli.main import main
from tests.app_fixtures import Project, make_project, release

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv("PROMPTVER_USER", "tester")
    monkeypatch.delenv("PROMPTVER_HOME", raising=False)
    monkeypatch.setenv("CI", "1")
    promptver.clear_cache()
    project = make_project(tmp_path)
    monkeypatch.chdir(project.app_dir)
    return project


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        result = main(list(args))
        code = result if isinstance(result, int) else 0  # what the entry point exits with
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def test_pin_lock_load_cycle(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "pin", "support-bot@~1.1")
    assert code == 0
    assert "pinned support-bot '^1.1' -> '~1.1' in pyproject.toml" in out
    assert "resolves to 1.1.0 now" in out
    code, out, _ = run(capsys, "lock")
    assert code == 0 and "wrote promptver.lock (2 bundles)" in out
    assert "support-bot: added 1.1.0 (~1.1)" in out
    code, out, _ = run(capsys, "lock", "--check")
    assert code == 0 and "up to date" in out
    assert promptver.load("support-bot").version == "1.1.0"


def test_pin_without_spec_takes_the_newest_release(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "pin", "support-bot")
    assert code == 0 and "'^1.1' -> '^2.0.0'" in out


def test_pin_creates_promptver_toml(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    folder = project.root / "service"
    folder.mkdir()
    os.chdir(folder)
    code, out, _ = run(capsys, "--store", str(project.store.root), "pin", "ticket-triage@0.2.0")
    assert code == 0 and "(created)" in out
    assert (folder / "promptver.toml").read_text() == (
        'store = "../prompts/.promptver"\n\n[bundles]\nticket-triage = "0.2.0"\n'
    )


def test_pin_with_config_option(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    os.chdir(project.root)
    code, _, _ = run(capsys, "pin", "ticket-triage@0.x", "--config", str(project.app))
    assert code == 0
    assert 'ticket-triage = "0.x"' in project.app.read_text()
    code, _, _ = run(capsys, "lock", "--config", str(project.app_dir))
    assert code == 0 and (project.app_dir / "promptver.lock").exists()


def test_unpin(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "unpin", "ticket-triage")
    assert code == 0 and "unpinned ticket-triage (was '0.1.0')" in out
    assert "ticket-triage" not in project.app.read_text()
    assert "# the application" in project.app.read_text()


def test_lock_check_fails_when_stale(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "lock", "--check")
    assert code == 1 and "promptver.lock is missing" in err
    assert not (project.app_dir / "promptver.lock").exists()
    run(capsys, "lock")
    run(capsys, "pin", "support-bot@^2")
    code, _, err = run(capsys, "lock", "--check")
    assert code == 1
    assert "promptver.lock is stale" in err and "support-bot: 1.2.1 -> 2.0.0 (^2)" in err
    code, out, _ = run(capsys, "lock", "--check", "--json")
    assert code == 1
    data = json.loads(out)
    assert data["stale"] and not data["written"]
    assert data["changes"][0]["change"] == "upgraded"


def test_lock_upgrade(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "lock")
    release(project.store, "support-bot", "1.3.0")
    code, out, _ = run(capsys, "lock")
    assert code == 0 and "up to date" in out
    code, out, _ = run(capsys, "lock", "--upgrade", "support-bot")
    assert code == 0 and "support-bot: 1.2.1 -> 1.3.0 (^1.1)" in out
    code, _, err = run(capsys, "lock", "support-bot")
    assert code != 0 and "only used with --upgrade" in err


def test_outdated(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "lock")
    release(project.store, "support-bot", "1.3.0")
    code, out, _ = run(capsys, "outdated", "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["support-bot"] == {
        "name": "support-bot",
        "spec": "^1.1",
        "alias": None,
        "locked": "1.2.1",
        "wanted": "1.3.0",
        "latest": "2.0.0",
        "update_in_range": True,
        "update_outside_range": True,
        "alias_moved": False,
    }
    code, out, _ = run(capsys, "outdated")
    assert code == 0
    assert "promptver lock --upgrade support-bot" in out
    assert "promptver pin support-bot@^2.0.0" in out
    assert "promptver pin ticket-triage@^0.2.0" in out


def test_outdated_when_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PROMPTVER_USER", "tester")
    project = make_project(tmp_path, {"support-bot": "^2"})
    monkeypatch.chdir(project.app_dir)
    run(capsys, "lock")
    code, out, _ = run(capsys, "outdated")
    assert code == 0 and "on its newest version" in out
    code, out, _ = run(capsys, "outdated", "--json", "--all")
    assert [r["name"] for r in json.loads(out)] == ["support-bot"]


def test_export_show_import(project: Project, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    os.chdir(project.store.project_root)
    code, out, _ = run(capsys, "export", "support-bot@1.2.0", "-o", str(tmp_path / "dist"))
    assert code == 0 and "exported support-bot@1.2.0" in out
    archive = tmp_path / "dist"
    assert archive.is_file()  # -o names a file when it is not an existing folder
    code, out, _ = run(capsys, "export", "support-bot@1.2.0", "-o", f"{tmp_path}/new/")
    assert (tmp_path / "new" / "support-bot-1.2.0.pvb").read_bytes() == archive.read_bytes()
    code, out, _ = run(capsys, "export", "support-bot@1.2.0", "--json")
    data = json.loads(out)
    assert Path(data["path"]).name == "support-bot-1.2.0.pvb"
    assert Path(data["path"]).read_bytes() == archive.read_bytes()
    code, out, _ = run(capsys, "show", data["path"], "--json")
    assert code == 0 and json.loads(out)["version"] == "1.2.0"
    other = tmp_path / "other"
    other.mkdir()
    os.chdir(other)
    assert run(capsys, "init")[0] == 0
    code, out, _ = run(capsys, "import", data["path"])
    assert code == 0 and "imported support-bot@1.2.0" in out
    code, out, _ = run(capsys, "import", data["path"], "--json")
    assert code == 0 and json.loads(out)["created"] is False
    code, out, _ = run(capsys, "show", "support-bot@1.2.0", "--json")
    assert code == 0 and json.loads(out)["digest"] == data["digest"]


# ---- bad input: one clear line, exit 1 ----------------------------------------------------


def test_no_app_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for args in (["lock"], ["outdated"], ["unpin", "x"]):
        code, _, err = run(capsys, *args)
        assert code == 1
        assert f"Error: no promptver app config found in {tmp_path.resolve()}" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pin", "nope@^1"], "Error: unknown bundle 'nope'"),
        (["pin", "suport-bot@^1"], "did you mean 'support-bot'?"),
        (["pin", "support-bot@^1.x.2.3"], "is not a valid version range"),
        (["pin", "support-bot@latest"], "is not a valid version range"),
        (["pin", "support-bot@^7"], "1.0.0, 1.1.0, 1.2.0, 1.2.1, 2.0.0, 2.1.0-rc.1"),
        (["pin", "../x@1"], "is not a bundle name"),
        (["unpin", "nope"], "'nope' is not pinned"),
        (["lock", "--upgrade", "nope"], "'nope' is not pinned"),
        (["--store", "../prompts/.promptver", "export", "support-bot@7.0.0"], "has no version '7.0.0'"),
        (["--store", "../prompts/.promptver", "import", "missing.pvb"], "no such export file"),
    ],
)
def test_bad_input(
    project: Project, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    before = project.app.read_bytes()
    code, _, err = run(capsys, *args)
    assert code == 1
    assert message in err
    assert project.app.read_bytes() == before


def test_spec_that_matches_nothing_in_the_config(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    text = project.app.read_text().replace('support-bot = "^1.1"', 'support-bot = "^5"')
    project.app.write_text(text)
    code, _, err = run(capsys, "lock")
    assert code == 1
    assert "pyproject.toml:8:1: no version of support-bot matches '^5'" in err


def test_invalid_range_in_the_config(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    project.app.write_text(project.app.read_text().replace('"^1.1"', '"^^1"'))
    code, _, err = run(capsys, "lock")
    assert code == 1 and "pyproject.toml:8:1: '^^1' is not a valid version range" in err


def test_lock_digest_mismatch(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "lock")
    lock = project.app_dir / "promptver.lock"
    real = project.store.manifest("ticket-triage", "0.1.0").digest
    lock.write_text(lock.read_text().replace(real, "sha256:" + "1" * 64))
    code, _, err = run(capsys, "lock", "--check")
    assert code == 1 and "the lock records ticket-triage@0.1.0 as sha256:1111" in err


def test_corrupted_export(project: Project, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.pvb"
    os.chdir(project.store.project_root)
    run(capsys, "export", "support-bot@1.2.1", "-o", str(bad))
    bad.write_bytes(bad.read_bytes()[:300])
    for args in (["show", str(bad)], ["import", str(bad)]):
        code, _, err = run(capsys, *args)
        assert code == 1 and "is corrupted or truncated" in err


def test_errors_never_show_a_traceback(project: Project) -> None:
    """The installed entry point, end to end, in a real process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PROMPTVER_USER": "tester"}
    stale = subprocess.run(
        [sys.executable, "-m", "promptver", "lock", "--check"],
        cwd=project.app_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert stale.returncode == 1 and "promptver.lock is missing" in stale.stderr
    result = subprocess.run(
        [sys.executable, "-m", "promptver", "pin", "support-bot@>=1.2.3.4"],
        cwd=project.app_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("Error: '>=1.2.3.4' is not a valid version range")
    assert "Traceback" not in result.stderr


def test_pin_with_store_option_records_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An app repository beside the prompts repository: `--store` on pin is recorded in
    the config (relative to it), so a plain `lock` and `load` find the store afterwards."""
    monkeypatch.setenv("PROMPTVER_USER", "tester")
    monkeypatch.delenv("PROMPTVER_HOME", raising=False)
    promptver.clear_cache()
    project = make_project(tmp_path)
    app = tmp_path / "service"
    app.mkdir()
    (app / "pyproject.toml").write_text('[project]\nname = "service"\n', encoding="utf-8")
    monkeypatch.chdir(app)
    code, _, err = run(capsys, "lock")
    assert code == 1 and "no promptver app config" in err
    code, _, err = run(capsys, "--store", str(project.store.root), "pin", "support-bot@^1.1")
    assert code == 0, err
    text = (app / "pyproject.toml").read_text(encoding="utf-8")
    assert '[tool.promptver]\nstore = "../prompts/.promptver"\n' in text
    assert '[tool.promptver.bundles]\nsupport-bot = "^1.1"\n' in text
    code, _, err = run(capsys, "lock")
    assert code == 0, err
    assert promptver.load("support-bot").version == "1.2.1"
    # a second pin with another --store does not overwrite the recorded one
    code, _, err = run(capsys, "--store", str(project.store.root), "pin", "ticket-triage@0.1.0")
    assert code == 0, err
    assert (app / "pyproject.toml").read_text(encoding="utf-8").count("store =") == 1


def test_config_without_a_store_gets_the_right_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = tmp_path / "service"
    app.mkdir()
    (app / "pyproject.toml").write_text('[tool.promptver.bundles]\nbot = "^1"\n', encoding="utf-8")
    monkeypatch.chdir(app)
    monkeypatch.delenv("PROMPTVER_HOME", raising=False)
    code, _, err = run(capsys, "lock")
    assert code == 1
    assert "pyproject.toml names no store and there is no .promptver/ above" in err
    assert 'store = "../prompts/.promptver"` under [tool.promptver]' in err
    assert "promptver init" not in err
