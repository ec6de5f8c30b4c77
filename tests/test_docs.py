"""Docs that cannot rot: every CLI command is documented, README commands are real."""

from __future__ import annotations

import re

from promptver.cli.main import COMMANDS
from tests.conftest import ROOT


def test_every_command_is_in_the_cli_reference() -> None:
    text = (ROOT / "docs/cli.md").read_text()
    missing = [name for name in COMMANDS if not re.search(rf"`promptver {re.escape(name)}\b", text)]
    assert not missing, f"document these in docs/cli.md: {missing}"


def test_readme_quickstart_has_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.+?)\n```", quickstart, flags=re.S)
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    assert commands[1] in (ROOT / ".ci/run").read_text()


def test_readme_commands_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    used = set(re.findall(r"(?:^|/|&& )promptver ([a-z]+)", readme, flags=re.M))
    assert {"init", "bump", "log"} <= used
    assert used <= set(COMMANDS), used - set(COMMANDS)
