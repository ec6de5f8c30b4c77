"""README's "A typical day" runs as written, line by line, in a new project.

Each line of its two shell blocks runs in bash in a fresh folder, with `promptver` on the
PATH, `$EDITOR` a script that edits the file it is given, the model's API pointed at the
local fake server (OPENAI_BASE_URL, a test key), and `promptver review` in a real
pseudo-terminal where `q` quits. Every line must exit 0.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.fakeserver import FakeLLMServer

AUTHOR = "Ana Ruiz <ana@example.com>"


def day_lines() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## A typical day", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.+?)\n```", section, flags=re.S)
    assert len(blocks) == 2, "the typical day and the application's block"
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def in_terminal(command: str, cwd: Path, env: dict[str, str], timeout: float = 60) -> int:
    """Run ``command`` in a pseudo-terminal; press q once its screen shows, return its exit code."""
    leader, follower = pty.openpty()
    os.set_blocking(leader, False)
    proc = subprocess.Popen(
        ["bash", "-c", command],
        cwd=cwd,
        env={**env, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"},
        stdin=follower,
        stdout=follower,
        stderr=follower,
        close_fds=True,
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + timeout
    pressed = False
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(leader, 65536)
                except OSError:
                    break
            if not pressed and b"quit" in seen:
                time.sleep(1.0)  # let the first frame settle, then quit
                os.write(leader, b"q")
                pressed = True
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    assert pressed, seen.decode(errors="replace")[-2000:]
    return int(proc.returncode)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_the_typical_day_runs_as_written(tmp_path: Path) -> None:
    project = tmp_path / "my-ai"
    project.mkdir()
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "Answer in one sentence.\\n" >> "$1"\n')
    editor.chmod(0o755)
    with FakeLLMServer() as server:
        server.add(match="Say hello", reply="hello there")
        server.add(match="capital of France", reply="Paris")
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "EDITOR": str(editor),
            "PROMPTVER_USER": AUTHOR,
            "OPENAI_API_KEY": "sk-readme-test",
            "OPENAI_BASE_URL": server.openai_base,
            "GIT_CONFIG_GLOBAL": str(tmp_path / "gitconfig"),
            "NO_COLOR": "1",
        }
        env.pop("PROMPTVER_HOME", None)
        for line in day_lines():
            command = line.split("  #", 1)[0].strip()
            if command.startswith("promptver review"):
                code = in_terminal(command, project, env)
                output = ""
            else:
                proc = subprocess.run(
                    ["bash", "-c", command], cwd=project, env=env, capture_output=True, text=True, timeout=120
                )
                code, output = proc.returncode, proc.stdout + proc.stderr
            assert code == 0, f"README line failed: {line}\n{output}"
            assert "Traceback" not in output, output
    # what the day did, as the comments say
    log = subprocess.run(
        ["promptver", "log", "support-bot"], cwd=project, env=env, capture_output=True, text=True
    )
    assert "0.2.0" in log.stdout and "0.1.0" in log.stdout
    assert (project / "promptver.lock").exists() and (project / "evals.xml").exists()
