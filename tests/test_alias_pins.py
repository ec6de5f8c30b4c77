"""Pins to an alias (``support-bot = "production"``): parsing, lock, lock --check,
outdated and load, through the library and the CLI, on a real store and real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import promptver
from promptver.app.lockfile import app_store, read_lock
from promptver.app.pins import load_config, parse_spec, set_pin
from promptver.app.resolve import apply_plan, outdated, pin_bundle, plan_lock
from promptver.cli.main import main
from promptver.errors import ConfigError, IntegrityError, NotFoundError, VersionSyntaxError
from promptver.governance.aliases import aliases_path, rollback
from promptver.governance.promotion import remove_alias, set_alias
from tests.app_fixtures import Project, make_project, release

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("textual", "click", "rich", "deepdiff", "tiktoken", "httpx", "aiohttp", "tomlkit")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """support-bot 1.0.0..2.1.0-rc.1 with production -> 1.1.0 and staging -> 1.2.1;
    the app pins support-bot to production and ticket-triage to 0.1.0."""
    monkeypatch.setenv("PROMPTVER_USER", "tester")
    monkeypatch.delenv("PROMPTVER_HOME", raising=False)
    monkeypatch.setenv("CI", "1")
    promptver.clear_cache()
    project = make_project(tmp_path, {"support-bot": "production", "ticket-triage": "0.1.0"})
    set_alias(project.store, "support-bot", "production", "1.1.0")
    set_alias(project.store, "support-bot", "staging", "1.2.1")
    monkeypatch.chdir(project.app_dir)
    return project


def lock_now(project: Project) -> list[str]:
    config = load_config(project.app)
    plan = plan_lock(config, app_store(config))
    apply_plan(plan)
    return [str(change) for change in plan.changes]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        result = main(list(args))
        code = result if isinstance(result, int) else 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


# ---- what a pin value is ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "is_alias"),
    [
        ("production", True),
        ("canary-eu_2", True),
        ("^1.2", False),
        ("1.x", False),
        ("x", False),  # an x-range, never an alias
        ("X", False),
        ("*", False),
        ("v1", False),  # a partial version
        ("", False),  # npm: the empty range is "*"
    ],
)
def test_a_range_first_then_an_alias(spec: str, is_alias: bool) -> None:
    range, alias = parse_spec(spec)
    assert (alias == spec) is is_alias
    assert (range is None) is is_alias


@pytest.mark.parametrize(
    ("spec", "hint"),
    [
        ("Production", "or an alias name such as production"),
        ("prod!", "or an alias name such as production"),
        ("^^1", "or an alias name such as production"),
        ("latest", "'latest' is not a pin: use '*'"),
    ],
)
def test_neither_range_nor_alias(spec: str, hint: str) -> None:
    with pytest.raises(VersionSyntaxError) as caught:
        parse_spec(spec, "pyproject.toml:8:1")
    assert f"{spec!r} is not a valid version range" in caught.value.message
    assert caught.value.location == "pyproject.toml:8:1"
    assert caught.value.hint is not None and hint in caught.value.hint


def test_config_pins_an_alias(project: Project) -> None:
    config = load_config(project.app)
    bot = config.pins["support-bot"]
    assert (bot.spec, bot.alias, bot.range) == ("production", "production", None)
    triage = config.pins["ticket-triage"]
    assert triage.alias is None and triage.range is not None


def test_config_with_a_bad_pin_names_its_line(project: Project) -> None:
    project.app.write_text(project.app.read_text().replace('"production"', '"Prod"'))
    with pytest.raises(VersionSyntaxError) as caught:
        load_config(project.app)
    assert caught.value.location == f"{project.app}:8:1"
    assert "alias" in (caught.value.hint or "")


def test_an_alias_named_x_cannot_be_pinned(project: Project) -> None:
    """``x`` is an x-range: the pin takes the highest release, not the alias ``x``."""
    set_alias(project.store, "support-bot", "x", "1.0.0")
    set_pin(project.app, "support-bot", "x")
    assert lock_now(project) == ["support-bot: added 2.0.0 (x)", "ticket-triage: added 0.1.0 (0.1.0)"]
    assert read_lock(project.app_dir / "promptver.lock").entries["support-bot"].alias is None


# ---- lock --------------------------------------------------------------------------------------


def test_lock_records_the_alias(project: Project) -> None:
    assert lock_now(project)[0] == "support-bot: added 1.1.0 (from alias production)"
    data = tomllib.loads((project.app_dir / "promptver.lock").read_text())
    assert data["bundles"]["support-bot"] == {
        "spec": "production",
        "alias": "production",
        "version": "1.1.0",
        "digest": project.store.manifest("support-bot", "1.1.0").digest,
    }
    assert "alias" not in data["bundles"]["ticket-triage"]
    entry = read_lock(project.app_dir / "promptver.lock").entries["support-bot"]
    assert entry.alias == "production"
    assert entry.to_json()["alias"] == "production"


def test_lock_follows_the_alias_every_time(project: Project) -> None:
    lock_now(project)
    first = (project.app_dir / "promptver.lock").read_bytes()
    assert lock_now(project) == []  # the alias did not move: nothing changes
    assert (project.app_dir / "promptver.lock").read_bytes() == first

    set_alias(project.store, "support-bot", "production", "1.2.1")
    config = load_config(project.app)
    plan = plan_lock(config, app_store(config))
    assert plan.stale
    assert [(c.kind, str(c)) for c in plan.changes] == [
        ("upgraded", "support-bot: 1.1.0 -> 1.2.1 (from alias production)")
    ]
    apply_plan(plan)
    assert read_lock(config.lock_path).entries["support-bot"].version == "1.2.1"

    rollback(project.store, "support-bot", "production")
    plan = plan_lock(config, app_store(config))
    assert [(c.kind, str(c)) for c in plan.changes] == [
        ("downgraded", "support-bot: 1.2.1 -> 1.1.0 (from alias production)")
    ]
    apply_plan(plan)
    assert (project.app_dir / "promptver.lock").read_bytes() == first


def test_a_new_release_does_not_move_an_alias_pin(project: Project) -> None:
    lock_now(project)
    release(project.store, "support-bot", "2.2.0")
    assert lock_now(project) == []
    config = load_config(project.app)
    assert plan_lock(config, app_store(config), upgrade=True).changes == []


def test_range_to_alias_and_back(project: Project) -> None:
    set_pin(project.app, "support-bot", "^1.1")
    lock_now(project)
    set_alias(project.store, "support-bot", "production", "1.2.1")
    set_pin(project.app, "support-bot", "production")
    assert lock_now(project) == ["support-bot: spec '^1.1' -> 'production' (stays 1.2.1)"]
    assert read_lock(project.app_dir / "promptver.lock").entries["support-bot"].alias == "production"
    set_pin(project.app, "support-bot", "^1.1")
    assert lock_now(project) == ["support-bot: spec 'production' -> '^1.1' (stays 1.2.1)"]
    assert read_lock(project.app_dir / "promptver.lock").entries["support-bot"].alias is None


def test_unknown_alias_names_the_known_ones(project: Project) -> None:
    set_pin(project.app, "support-bot", "canary")
    config = load_config(project.app)
    with pytest.raises(NotFoundError) as caught:
        plan_lock(config, app_store(config))
    error = caught.value
    assert error.message == "support-bot has no alias 'canary' (its aliases are production, staging)"
    assert error.location == f"{project.app}:8:1"
    assert "promptver alias set support-bot canary VERSION" in (error.hint or "")

    set_pin(project.app, "support-bot", "prodution")
    with pytest.raises(NotFoundError) as caught:
        plan_lock(load_config(project.app), app_store(config))
    assert "did you mean 'production'" in (caught.value.hint or "")


def test_alias_on_a_bundle_without_aliases(project: Project) -> None:
    set_pin(project.app, "ticket-triage", "production")
    config = load_config(project.app)
    with pytest.raises(NotFoundError, match=r"ticket-triage has no alias 'production' \(it has no aliases\)"):
        plan_lock(config, app_store(config))
    assert not config.lock_path.exists()


def test_removed_alias_fails_the_lock_and_keeps_the_file(project: Project) -> None:
    lock_now(project)
    before = (project.app_dir / "promptver.lock").read_bytes()
    remove_alias(project.store, "support-bot", "production")
    config = load_config(project.app)
    with pytest.raises(
        NotFoundError, match="support-bot has no alias 'production' \\(its aliases are staging\\)"
    ):
        plan_lock(config, app_store(config))
    assert (project.app_dir / "promptver.lock").read_bytes() == before


def test_locked_digest_of_an_alias_pin_is_checked(project: Project) -> None:
    lock_now(project)
    path = project.app_dir / "promptver.lock"
    real = project.store.manifest("support-bot", "1.1.0").digest
    path.write_text(path.read_text().replace(real, "sha256:" + "2" * 64))
    config = load_config(project.app)
    with pytest.raises(IntegrityError, match="the lock records support-bot@1.1.0 as sha256:2222"):
        plan_lock(config, app_store(config))


def test_malformed_alias_in_the_lock(project: Project) -> None:
    lock_now(project)
    path = project.app_dir / "promptver.lock"
    path.write_text(path.read_text().replace('alias = "production"', "alias = 3"))
    with pytest.raises(ConfigError, match="bundles.support-bot.alias is not a string"):
        read_lock(path)


def test_pin_bundle_to_an_alias(project: Project) -> None:
    change, entry = pin_bundle(project.app, "support-bot", "staging")
    assert (change.old, change.new) == ("production", "staging")
    assert (entry.version, entry.alias) == ("1.2.1", "staging")
    before = project.app.read_bytes()
    with pytest.raises(NotFoundError, match="has no alias 'canary'"):
        pin_bundle(project.app, "support-bot", "canary")
    with pytest.raises(VersionSyntaxError):
        pin_bundle(project.app, "support-bot", "Canary")
    assert project.app.read_bytes() == before


# ---- outdated ----------------------------------------------------------------------------------


def test_outdated_compares_the_lock_with_the_alias(project: Project) -> None:
    lock_now(project)
    config = load_config(project.app)
    row = {r.name: r for r in outdated(config, app_store(config))}["support-bot"]
    assert (row.alias, row.locked, row.wanted, row.latest) == ("production", "1.1.0", "1.1.0", "2.0.0")
    assert not row.is_outdated  # a newer release is not an update for a pin that follows an alias
    set_alias(project.store, "support-bot", "production", "1.2.1")
    row = {r.name: r for r in outdated(config, app_store(config))}["support-bot"]
    assert row.to_json() == {
        "name": "support-bot",
        "spec": "production",
        "alias": "production",
        "locked": "1.1.0",
        "wanted": "1.2.1",
        "latest": "2.0.0",
        "update_in_range": True,
        "update_outside_range": False,
        "alias_moved": True,
    }
    remove_alias(project.store, "support-bot", "production")
    row = {r.name: r for r in outdated(config, app_store(config))}["support-bot"]
    assert row.wanted is None and row.alias_moved and row.is_outdated


# ---- load --------------------------------------------------------------------------------------


def test_load_reads_the_lock_not_the_alias(project: Project) -> None:
    lock_now(project)
    set_alias(project.store, "support-bot", "production", "1.2.1")
    assert promptver.load("support-bot").version == "1.1.0"  # what the lock says
    assert promptver.load("support-bot@production").version == "1.2.1"  # live, by request
    promptver.clear_cache()
    # no alias lookup at all by name: a broken aliases.json does not matter
    aliases_path(project.store, "support-bot").write_text("{not json")
    assert promptver.load("support-bot").version == "1.1.0"


def test_load_refuses_a_lock_made_for_another_pin(project: Project) -> None:
    lock_now(project)
    set_pin(project.app, "support-bot", "staging")
    with pytest.raises(ConfigError, match="now pins 'staging': the lock is stale"):
        promptver.load("support-bot")


def test_load_by_name_stays_light(project: Project) -> None:
    lock_now(project)
    code = (
        "import sys, promptver\n"
        "bot = promptver.load('support-bot')\n"
        "bot.messages('answer', question='q', context=[])\n"
        "print(bot.version)\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=project.app_dir, env=env, capture_output=True, text=True, check=True
    ).stdout
    version, modules = out.splitlines()
    loaded = set(modules.split())
    assert version == "1.1.0"
    assert not {m.split(".")[0] for m in loaded} & set(HEAVY)
    assert "promptver.app.resolve" not in loaded and "promptver.governance.promotion" not in loaded


# ---- the CLI -----------------------------------------------------------------------------------


def test_cli_pin_lock_check_cycle(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "pin", "support-bot@staging")
    assert code == 0
    assert "pinned support-bot 'production' -> 'staging' in pyproject.toml" in out
    assert "resolves to 1.2.1 (alias staging) now" in out
    code, out, _ = run(capsys, "lock")
    assert code == 0 and "support-bot: added 1.2.1 (from alias staging)" in out
    code, out, _ = run(capsys, "lock", "--check")
    assert code == 0 and "up to date" in out

    set_alias(project.store, "support-bot", "staging", "2.0.0")
    before = (project.app_dir / "promptver.lock").read_bytes()
    code, _, err = run(capsys, "lock", "--check")
    assert code == 1
    assert "promptver.lock is stale:" in err
    assert "support-bot: 1.2.1 -> 2.0.0 (from alias staging)" in err
    assert (project.app_dir / "promptver.lock").read_bytes() == before
    code, out, _ = run(capsys, "lock", "--check", "--json")
    assert code == 1
    data = json.loads(out)
    assert data["stale"] and not data["written"]
    assert data["changes"][0]["change"] == "upgraded"
    assert data["changes"][0]["new"]["alias"] == "staging"

    code, out, _ = run(capsys, "lock")
    assert code == 0 and "support-bot: 1.2.1 -> 2.0.0 (from alias staging)" in out
    assert run(capsys, "lock", "--check")[0] == 0


def test_cli_bad_alias_pins(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    before = project.app.read_bytes()
    code, _, err = run(capsys, "pin", "support-bot@canary")
    assert code == 1
    assert "support-bot has no alias 'canary' (its aliases are production, staging)" in err
    code, _, err = run(capsys, "pin", "support-bot@Prod")
    assert code == 1 and "'Prod' is not a valid version range" in err and "alias name" in err
    assert project.app.read_bytes() == before

    project.app.write_text(before.decode().replace('"production"', '"canary"'))
    for args in (["lock"], ["lock", "--check"]):
        code, _, err = run(capsys, *args)
        assert code == 1
        assert (
            "pyproject.toml:8:1: support-bot has no alias 'canary' (its aliases are production, staging)"
            in err
        )
    assert not (project.app_dir / "promptver.lock").exists()


def test_cli_outdated(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "lock")
    code, out, _ = run(capsys, "outdated")
    assert code == 0 and "ticket-triage" in out and "support-bot" not in out  # 2.0.0 is no update
    code, out, _ = run(capsys, "outdated", "--all")
    assert code == 0 and "production (alias)" in out and "promptver pin support-bot" not in out
    set_alias(project.store, "support-bot", "production", "1.2.1")
    code, out, _ = run(capsys, "outdated")
    assert code == 0
    assert "production (alias)" in out
    assert "promptver lock   # production now points at 1.2.1" in out
    rows = json.loads(run(capsys, "outdated", "--json")[1])
    assert [(r["name"], r["locked"], r["wanted"], r["alias_moved"]) for r in rows] == [
        ("support-bot", "1.1.0", "1.2.1", True),
        ("ticket-triage", "0.1.0", "0.1.0", False),
    ]
    remove_alias(project.store, "support-bot", "production")
    code, out, _ = run(capsys, "outdated")
    assert code == 0 and "support-bot has no alias 'production' now" in out


def test_lock_and_pin_refuse_a_hand_edited_pointer(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 11 (9): lock and pin followed an aliases.json edited by hand."""
    path = aliases_path(project.store, "support-bot")
    data = json.loads(path.read_text())
    data["production"]["version"] = "2.0.0"
    path.write_text(json.dumps(data))
    with pytest.raises(IntegrityError, match="says production is 2.0.0, but the audit log's last move"):
        lock_now(project)
    assert not (project.app_dir / "promptver.lock").exists()
    code, _, err = run(capsys, "lock")
    assert code == 1 and "says production is 2.0.0" in err
    code, _, err = run(capsys, "pin", "support-bot@production")
    assert code == 1 and "says production is 2.0.0" in err
