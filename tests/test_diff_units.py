"""Pieces of the diff engine: Jinja2 variables, text hunks, the model, the policy table."""

from __future__ import annotations

import json

import pytest

from promptver.bundle.variables import TemplateParseError, analyze
from promptver.bundle.versioning import RULES, parse_policy
from promptver.diff import text as textdiff
from promptver.diff.model import (
    BundleDiff,
    Change,
    ComponentDiff,
    Impact,
    Side,
    Summary,
)


def variables(source: str, files: dict[str, str] | None = None) -> tuple[set[str], set[str]]:
    files = files or {}
    result = analyze(source, "t.j2", files.get)
    return set(result.required), set(result.optional)


# -- Jinja2 variables --------------------------------------------------------------------------


def test_variables_through_loops_conditionals_filters() -> None:
    req, opt = variables(
        "{% for item in items %}{{ item.name | upper }}{{ loop.index }}{% endfor %}"
        "{% if urgent %}{{ sla | string }}{% else %}{{ fallback }}{% endif %}"
        "{{ greeting | replace('x', repl) }}{% set local = 1 %}{{ local }}"
    )
    assert req == {"items", "urgent", "sla", "fallback", "greeting", "repl"}
    assert opt == set()


def test_variables_through_macros_and_includes() -> None:
    files = {
        "parts/sig.j2": "-- {{ agent }}",
        "parts/macros.j2": "{% macro cite(doc) %}[{{ doc }}] {{ style }}{% endmacro %}",
    }
    req, opt = variables(
        '{% from "parts/macros.j2" import cite with context %}'
        "{% macro row(x) %}{{ x }} {{ currency }}{% endmacro %}{{ row(amount) }}"
        '{{ cite(source) }}{% include "parts/sig.j2" %}',
        files,
    )
    assert req == {"currency", "amount", "source", "style", "agent"}
    assert opt == set()


def test_import_without_context_does_not_add_variables() -> None:
    files = {"m.j2": "{% macro f() %}{{ secret }}{% endmacro %}"}
    req, _ = variables('{% import "m.j2" as m %}{{ m.f() }}{{ x }}', files)
    assert req == {"x"}


def test_optional_variables_are_guarded() -> None:
    req, opt = variables(
        "{% if tone is defined %}{{ tone }}{% endif %}"
        "{% if name is not defined %}anon{% else %}{{ name }}{% endif %}"
        "{{ sig | default('') }}{{ lang | d('en') }}{{ q }}"
    )
    assert req == {"q"} and opt == {"tone", "name", "sig", "lang"}


def test_variable_used_both_guarded_and_unguarded_is_required() -> None:
    req, opt = variables("{{ x | default('') }}{{ x }}")
    assert req == {"x"} and opt == set()


def test_include_cycles_and_missing_includes_are_harmless() -> None:
    files = {"a.j2": '{% include "b.j2" %}{{ a }}', "b.j2": '{% include "a.j2" %}{{ b }}'}
    req, _ = variables('{% include "a.j2" %}{% include "missing.j2" %}{{ top }}', files)
    assert req == {"a", "b", "top"}


def test_parse_error_is_located() -> None:
    with pytest.raises(TemplateParseError, match=r"^t\.j2:2: "):
        analyze("ok\n{% for x in %}", "t.j2", {}.get)


# -- text ------------------------------------------------------------------------------------


def test_hunks_context_numbers_and_unified_order() -> None:
    old = "\n".join(f"line {i}" for i in range(1, 21)) + "\n"
    new = old.replace("line 10\n", "line ten\nextra\n")
    (hunk,), added, removed = textdiff.hunks(old, new)
    assert (added, removed) == (2, 1)
    assert hunk.header == "@@ -7,7 +7,8 @@"
    marks = [(m, line.text) for m, line in hunk.unified()][2:6]
    assert marks == [(" ", "line 9"), ("-", "line 10"), ("+", "line ten"), ("+", "extra")]


def test_word_segments_mark_only_changed_words() -> None:
    (hunk,), _, _ = textdiff.hunks("Answer in two sentences.\n", "Answer in three short sentences.\n")
    row = hunk.rows[0]
    assert [s.text for s in row.old.segments if s.changed] == ["two"]  # type: ignore[union-attr]
    assert [s.text for s in row.new.segments if s.changed] == ["three short"]  # type: ignore[union-attr]
    assert "".join(s.text for s in row.new.segments) == row.new.text  # type: ignore[union-attr]


