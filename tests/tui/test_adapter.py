"""The review built from a real semantic diff of two in-memory trees."""

from __future__ import annotations

import json

from promptver.diff.engine import diff_trees
from promptver.diff.model import Side as DiffSide
from promptver.tui.adapter import SideMeta, build_review
from promptver.tui.model import CasesBody, FieldsBody, FilesBody, Review, TextBody
from tests.diff_support import FILES, changed, config, tree


def review_of(old: dict[str, str | bytes], new: dict[str, str | bytes]) -> Review:
    a, b = tree(old, "old"), tree(new, "new")
    diff = diff_trees(
        a,
        b,
        DiffSide("bot", "1.0.0", a.digest, "bot@1.0.0"),
        DiffSide("bot", None, b.digest, "bot (working copy)"),
    )
    return build_review(diff, a, b, old_meta=SideMeta("ana", "2026-11-20T10:00:00Z"))


def by_key(review: Review) -> dict[str, object]:
    return {c.key: c for c in review.components}


def test_header_sides_and_bump() -> None:
    review = review_of(FILES, config('name = "gpt-4"', 'name = "gpt-4.1"'))
    assert review.bundle == "bot"
    assert review.old.label == "1.0.0" and review.old.version == "1.0.0"
    assert review.old.author == "ana"
    assert review.new.label == "working copy" and review.new.version is None
    assert review.new.digest and review.new.digest.startswith("sha256:")
    assert review.bump == "minor"
    assert review.bump_reason


def test_model_fields_with_unchanged_ones_dimmed() -> None:
    review = review_of(FILES, config("temperature = 0.2", "temperature = 0.7"))
    model = by_key(review)["model:model"]
    assert model.status == "changed" and model.impact == "minor"  # type: ignore[attr-defined]
    body = model.body  # type: ignore[attr-defined]
    assert isinstance(body, FieldsBody)
    rows = {row.path: row for row in body.rows}
    assert rows["params.temperature"].status == "changed"
    assert (rows["params.temperature"].old, rows["params.temperature"].new) == (0.2, 0.7)
    assert rows["params.temperature"].impact == "minor"
    assert rows["provider"].status == "unchanged"
    assert model.counts == "1 field"  # type: ignore[attr-defined]


def test_unchanged_components_are_listed_and_load_their_content() -> None:
    review = review_of(FILES, config("temperature = 0.2", "temperature = 0.7"))
    components = by_key(review)
    system = components["system:system"]
    assert system.status == "unchanged"  # type: ignore[attr-defined]
    body = system.load()  # type: ignore[attr-defined]
    assert isinstance(body, TextBody) and body.old == body.new == FILES["prompts/system.j2"]
    assert components["results"].body.missing  # type: ignore[attr-defined]
    kinds = [c.kind for c in review.components]
    assert kinds.index("model") < kinds.index("template") < kinds.index("dataset")


def test_template_text_loads_whole_files_with_variable_and_token_notes() -> None:
    new_answer = "Question: {{ question }} from {{ customer }}\n"
    review = review_of(FILES, changed(prompts__answer_DOT_j2=new_answer))
    answer = by_key(review)["templates:answer"]
    assert answer.impact == "major"  # type: ignore[attr-defined]
    notes = " ".join(answer.notes)  # type: ignore[attr-defined]
    assert "variables added: customer (required)" in notes
    assert "tokens" in notes
    body = answer.load()  # type: ignore[attr-defined]
    assert isinstance(body, TextBody)
    assert body.old == FILES["prompts/answer.j2"] and body.new == new_answer


