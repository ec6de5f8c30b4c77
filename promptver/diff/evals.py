"""Eval datasets: cases added, removed and changed, matched by ``id``, streamed and linear.

A JSONL line that is byte-identical on both sides is an unchanged case and is never
parsed. Each file is read once (in large blocks split into lines in C, or walked in
place when it is already in memory):

1. both files are walked in step: a line equal to the line at the same position on the
   other side is unchanged (edits in place and appended cases stop here);
2. of the lines left, a common tail is unchanged too (a case inserted or removed in the
   middle shifts every line after it by the same amount);
3. what is still left is matched as multisets of lines (``Counter``), so moved lines are
   unchanged as well.

The lines left after that are parsed and matched by ``id``; each pair gets a field-level
diff. Steps 1 and 2 only take out pairs of equal lines, which leaves step 3's multiset
difference as it was. Time is linear in bytes; memory is about the lines left after
step 1 (two files that differ from the first line on are both held).

Step 1 runs in place (`promptver.store.linewalk`) when both files fit in memory
(`IN_MEMORY`): equal stretches are found with memcmp and their lines counted in C, and only
differing lines become bytes objects. In a bump the eval-set check has walked the two
sides already (it validates only the lines that differ), and the working tree hands that
walk over (`Tree.walk_of`): the bump compares its largest file once. Counting every line
of both files (step 3 alone) cost 2.5x the line-by-line walk on a 1% change of 100,000
cases; the in-place walk allocates next to nothing (fresh memory is dear on this machine).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from itertools import chain
from typing import Any

from promptver.bundle.evalset import LineError, check_case, parse_line
from promptver.diff.fields import field_changes, plural
from promptver.diff.model import CaseChange, Change, ComponentDiff, EvalDiff
from promptver.diff.source import Context, Snapshot, TreeLike, clean_path
from promptver.store.linewalk import Walk, blocks, walk, walk_lines

_KIND_ORDER = {"changed": 0, "added": 1, "removed": 2}


def diff_evals(old: Snapshot, new: Snapshot, ctx: Context) -> list[ComponentDiff]:
    before, after = old.table("evals"), new.table("evals")
    out = []
    for name in [*before, *(n for n in after if n not in before)]:
        comp = _dataset(name, before.get(name), after.get(name), old, new, ctx)
        if comp is not None:
            out.append(comp)
    return out


def _dataset(name: str, a: Any, b: Any, old: Snapshot, new: Snapshot, ctx: Context) -> ComponentDiff | None:
    a = a if isinstance(a, dict) else None
    b = b if isinstance(b, dict) else None
    old_path = clean_path(a.get("path")) if a else None
    new_path = clean_path(b.get("path")) if b else None
    ctx.claimed.update(p for p in (old_path, new_path) if p)
    impact = ctx.impact("evals.dataset")
    field = f"evals.{name}"
    if a is None or b is None:
        kind = "added" if a is None else "removed"
        snap, path = (new, new_path) if a is None else (old, old_path)
        cases = _count_cases(snap.tree, path) if snap.has(path) else 0
        change = Change(
            "evals",
            kind,
            field,
            None if a is None else old_path,
            None if b is None else new_path,
            impact,
            f"eval dataset {name!r} {kind} ({plural(cases, 'case')})",
            "evals.dataset",
        )
        return ComponentDiff("evals", name, kind, (change,))
    changes = [
        Change(
            "evals",
            fc.kind,
            fc.path,
            fc.old,
            fc.new,
            ctx.impact("evals.judge") if _is_judge(fc.path, field) else impact,
            f"dataset {name!r} {fc.path.removeprefix(field + '.')}: {fc.kind}"
            + (JUDGE_NOTE if _is_judge(fc.path, field) else ""),
            "evals.judge" if _is_judge(fc.path, field) else "evals.dataset",
        )
        for fc in field_changes(a, b, field)
    ]
    changes += _judge_prompts(name, a, b, old, new, ctx)
    detail = None
    if old.digest_of(old_path) != new.digest_of(new_path):
        detail = diff_dataset(
            old.tree if old.has(old_path) else None,
            old_path,
            new.tree if new.has(new_path) else None,
            new_path,
            ctx.progress,
        )
        parts = [
            f"{plural(n, 'case')} {label}"
            for n, label in (
                (detail.changed, "changed"),
                (detail.added, "added"),
                (detail.removed, "removed"),
            )
            if n
        ]
        if detail.problems:
            parts.append(plural(len(detail.problems), "unreadable line"))
        if parts:
            changes.append(
                Change(
                    "evals",
                    "changed",
                    field,
                    detail.old_size,
                    detail.new_size,
                    ctx.impact("evals.case"),
                    f"dataset {name!r}: " + ", ".join(parts),
                    "evals.case",
                )
            )
    if not changes:
        return None
    return ComponentDiff("evals", name, "changed", tuple(changes), detail)


JUDGE_NOTE = ": the judge changed, judged scores are not comparable across it"


def _is_judge(path: str, field: str) -> bool:
    rest = path.removeprefix(field + ".")
    return rest.startswith(("grader", "judge_prompt", "pairwise_prompt")) or (
        rest.startswith("assert") and rest.endswith(".judge_prompt")
    )


def judge_prompt_paths(table: dict[str, Any]) -> list[str]:
    """The judge prompt files a dataset table names (its own and its assertions')."""
    paths = [table.get("judge_prompt"), table.get("pairwise_prompt")]
    asserts = table.get("assert")
    if isinstance(asserts, list):
        paths += [a.get("judge_prompt") for a in asserts if isinstance(a, dict)]
    return list(dict.fromkeys(p for p in (clean_path(x) for x in paths if isinstance(x, str)) if p))


def _judge_prompts(
    name: str, a: dict[str, Any], b: dict[str, Any], old: Snapshot, new: Snapshot, ctx: Context
) -> list[Change]:
    """A judge prompt file whose text changed under the same path: what judged scores
    mean changed with it (a path that changed is already a field change)."""
    before, after = judge_prompt_paths(a), judge_prompt_paths(b)
    ctx.claimed.update(before + after)
    out = []
    for path in after:
        if path in before and old.has(path) and new.has(path) and old.digest_of(path) != new.digest_of(path):
            out.append(
                Change(
                    "evals",
                    "changed",
                    f"evals.{name}.judge_prompt",
                    old.digest_of(path),
                    new.digest_of(path),
                    ctx.impact("evals.judge"),
                    f"dataset {name!r}: judge prompt {path} changed{JUDGE_NOTE}",
                    "evals.judge",
                )
            )
    return out


def _chunks(
    tree: TreeLike, path: str, progress: Callable[[int], None] | None = None
) -> Iterator[list[bytes]]:
    """The file's lines in blocks (split in C); every line of the file, blank ones too,
    so positions count line numbers. ``progress(n)`` is told of each block's bytes."""
    with tree.open(path) as handle:
        yield from blocks(handle, progress)


def _all_lines(tree: TreeLike, path: str, progress: Callable[[int], None] | None) -> Iterator[bytes]:
    return chain.from_iterable(_chunks(tree, path, progress))


# Both sides are read whole and walked in place when each is at most this large: 2.5x
# faster than walking line by line, for memory about the two files.
IN_MEMORY = 256 << 20


def _count_cases(tree: TreeLike, path: str | None) -> int:
    if path is None:
        return 0
    return sum(1 for lines in _chunks(tree, path) for line in lines if line.strip())


def diff_dataset(
    old_tree: TreeLike | None,
    old_path: str | None,
    new_tree: TreeLike | None,
    new_path: str | None,
    progress: Callable[[int, int], None] | None = None,
) -> EvalDiff:
    """Case-level diff of two JSONL files (either may be absent: all added / removed).
    ``progress(done, total)`` is called with bytes read after each block."""
    total = (_size(old_tree, old_path) or 0) + (_size(new_tree, new_path) or 0)
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    walked = _walked(old_tree, old_path, new_tree, new_path)
    if walked is not None:
        advance(total)
        unchanged, old_rest, new_rest = walked.unchanged, walked.old_rest, walked.new_rest
    else:
        old_lines: Iterator[bytes] = iter(())
        if old_tree is not None and old_path is not None:
            old_lines = _all_lines(old_tree, old_path, advance)
        new_lines: Iterator[bytes] = iter(())
        if new_tree is not None and new_path is not None:
            new_lines = _all_lines(new_tree, new_path, advance)
        unchanged, old_rest, new_rest = walk_lines(old_lines, new_lines)
    while old_rest and new_rest and old_rest[-1][1] == new_rest[-1][1]:
        _, line = old_rest.pop()
        new_rest.pop()
        unchanged += bool(line.strip())
    old_kept, new_kept, moved = _unmatched(old_rest, new_rest)
    unchanged += moved
    del old_rest, new_rest
    problems: list[str] = []
    old_cases = _parse(old_kept, old_path or "", problems)
    new_cases = _parse(new_kept, new_path or "", problems)
    cases: list[CaseChange] = []
    for case_id, (new_line, new_obj) in new_cases.items():
        if case_id in old_cases:
            old_line, old_obj = old_cases[case_id]
            fields = tuple(field_changes(old_obj, new_obj))
            if fields:
                cases.append(CaseChange(case_id, "changed", old_line, new_line, fields))
            else:
                unchanged += 1  # same case, only formatted differently
        else:
            cases.append(CaseChange(case_id, "added", None, new_line))
    for case_id, (old_line, _) in old_cases.items():
        if case_id not in new_cases:
            cases.append(CaseChange(case_id, "removed", old_line, None))
    cases.sort(key=lambda c: (_KIND_ORDER[c.kind], c.new_line or c.old_line or 0))
    tally = {"changed": 0, "added": 0, "removed": 0}
    for case in cases:
        tally[case.kind] += 1
    return EvalDiff(
        old_path=old_path if old_tree is not None else None,
        new_path=new_path if new_tree is not None else None,
        added=tally["added"],
        removed=tally["removed"],
        changed=tally["changed"],
        unchanged=unchanged,
        cases=tuple(cases),
        problems=tuple(problems),
        old_size=_size(old_tree, old_path),
        new_size=_size(new_tree, new_path),
    )


def _walked(
    old_tree: TreeLike | None, old_path: str | None, new_tree: TreeLike | None, new_path: str | None
) -> Walk | None:
    """Both sides walked in place: the walk a bump's check made already, else both files
    read whole when they fit (`IN_MEMORY`); None: walk them line by line."""
    if old_tree is None or old_path is None or new_tree is None or new_path is None:
        return None
    old_entry, new_entry = old_tree.entries.get(old_path), new_tree.entries.get(new_path)
    if old_entry is None or new_entry is None:
        return None
    walked = new_tree.walk_of(new_path, str(old_entry.digest))
    if walked is not None:
        return walked
    if int(old_entry.size) > IN_MEMORY or int(new_entry.size) > IN_MEMORY:
        return None
    return walk(old_tree.read_buffer(old_path), new_tree.read_buffer(new_path))


def _unmatched(
    old_rest: list[tuple[int, bytes]], new_rest: list[tuple[int, bytes]]
) -> tuple[list[tuple[int, bytes]], list[tuple[int, bytes]], int]:
    """The non-blank lines of each side with no equal line on the other side (counted as
    multisets), and how many non-blank lines did have one."""
    counts = Counter(line for _, line in old_rest)
    matched = 0
    new_kept: list[tuple[int, bytes]] = []
    for number, line in new_rest:
        left = counts.get(line)
        if left:
            counts[line] = left - 1
            matched += bool(line.strip())
        elif line.strip():
            new_kept.append((number, line))
    old_kept: list[tuple[int, bytes]] = []
    for number, line in reversed(old_rest):  # the last occurrences stay, as lines are matched
        if counts.get(line) and line.strip():
            counts[line] -= 1
            old_kept.append((number, line))
    old_kept.reverse()
    return old_kept, new_kept, matched


def _size(tree: TreeLike | None, path: str | None) -> int | None:
    if tree is None or path is None or path not in tree.entries:
        return None
    return int(tree.entries[path].size)


def _parse(lines: list[tuple[int, bytes]], path: str, problems: list[str]) -> dict[str, tuple[int, Any]]:
    """Differing lines parsed and keyed by id, by the eval-set reader's rules
    (`promptver.bundle.evalset`); unusable lines become problems."""
    out: dict[str, tuple[int, Any]] = {}
    for number, line in lines:
        try:
            obj = check_case(parse_line(line, number))
        except LineError as exc:
            where = f"{path}:{number}" + (f":{exc.column}" if exc.column else "")
            problems.append(f"{where}: {_short(exc)}")
            continue
        key = obj["id"]
        if key in out:
            problems.append(f"{path}:{number}: duplicate id {key!r} (first on line {out[key][0]})")
            continue
        out[key] = (number, obj)
    return out


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 120 else text[:119] + "…"
