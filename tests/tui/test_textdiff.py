from __future__ import annotations

from collections.abc import Collection

from hypothesis import given
from hypothesis import strategies as st

from promptver.tui.textdiff import (
    CONTEXT,
    INTRALINE_LIMIT,
    Fold,
    align,
    display_rows,
    fold_ranges,
    word_spans,
)


def test_equal_texts_have_no_hunks() -> None:
    diff = align("a\nb\n", "a\nb\n")
    assert not diff.changed
    assert [r.kind for r in diff.rows] == ["equal", "equal"]


def test_replace_insert_delete_rows_are_aligned() -> None:
    diff = align("one\ntwo\nthree\n", "one\nTWO\nthree\nfour\n")
    kinds = [(r.kind, r.old_no, r.new_no) for r in diff.rows]
    assert kinds == [
        ("equal", 1, 1),
        ("replace", 2, 2),
        ("equal", 3, 3),
        ("insert", None, 4),
    ]
    assert diff.hunks == [1, 3]
    assert (diff.added, diff.removed) == (2, 1)


def test_replaced_block_longer_on_one_side_gets_lone_rows() -> None:
    diff = align("a\nx\nb\n", "a\ny1\ny2\nb\n")
    assert [r.kind for r in diff.rows] == ["equal", "replace", "insert", "equal"]


def test_changed_words_are_spans_of_the_line() -> None:
    old, new = "Answer in at most three sentences.", "Answer in at most two sentences."
    old_spans, new_spans = word_spans(old, new)
    assert [old[a:b] for a, b in old_spans] == ["three"]
    assert [new[a:b] for a, b in new_spans] == ["two"]


def test_very_long_lines_are_marked_whole() -> None:
    old, new = "a" * (INTRALINE_LIMIT + 1), "b" * 10
    assert word_spans(old, new) == (((0, len(old)),), ((0, 10),))


def test_ignore_whitespace_makes_indentation_changes_equal() -> None:
    old, new = "if x:\n  y\n", "if x:\n    y  \n"
    assert align(old, new).changed
    relaxed = align(old, new, ignore_whitespace=True)
    assert not relaxed.changed
    assert relaxed.rows[1].new == "    y  "  # shown as written


def test_unified_puts_removals_before_additions() -> None:
    diff = align("a\nb\nc\n", "a\nB\nc\n")
    rows, starts = diff.unified()
    assert [(r.kind, r.text) for r in rows] == [
        ("equal", "a"),
        ("delete", "b"),
        ("insert", "B"),
        ("equal", "c"),
    ]
    assert starts == [1]


def test_empty_sides() -> None:
    assert align("", "").rows == []
    added = align("", "x\ny\n")
    assert [r.kind for r in added.rows] == ["insert", "insert"]
    assert added.hunks == [0]


lines = st.lists(st.sampled_from(["a", "b", "c", "d e", "", "  a"]), max_size=12)


@given(lines, lines)
def test_rows_replay_both_texts(old: list[str], new: list[str]) -> None:
    diff = align("\n".join(old), "\n".join(new))
    assert [r.old for r in diff.rows if r.old is not None] == "\n".join(old).splitlines()
    assert [r.new for r in diff.rows if r.new is not None] == "\n".join(new).splitlines()
    unified, _ = diff.unified()
    assert len(unified) == sum(
        (r.old is not None) + (r.new is not None) - (r.kind == "equal") for r in diff.rows
    )


def test_search_spans_and_segments() -> None:
    from rich.style import Style

    from promptver.tui.widgets.diff_view import _segments, find_spans

    assert find_spans("Tone and tone", "TONE") == ((0, 4), (9, 13))
    assert find_spans("abc", "") == ()
    base, word, match = Style(), Style(bold=True), Style(italic=True)
    segments = _segments("say two now", ((4, 7),), base, word, ((0, 5),), match)
    assert [(s.text, s.style) for s in segments] == [
        ("say ", base + match),
        ("t", word + match),
        ("wo", word),
        (" now", base),
    ]