def test_dataset_cases_and_their_detail() -> None:
    golden = (
        '{"id": "a", "vars": {"question": "q1"}, "expected": "X"}\n{"id": "c", "vars": {"question": "q3"}}\n'
    )
    review = review_of(FILES, changed(evals__golden_DOT_jsonl=golden))
    dataset = by_key(review)["evals:golden"]
    body = dataset.body  # type: ignore[attr-defined]
    assert isinstance(body, CasesBody)
    rows = {row.id: row for row in body.cases}
    assert {k: r.status for k, r in rows.items()} == {"a": "changed", "b": "removed", "c": "added"}
    assert rows["a"].fields == ("expected",)
    assert body.fetch is not None
    old, new = body.fetch(rows["a"])
    assert old["expected"] == "x" and new["expected"] == "X"
    old, new = body.fetch(rows["b"])
    assert old["id"] == "b" and new is None
    assert (body.old_total, body.new_total) == (2, 2)


def test_corpus_files_and_binary_files() -> None:
    review = review_of(
        FILES,
        changed(corpus__refunds_DOT_md="Refunds within 14 days.\n", logo_DOT_png=b"\x89PNG\x00\x01"),
    )
    components = by_key(review)
    corpus = components["corpus:corpus"]
    body = corpus.body  # type: ignore[attr-defined]
    assert isinstance(body, FilesBody) and body.fetch is not None
    refunds = next(f for f in body.files if f.path == "corpus/refunds.md")
    text = body.fetch(refunds)
    assert text.old == "Refunds within 24 days.\n".replace("24", "30")
    assert text.new == "Refunds within 14 days.\n"
    other = [c for c in review.components if c.kind == "files"]
    assert other, json.dumps([c.key for c in review.components])
    files_body = other[0].body
    assert isinstance(files_body, FilesBody) and files_body.fetch is not None
    logo = files_body.fetch(files_body.files[0])
    assert logo.binary


def test_identical_trees_give_no_changes() -> None:
    review = review_of(FILES, FILES)
    assert review.bump is None
    assert not any(c.changed for c in review.components)


def test_tokens_counted_when_the_text_is_opened() -> None:
    new = changed(prompts__answer_DOT_j2="Question: {{ question }}, answer in French.\n")
    a, b = tree(FILES, "old"), tree(new, "new")
    diff = diff_trees(
        a,
        b,
        DiffSide("bot", "1.0.0", a.digest, "bot@1.0.0"),
        DiffSide("bot", None, b.digest, "bot (working copy)"),
        tokens=False,
    )
    review = build_review(diff, a, b, count_tokens=True)
    answer = by_key(review)["templates:answer"]
    assert not any(n.startswith("tokens") for n in answer.notes)  # type: ignore[attr-defined]
    answer.enrich(answer.load())  # type: ignore[attr-defined]
    tokens = [n for n in answer.notes if n.startswith("tokens")]  # type: ignore[attr-defined]
    assert len(tokens) == 1 and "→" in tokens[0]


def test_rag_and_corpus_say_the_chunks_before_and_after() -> None:
    review = review_of(FILES, changed(corpus__returns_DOT_md="Returns are free.\n"))
    assert "chunks 2 → 3" in by_key(review)["corpus:corpus"].notes  # type: ignore[attr-defined]
    review = review_of(FILES, config("top_k = 4", "top_k = 8"))
    assert by_key(review)["rag:rag"].notes[0] == "chunks 2 → 2"  # type: ignore[attr-defined]


def test_rag_component_names_the_cases_that_retrieved_other_sources() -> None:
    from promptver.tui.model import CaseOutcome, EvalsBody

    a, b = tree(FILES, "old"), tree(config("top_k = 4", "top_k = 8"), "new")
    diff = diff_trees(a, b, DiffSide("bot", "1.0.0", a.digest, "o"), DiffSide("bot", None, b.digest, "n"))
    moved = CaseOutcome("refunds", "sources", True, True, "", "", "", True)
    results = {"golden": EvalsBody(outcomes=[moved], old_run="r1", new_run="r2")}
    review = build_review(diff, a, b, results=results)
    notes = by_key(review)["rag:rag"].notes  # type: ignore[attr-defined]
    assert "retrieved sources changed in 1 case: refunds" in notes
    evals = by_key(review)["results"]
    assert evals.status == "changed"  # type: ignore[attr-defined]
    assert "retrieved sources changed in 1 case: refunds" in evals.notes  # type: ignore[attr-defined]
