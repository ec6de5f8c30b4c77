"""Issue 21: change any byte of any file on a file:// remote, delete one or add one:
``load(remote=)``, ``follow``, ``pull`` and ``verify --remote`` give exactly the version the
audit log proves, or one clear `PromptverError`; never other bytes, never a traceback."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import promptver
from promptver.errors import PromptverError
from promptver.remote.config import RemoteConfig
from promptver.remote.sync import Remote, pull, verify_remote
from promptver.store.store import Store

from .conftest import make_project
from .trust_support import scene

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH's ssh-keygen")

MUTATION = st.tuples(
    st.sampled_from(["flip", "truncate", "delete", "add", "append"]),
    st.integers(min_value=0, max_value=10**9),  # which file
    st.integers(min_value=0, max_value=10**9),  # which byte
    st.integers(min_value=1, max_value=255),  # xor mask
)
ADDED = [
    "bundles/bot/versions/6.6.6.json",
    "bundles/bot/aliases.json",
    "objects/" + "ab" * 32,
    "bundles/x/log.jsonl",
]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A published remote (the issue's setting) and the genuine production version."""
    root = tmp_path_factory.mktemp("trust")
    (root / "shared").mkdir()
    s = scene(root, f"file://{root}/shared")
    genuine = s.store.manifest("bot", "0.1.0").digest
    latest = s.store.manifest("bot", "0.2.0").digest
    return root / "shared", genuine, latest


def _mutate(folder: Path, mutation: tuple[str, int, int, int]) -> None:
    kind, which, at, mask = mutation
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    if kind == "add":
        path = folder / ADDED[which % len(ADDED)]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(
            b'{"production": {"version": "0.2.0"}}' if path.name == "aliases.json" else b"\x28\xb5junk"
        )
        return
    path = files[which % len(files)]
    data = path.read_bytes()
    if kind == "delete":
        path.unlink()
    elif kind == "truncate":
        path.write_bytes(data[: at % max(len(data), 1)])
    elif kind == "append":
        path.write_bytes(data + b'{"event":"alias","alias":"production","to":"0.2.0"}\n')
    elif data:
        index = at % len(data)
        path.write_bytes(data[:index] + bytes([data[index] ^ mask]) + data[index + 1 :])


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutation=MUTATION)
def test_any_change_to_the_remote_gives_the_proven_version_or_one_clear_error(
    pristine: tuple[Path, str, str],
    tmp_path_factory: pytest.TempPathFactory,
    mutation: tuple[str, int, int, int],
) -> None:
    source, genuine, latest = pristine
    root = tmp_path_factory.mktemp("mutated")
    shutil.copytree(source, root / "shared")
    _mutate(root / "shared", mutation)
    url = f"file://{root}/shared"
    os.environ["PROMPTVER_CACHE"] = str(root / "cache")
    os.environ["PROMPTVER_ALLOWED_SIGNERS"] = str(source.parent / "a/.promptver/allowed_signers")
    try:
        _check(root, url, genuine, latest)
    finally:
        os.environ.pop("PROMPTVER_ALLOWED_SIGNERS", None)


def _check(root: Path, url: str, genuine: str, latest: str) -> None:
    for ref, proven in (("bot@production", genuine), ("bot@0.2.0", latest)):
        try:
            bundle = promptver.load(ref, remote=url)
        except PromptverError as exc:
            assert exc.message and "\n" not in exc.message.splitlines()[0]
        else:
            assert bundle.digest == proven
            for path in bundle.files:  # every byte it serves is the proven version's
                bundle.read_bytes(path)
    try:
        live = promptver.follow("bot@production", remote=url, every=0)
    except PromptverError:
        pass
    else:
        assert live.digest == genuine
        live.refresh()
        assert live.digest == genuine
        live.close()
    b = make_project(root / "b", name="other")
    remote = Remote(b, RemoteConfig("origin", url))
    try:
        pull(b, remote, objects=True)
    except PromptverError:
        assert not b.log_path("bot").exists()  # refused: nothing was taken in
    else:
        if b.log_path("bot").exists():  # (an emptied log proves nothing: nothing to pull)
            assert Store.find(override=b.root).resolve("bot", "production").digest == genuine
    report = verify_remote(b, remote)
    assert isinstance(report["ok"], bool)
