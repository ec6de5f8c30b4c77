"""The run-time path stays light: importing promptver pulls in no heavy library."""

import subprocess
import sys

from tests.conftest import ROOT

HEAVY = (
    "textual",
    "click",
    "typer",
    "rich",
    "deepdiff",
    "tiktoken",
    "httpx",
    "aiohttp",
    "pydantic",
    "numpy",
    "bm25s",
    "plotext",
    "opentelemetry",  # imported at the first render only (promptver/app/telemetry.py)
)


def _loaded_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return {name.split(".")[0] for name in out.split()}


def test_import_promptver_is_light() -> None:
    loaded = _loaded_after("import promptver")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_core_modules_are_light() -> None:
    code = "import promptver.store.store, promptver.versions.bump, promptver.bundle.check, promptver.versions.checkout"
    loaded = _loaded_after(code)
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_the_test_server_is_not_on_the_import_path() -> None:
    script = "import sys, promptver, promptver.app.runtime\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert not [name for name in out if name.startswith("promptver.testing")]
