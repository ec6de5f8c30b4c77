"""Semantic diff of bundle trees, component by component (real trees, no store)."""

from __future__ import annotations

import json

from promptver.diff.model import ChunkCounts, EvalDiff, FilesDiff, Impact, RagDiff, TextDiff
from promptver.diff.render import component_stat
from tests.diff_support import FILES, changed, config, run


def rules(diff) -> dict[str, Impact]:  # type: ignore[no-untyped-def]
    return {c.rule: c.impact for c in diff.changes}


def test_identical_trees_have_no_components() -> None:
    diff = run(FILES, dict(FILES))
    assert diff.identical and diff.components == () and diff.suggested is None


def test_comment_only_config_change_is_no_semantic_change() -> None:
    diff = run(FILES, config("[bundle]\n", "# a comment\n[bundle]\n"))
    assert not diff.identical and diff.components == () and diff.suggested is None


# -- model ---------------------------------------------------------------------------------


def test_model_params_are_field_level_minor() -> None:
    diff = run(FILES, config("temperature = 0.2", "temperature = 0.7\ntop_p = 0.9"))
    changes = {c.path: c for c in diff.changes}
    temp = changes["model.params.temperature"]
    assert (temp.kind, temp.old, temp.new, temp.impact) == ("changed", 0.2, 0.7, Impact.MINOR)
    assert temp.reason == "params.temperature: 0.2 -> 0.7"
    assert changes["model.params.top_p"].kind == "added"
    assert diff.suggested is Impact.MINOR


def test_provider_change_is_major_and_model_name_minor() -> None:
    diff = run(
        FILES,
        config('provider = "openai"\nname = "gpt-4"', 'provider = "anthropic"\nname = "claude-3-5-sonnet"'),
    )
    r = rules(diff)
    assert r["model.provider"] is Impact.MAJOR and r["model.name"] is Impact.MINOR
    assert any("callers' client code differs" in c.reason for c in diff.changes)
    assert diff.suggested is Impact.MAJOR


SCHEMA = {
    "type": "object",
    "properties": {"priority": {"type": "string", "enum": ["low", "high"]}, "summary": {"type": "string"}},
    "required": ["priority", "summary"],
}


def test_response_schema_changes_field_by_field_and_major() -> None:
    cfg = '[model.response_format]\ntype = "json_schema"\nschema = "schemas/triage.json"\n\n[prompts]'
    old = {**config("\n[prompts]", "\n" + cfg), "schemas/triage.json": json.dumps(SCHEMA)}
    new_schema = json.loads(json.dumps(SCHEMA))
    new_schema["properties"]["priority"]["enum"] = ["high", "low", "urgent"]  # reordered + 1
    new_schema["properties"]["summary"]["type"] = "integer"
    new_schema["required"] = ["summary", "priority"]  # order only: not a change
    new = {**old, "schemas/triage.json": json.dumps(new_schema)}
    diff = run(old, new)
    paths = sorted(c.path for c in diff.changes)
    assert paths == [
        "model.response_format.schema.properties.priority.enum[2]",
        "model.response_format.schema.properties.summary.type",
    ]
    assert all(c.impact is Impact.MAJOR and c.rule == "model.response_format" for c in diff.changes)
    # the schema file belongs to the model: it is not reported again as a file
    assert [c.kind for c in diff.components] == ["model"]


def test_response_format_type_change_is_major() -> None:
    old = config("\n[prompts]", '\n[model.response_format]\ntype = "text"\n\n[prompts]')
    new = config("\n[prompts]", '\n[model.response_format]\ntype = "json_object"\n\n[prompts]')
    diff = run(old, new)
    assert [(c.path, c.impact) for c in diff.changes] == [("model.response_format.type", Impact.MAJOR)]


# -- templates and system prompt -------------------------------------------------------------


