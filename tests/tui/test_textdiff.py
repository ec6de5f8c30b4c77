from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from promptver.tui.textdiff import INTRALINE_LIMIT, align, word_spans


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
