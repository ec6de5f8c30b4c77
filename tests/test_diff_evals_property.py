"""The streamed eval diff agrees with a naive one (parse everything, match by id)."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptver.diff import evals
from promptver.diff.evals import diff_dataset
from promptver.diff.fields import field_changes
from promptver.store import linewalk
from promptver.store.tree import MemoryTree

ids = st.lists(st.sampled_from([f"c{i}" for i in range(12)]), unique=True, max_size=12)
values = st.one_of(
    st.integers(0, 3), st.sampled_from(["a", "b", "é"]), st.lists(st.integers(0, 2), max_size=3)
)


@st.composite
def case_sets(draw: st.DrawFn) -> tuple[list[dict], list[dict]]:  # type: ignore[type-arg]
    old = [{"id": i, "vars": {"q": draw(values)}, "expected": draw(values)} for i in draw(ids)]
    new = []
    for case in old:
        action = draw(st.sampled_from(["keep", "keep", "edit", "drop", "reorder_keys"]))
        if action == "keep":
            new.append(case)
        elif action == "edit":
            new.append(
                {
                    **case,
                    "expected": draw(values),
                    "tags": draw(st.lists(st.sampled_from(["a", "é", "x"]), max_size=2)),
                }
            )
        elif action == "reorder_keys":
            new.append(dict(reversed(list(case.items()))))
    taken = {c["id"] for c in old}
    added = [{"id": f"n{i}", "vars": {}} for i in range(draw(st.integers(0, 3))) if f"n{i}" not in taken]
    if draw(st.booleans()):  # shuffled
        new += added
        order = draw(st.permutations(range(len(new))))
        return old, [new[i] for i in order]
    for case in added:  # in order, with cases inserted anywhere (lines shift after them)
        new.insert(draw(st.integers(0, len(new))), case)
    return old, new


def jsonl(cases: list[dict], blank_every: int) -> bytes:  # type: ignore[type-arg]
    lines = []
    for n, case in enumerate(cases, 1):
        lines.append(json.dumps(case))
        if blank_every and n % blank_every == 0:
            lines.append("")
    return ("\n".join(lines) + "\n").encode() if lines else b""


@settings(max_examples=150, deadline=None, database=None)  # no .hypothesis folder
@given(case_sets(), st.integers(0, 3), st.integers(0, 3))
def test_streamed_diff_matches_naive(sets: tuple[list[dict], list[dict]], blank: int, new_blank: int) -> None:  # type: ignore[type-arg]
    old, new = sets
    tree = MemoryTree({"a.jsonl": jsonl(old, blank), "b.jsonl": jsonl(new, new_blank)})
    result = diff_dataset(tree, "a.jsonl", tree, "b.jsonl")  # both held: walked in place
    walked = _Walked({"a.jsonl": jsonl(old, blank), "b.jsonl": jsonl(new, new_blank)})
    assert diff_dataset(walked, "a.jsonl", walked, "b.jsonl") == result  # a bump's walk: the same
    assert walked.used
    on_disk = _OnDisk({"a.jsonl": jsonl(old, blank), "b.jsonl": jsonl(new, new_blank)})
    with mock.patch.object(evals, "IN_MEMORY", -1):
        assert diff_dataset(on_disk, "a.jsonl", on_disk, "b.jsonl") == result  # line by line: the same
    _check_shared(jsonl(old, blank), jsonl(new, new_blank))
    before = {c["id"]: c for c in old}
    after = {c["id"]: c for c in new}
    changed = {i for i in before.keys() & after.keys() if field_changes(before[i], after[i])}
    assert {c.id for c in result.cases if c.kind == "added"} == after.keys() - before.keys()
    assert {c.id for c in result.cases if c.kind == "removed"} == before.keys() - after.keys()
    assert {c.id for c in result.cases if c.kind == "changed"} == changed
    assert result.unchanged == len(before.keys() & after.keys()) - len(changed)
    assert result.problems == ()
    for case in result.cases:  # line numbers point at the case's own line
        if case.new_line is not None:
            line = jsonl(new, new_blank).decode().splitlines()[case.new_line - 1]
            assert json.loads(line)["id"] == case.id
        if case.old_line is not None:
            line = jsonl(old, blank).decode().splitlines()[case.old_line - 1]
            assert json.loads(line)["id"] == case.id


def _check_shared(old: bytes, new: bytes) -> None:
    """The walk's shared stretches are equal bytes, in order, not overlapping."""
    old_end = new_end = 0
    for o, n, length in linewalk.walk(old, new).shared:
        assert length > 0 and o >= old_end and n >= new_end
        assert old[o : o + length] == new[n : n + length]
        old_end, new_end = o + length, n + length