def test_template_text_change_with_tokens_and_word_segments() -> None:
    new = changed(
        prompts__answer_DOT_j2=FILES["prompts/answer.j2"].replace(  # type: ignore[union-attr]
            "Question:", "The question:"
        )
    )
    diff = run(FILES, new)
    (comp,) = diff.components
    assert (comp.kind, comp.name, comp.status, comp.impact) == (
        "templates",
        "answer",
        "changed",
        Impact.MINOR,
    )
    detail = comp.detail
    assert isinstance(detail, TextDiff)
    assert (detail.added_lines, detail.removed_lines) == (1, 1)
    row = detail.hunks[0].rows[0]
    assert row.kind == "replace"
    assert [s.text for s in row.new.segments if s.changed] == ["The question"]  # type: ignore[union-attr]
    tokens = detail.tokens
    assert tokens is not None and tokens.encoding == "cl100k_base" and not tokens.approximate
    assert tokens.delta == 1 and tokens.new == tokens.old + 1  # type: ignore[operator]


def test_whitespace_and_comment_only_template_change_is_patch() -> None:
    text = FILES["prompts/answer.j2"]
    new = changed(prompts__answer_DOT_j2="{# reviewed #}\n" + text.replace(": ", ":   "))  # type: ignore[operator,union-attr]
    diff = run(FILES, new)
    assert rules(diff) == {"template.whitespace": Impact.PATCH}
    assert diff.suggested is Impact.PATCH


def test_variables_added_and_removed_required_and_optional() -> None:
    new_text = (
        "Question: {{ question }} in {{ language }}\n"
        "{% if tone is defined %}Tone: {{ tone }}{% endif %}{{ sig | default('') }}"
    )
    diff = run(FILES, changed(prompts__answer_DOT_j2=new_text))
    by_path = {c.path: c for c in diff.changes}
    assert by_path["templates.answer.variables.language"].impact is Impact.MAJOR
    assert by_path["templates.answer.variables.docs"].kind == "removed"
    assert by_path["templates.answer.variables.docs"].impact is Impact.MAJOR
    assert by_path["templates.answer.variables.tone"].impact is Impact.MINOR
    assert by_path["templates.answer.variables.sig"].impact is Impact.MINOR
    detail = diff.components[0].detail
    assert isinstance(detail, TextDiff)
    assert detail.variables_added == ("language", "sig", "tone")
    assert detail.variables_removed == ("docs",)


def test_template_removed_is_major_added_is_minor() -> None:
    removed = config('answer = "prompts/answer.j2"', "")
    removed.pop("prompts/answer.j2")
    diff = run(FILES, removed)
    assert rules(diff) == {"template.removed": Impact.MAJOR}
    added = config(
        'answer = "prompts/answer.j2"', 'answer = "prompts/answer.j2"\nfollowup = "prompts/followup.j2"'
    )
    added["prompts/followup.j2"] = "Anything else about {{ topic }}?"
    diff = run(FILES, added)
    assert [(c.rule, c.impact, c.kind) for c in diff.changes] == [("template.added", Impact.MINOR, "added")]


def test_template_rename_detected_by_content_similarity() -> None:
    new = config('answer = "prompts/answer.j2"', 'reply = "prompts/reply.j2"')
    new.pop("prompts/answer.j2")
    new["prompts/reply.j2"] = FILES["prompts/answer.j2"] + "\nBe brief.\n"  # type: ignore[operator]
    diff = run(FILES, new)
    (comp,) = diff.components
    assert (comp.name, comp.status) == ("reply", "renamed")
    rename = comp.changes[0]
    assert (rename.rule, rename.old, rename.new, rename.impact) == (
        "template.renamed",
        "answer",
        "reply",
        Impact.MAJOR,
    )
    assert isinstance(comp.detail, TextDiff) and comp.detail.similarity is not None
    assert comp.detail.added_lines == 1 and comp.detail.removed_lines == 0


def test_unrelated_templates_are_not_a_rename() -> None:
    new = config('answer = "prompts/answer.j2"', 'other = "prompts/other.j2"')
    new.pop("prompts/answer.j2")
    new["prompts/other.j2"] = "Completely different: {{ x }}, nothing shared at all here."
    diff = run(FILES, new)
    assert sorted(c.rule for c in diff.changes) == ["template.added", "template.removed"]


