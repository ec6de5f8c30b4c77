"""The repository's .pre-commit-hooks.yaml, run by the real pre-commit tool, offline.

A hooks repository (a local git repository holding this project's hook file) and a
project using it are made in a temporary folder; pre-commit clones the hooks from the
local path (no network) and runs the promptver installed beside this Python.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytest.importorskip("pre_commit")
GIT = shutil.which("git")
pytestmark = pytest.mark.skipif(GIT is None, reason="needs git")
BIN = Path(sys.executable).parent


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def hooked(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-cache"),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "Tess",
        "GIT_AUTHOR_EMAIL": "tess@example.com",
        "GIT_COMMITTER_NAME": "Tess",
        "GIT_COMMITTER_EMAIL": "tess@example.com",
        "PROMPTVER_USER": "Tess Tester <tess@example.com>",
        "PROMPTVER_TOKENIZER_TIMEOUT": "0",
    }
    env.pop("PROMPTVER_HOME", None)
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    shutil.copy(ROOT / ".pre-commit-hooks.yaml", hooks / ".pre-commit-hooks.yaml")
    for args in (["git", "init", "-q"], ["git", "add", "."], ["git", "commit", "-q", "-m", "hooks"]):
        assert _run(args, hooks, env).returncode == 0
    rev = _run(["git", "rev-parse", "HEAD"], hooks, env).stdout.strip()

    project = tmp_path / "proj"
    project.mkdir()
    pv = str(BIN / "promptver")
    for args in (
        ["git", "init", "-q"],
        [pv, "init"],
        [pv, "new", "bot"],
        [pv, "bump", "minor", "bot", "--initial", "1.0.0", "-m", "first"],
        [pv, "pin", "bot@^1.0"],
        [pv, "lock"],
    ):
        result = _run(args, project, env)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    (project / ".pre-commit-config.yaml").write_text(
        "repos:\n"
        f"  - repo: {hooks}\n"
        f"    rev: {rev}\n"
        "    hooks:\n"
        "      - id: promptver-check\n"
        "      - id: promptver-lock-check\n"
        "      - id: promptver-verify\n"
    )
    assert _run(["git", "add", "-A"], project, env).returncode == 0
    return project, env


def _pre_commit(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    _run(["git", "add", "-A"], project, env)
    return _run([sys.executable, "-m", "pre_commit", "run", "--all-files", "--color", "never"], project, env)


def test_hooks_pass_on_a_healthy_project(hooked: tuple[Path, dict[str, str]]) -> None:
    project, env = hooked
    result = _pre_commit(project, env)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("promptver check (changed bundles)", "promptver lock --check", "promptver verify"):
        assert any(
            line.startswith(name) and line.endswith("Passed") for line in result.stdout.splitlines()
        ), result.stdout


def test_hooks_catch_a_broken_bundle_a_stale_lock_and_a_damaged_store(
    hooked: tuple[Path, dict[str, str]],
) -> None:
    project, env = hooked
    toml = project / "bundles" / "bot" / "bundle.toml"
    toml.write_text(toml.read_text().replace("[model]", "[model\n", 1))
    config = project / "promptver.toml"
    config.write_text(config.read_text().replace('"^1.0"', '"~1.0"'))  # a pin changed, not re-locked
    objects = sorted((project / ".promptver" / "objects").rglob("*"))
    victim = next(p for p in objects if p.is_file())
    victim.chmod(0o644)
    victim.write_bytes(victim.read_bytes() + b"tampered")
    result = _pre_commit(project, env)
    assert result.returncode == 1
    out = result.stdout
    assert "promptver check (changed bundles)" in out and "bundle.toml:" in out
    lines = {line.split(".")[0]: line for line in out.splitlines() if line.endswith(("Passed", "Failed"))}
    assert lines["promptver check (changed bundles)"].endswith("Failed")
    assert lines["promptver lock --check"].endswith("Failed")
    assert lines["promptver verify"].endswith("Failed")


def _ci_md_blocks(kind: str) -> list[str]:
    import re

    text = (ROOT / "docs" / "ci.md").read_text()
    section = text.split("## pre-commit", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{kind}\n(.*?)```", section, flags=re.S)


def _break(project: Path) -> None:
    toml = project / "bundles" / "bot" / "bundle.toml"
    toml.write_text(toml.read_text().replace("[model]", "[model\n", 1))
    config = project / "promptver.toml"
    config.write_text(config.read_text().replace('"^1.0"', '"~1.0"'))


def test_the_ci_md_snippet_works_verbatim(hooked: tuple[Path, dict[str, str]]) -> None:
    """The first configuration of docs/ci.md, copied as it is, on a fresh project."""
    project, env = hooked
    config = _ci_md_blocks("yaml")[0]
    assert "rev:" not in config
    (project / ".pre-commit-config.yaml").write_text(config)
    healthy = _pre_commit(project, env)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert healthy.stdout.count("Passed") == 3, healthy.stdout
    _break(project)
    broken = _pre_commit(project, env)
    assert broken.returncode == 1
    assert "bundle.toml:" in broken.stdout and broken.stdout.count("Failed") == 2, broken.stdout


def test_the_ci_md_hooks_repository_config_after_its_autoupdate(hooked: tuple[Path, dict[str, str]]) -> None:
    """The second configuration: the URL replaced by a local clone, `rev: main` frozen to
    a commit by the command the page gives (no tag needs to exist)."""
    project, env = hooked
    hooks = project.parent / "hooks"
    assert _run(["git", "branch", "-M", "main"], hooks, env).returncode == 0
    config = _ci_md_blocks("yaml")[1]
    url = "https://github.com/OWNER/promptver"
    assert url in config and "rev: main" in config
    (project / ".pre-commit-config.yaml").write_text(config.replace(url, str(hooks)))
    command = _ci_md_blocks("sh")[0].split("#", 1)[0].split()
    assert command[:2] == ["pre-commit", "autoupdate"]
    _run(["git", "add", "-A"], project, env)
    updated = _run([sys.executable, "-m", "pre_commit", *command[1:]], project, env)
    assert updated.returncode == 0, updated.stdout + updated.stderr
    commit = _run(["git", "rev-parse", "HEAD"], hooks, env).stdout.strip()
    assert f"rev: {commit}" in (project / ".pre-commit-config.yaml").read_text()
    result = _pre_commit(project, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("Passed") == 3, result.stdout
