"""A bump reads the stored eval sets it will compare ahead, in a second thread: the same
summary as without, every byte still verified, nothing kept after the bump."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from promptver.bundle import check
from promptver.diff import evals
from promptver.diff.bumping import analyze_bump, prefetch_bump
from promptver.errors import BundleError, IntegrityError
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


def _validated(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The bytes each fast validation pass of the eval-set check is given, from now on."""
    validated: list[bytes] = []
    fast_valid = check.fast_valid

    def spy(data, *args, **kwargs):  # type: ignore[no-untyped-def]
        validated.append(bytes(data))
        return fast_valid(data, *args, **kwargs)

    monkeypatch.setattr(check, "fast_valid", spy)
    return validated


def test_the_summary_is_the_same_with_and_without_the_read_ahead(
    project: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_cases(project, 300)
    bump(store, "bot", "minor", analyzer=analyze_bump, prefetch=prefetch_bump)
    _write_cases(project, 300, changed={3, 150, 299})
    streamed: list[str] = []  # stored sides the diff itself read from the store
    chunks = evals._chunks

    def counting(tree, path, progress=None):  # type: ignore[no-untyped-def]
        if not isinstance(tree, WorkTree):
            streamed.append(path)
        return chunks(tree, path, progress)

    monkeypatch.setattr(evals, "_chunks", counting)
    monkeypatch.setattr(evals, "IN_MEMORY", -1)  # a diff without the bump's walk streams
    validated = _validated(monkeypatch)
    ahead = bump(store, "bot", "patch", analyzer=analyze_bump, prefetch=prefetch_bump, dry_run=True)
    assert streamed == []  # read once, ahead; the check's walk served the diff
    assert len(validated) == 1 and validated[0].count(b"\n") == 2  # only the 3 changed lines
    plain = bump(store, "bot", "patch", analyzer=analyze_bump, dry_run=True)
    assert streamed == ["evals/golden.jsonl"]
    assert len(validated) == 1  # the same bytes passed already (the validation cache)
    assert ahead.manifest.changes == plain.manifest.changes
    assert "3 cases changed" in json.dumps(ahead.manifest.changes)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda line: line.replace(b'"id": "c7"', b'"id": "c8"'), "duplicate id"),  # an id taken
        (lambda line: line[:-3], "golden.jsonl:8:"),  # broken JSON
        (lambda line: line.replace(b'"vars": {"question": "q7"}', b'"vars": {}'), "question"),
    ],
)
def test_a_changed_line_is_checked_as_strictly_as_a_whole_file(
    project: Path, store: Store, pv, edit, message: str
) -> None:
    _write_cases(project, 200)
    assert pv("bump", "minor", "bot").code == 0
    lines = (project / EVALS).read_bytes().split(b"\n")
    lines[7] = edit(lines[7])
    (project / EVALS).write_bytes(b"\n".join(lines))
    result = pv("bump", "patch", "bot")
    assert result.code == 1 and message in result.err and "Traceback" not in result.err
    assert [str(v) for v in store.version_names("bot")] == ["0.1.0"]


def test_a_new_case_in_place_of_an_edited_one_is_checked_against_every_id(
    project: Path, store: Store, pv
) -> None:
    _write_cases(project, 200)
    assert pv("bump", "minor", "bot").code == 0
    lines = (project / EVALS).read_bytes().split(b"\n")
    lines[7] = lines[7].replace(b'"id": "c7"', b'"id": "fresh"')  # a new id: checked whole, accepted
    (project / EVALS).write_bytes(b"\n".join(lines))
    assert pv("bump", "patch", "bot").code == 0
    lines[9] = lines[9].replace(b'"id": "c9"', b'"id": "c150"')  # an id a far, unchanged line has
    (project / EVALS).write_bytes(b"\n".join(lines))
    result = pv("bump", "patch", "bot")
    assert result.code == 1 and "duplicate id" in result.err


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
    with pytest.raises(IntegrityError):
        store.tree(store.resolve("bot", "0.1.0")).read_bytes("evals/golden.jsonl")