def test_template_that_fails_to_parse_still_shows_text_and_is_invalid() -> None:
    broken = "Question: {{ question }\n{% for doc in docs %}- {{ doc }}\n"
    diff = run(FILES, changed(prompts__answer_DOT_j2=broken))
    (comp,) = diff.components
    detail = comp.detail
    assert isinstance(detail, TextDiff)
    assert detail.old.valid and not detail.new.valid
    assert detail.new.error is not None and detail.new.error.startswith("prompts/answer.j2:")
    assert detail.added_lines >= 1 and detail.hunks
    assert {c.rule for c in comp.changes} == {"template.text", "template.invalid"}
    assert comp.impact is Impact.MAJOR
    assert detail.variables_added == () and detail.new.variables is None


def test_binary_template_is_shown_with_sizes_not_decoded() -> None:
    data = b"\xff\xfe\x00binary\x00"
    diff = run(FILES, changed(prompts__system_DOT_j2=data))
    (comp,) = diff.components
    detail = comp.detail
    assert isinstance(detail, TextDiff)
    assert detail.new.binary and detail.new.size == len(data) and detail.hunks == ()
    assert "binary content changed" in comp.changes[0].reason
    json.dumps(diff.to_json())  # nothing undecodable leaks into the JSON


def test_non_utf8_partial_is_binary() -> None:
    diff = run(FILES, changed(prompts___footer_DOT_j2=b"caf\xe9\n"))
    (comp,) = diff.components
    assert comp.kind == "templates" and comp.status == "added"
    assert isinstance(comp.detail, TextDiff) and comp.detail.new.binary


def test_huge_single_line_is_cut_for_display() -> None:
    huge = "word " * 400_000  # 2 MB on one line
    diff = run(FILES, changed(prompts__system_DOT_j2=huge))
    detail = diff.components[0].detail
    assert isinstance(detail, TextDiff)
    lines = [line for _, line in detail.hunks[0].unified()]
    big = [line for line in lines if line.truncated]
    assert big and len(big[0].text) == 2_000 and big[0].truncated == len(huge.rstrip("\n")) - 2_000
    assert len(json.dumps(diff.to_json())) < 100_000


def test_template_over_a_million_characters_is_compared_as_text_only() -> None:
    import time

    huge = "word " * 1_000_000  # 5 MB on one line
    start = time.monotonic()
    diff = run(changed(prompts__system_DOT_j2=huge), changed(prompts__system_DOT_j2=huge + "!"))
    assert time.monotonic() - start < 30  # no Jinja2 lexing or BPE of megabytes
    (comp,) = diff.components
    detail = comp.detail
    assert isinstance(detail, TextDiff)
    assert detail.added_lines == 1 and detail.new.variables is None and detail.new.valid
    assert detail.tokens is not None and detail.tokens.new is None
    assert "longer than 1,000,000 characters" in (detail.tokens.note or "")


def test_system_prompt_change_is_minor_with_token_delta() -> None:
    diff = run(FILES, changed(prompts__system_DOT_j2="You are a terse support agent. Cite sources.\n"))
    (change,) = diff.changes
    assert change.rule == "system.text" and change.impact is Impact.MINOR
    assert "tokens" in change.reason


def test_partial_included_by_template_changes_its_variables() -> None:
    old = {
        **changed(prompts__answer_DOT_j2='{% include "prompts/_footer.j2" %}Q: {{ question }}'),
        "prompts/_footer.j2": "Thanks.",
    }
    new = {**old, "prompts/_footer.j2": "Thanks, {{ customer }}."}
    diff = run(old, new)
    answer, footer = diff.components
    assert footer.name == "prompts/_footer.j2" and footer.impact is Impact.MINOR
    assert [c.rule for c in footer.changes] == ["template.text"]
    # the template that includes it gains a required variable: its interface changed
    assert answer.name == "answer" and answer.impact is Impact.MAJOR
    assert [c.path for c in answer.changes] == ["templates.answer.variables.customer"]


