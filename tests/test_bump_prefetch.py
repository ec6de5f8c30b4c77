"""A bump reads the stored eval sets it will compare ahead, in a second thread: the same
summary as without, every byte still verified, nothing kept after the bump."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from promptver.diff import evals
from promptver.diff.bumping import analyze_bump, prefetch_bump
from promptver.errors import IntegrityError
from promptver.store.store import Store
from promptver.store.tree import WorkTree
from promptver.versions.bump import bump

EVALS = Path("bundles/bot/evals/golden.jsonl")


def _write_cases(project: Path, count: int, changed: set[int] = frozenset()) -> None:  # type: ignore[assignment]
    with open(project / EVALS, "w") as out:
        for i in range(count):
            expected = f"answer {i}" + (" (new)" if i in changed else "")
            out.write(json.dumps({"id": f"c{i}", "vars": {"question": f"q{i}"}, "expected": expected}) + "\n")
    time.sleep(0.06)  # past the stat cache's racy window, as a real edit would be


def test_the_summary_is_the_same_with_and_without_the_read_ahead(
    project: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_cases(project, 300)
    bump(store, "bot", "minor", analyzer=analyze_bump, prefetch=prefetch_bump)
    _write_cases(project, 300, changed={3, 150, 299})
    prepared: list[str] = []
    original = evals.prepare_old

    def spy(tree, path):  # type: ignore[no-untyped-def]
        prepared.append(path)
        return original(tree, path)

    streamed: list[str] = []  # stored sides the diff itself read from the store
    chunks = evals._chunks

    def counting(tree, path, progress=None):  # type: ignore[no-untyped-def]
        if not isinstance(tree, WorkTree):
            streamed.append(path)
        return chunks(tree, path, progress)

    monkeypatch.setattr(evals, "prepare_old", spy)
    monkeypatch.setattr(evals, "_chunks", counting)
    ahead = bump(store, "bot", "patch", analyzer=analyze_bump, prefetch=prefetch_bump, dry_run=True)
    assert prepared == ["evals/golden.jsonl"] and streamed == []  # read once, ahead; the diff used it
    plain = bump(store, "bot", "patch", analyzer=analyze_bump, dry_run=True)
    assert prepared == ["evals/golden.jsonl"] and streamed == ["evals/golden.jsonl"]
    assert ahead.manifest.changes == plain.manifest.changes
    assert "3 cases changed" in json.dumps(ahead.manifest.changes)
    assert evals._PREPARED == {}  # used once, then gone


def test_a_read_ahead_that_goes_unused_is_dropped(project: Path, store: Store) -> None:
    _write_cases(project, 20)
    bump(store, "bot", "minor", analyzer=analyze_bump, prefetch=prefetch_bump)
    os.utime(project / EVALS, ns=(1, 1))  # same bytes, new stat data: read ahead for nothing
    with open(project / "bundles/bot/prompts/system.j2", "a") as handle:
        handle.write("Be brief.\n")
    bump(store, "bot", "minor", analyzer=analyze_bump, prefetch=prefetch_bump)
    assert evals._PREPARED == {}


def test_a_corrupted_stored_eval_set_still_stops_the_bump(project: Path, store: Store, pv) -> None:
    _write_cases(project, 50)
    assert pv("bump", "minor", "bot").code == 0
    digest = store.resolve("bot", "latest").file_map()["evals/golden.jsonl"].digest
    path = store.object_path(digest)
    os.chmod(path, 0o644)
    path.write_bytes(path.read_bytes().replace(b"answer 7", b"answer 8"))
    _write_cases(project, 50, changed={1})
    result = pv("bump", "patch", "bot")
    assert result.code == 1 and "is corrupted" in result.err and "Traceback" not in result.err
    assert [str(v) for v in store.version_names("bot")] == ["0.1.0"]
    assert evals._PREPARED == {}
    with pytest.raises(IntegrityError):
        evals.prepare_old(store.tree(store.resolve("bot", "0.1.0")), "evals/golden.jsonl")
