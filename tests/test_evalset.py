"""Issue 11, problem 7: one reader for eval sets; what `check`/`bump` accept, `eval` and
`diff` read identically, and what they refuse is refused with ``file:line:col``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptver.bundle.check import check_jsonl
from promptver.diff.evals import diff_dataset
from promptver.errors import ConfigError
from promptver.evals.execution.bundle import folder_view, parse_cases
from promptver.store.tree import MemoryTree

BOT = Path("bundles/bot")
EVALS = BOT / "evals/golden.jsonl"


def _write(project: Path, data: bytes) -> None:
    (project / EVALS).write_bytes(data)


def test_invalid_utf8_inside_a_string_is_refused_by_check_and_bump(project: Path, pv) -> None:
    _write(project, b'{"id": "a", "vars": {"question": "\xff"}}\n')
    for args in (("check", "bot"), ("bump", "minor", "bot")):
        result = pv(*args)
        assert result.code == 1, args
        assert "evals/golden.jsonl:1:35: not UTF-8 text (byte 0xff)" in result.out + result.err
        assert "Traceback" not in result.out + result.err
    assert not (project / ".promptver/bundles/bot/versions").exists() or not any(
        (project / ".promptver/bundles/bot/versions").iterdir()
    )
    # and `eval` names the same place instead of dying with a UnicodeDecodeError
    result = pv("eval", "bot")
    assert result.code == 1 and "evals/golden.jsonl:1:35: not UTF-8 text" in result.err
    assert "Traceback" not in result.err


def test_unicode_line_breaks_inside_strings_are_read_as_characters(project: Path, pv) -> None:
    cases = [
        {"id": "a", "vars": {"question": "one\u2028two"}},
        {"id": "b", "vars": {"question": "x\x85y\u2029z\x0bq"}},
    ]
    data = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases).encode()
    _write(project, data)
    assert pv("check", "bot").code == 0
    dataset = folder_view(project / BOT).dataset("golden")
    assert [c.vars for c in dataset.cases] == [c["vars"] for c in cases]
    assert parse_cases(data, "golden.jsonl")[1].vars["question"] == "x\x85y\u2029z\x0bq"


def test_bom_is_refused_with_its_name(project: Path, pv) -> None:
    _write(project, b'\xef\xbb\xbf{"id": "a", "vars": {"question": "q"}}\n')
    result = pv("check", "bot")
    assert result.code == 1
    assert "evals/golden.jsonl:1:1: the file starts with a UTF-8 byte order mark (BOM)" in result.out
    assert "save the file as UTF-8 without a BOM" in result.out
    with pytest.raises(ConfigError, match="byte order mark"):
        parse_cases(b'\xef\xbb\xbf{"id": "a"}\n', "x.jsonl")


def test_lone_surrogate_and_nan_are_refused() -> None:
    for line, what in (
        (b'{"id": "a", "vars": {"q": "\\ud800"}}', "surrogate"),
        (b'{"id": "a", "expected": NaN}', "NaN"),
    ):
        tree = MemoryTree({"e.jsonl": line + b"\n"})
        (problem,) = check_jsonl(tree, "e.jsonl", set())
        assert what in problem.message and problem.line == 1 and problem.column == 1
        with pytest.raises(ConfigError, match=what):
            parse_cases(line, "e.jsonl")
    pair = b'{"id": "a", "vars": {"q": "\\ud83d\\ude00"}}\n'  # a pair is one character
    assert check_jsonl(MemoryTree({"e.jsonl": pair}), "e.jsonl", set()) == []
    assert parse_cases(pair, "e.jsonl")[0].vars == {"q": "\U0001f600"}


def test_wrong_field_types_are_refused_by_check_not_only_by_eval() -> None:
    for line in (
        b'{"id": "a", "tags": 5}',
        b'{"id": "a", "assert": {"type": "equals"}}',
        b'{"id": "a", "expected_sources": "doc.md"}',
        b'{"id": "a", "template": 3}',
    ):
        problems = check_jsonl(MemoryTree({"e.jsonl": line + b"\n"}), "e.jsonl", set())
        assert len(problems) == 1 and problems[0].line == 1, line
        with pytest.raises(ConfigError):
            parse_cases(line, "e.jsonl")


# --- property: whatever check (and so bump) accepts, eval and diff read identically ------

TRICKY = 'a\u2028\u2029\x85\x0b\x0c\x1c\r\n\t"\\é\ufeff\x00\U0001f600 '
texts = st.text(alphabet=TRICKY, max_size=6)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False, allow_infinity=False), texts
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(texts, scalars | st.lists(scalars, max_size=2), max_size=3),
)


def rarely(draw: st.DrawFn, n: int = 8) -> bool:
    return draw(st.sampled_from([False] * n + [True]))


@st.composite
def case_line(draw: st.DrawFn, case_id: str) -> bytes:
    case: dict[str, Any] = {"id": draw(st.one_of(st.integers(0, 3), st.none())) if rarely(draw) else case_id}
    if draw(st.booleans()):
        case["vars"] = draw(values) if rarely(draw) else draw(st.dictionaries(texts, values, max_size=3))
    if draw(st.booleans()):
        case["expected"] = float("nan") if rarely(draw) else draw(values)
    if rarely(draw, 3):
        case["tags"] = (
            draw(values) if rarely(draw) else draw(st.lists(st.one_of(texts, st.integers()), max_size=2))
        )
    if rarely(draw, 3):
        case["assert"] = draw(values) if rarely(draw) else [{"type": "equals", "value": draw(texts)}]
    if rarely(draw, 3):
        case["expected_sources"] = draw(values) if rarely(draw) else draw(st.lists(texts, max_size=2))
    line = json.dumps(case, ensure_ascii=draw(st.booleans())).encode()
    if rarely(draw):  # a stray byte somewhere: invalid UTF-8, a raw control or line break
        at = draw(st.integers(0, len(line)))
        line = (
            line[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\x85", b"\r", b"\xe2\x80\xa8"])) + line[at:]
        )
    return line


@st.composite
def eval_files(draw: st.DrawFn) -> bytes:
    ids = draw(st.lists(texts.filter(bool), max_size=5, unique=True))
    if ids and rarely(draw):
        ids.append(ids[0])  # a duplicate
    lines = [draw(case_line(case_id)) for case_id in ids]
    joiner = draw(st.sampled_from([b"\n", b"\r\n", b"\n\n"]))
    data = joiner.join(lines) + draw(st.sampled_from([b"", b"\n"]))
    if rarely(draw):
        data = b"\xef\xbb\xbf" + data
    return data


def _naive(data: bytes) -> list[dict[str, Any]]:
    """An independent reading of an accepted file: split at \\n, decode, parse."""
    out = []
    for raw in data.split(b"\n"):
        if raw.strip():
            obj = json.loads(raw.decode("utf-8"))
            out.append({"id": obj["id"], "vars": obj.get("vars", {}), "expected": obj.get("expected")})
    return out


@settings(max_examples=300, deadline=None, database=None)
@given(eval_files())
def test_what_check_accepts_eval_and_diff_read_identically(data: bytes) -> None:
    tree = MemoryTree({"e.jsonl": data})
    problems = check_jsonl(tree, "e.jsonl", set())
    if problems:
        assert all(p.file == "e.jsonl" and p.line for p in problems[:1])
        with pytest.raises(ConfigError):  # eval refuses the same file, located
            parse_cases(data, "e.jsonl")
        return
    cases = parse_cases(data, "e.jsonl")
    assert [{"id": c.id, "vars": c.vars, "expected": c.expected} for c in cases] == _naive(data)
    diff = diff_dataset(None, None, tree, "e.jsonl")
    assert diff.problems == ()
    assert sorted(c.id for c in diff.cases) == sorted(c.id for c in cases)


@settings(
    max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(eval_files())
def test_what_bump_stores_eval_reads_identically(project: Path, data: bytes) -> None:
    """End to end: a real bump of the file, then the stored version opened as `eval` does."""
    from promptver.errors import BundleError, NothingChangedError
    from promptver.evals.source import open_bundle
    from promptver.store.store import Store
    from promptver.versions.bump import bump

    store = Store.find(project)
    (project / EVALS).write_bytes(data)
    try:
        manifest = bump(store, "bot", "patch").manifest
    except NothingChangedError:
        return
    except BundleError as exc:
        assert all(p.file == "evals/golden.jsonl" and p.line for p in exc.problems)
        return
    dataset = open_bundle(f"bot@{manifest.version}", store).dataset("golden")
    assert [{"id": c.id, "vars": c.vars, "expected": c.expected} for c in dataset.cases] == _naive(data)


# --- the bump's one pass for shape and coverage says what the two passes say -------------


@st.composite
def covered_files(draw: st.DrawFn) -> bytes:
    lines = []
    for n in range(draw(st.integers(0, 4))):
        case: dict[str, Any] = {"id": f"c{n}" if not rarely(draw) else "c0"}
        if draw(st.booleans()):
            names = draw(st.lists(st.sampled_from(["q", "tone", "x"]), unique=True, max_size=3))
            case["vars"] = {name: draw(values) for name in names} if not rarely(draw) else draw(values)
        if rarely(draw, 2):
            case["template"] = draw(st.sampled_from(["answer", "other", "unknown", 3]))
        if rarely(draw, 4):
            case["tags"] = draw(st.sampled_from([["a"], "a", [1, "b"]]))
        lines.append(json.dumps(case).encode())
    return b"\n".join(lines) + b"\n"


@settings(max_examples=300, deadline=None, database=None)
@given(covered_files(), st.sets(st.sampled_from(["q", "tone"])))
def test_one_pass_for_shape_and_coverage_agrees_with_the_two_passes(data: bytes, required: set[str]) -> None:
    from promptver.bundle.check import all_cover
    from promptver.bundle.evalset import fast_valid

    templates = {"answer", "other"}
    both = fast_valid(data, templates) and all_cover(data, required, "answer")
    assert fast_valid(data, templates, covers=("answer", required)) == both