def test_a_stored_side_that_is_not_its_digest_never_vouches_for_a_line(
    project: Path, store: Store, pv
) -> None:
    """The check walks the stored side while it is being hashed: when it does not hash to
    its digest, nothing made of it is kept. Here the stored copy was altered to hold the
    same invalid line as the working copy: taken on its word, that line would look
    unchanged, so already checked."""
    _write_cases(project, 50)
    assert pv("bump", "minor", "bot").code == 0
    digest = store.resolve("bot", "latest").file_map()["evals/golden.jsonl"].digest
    lines = (project / EVALS).read_bytes().split(b"\n")
    lines[7] = b'{"vars": {"question": "q7"}}'  # no id: invalid
    lines[20] = lines[20].replace(b"answer 20", b"answer twenty")
    path = store.object_path(digest)
    os.chmod(path, 0o644)
    stored = path.read_bytes().split(b"\n")
    stored[7] = lines[7]
    path.write_bytes(b"\n".join(stored))
    (project / EVALS).write_bytes(b"\n".join(lines))
    result = pv("bump", "patch", "bot")
    assert result.code == 1 and "Traceback" not in result.err
    assert "golden.jsonl:8" in result.err or "is corrupted" in result.err
    assert [str(v) for v in store.version_names("bot")] == ["0.1.0"]


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_a_new_case_is_checked_alone_against_the_kept_ids(
    project: Path, store: Store, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """A set large enough keeps its ids (`cache/ids/`): a new case anywhere is validated
    alone and its id checked against them, and an id an unchanged case has is refused."""
    monkeypatch.setattr(check, "IDS_FROM", 0)
    _write_cases(project, 300)
    bump(store, "bot", "minor", analyzer=analyze_bump, prefetch=prefetch_bump)
    lines = (project / EVALS).read_bytes().split(b"\n")
    at = {"start": 0, "middle": 150, "end": 300}[where]
    fresh = json.dumps({"id": "fresh", "vars": {"question": "q"}}).encode()
    (project / EVALS).write_bytes(b"\n".join([*lines[:at], fresh, *lines[at:]]))
    validated = _validated(monkeypatch)
    result = bump(store, "bot", "patch", analyzer=analyze_bump, prefetch=prefetch_bump)
    assert "1 case added" in json.dumps(result.manifest.changes)
    assert len(validated) == 1 and validated[0].count(b"\n") < 70  # the new case, not 301 lines
    # the next version: an id an unchanged case has
    lines = (project / EVALS).read_bytes().split(b"\n")
    taken = json.dumps({"id": "c42", "vars": {"question": "q"}}).encode()
    (project / EVALS).write_bytes(b"\n".join([*lines[:at], taken, *lines[at:]]))
    time.sleep(0.06)
    with pytest.raises(BundleError, match="duplicate id"):
        bump(store, "bot", "patch", analyzer=analyze_bump, prefetch=prefetch_bump)


def test_kept_ids_that_are_damaged_are_not_used(
    project: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(check, "IDS_FROM", 0)
    _write_cases(project, 100)
    bump(store, "bot", "minor", analyzer=analyze_bump, prefetch=prefetch_bump)
    for kept in (store.root / "cache" / "ids").iterdir():
        kept.write_bytes(b'{"ids": ["c1", 7]}')
    lines = (project / EVALS).read_bytes().split(b"\n")
    taken = json.dumps({"id": "c42", "vars": {"question": "q"}}).encode()
    (project / EVALS).write_bytes(b"\n".join([taken, *lines]))
    time.sleep(0.06)
    with pytest.raises(BundleError, match="duplicate id"):
        bump(store, "bot", "patch", analyzer=analyze_bump, prefetch=prefetch_bump)