def test_decode_rejects_binary_and_non_utf8() -> None:
    assert textdiff.decode(b"caf\xc3\xa9") == "café"
    assert textdiff.decode(b"caf\xe9") is None
    assert textdiff.decode(b"a\x00b") is None


def test_similarity_of_large_texts_is_line_based_and_fast() -> None:
    big = "".join(f"row {i}\n" for i in range(50_000))
    assert textdiff.similarity(big, big + "tail\n") > 0.99
    assert textdiff.similarity("abc", "xyz") < 0.5


# -- model -----------------------------------------------------------------------------------


def test_impact_order_and_largest() -> None:
    assert Impact.MAJOR > Impact.MINOR > Impact.PATCH
    assert max([Impact.PATCH, Impact.MAJOR, Impact.MINOR]) is Impact.MAJOR


def _change(impact: Impact, reason: str = "r", old: object = 1) -> Change:
    return Change("model", "changed", "model.params.x", old, 2, impact, reason, "model.params")


def test_bundle_diff_suggestion_counts_and_reasons() -> None:
    comp = ComponentDiff("model", "model", "changed", (_change(Impact.MINOR), _change(Impact.MAJOR, "big")))
    diff = BundleDiff(Side("b", "1.0.0", "sha256:a", "b@1.0.0"), Side("b", None, "sha256:b", "w"), (comp,))
    assert diff.suggested is Impact.MAJOR and comp.impact is Impact.MAJOR
    assert diff.counts() == {"major": 1, "minor": 1, "patch": 0}
    assert [c.reason for c in diff.reasons(Impact.MAJOR)] == ["big"]


def test_summary_round_trip_drops_long_values() -> None:
    comp = ComponentDiff(
        "model", "model", "changed", (_change(Impact.MINOR), _change(Impact.PATCH, old="x" * 500))
    )
    diff = BundleDiff(Side("b", "1.0.0", "sha256:a", "l"), Side("b", None, "sha256:b", "w"), (comp,))
    data = json.loads(json.dumps(diff.summary().to_json()))
    assert data["changes"][1]["old"] is None and data["changes"][0]["old"] == 1
    back = Summary.from_json(data)
    assert back.suggested is Impact.MINOR and back.old_version == "1.0.0"
    assert [c.reason for c in back.changes] == ["r", "r"]


# -- policy ----------------------------------------------------------------------------------


def test_policy_overrides_rules_and_single_fields() -> None:
    policy, problems = parse_policy(
        {"impact": {"model": {"params": "major"}, "model.params.seed": "patch", "evals.case": "minor"}}
    )
    assert problems == []
    assert policy.impact("model.params", "temperature") is Impact.MAJOR
    assert policy.impact("model.params", "seed") is Impact.PATCH
    assert policy.impact("evals.case") is Impact.MINOR
    assert policy.impact("template.removed") is Impact.MAJOR


def test_policy_problems_are_reported_and_ignored() -> None:
    policy, problems = parse_policy(
        {"impact": {"template.remove": "major", "model.name": "huge"}, "strict": True}
    )
    text = "\n".join(str(p) for p in problems)
    assert "unknown key versioning.strict" in text
    assert "unknown impact rule 'template.remove'" in text and "template.removed" in text
    assert 'must be "major", "minor" or "patch", not \'huge\'' in text
    assert policy.impact("model.name") is Impact.MINOR
    assert parse_policy("nope")[1][0].message == "[versioning] must be a table"


def test_every_rule_is_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "diff.md").read_text()
    missing = [rule for rule in RULES if f"`{rule}`" not in doc]
    assert missing == []


def test_heavy_libraries_load_only_when_needed() -> None:
    """A diff touching only eval cases imports neither jinja2, deepdiff nor tiktoken."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys\n"
        "from tests.diff_support import FILES, changed, run\n"
        'new = changed(evals__golden_DOT_jsonl=\'{"id": "a", "vars": {}}\\n\')\n'
        "assert run(FILES, new).suggested.value == 'patch'\n"
        "heavy = [m for m in ('jinja2', 'deepdiff', 'tiktoken', 'rich', 'click') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