# -- RAG and corpus ----------------------------------------------------------------------------


def test_rag_changes_carry_their_consequences() -> None:
    new = config("top_k = 4", "top_k = 8")
    new = {**new, "bundle.toml": str(new["bundle.toml"]).replace("size = 400", "size = 512")}
    diff = run(FILES, new)
    reasons = {c.path: c.reason for c in diff.changes}
    assert reasons["rag.top_k"] == "top_k: 4 -> 8: retrieval depth"
    assert reasons["rag.chunking.size"].endswith("index must be rebuilt")
    assert diff.suggested is Impact.MINOR


def test_embedding_model_change_is_major() -> None:
    diff = run(FILES, config('"text-embedding-3-small"', '"text-embedding-3-large"'))
    (change,) = diff.changes
    assert change.rule == "rag.embedding_model" and change.impact is Impact.MAJOR
    assert "index must be rebuilt" in change.reason


def test_corpus_documents_added_removed_changed_and_moved() -> None:
    new = changed(corpus__refunds_DOT_md="Refunds within 14 days.\n", corpus__shipping_DOT_md=None)
    new["corpus/logistics/shipping.md"] = FILES["corpus/shipping.md"]
    new["corpus/returns.md"] = "Returns are free.\n"
    diff = run(FILES, new)
    (comp,) = diff.components
    assert comp.kind == "corpus" and isinstance(comp.detail, FilesDiff)
    kinds = {f.path: f.kind for f in comp.detail.files}
    assert kinds == {
        "corpus/refunds.md": "changed",
        "corpus/logistics/shipping.md": "renamed",
        "corpus/returns.md": "added",
    }
    assert all(c.impact is Impact.MINOR for c in comp.changes)


def test_rag_change_counts_the_chunks_before_and_after() -> None:
    long_doc = " ".join(f"word{i}" for i in range(120)) + "\n"
    base = {**FILES, "corpus/long.md": long_doc}
    new = {
        **base,
        "bundle.toml": str(base["bundle.toml"])
        .replace("size = 400", "size = 50")
        .replace("overlap = 40", "overlap = 0"),
    }
    diff = run(base, new)
    rag = next(c for c in diff.components if c.kind == "rag")
    assert isinstance(rag.detail, RagDiff)
    # 3 documents, one chunk each at 400 tokens; the long one splits at 50 tokens
    assert rag.detail.chunks.old == 3
    assert rag.detail.chunks.new is not None and rag.detail.chunks.new > 3
    assert component_stat(rag).endswith(f"chunks 3 -> {rag.detail.chunks.new}")
    assert rag.to_json()["detail"] == {"type": "rag", "chunks": {"old": 3, "new": rag.detail.chunks.new}}


def test_corpus_change_counts_the_chunks_and_bad_chunking_is_unknown() -> None:
    diff = run(FILES, changed(corpus__returns_DOT_md="Returns are free.\n"))
    (comp,) = diff.components
    assert isinstance(comp.detail, FilesDiff) and comp.detail.chunks == ChunkCounts(2, 3)
    assert component_stat(comp) == "1 file, chunks 2 -> 3"
    bad = config('unit = "tokens"', 'unit = "pages"')
    rag = next(c for c in run(FILES, bad).components if c.kind == "rag")
    assert isinstance(rag.detail, RagDiff) and rag.detail.chunks == ChunkCounts(2, None)
    assert component_stat(rag).endswith("chunks 2 -> -")


# -- eval datasets -----------------------------------------------------------------------------


