"""`promptver check`: every problem listed, located, with exit 1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

BOT = Path("bundles/bot")


def _edit(project: Path, rel: str, old: str, new: str) -> None:
    path = project / BOT / rel
    text = path.read_text()
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1))


def test_scaffolded_bundle_is_valid(project: Path, pv) -> None:
    result = pv("check", "bot")
    assert result.code == 0, result.err
    assert "bot: ok" in result.out


def test_malformed_toml_has_line_and_column(project: Path, pv) -> None:
    _edit(project, "bundle.toml", 'name = "gpt-4o-mini"', 'name = "gpt-4o-mini')
    result = pv("check", "bot")
    assert result.code == 1
    assert "bundle.toml:10:20:" in result.out and "invalid TOML" in result.out


def test_schema_problems_are_all_listed(project: Path, pv) -> None:
    _edit(project, "bundle.toml", 'provider = "openai"', 'provider = "openai"\nprovidr = "x"')
    spec = project / BOT / "bundle.toml"
    spec.write_text(spec.read_text() + "\n[model.response_format]\ntype = 3\n")
    _edit(project, "bundle.toml", 'path = "evals/golden.jsonl"', "path = 7")
    result = pv("check", "bot")
    assert result.code == 1
    assert "3 problems" in result.out
    assert "unknown key 'model.providr'" in result.out and "did you mean 'provider'?" in result.out
    assert "model.response_format.type must be one of" in result.out
    assert "evals.golden.path must be a string, got 7" in result.out
    assert "bundle.toml:10:1: unknown key" in result.out  # located on its own line
    assert "bundle.toml:36:1: evals.golden.path" in result.out


def test_a_missing_required_key_is_named_by_its_dotted_path(project: Path, pv) -> None:
    """Once `missing required key model.'provider'`."""
    _edit(project, "bundle.toml", 'provider = "openai"', "")
    result = pv("check", "bot")
    assert result.code == 1
    assert "missing required key 'model.provider'" in result.out and "'model.'" not in result.out


def test_unknown_top_level_table_suggests(project: Path, pv) -> None:
    (project / BOT / "bundle.toml").write_text(
        (project / BOT / "bundle.toml").read_text() + "\n[promts]\nx = 1\n"
    )
    result = pv("check", "bot")
    assert "unknown key 'promts'" in result.out and "did you mean 'prompts'?" in result.out


def test_template_syntax_error_has_file_and_line(project: Path, pv) -> None:
    (project / BOT / "prompts/answer.j2").write_text("Question:\n{{ question }\n")
    result = pv("check", "bot")
    assert result.code == 1
    assert "prompts/answer.j2:2: template syntax error" in result.out


def test_missing_file_and_bad_eval_lines(project: Path, pv) -> None:
    (project / BOT / "prompts/system.j2").unlink()
    with open(project / BOT / "evals/golden.jsonl", "a") as f:
        f.write('{"id": "greeting", "vars": {}}\n{not json}\n[1, 2]\n{"vars": {}}\n')
    result = pv("check", "bot")
    assert result.code == 1
    out = result.out
    assert "prompts.system: file 'prompts/system.j2' does not exist" in out
    assert "evals/golden.jsonl:3: duplicate id 'greeting' (first on line 1)" in out
    assert "evals/golden.jsonl:4:2: not valid JSON" in out
    assert "evals/golden.jsonl:5:1: a case must be a JSON object" in out
    assert 'evals/golden.jsonl:6: missing "id"' in out
    assert "6 problems" not in out and "5 problems" in out


@pytest.mark.parametrize("path", ["../outside.j2", "/etc/passwd"])
def test_paths_escaping_the_bundle_are_refused(project: Path, pv, path: str) -> None:
    _edit(project, "bundle.toml", 'answer = "prompts/answer.j2"', f'answer = "{path}"')
    result = pv("check", "bot")
    assert result.code == 1
    assert "paths must stay inside the bundle" in result.out


def test_symlink_out_of_the_bundle_is_refused(project: Path, pv, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("api key")
    os.symlink(secret, project / BOT / "prompts" / "leak.j2")
    result = pv("check", "bot")
    assert result.code == 1
    assert "symlink leads outside the bundle" in result.out


def test_check_by_path_and_json(project: Path, pv) -> None:
    result = pv("check", "bundles/bot", "--json")
    assert result.code == 0
    assert '"ok": true' in result.out


def test_unknown_bundle(project: Path, pv) -> None:
    result = pv("check", "bto")
    assert result.code == 1
    assert "unknown bundle 'bto'" in result.err and "did you mean 'bot'?" in result.err


def test_large_valid_eval_set_takes_the_fast_path(project: Path, pv, monkeypatch) -> None:
    import json as stdlib_json

    import promptver.bundle.evalset

    lines = [
        stdlib_json.dumps({"id": f"c{i}", "vars": {"question": "q"}, "expected": "x"}) for i in range(500)
    ]
    (project / BOT / "evals/golden.jsonl").write_text("\n".join(lines) + "\n\n")
    slow_calls: list[int] = []
    real = promptver.bundle.evalset.check_case
    monkeypatch.setattr(promptver.bundle.evalset, "check_case", lambda *a: slow_calls.append(1) or real(*a))
    assert pv("check", "bot").code == 0
    assert slow_calls == []
    (project / BOT / "evals/golden.jsonl").write_text("\n".join(lines) + '\n{"id": "c7", "vars": null}\n')
    result = pv("check", "bot")
    assert """evals/golden.jsonl:501: case 'c7': "vars" must be an object""" in result.out
    assert len(slow_calls) == 501


def test_bom_in_bundle_toml_says_so(project: Path, pv) -> None:
    spec = project / BOT / "bundle.toml"
    spec.write_bytes(b"\xef\xbb\xbf" + spec.read_bytes())
    result = pv("check", "bot")
    assert result.code == 1
    assert "bundle.toml:1:1: the file starts with a UTF-8 byte order mark (BOM)" in result.out
    assert "save the file as UTF-8 without a BOM" in result.out


def test_bundle_toml_not_utf8_is_located(project: Path, pv) -> None:
    spec = project / BOT / "bundle.toml"
    spec.write_bytes(spec.read_bytes().replace(b'name = "bot"', b'name = "b\xffot"', 1))
    result = pv("check", "bot")
    assert result.code == 1
    assert "bundle.toml:3:10: is not UTF-8 text (byte 0xff)" in result.out


def test_schema_problems_do_not_hide_the_others(project: Path, pv) -> None:
    """An unknown key and a missing eval file are both reported in one run."""
    _edit(project, "bundle.toml", "[bundle]\n", '[bundle]\ncolour = "red"\n')
    (project / BOT / "evals/golden.jsonl").unlink()
    result = pv("check", "bot")
    assert result.code == 1
    assert "unknown key 'bundle.colour'" in result.out
    assert "evals.golden.path: file 'evals/golden.jsonl' does not exist" in result.out
    assert "2 problems" in result.out


def test_check_names_template_variables_no_case_provides(project: Path, pv) -> None:
    """A required variable no case supplies would make eval fail on every case: check and
    bump say so, per case and line; a default or an `is defined` guard makes it optional."""
    _edit(project, "prompts/answer.j2", "{{ question }}", "{{ question }} in {{ max_words }} words")
    result = pv("check", "bot")
    assert result.code == 1
    assert "evals/golden.jsonl:1: case 'greeting': template 'answer' needs max_words" in result.out
    assert "evals/golden.jsonl:2: case 'capital': template 'answer' needs max_words" in result.out
    refused = pv("bump", "minor", "bot")
    assert refused.code == 1 and "needs max_words" in refused.err
    # one case provides it: only the other is named
    golden = project / BOT / "evals/golden.jsonl"
    golden.write_text(
        golden.read_text().replace(
            '"vars": {"question": "Say hello."}', '"vars": {"question": "Say hello.", "max_words": 5}'
        )
    )
    out = pv("check", "bot").out
    assert "case 'greeting'" not in out and "case 'capital'" in out
    # optional once it has a default
    _edit(project, "prompts/answer.j2", "{{ max_words }}", "{{ max_words | default(50) }}")
    assert pv("check", "bot").code == 0


def test_the_system_prompt_and_a_case_template_count_too(project: Path, pv) -> None:
    _edit(project, "prompts/system.j2", "You are", "You work for {{ company }}. You are")
    out = pv("check", "bot").out
    assert "template 'answer' needs company" in out
    # a case rendered with another template is checked against that template's variables
    _edit(
        project,
        "bundle.toml",
        'answer = "prompts/answer.j2"',
        'answer = "prompts/answer.j2"\nshort = "prompts/short.j2"',
    )
    (project / BOT / "prompts/short.j2").write_text("{{ topic }}\n")
    golden = project / BOT / "evals/golden.jsonl"
    golden.write_text(
        '{"id": "a", "vars": {"question": "q", "company": "Acme"}}\n'
        '{"id": "b", "template": "short", "vars": {"company": "Acme"}}\n'
    )
    out = pv("check", "bot").out
    assert "evals/golden.jsonl:2: case 'b': template 'short' needs topic" in out
    assert "case 'a'" not in out


def test_the_retrieval_context_is_not_required_of_cases(project: Path, pv) -> None:
    """With a [rag] corpus, the context variable is filled by retrieval (--target rag)."""
    (project / BOT / "corpus").mkdir()
    (project / BOT / "corpus/refunds.md").write_text("# Refunds\n\n30 days.\n")
    _edit(project, "bundle.toml", "[prompts]", '[rag]\ncorpus = "corpus"\nretriever = "bm25"\n\n[prompts]')
    _edit(
        project,
        "prompts/answer.j2",
        "{{ question }}",
        "{{ question }}\n{% for c in context %}{{ c.text }}{% endfor %}",
    )
    assert pv("check", "bot").code == 0, pv("check", "bot").out


def test_a_bump_reuses_the_coverage_checked_beside_the_hashing(project: Path, monkeypatch) -> None:
    """The coverage pass runs in the bump's second thread (prevalidate): check_tree then
    finds its key and does not read the eval set again."""
    from promptver.bundle import check
    from promptver.store.store import Store
    from promptver.versions.bump import bump

    calls: list[str] = []
    real = check._uncovered

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append("slow")
        return real(*args, **kwargs)

    monkeypatch.setattr(check, "_uncovered", spy)
    bump(Store.find(project), "bot", "minor")
    assert calls == []


def test_a_bump_remembers_template_variables_by_the_content_of_every_file_read(
    project: Path, pv, monkeypatch
) -> None:
    """Unchanged templates: the second bump does not parse them again. A change in a
    file they include is a change: the new variable is required at once."""
    from promptver.bundle import check

    calls: list[str] = []
    real = check.required_variables

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append("parsed")
        return real(*args, **kwargs)

    monkeypatch.setattr(check, "required_variables", spy)
    (project / BOT / "prompts/tone.j2").write_text("Be kind.\n")
    _edit(project, "prompts/answer.j2", "{{ question }}", '{{ question }}\n{% include "prompts/tone.j2" %}')
    assert pv("bump", "minor", "bot").code == 0
    assert calls
    calls.clear()
    with open(project / BOT / "evals/golden.jsonl", "a") as handle:
        handle.write('{"id": "more", "vars": {"question": "And?"}}\n')
    assert pv("bump", "minor", "bot").code == 0
    assert calls == []  # the templates did not change: remembered
    (project / BOT / "prompts/tone.j2").write_text("Be {{ tone }}.\n")
    refused = pv("bump", "minor", "bot")
    assert refused.code == 1 and "template 'answer' needs tone" in refused.err
    # a damaged entry is worked out again, not trusted
    (project / BOT / "prompts/tone.j2").write_text("Be kind.\n")
    for entry in (project / ".promptver/cache/variables").iterdir():
        entry.write_text("[not, json")
    with open(project / BOT / "evals/golden.jsonl", "a") as handle:
        handle.write('{"id": "last", "vars": {"question": "Done?"}}\n')
    calls.clear()
    assert pv("bump", "minor", "bot").code == 0
    assert calls


def test_an_unknown_assertion_type_is_located_with_did_you_mean(project: Path, pv) -> None:
    _edit(project, "bundle.toml", 'type = "icontains"', 'type = "icontain"')
    lines = (project / BOT / "bundle.toml").read_text().splitlines()
    line = next(n for n, text in enumerate(lines, start=1) if "icontain" in text)
    column = lines[line - 1].index("type") + 1
    result = pv("check", "bot")
    assert result.code == 1
    assert (
        f"bundle.toml:{line}:{column}: evals.golden.assert #1: unknown assertion type 'icontain'"
        " (did you mean 'icontains'?)" in result.out
    ), result.out


def test_every_assertion_option_is_checked_in_either_toml_form(project: Path, pv) -> None:
    """Unknown options (with did-you-mean), values of the wrong kind, missing values; inline
    arrays over several lines and [[evals.NAME.assert]] tables alike."""
    _edit(
        project,
        "bundle.toml",
        'assert = [{ type = "icontains", value = "{{ expected }}" }]',
        'assert = [\n  { type = "icontains", value = "{{ expected }}" },\n'
        '  { type = "regex", value = "a", ignorecase = true },  # a comment with type = "x"\n'
        '  { type = "similar", value = "b", threshold = 3 },\n]',
    )
    spec = project / BOT / "bundle.toml"
    spec.write_text(
        spec.read_text()
        + '\n[evals.more]\npath = "evals/golden.jsonl"\ntemplate = "answer"\n'
        + '[[evals.more.assert]]\ntype = "equals"\nvalue = "x"\n'
        + '[[evals.more.assert]]\nweight = 1\ntype = "latency-under"\n'
    )
    lines = spec.read_text().splitlines()

    def at(needle: str, key: str, nth: int = 0) -> str:
        found = [n for n, text in enumerate(lines, start=1) if needle in text][nth]
        return f"bundle.toml:{found}:{lines[found - 1].index(key) + 1}:"

    result = pv("check", "bot", "--json")
    assert result.code == 1
    out = pv("check", "bot").out
    assert (
        f"{at('ignorecase', 'ignorecase')} evals.golden.assert #2: unknown option 'ignorecase' for"
        " assertion 'regex' (did you mean 'ignore_case'?)" in out
    ), out
    assert (
        f"{at('threshold = 3', 'threshold')} evals.golden.assert #3: 'threshold' must be between 0 and 1"
        in out
    )
    assert (
        f"{at('latency-under', 'type')} evals.more.assert #2: assertion 'latency-under' needs a 'value'"
        in out
    )
    assert "evals.more.assert #1" not in out and "evals.golden.assert #1" not in out  # the valid ones


def test_eval_blames_bundle_toml_for_a_dataset_assertion(project: Path, pv) -> None:
    _edit(project, "bundle.toml", 'type = "icontains"', 'type = "icontain"')
    result = pv("eval", "bot")
    assert result.code == 1
    assert "bundle.toml:" in result.err and "unknown assertion type 'icontain'" in result.err
    assert "golden.jsonl" not in result.err, result.err