def numbered(count: int, changed: Collection[int] = ()) -> tuple[str, str]:
    """Two texts of ``count`` lines, differing on the lines (1-based) in ``changed``."""
    old = [f"line {i}" for i in range(1, count + 1)]
    new = [f"LINE {i}" if i in changed else line for i, line in enumerate(old, 1)]
    return "\n".join(old), "\n".join(new)


def test_long_unchanged_runs_fold_around_each_change() -> None:
    diff = align(*numbered(60, {20, 40}))
    folds = fold_ranges(diff.rows)
    # lines 1-16 before the first change, 24-36 between the changes, 44-60 after it
    assert [(f.start, f.end, f.key, f.count) for f in folds] == [
        (0, 16, 1, 16),
        (23, 36, 24, 13),
        (43, 60, 44, 17),
    ]
    assert folds[1].label == "⋯ 13 unchanged lines"


def test_runs_of_at_most_two_contexts_plus_one_stay_whole() -> None:
    run = 2 * CONTEXT + 1
    diff = align(*numbered(run + 2, {1, run + 2}))  # a change, 7 equal lines, a change
    assert fold_ranges(diff.rows) == []
    diff = align(*numbered(run + 3, {1, run + 3}))  # 8 equal lines: the middle two fold
    assert [(f.start, f.end) for f in fold_ranges(diff.rows)] == [(1 + CONTEXT, run + 2 - CONTEXT)]


def test_edges_keep_context_only_towards_the_change() -> None:
    diff = align(*numbered(10, {5}))
    # 4 lines before the change: 1 would hide, too few; 5 after it: 2 hide (lines 9, 10)
    assert [(f.start, f.end) for f in fold_ranges(diff.rows)] == [(8, 10)]


def test_unchanged_and_small_texts_fold_nothing() -> None:
    assert fold_ranges(align(*numbered(500)).rows) == []
    assert fold_ranges(align("a\nb\nc\n", "a\nB\nc\n").rows) == []
    assert fold_ranges(align("", "").rows) == []


def test_unified_rows_fold_the_same_lines_under_the_same_keys() -> None:
    diff = align(*numbered(60, {20, 21, 40}))
    unified, _ = diff.unified()
    split_folds, unified_folds = fold_ranges(diff.rows), fold_ranges(unified)
    assert [(f.key, f.count) for f in split_folds] == [(f.key, f.count) for f in unified_folds]
    for fold in unified_folds:
        assert all(row.kind == "equal" for row in unified[fold.start : fold.end])


def test_display_rows_collapse_and_expand() -> None:
    folds = [Fold(0, 16, 1), Fold(23, 36, 24), Fold(43, 60, 44)]
    shown = display_rows(60, folds)
    assert len(shown.entries) == 60 - (16 + 13 + 17) + 3
    assert shown.entries[0] == folds[0] and shown.entries[1] == 16
    assert shown.position[5] == 0 and shown.position[16] == 1 and shown.position[22] == 7
    assert shown.hidden(30) == folds[1] and shown.hidden(20) is None
    opened = display_rows(60, folds, expanded={24})
    assert opened.hidden(30) is None
    assert opened.entries[opened.position[30]] == 30
    everything = display_rows(60, folds, expanded={1, 24, 44})
    assert everything.entries == list(range(60)) and everything.position == list(range(60))


@given(st.lists(st.booleans(), max_size=40), st.sets(st.integers(0, 40)))
def test_display_rows_show_every_row_once(changes: list[bool], expanded: set[int]) -> None:
    old = [f"l{i}" for i in range(len(changes))]
    new = [f"X{i}" if changed else line for i, (line, changed) in enumerate(zip(old, changes, strict=True))]
    diff = align("\n".join(old), "\n".join(new))
    folds = fold_ranges(diff.rows)
    shown = display_rows(len(diff.rows), folds, expanded)
    replayed: list[int] = []
    for entry in shown.entries:
        replayed.extend(range(entry.start, entry.end) if isinstance(entry, Fold) else [entry])
    assert replayed == list(range(len(diff.rows)))
    assert all(shown.entries[shown.position[i]] in (i, shown.hidden(i)) for i in range(len(diff.rows)))
    for fold in folds:  # never a change inside a fold, never a fold of fewer than two rows
        assert fold.count >= 2
        assert all(row.kind == "equal" for row in diff.rows[fold.start : fold.end])