def test_eval_cases_added_removed_changed_by_id_with_field_detail() -> None:
    new_lines = (
        '{"id": "b", "vars": {"question": "q2 edited"}, "expected": "y", "tags": ["t"]}\n'
        "\n"
        '{"vars": {"question": "q1"}, "expected": "x", "id": "a"}\n'  # reordered keys only
        '{"id": "c", "vars": {"question": "q3"}}\n'
    )
    diff = run(FILES, changed(evals__golden_DOT_jsonl=new_lines))
    (comp,) = diff.components
    detail = comp.detail
    assert isinstance(detail, EvalDiff)
    assert (detail.added, detail.removed, detail.changed, detail.unchanged) == (1, 0, 1, 1)
    b = next(c for c in detail.cases if c.id == "b")
    assert (b.old_line, b.new_line) == (2, 1)
    assert [(f.kind, f.path, f.old, f.new) for f in b.fields] == [
        ("changed", "vars.question", "q2", "q2 edited"),
        ("added", "tags", None, ["t"]),
    ]
    (change,) = comp.changes
    assert change.rule == "evals.case" and change.impact is Impact.PATCH
    assert change.reason == "dataset 'golden': 1 case changed, 1 case added"


def test_eval_lines_that_cannot_be_matched_are_problems() -> None:
    new_lines = FILES["evals/golden.jsonl"] + (  # type: ignore[operator]
        '{not json\n[1, 2]\n{"vars": {}}\n{"id": "a", "vars": {"question": "dup"}}\n'
    )
    diff = run(FILES, changed(evals__golden_DOT_jsonl=new_lines))
    detail = diff.components[0].detail
    assert isinstance(detail, EvalDiff)
    problems = "\n".join(detail.problems)
    assert "evals/golden.jsonl:3:2: not valid JSON" in problems
    assert "evals/golden.jsonl:4:1: a case must be a JSON object" in problems
    assert 'evals/golden.jsonl:5: missing "id" (a non-empty string)' in problems
    assert detail.unchanged == 2


def test_eval_dataset_settings_and_new_dataset_are_patch() -> None:
    new = config('template = "answer"', 'template = "answer"\n\n[evals.edge]\npath = "evals/edge.jsonl"')
    new["evals/edge.jsonl"] = '{"id": "z", "vars": {}}\n' * 1
    diff = run(FILES, new)
    (change,) = diff.changes
    assert change.reason == "eval dataset 'edge' added (1 cases)" or "1 case" in change.reason
    assert change.impact is Impact.PATCH


# -- metadata, other files, policy -------------------------------------------------------------


def test_metadata_and_other_files_are_patch() -> None:
    new = config('description = "Answers questions"', 'description = "Answers billing questions"')
    new["README.md"] = "notes"
    diff = run(FILES, new)
    assert {(c.component, c.rule, c.impact) for c in diff.changes} == {
        ("metadata", "metadata", Impact.PATCH),
        ("files", "files.other", Impact.PATCH),
    }


def test_versioning_table_overrides_impacts() -> None:
    policy = '\n[versioning.impact]\n"model.params.temperature" = "patch"\nevals.case = "minor"\n'
    old = {**FILES, "bundle.toml": FILES["bundle.toml"] + policy}  # type: ignore[operator]
    new_cfg = str(old["bundle.toml"]).replace("temperature = 0.2", "temperature = 0.3")
    new = {
        **old,
        "bundle.toml": new_cfg,
        "evals/golden.jsonl": FILES["evals/golden.jsonl"] + '{"id": "n", "vars": {}}\n',
    }  # type: ignore[operator]
    diff = run(old, new)
    assert rules(diff) == {"model.params": Impact.PATCH, "evals.case": Impact.MINOR}
    assert diff.suggested is Impact.MINOR


def test_invalid_bundle_toml_on_new_side_is_shown_and_major() -> None:
    diff = run(FILES, {**FILES, "bundle.toml": FILES["bundle.toml"] + "[model\n"})  # type: ignore[operator]
    comp = diff.components[0]
    assert comp.name == "bundle.toml" and comp.impact is Impact.MAJOR
    assert isinstance(comp.detail, TextDiff) and comp.detail.new.error
    assert "line" in comp.changes[0].reason


