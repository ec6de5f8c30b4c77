"""Issue 25: large eval sets are kept as spans of packs; a re-bump writes only the lines its
previous version lacks (found by the walk its check makes anyway), and every read rebuilds
and re-hashes the whole file."""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptver.diff.evals import diff_dataset
from promptver.errors import IntegrityError
from promptver.store import linewalk, packs, packwalk
from promptver.store import store as store_module
from promptver.store.digests import sha256_bytes
from promptver.store.gc import collect
from promptver.store.store import Store
from promptver.store.tree import FileEntry, Tree
from tests.conftest import ROOT, kill_after, run_process

EVALS = Path("bundles/bot/evals/golden.jsonl")


def _cases(count: int, changed_every: int = 0) -> bytes:
    """``count`` cases of varied text (as real ones are: repetitive text has few cut points)."""
    rng = random.Random(7)
    words = ["refund", "invoice", "plan", "seat", "shift", "export", "login", "sso", "team", "admin"]
    lines = []
    for i in range(count):
        expected = " ".join(rng.choice(words) for _ in range(20))
        if changed_every and i % changed_every == 0:
            expected += " escalate"
        question = " ".join(rng.choice(words) for _ in range(60))
        lines.append(
            json.dumps({"id": f"case-{i:06d}", "vars": {"question": question}, "expected": expected})
        )
    return ("\n".join(lines) + "\n").encode()


def _write(project: Path, data: bytes) -> None:
    (project / EVALS).write_bytes(data)
    time.sleep(0.06)  # past the stat cache's racy window