class _Walked(MemoryTree):
    """A working tree as a bump's check leaves it: the walk of b.jsonl against a.jsonl."""

    used = False

    def walk_of(self, path: str, old_digest: str) -> linewalk.Walk | None:
        if path != "b.jsonl" or old_digest != self.entries["a.jsonl"].digest:
            return None
        self.used = True
        return linewalk.walk(self.read_bytes("a.jsonl"), self.read_bytes("b.jsonl"))


class _OnDisk(MemoryTree):
    """A tree that does not hold its files in memory: the diff reads them in blocks."""

    def held(self, path: str) -> None:
        return None


class _BrokenTree(MemoryTree):
    """A tree whose ``b.jsonl`` fails half-way through, as a disk error would."""

    def held(self, path: str) -> None:  # read from "disk", block by block
        return None

    def open(self, path: str):  # type: ignore[no-untyped-def]
        handle = super().open(path)
        if path != "b.jsonl":
            return handle

        class Failing:
            def __enter__(self):  # type: ignore[no-untyped-def]
                return self

            def __exit__(self, *exc: object) -> None:
                handle.close()

            def read(self, size: int = -1) -> bytes:
                raise OSError(5, "Input/output error")

        return Failing()


def test_a_read_error_in_the_new_file_reaches_the_caller() -> None:
    import pytest

    tree = _BrokenTree({"a.jsonl": jsonl([{"id": "c1"}], 0), "b.jsonl": b'{"id": "c1"}\n'})
    with pytest.raises(OSError, match="Input/output error"):
        diff_dataset(tree, "a.jsonl", tree, "b.jsonl")


def test_lines_cut_by_block_ends_are_joined(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    old = [{"id": f"c{i}", "vars": {"q": "x" * i}, "expected": i} for i in range(40)]
    new = [dict(c, expected=-1) if i % 7 == 0 else c for i, c in enumerate(old)] + [{"id": "n", "vars": {}}]
    tree = MemoryTree({"a.jsonl": jsonl(old, 3), "b.jsonl": jsonl(new, 0)})
    whole = diff_dataset(tree, "a.jsonl", tree, "b.jsonl")
    monkeypatch.setattr(linewalk, "BLOCK", 5)  # every line cut, most of them several times
    assert diff_dataset(tree, "a.jsonl", tree, "b.jsonl") == whole
    monkeypatch.setattr(evals, "IN_MEMORY", -1)  # read block by block
    assert diff_dataset(tree, "a.jsonl", tree, "b.jsonl") == whole
    assert (whole.changed, whole.added, whole.unchanged) == (6, 1, 34)


@pytest.mark.parametrize("out_of_step", [2, 64])
def test_the_in_place_walk_agrees_with_the_line_by_line_walk(monkeypatch, out_of_step: int) -> None:  # type: ignore[no-untyped-def]
    """Larger files than the property test's: edits, inserted and removed lines (the
    in-place walk falls out of step and hands over), blank lines of every kind anywhere,
    CRLF lines, with and without a final newline; the in-place walk (both files in memory)
    and the block-by-block walk give the same diff."""
    import random

    monkeypatch.setattr(linewalk, "OUT_OF_STEP", out_of_step)
    rng = random.Random(out_of_step)
    blanks = [b"", b" ", b"\t", b"\r", b" \r", b"\x0b\x0c"]
    for trial in range(150):
        size = rng.randint(0, 300)
        old = [
            json.dumps({"id": f"c{i}", "vars": {"q": "x" * rng.randint(0, 40)}}).encode() for i in range(size)
        ]
        for _ in range(rng.randint(0, 5)):
            old.insert(rng.randint(0, len(old)), rng.choice(blanks))
        new = list(old)
        for _ in range(rng.randint(0, 30)):
            action = rng.random()
            at = rng.randint(0, len(new))
            if action < 0.5 and new and at < len(new):
                new[at] = new[at].replace(b'"x', b'"y', 1) if new[at].strip() else rng.choice(blanks)
            elif action < 0.7:
                new.insert(at, json.dumps({"id": f"n{trial}-{at}-{rng.random()}"}).encode())
            elif action < 0.8:
                new.insert(at, rng.choice(blanks))
            elif action < 0.9 and at < len(new):
                del new[at]
            elif at < len(new):
                new[at] = new[at] + b"\r"  # CRLF: the same case, written otherwise
        a = b"\n".join(old) + (b"\n" if rng.random() < 0.8 else b"")
        b = b"\n".join(new) + (b"\n" if rng.random() < 0.8 else b"")
        in_memory = MemoryTree({"a.jsonl": a, "b.jsonl": b})
        on_disk = _OnDisk({"a.jsonl": a, "b.jsonl": b})
        with mock.patch.object(evals, "IN_MEMORY", -1):
            expected = diff_dataset(on_disk, "a.jsonl", on_disk, "b.jsonl")
        assert diff_dataset(in_memory, "a.jsonl", in_memory, "b.jsonl") == expected, trial
        _check_shared(a, b)