def test_json_output_is_serialisable_and_versioned() -> None:
    new = changed(
        prompts__system_DOT_j2="Be brief.\n",
        evals__golden_DOT_jsonl='{"id": "a", "vars": {"question": "q9"}}\n',
    )
    data = json.loads(json.dumps(run(FILES, new).to_json()))
    assert data["schema"] == "promptver.diff" and data["schema_version"] == 1
    assert data["suggested_bump"] == "minor"
    assert [c["kind"] for c in data["components"]] == ["system", "evals"]
    assert data["components"][1]["detail"]["type"] == "eval"


def test_params_table_added_is_reported_per_parameter() -> None:
    old = config("\n[model.params]\ntemperature = 0.2\nmax_tokens = 400\n", "\n")
    diff = run(old, FILES)
    assert sorted((c.path, c.kind, c.rule) for c in diff.changes) == [
        ("model.params.max_tokens", "added", "model.params"),
        ("model.params.temperature", "added", "model.params"),
    ]


def test_toml_dates_become_json_strings() -> None:
    diff = run(FILES, config("max_tokens = 400", "max_tokens = 400\ncutoff = 2024-05-01"))
    (change,) = diff.changes
    assert change.new == "2024-05-01"
    json.dumps(diff.summary().to_json())  # what the manifest stores must serialise


def test_files_with_unchanged_digests_are_not_read() -> None:
    """What keeps `bump` fast: only changed files (and bundle.toml) are opened."""
    from promptver.diff.engine import diff_trees
    from promptver.diff.model import Side
    from promptver.store.tree import MemoryTree

    class CountingTree(MemoryTree):
        def __init__(self, files: dict[str, bytes]):
            super().__init__(files)
            self.opened: list[str] = []

        def open(self, path: str):  # type: ignore[no-untyped-def]
            self.opened.append(path)
            return super().open(path)

    def make(files: dict[str, str | bytes]) -> CountingTree:
        return CountingTree({p: d.encode() if isinstance(d, str) else d for p, d in files.items()})

    new_files = config("temperature = 0.2", "temperature = 0.3")
    new_files["corpus/refunds.md"] = "Refunds within 14 days.\n"
    old, new = make(FILES), make(new_files)
    sides = Side("b", "1", old.digest, "o"), Side("b", None, new.digest, "n")
    diff_trees(old, new, *sides, chunks=False)  # as a bump does
    assert sorted(set(old.opened)) == ["bundle.toml"]  # corpus: digests and sizes only
    assert sorted(set(new.opened)) == ["bundle.toml"]
    # counting the chunks of a corpus change reads its documents, and only those
    diff_trees(old, new, *sides)
    assert sorted(set(new.opened)) == ["bundle.toml", "corpus/refunds.md", "corpus/shipping.md"]


def test_json_output_validates_against_the_published_schema() -> None:
    from pathlib import Path

    from jsonschema import Draft202012Validator

    import promptver.diff

    schema = json.loads((Path(promptver.diff.__file__).parent / "diff.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    new = config("top_k = 4", "top_k = 6")
    new["bundle.toml"] = str(new["bundle.toml"]).replace("temperature = 0.2", "temperature = 1")
    new["bundle.toml"] = str(new["bundle.toml"]).replace("Answers questions", "Answers")
    new["prompts/system.j2"] = b"\xff\x00binary"
    new["prompts/answer.j2"] = "Q: {{ question } {{ x }}\n" + "y" * 5000 + "\n"
    new["corpus/new.md"] = "new"
    new["evals/golden.jsonl"] = '{"id": "a", "vars": {"question": "q1!"}}\nnot json\n'
    new["README.md"] = "readme"
    diff = run(FILES, new)
    assert {c.kind for c in diff.components} == {
        "model",
        "system",
        "templates",
        "rag",
        "corpus",
        "evals",
        "metadata",
        "files",
    }
    data = json.loads(json.dumps(diff.to_json()))
    errors = sorted(Draft202012Validator(schema).iter_errors(data), key=str)
    assert errors == []
    assert not list(Draft202012Validator(schema).iter_errors(run(FILES, FILES).to_json()))
    data["components"][0]["changes"][0]["impact"] = "huge"  # the schema is not vacuous
    assert list(Draft202012Validator(schema).iter_errors(data))