@pytest.fixture
def small_packs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Packs from 64 KiB, so the tests stay quick (the logic is the same)."""
    monkeypatch.setattr(store_module, "PACK_FROM", 64 << 10)


def _packs(store: Store) -> dict[str, int]:
    root = store.root / "packs"
    return {p.parent.name + p.name: p.stat().st_size for p in root.glob("*/*")}


def _eval_digest(store: Store, version: str) -> str:
    return store.manifest("bot", version).file_map()["evals/golden.jsonl"].digest


def test_a_re_bump_writes_only_the_lines_that_changed(project: Path, store: Store, pv, small_packs) -> None:
    first, second = _cases(3000), _cases(3000, changed_every=100)
    _write(project, first)
    assert pv("bump", "minor", "bot").code == 0
    packs_before = _packs(store)
    assert sum(packs_before.values()) == len(first)  # the whole file, one pack
    _write(project, second)
    assert pv("bump", "patch", "bot").code == 0
    new = {k: v for k, v in _packs(store).items() if k not in packs_before}
    # every 100th case's answer grew by a word: the pack holds those words, the rest is shared
    head = len(packs.PACK_HEAD) + 64 + 1  # the pack names the version it was written for
    assert len(new) == 1 and sum(new.values()) == head + len(b" escalate") * len(second.split(b"\n")[:-1:100])
    digest = _eval_digest(store, "0.1.1")
    assert digest == sha256_bytes(second)  # the identity is still the whole file's sha256
    recipe_file = store.object_path(digest).read_bytes()
    assert recipe_file.startswith(packs.MAGIC) and len(recipe_file) < 10_000
    assert store.read_object(digest) == second
    with store.open_object(digest) as reader:
        assert b"".join(iter(lambda: reader.read(7777), b"")) == second
    assert store.read_object(_eval_digest(store, "0.1.0")) == first
    # checkout rebuilds the file; verify rebuilds and re-hashes every byte
    assert pv("checkout", "bot@0.1.0", "--force").code == 0
    assert (project / EVALS).read_bytes() == first
    result = pv("verify")
    assert result.code == 0, result.out + result.err


def test_inserted_and_removed_cases_are_shared_around(project: Path, store: Store, pv, small_packs) -> None:
    """A case inserted near the top shifts every line after it: the common tail is still
    shared, so the new pack holds about that one case; a third version built on the
    second (spans of both packs and its own) reads back."""
    first = _cases(3000)
    lines = first.split(b"\n")
    second = b"\n".join([*lines[:5], b'{"id": "inserted", "vars": {"question": "q"}}', *lines[5:]])
    third = b"\n".join(
        [*lines[:5], b'{"id": "inserted", "vars": {"question": "q"}}', *lines[5:2000], *lines[2001:]]
    )
    for data, level in ((first, "minor"), (second, "patch"), (third, "patch")):
        before = _packs(store)
        _write(project, data)
        assert pv("bump", level, "bot").code == 0
        if level == "patch":
            assert sum(v for k, v in _packs(store).items() if k not in before) < 200
    assert store.read_object(_eval_digest(store, "0.1.1")) == second
    assert store.read_object(_eval_digest(store, "0.1.2")) == third
    assert pv("verify").code == 0


def test_a_diff_of_two_stored_versions_reads_them_from_packs(
    project: Path, store: Store, pv, small_packs
) -> None:
    _write(project, _cases(3000))
    assert pv("bump", "minor", "bot").code == 0
    _write(project, _cases(3000, changed_every=100))
    assert pv("bump", "patch", "bot").code == 0
    result = pv("diff", "--json", "bot", "0.1.0", "0.1.1")
    assert result.code == 0
    datasets = [c for c in json.loads(result.out)["components"] if c["kind"] == "evals"]
    assert datasets[0]["detail"]["changed"] == 30 and datasets[0]["detail"]["unchanged"] == 2970


def test_a_missing_pack_is_named(project: Path, store: Store, pv, small_packs) -> None:
    _write(project, _cases(2000))
    assert pv("bump", "minor", "bot").code == 0
    digest = _eval_digest(store, "0.1.0")
    (pack,) = _packs(store)
    packs.pack_path(store, pack).unlink()
    with pytest.raises(IntegrityError, match=f"its pack sha256:{pack[:8]}.* is missing"):
        store.read_object(digest)
    result = pv("verify")
    assert result.code == 1 and f"pack sha256:{pack[:8]}" in result.out + result.err
    assert "Traceback" not in result.err


def test_a_corrupted_pack_is_named_and_never_served(project: Path, store: Store, pv, small_packs) -> None:
    _write(project, _cases(2000))
    assert pv("bump", "minor", "bot").code == 0
    digest = _eval_digest(store, "0.1.0")
    (pack,) = _packs(store)
    path = packs.pack_path(store, pack)
    os.chmod(path, 0o644)
    with open(path, "r+b") as handle:
        handle.seek(5000)
        handle.write(b"X")
    with pytest.raises(IntegrityError, match=f"corrupted: its pack sha256:{pack[:8]}"):
        store.read_object(digest)
    with pytest.raises(IntegrityError, match=f"corrupted: its pack sha256:{pack[:8]}"):
        with store.open_object(digest) as reader:
            while reader.read(1 << 16):
                pass
    result = pv("verify")
    assert result.code == 1 and f"its pack sha256:{pack[:8]}" in result.out + result.err
    assert pv("checkout", "bot@0.1.0", "--force").code == 1


def test_a_damaged_recipe_is_one_error(project: Path, store: Store, pv, small_packs) -> None:
    _write(project, _cases(2000))
    assert pv("bump", "minor", "bot").code == 0
    digest = _eval_digest(store, "0.1.0")
    path = store.object_path(digest)
    os.chmod(path, 0o644)
    path.write_bytes(packs.MAGIC + b'{"size": 5, "packs": [], "spans": [0, 0, 5]}')
    with pytest.raises(IntegrityError, match="recipe is damaged"):
        store.read_object(digest)


def test_a_plain_object_that_starts_like_a_recipe_is_plain(store: Store) -> None:
    data = packs.MAGIC + b"not a recipe at all\n"
    digest = store.put_bytes(data)
    assert store.read_object(digest) == data
    with store.open_object(digest) as reader:
        assert reader.read() == data


def test_gc_removes_packs_no_recipe_names(project: Path, store: Store, pv, small_packs) -> None:
    _write(project, _cases(2000))
    assert pv("bump", "minor", "bot").code == 0
    (kept,) = _packs(store)
    stray = "ab" * 32
    stray_path = packs.pack_path(store, stray)
    stray_path.parent.mkdir(parents=True, exist_ok=True)
    stray_path.write_bytes(b"left by a killed bump")
    report = collect(store, remove=True)
    assert [h for h, _ in report.packs] == [stray]
    assert set(_packs(store)) == {kept}
    assert store.read_object(_eval_digest(store, "0.1.0")) == _cases(2000)


def test_a_re_bump_killed_at_any_moment_leaves_a_consistent_store(project: Path) -> None:
    """SIGKILL a real re-bump of a large (packed, 9 MB) eval set at many moments: every
    visible version reads back whole, verify passes or names only an interrupted bump,
    and the next write repairs that."""
    big = project / EVALS
    big.write_bytes(_cases(30_000))
    assert run_process("bump", "minor", "bot", cwd=project).returncode == 0
    for attempt, delay in enumerate((0.1, 0.25, 0.4, 0.55, 0.7, 0.9)):
        big.write_bytes(_cases(30_000, changed_every=50 + attempt))
        kill_after(delay, "bump", "patch", "bot", cwd=project)
        store = Store.find(project)
        for version in store.version_names("bot"):
            manifest = store.manifest("bot", str(version))
            for entry in manifest.files:
                assert sha256_bytes(store.read_object(entry.digest)) == entry.digest
        verify = run_process("verify", cwd=project)
        problems = [line for line in verify.stdout.splitlines() if line.startswith("CORRUPT")]
        assert all("(an interrupted bump)" in line for line in problems), verify.stdout + verify.stderr
        assert run_process("alias", "set", "bot", "staging", "latest", cwd=project).returncode in (0, 1)
        verify = run_process("verify", cwd=project)  # the write repaired it
        assert verify.returncode == 0, verify.stdout + verify.stderr
    big.write_bytes(_cases(30_000, changed_every=7))
    final = run_process("bump", "patch", "bot", cwd=project)
    assert final.returncode == 0, final.stderr
    store = Store.find(project)
    assert store.read_object(_eval_digest(store, store.latest("bot").version)) == big.read_bytes()


def test_objects_on_a_remote_keep_packs_out_of_git_too(store: Store) -> None:
    from promptver.remote.config import set_objects_mode

    set_objects_mode(store, "remote")
    lines = (store.root / ".gitignore").read_text().splitlines()
    assert "objects/" in lines and "packs/" in lines
    set_objects_mode(store, "local")
    lines = (store.root / ".gitignore").read_text().splitlines()
    assert "objects/" not in lines and "packs/" not in lines


def test_reading_small_objects_never_imports_the_pack_code() -> None:
    from promptver.store.store import RECIPE_MARK

    assert RECIPE_MARK == packs.MAGIC
    code = "import sys, promptver.store.store; assert 'promptver.store.packs' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_a_re_bump_over_a_missing_pack_is_one_error_and_changes_nothing(
    project: Path, store: Store, pv, small_packs
) -> None:
    """The change summary needs the previous version: its missing pack is named, nothing is
    published, and no new pack references the missing one."""
    _write(project, _cases(2000))
    assert pv("bump", "minor", "bot").code == 0
    (pack,) = _packs(store)
    packs.pack_path(store, pack).unlink()
    _write(project, _cases(2000, changed_every=100))
    result = pv("bump", "patch", "bot")
    assert result.code == 1 and f"its pack sha256:{pack[:8]} is missing" in result.err
    assert "Traceback" not in result.err
    assert [str(v) for v in store.version_names("bot")] == ["0.1.0"]
    assert _packs(store) == {}


def test_a_base_whose_pack_is_missing_is_not_built_on(store: Store, small_packs) -> None:
    """The library's staging alone: a base that cannot be read is not used; the file is
    stored whole again and reads back."""
    first, second = _cases(2000), _cases(2000, changed_every=100)
    base = store.put_bytes(first)
    (pack,) = _packs(store)
    packs.pack_path(store, pack).unlink()
    with store.staging() as staging:
        digest = staging.add_hashed(second, sha256_bytes(second), (base, linewalk.walk(first, second).shared))
        staging.publish()
    assert sum(_packs(store).values()) == len(second)
    assert store.read_object(digest) == second


def test_stretches_a_caller_got_wrong_never_serve_wrong_bytes(store: Store, small_packs) -> None:
    """Shared stretches are the caller's word: the bytes read back are checked whole, so a
    wrong stretch is a corrupted object, never other content."""
    first, second = _cases(2000), _cases(2000, changed_every=100)
    base = store.put_bytes(first)
    wrong = [(0, 0, 5000)]  # the first 5000 bytes are not the same (every 100th case changed)
    assert first[:5000] != second[:5000]
    with store.staging() as staging:
        digest = staging.add_hashed(second, sha256_bytes(second), (base, wrong))
        staging.publish()
    with pytest.raises(IntegrityError, match="corrupted"):
        store.read_object(digest)


def test_a_packed_version_travels_through_a_remote(
    tmp_path: Path, project: Path, store: Store, pv, small_packs
) -> None:
    (tmp_path / "shared").mkdir()
    assert pv("remote", "add", "origin", f"file://{tmp_path}/shared").code == 0
    _write(project, _cases(3000))
    assert pv("bump", "minor", "bot").code == 0
    _write(project, _cases(3000, changed_every=100))
    assert pv("bump", "patch", "bot").code == 0
    assert pv("push").code == 0
    other = tmp_path / "other"
    other.mkdir()
    Store.init(other)
    assert (
        pv("--store", str(other / ".promptver"), "remote", "add", "origin", f"file://{tmp_path}/shared").code
        == 0
    )
    assert pv("--store", str(other / ".promptver"), "pull", "bot").code == 0
    assert pv("--store", str(other / ".promptver"), "fetch", "bot@0.1.1").code == 0
    theirs = Store.find(override=other / ".promptver")
    assert theirs.read_object(_eval_digest(store, "0.1.1")) == _cases(3000, changed_every=100)


class _StoredPair(Tree):
    """Two objects of a store as ``a.jsonl`` and ``b.jsonl``, walked as stored versions are."""

    def __init__(self, store: Store, a: str, b: str, packed: bool):
        self.store, self.packed, self.label = store, packed, "stored"
        self.entries = {
            name: FileEntry(name, digest, len(store.read_object(digest)))
            for name, digest in (("a.jsonl", a), ("b.jsonl", b))
        }

    def open(self, path: str):  # type: ignore[no-untyped-def]
        return self.store.open_object(self.entries[path].digest)

    def walk_of(self, path: str, old_digest: str) -> linewalk.Walk | None:
        if not self.packed:
            return None
        walked = packwalk.walk_packed(self.store, old_digest, self.entries[path].digest)
        assert walked is not None
        return walked


@settings(max_examples=40, deadline=None, database=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["edit", "insert", "delete", "blank", "dup"]), st.integers(0, 10_000)),
        max_size=12,
    ),
    st.booleans(),
)
def test_recipes_walk_to_the_same_diff_as_the_bytes(tmp_path_factory, edits, final_newline: bool) -> None:  # type: ignore[no-untyped-def]
    """Three versions, each stored on the one before: every pair diffed through the
    recipes (no bytes compared) gives the diff the bytes give, both ways."""
    store, _ = Store.init(tmp_path_factory.mktemp("packs"))
    with mock.patch.object(store_module, "PACK_FROM", 1 << 10):
        lines = _cases(60).split(b"\n")[:-1]
        versions = [lines]
        for half in (edits[: len(edits) // 2], edits[len(edits) // 2 :]):
            lines = list(lines)
            for action, at in half:
                at %= len(lines) + 1
                if action == "edit" and at < len(lines):
                    lines[at] = lines[at].replace(b'"expected": "', b'"expected": "new ', 1)
                elif action == "insert":
                    lines.insert(
                        at, json.dumps({"id": f"x{at}-{len(lines)}", "vars": {"question": "q"}}).encode()
                    )
                elif action == "delete" and at < len(lines):
                    del lines[at]
                elif action == "blank":
                    lines.insert(at, b"  ")
                elif action == "dup" and at < len(lines):
                    lines.insert(at, lines[at])
            versions.append(lines)
        blobs = [b"\n".join(v) + (b"\n" if final_newline else b"") for v in versions]
        digests = [store.put_bytes(blobs[0])]
        for before, after in itertools.pairwise(blobs):
            with store.staging() as staging:
                shared = linewalk.walk(before, after).shared
                digests.append(staging.add_hashed(after, sha256_bytes(after), (digests[-1], shared)))
                staging.publish()
        for i, j in [(0, 1), (1, 2), (0, 2), (2, 0), (2, 1)]:
            packed = _StoredPair(store, digests[i], digests[j], packed=True)
            plain = _StoredPair(store, digests[i], digests[j], packed=False)
            assert store.read_object(digests[j]) == blobs[j]
            expected = diff_dataset(plain, "a.jsonl", plain, "b.jsonl")
            found = diff_dataset(packed, "a.jsonl", packed, "b.jsonl")
            assert (found.changed, found.added, found.removed, found.unchanged) == (
                expected.changed,
                expected.added,
                expected.removed,
                expected.unchanged,
            ), (i, j)
            assert {c.id for c in found.cases} == {c.id for c in expected.cases}


def test_a_damaged_pack_is_never_walked(project: Path, store: Store, pv, small_packs) -> None:
    """A diff through recipes hashes both files first: a damaged pack makes it read the
    ordinary way, which names the pack."""
    _write(project, _cases(3000))
    assert pv("bump", "minor", "bot").code == 0
    _write(project, _cases(3000, changed_every=100))
    assert pv("bump", "patch", "bot").code == 0
    old, new = _eval_digest(store, "0.1.0"), _eval_digest(store, "0.1.1")
    assert packwalk.walk_packed(store, old, new) is not None
    biggest = max(_packs(store), key=lambda k: _packs(store)[k])
    path = packs.pack_path(store, biggest)
    os.chmod(path, 0o644)
    with open(path, "r+b") as handle:
        handle.seek(100)
        handle.write(b"#")
    assert packwalk.walk_packed(store, old, new) is None
    result = pv("diff", "bot", "0.1.0", "0.1.1")
    assert (
        result.code == 1 and f"its pack sha256:{biggest[:8]}" in result.err and "Traceback" not in result.err
    )


def test_a_recipe_that_asks_for_more_than_its_packs_hold_is_refused_before_allocating(
    project: Path, store: Store, pv, small_packs
) -> None:
    """A few kilobytes of hostile recipe (one span repeated) must not allocate terabytes."""
    _write(project, _cases(2000))
    assert pv("bump", "minor", "bot").code == 0
    digest = _eval_digest(store, "0.1.0")
    (pack,) = _packs(store)
    bomb = packs.Recipe(1000 * len(_cases(2000)), [(pack, 0, len(_cases(2000)))] * 1000)
    path = store.object_path(digest)
    os.chmod(path, 0o644)
    path.write_bytes(bomb.dumps())
    with pytest.raises(IntegrityError, match="recipe is damaged .it asks for"):
        store.read_object(digest)
    assert packwalk.walk_packed(store, digest, digest) is None
    result = pv("verify")
    assert (
        result.code == 1 and "recipe is damaged" in result.out + result.err and "Traceback" not in result.err
    )


def test_the_same_new_bytes_in_two_versions_are_two_packs(
    project: Path, store: Store, pv, small_packs
) -> None:
    """Two versions that each add the same word to the same answer: their new bytes are
    equal, yet each gets its own pack, so every recipe uses a pack byte once (found by the
    property test above: a shared pack made the third version look like a recipe bomb)."""
    lines = _cases(300).split(b"\n")
    for version, level in enumerate(("minor", "patch", "patch")):
        if version:
            lines[0] = lines[0].replace(b'"expected": "', b'"expected": "new ', 1)
        _write(project, b"\n".join(lines))
        assert pv("bump", level, "bot").code == 0
    assert store.read_object(_eval_digest(store, "0.1.2")) == b"\n".join(lines)
    assert len(_packs(store)) == 3
    assert pv("verify").code == 0


def test_reads_without_preadv_rebuild_the_same_bytes(
    project: Path, store: Store, pv, small_packs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where `os.preadv` does not exist (macOS), packs are read with `os.pread`."""
    first, second = _cases(3000), _cases(3000, changed_every=100)
    _write(project, first)
    assert pv("bump", "minor", "bot").code == 0
    _write(project, second)
    assert pv("bump", "patch", "bot").code == 0
    monkeypatch.delattr(os, "preadv")
    assert store.read_object(_eval_digest(store, "0.1.1")) == second
    with store.open_object(_eval_digest(store, "0.1.1")) as reader:
        assert reader.read() == second
    assert store.read_unchecked(_eval_digest(store, "0.1.1")) == second
