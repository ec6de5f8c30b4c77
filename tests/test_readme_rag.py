"""README's "Retrieval, evaluated with the prompts" block runs as written.

Its commands run in bash in a copy of the repository's example project (bundles/ and
.promptver/), with `promptver` and `python` on the PATH. The test server line starts the
server as written (without the `&`, so the test can stop it) on a free port instead of
8765; the following lines get the same port. Every command must exit 0, and the outputs
must show what the README's comments promise.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

AUTHOR = "Ana Ruiz <ana@example.com>"
README_PORT = "8765"


def rag_commands() -> list[tuple[str, str]]:
    """(command, its comment) for each command of the block (continuation lines joined)."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Retrieval, evaluated with the prompts", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.+?)\n```", section, flags=re.S)
    assert len(blocks) == 1
    joined = blocks[0].replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        command, _, comment = line.partition("  #")
        if command.strip():
            out.append((command.strip(), comment.strip()))
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_readme_rag_block_runs(tmp_path: Path) -> None:
    project = tmp_path / "repo"
    shutil.copytree(ROOT / "bundles", project / "bundles")
    shutil.copytree(ROOT / ".promptver", project / ".promptver")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROMPTVER_", "OPENAI_"))}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = str(ROOT)
    env["PROMPTVER_USER"] = AUTHOR
    port = str(free_port())
    lines = rag_commands()
    commands = [command.replace(README_PORT, port) for command, _ in lines]
    assert len(commands) == 3, commands
    server = None
    outputs = []
    try:
        for command in commands:
            if command.endswith("&"):
                server = subprocess.Popen(
                    ["bash", "-c", f"exec {command[:-1].strip()}"],
                    cwd=project,
                    env=env,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                assert server.stdout is not None
                assert server.stdout.readline().strip() == f"http://127.0.0.1:{port}"
                continue
            done = subprocess.run(
                ["bash", "-c", command], cwd=project, env=env, capture_output=True, text=True, timeout=120
            )
            assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
            outputs.append(done.stdout)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
            assert server.stdout is not None
            server.stdout.close()
    offline, rag = outputs
    assert "retrieval:bm25:top6" in offline
    assert lines[0][1].startswith("hit@6") and lines[0][1] in offline  # the figures the README shows
    assert "rag:hybrid+rerank:top6:model:openai:gpt-4o-mini" in rag
    assert "retrieval (31 cases with expected sources)" in rag and "errors 0" in rag
