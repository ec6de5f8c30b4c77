"""import-prompt on hand-written files: front-matter variants, partials, conditionals,
loops, and every untranslatable construct reported with its file:line."""

from __future__ import annotations

import asyncio
import json
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from promptver.evals.execution.bundle import folder_view
from tests.interop.support import REPO, dotprompt_messages, prompty_messages, trimmed

FILES = REPO / "tests" / "fixtures" / "interop"


@pytest.fixture
def files(project: Path) -> Path:
    target = project / "incoming"
    shutil.copytree(FILES, target)
    return target


def _toml(project: Path, name: str) -> dict[str, Any]:
    return tomllib.loads((project / "bundles" / name / "bundle.toml").read_text(encoding="utf-8"))


# ---- Dotprompt ----------------------------------------------------------------------------

RECIPE_CASES = [
    {"ingredients": ["eggs", "leeks"], "cuisine": "French", "guests": 1, "diet": {"vegan": False}},
    {"ingredients": ["tofu"], "cuisine": "", "guests": 4, "diet": {"vegan": True}},
    {"ingredients": [], "cuisine": "Thai", "guests": 2, "diet": {"vegan": False}},
]


def test_dotprompt_import_renders_like_dotpromptz(files: Path, project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    result = pv("import-prompt", "incoming/dotprompt/recipe.prompt", "--into", "recipes")
    assert result.code == 0, result.err
    assert result.err.count("recipe.prompt:") == 1 and "optional input 'diet'" in result.err
    assert "created bundle recipes" in result.out
    assert pv("check", "recipes").code == 0
    view = folder_view(project / "bundles" / "recipes")
    for case in RECIPE_CASES:
        expected = dotprompt_messages(files / "dotprompt" / "recipe.prompt", case)
        assert view.messages("recipe", **case) == expected


def test_dotprompt_optional_inputs_import_as_optional(files: Path, project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    """`cuisine?` may be left out, in dotpromptz and in the imported bundle alike; `diet?`,
    read by attribute (`diet.vegan`), stays required and is reported."""
    result = pv("import-prompt", "incoming/dotprompt/recipe.prompt", "--into", "recipes")
    assert result.code == 0, result.err
    assert "the optional input 'diet' is read by attribute" in result.err
    view = folder_view(project / "bundles" / "recipes")
    case = {"ingredients": ["rice"], "guests": 2, "diet": {"vegan": True}}
    expected = dotprompt_messages(files / "dotprompt" / "recipe.prompt", case)
    assert view.messages("recipe", **case) == expected
    assert "Any cuisine is fine." in expected[-1]["content"]
    bundle = project / "bundles" / "recipes"
    (bundle / "evals").mkdir(exist_ok=True)
    (bundle / "evals" / "left-out.jsonl").write_text(json.dumps({"id": "no-cuisine", "vars": case}) + "\n")
    with (bundle / "bundle.toml").open("a") as out:
        out.write('\n[evals.left-out]\npath = "evals/left-out.jsonl"\ntemplate = "recipe"\n')
    checked = pv("check", "recipes")
    assert checked.code == 0, checked.out


def test_dotprompt_front_matter_maps_to_bundle_toml(files: Path, project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    assert pv("import-prompt", "incoming/dotprompt/recipe.prompt", "--into", "recipes").code == 0
    spec = _toml(project, "recipes")
    assert spec["bundle"]["description"] == "Suggests a recipe from what is in the fridge"
    assert spec["model"]["provider"] == "googleai" and spec["model"]["name"] == "gemini-1.5-flash"
    assert spec["model"]["params"] == {"temperature": 0.7, "max_tokens": 300, "top_k": 20, "stop": ["END"]}
    assert spec["prompts"] == {"system": "prompts/system.j2", "templates": {"recipe": "prompts/recipe.j2"}}
    assert spec["model"]["response_format"] == {"type": "json_schema", "schema": "schemas/output.schema.json"}
    schema = json.loads((project / "bundles/recipes/schemas/output.schema.json").read_text())
    dotpromptz = pytest.importorskip("dotpromptz")
    source = (files / "dotprompt" / "recipe.prompt").read_text()
    import yaml

    front = yaml.safe_load(source.split("---")[1])
    official = asyncio.run(dotpromptz.picoschema_to_json_schema(front["output"]["schema"]))
    assert schema == official
    partial = (project / "bundles/recipes/prompts/partials/footer.j2").read_text()
    assert "{% include" not in partial and "{{ guests }}" in partial
    assert (
        '{% include "prompts/partials/footer.j2" %}'
        in (project / "bundles/recipes/prompts/recipe.j2").read_text()
    )


def test_dotprompt_untranslatable_constructs_are_reported_by_name_and_line(
    files: Path, project: Path, pv
) -> None:  # type: ignore[no-untyped-def]
    result = pv("import-prompt", "incoming/dotprompt/chat.prompt", "--into", "chat")
    assert result.code == 0, result.err
    chat = "incoming/dotprompt/chat.prompt"
    for expected in (
        f"{chat}:10: {{{{history}}}}: the Dotprompt helper {{{{history}}}}",
        f"{chat}:12: {{{{media url=photo}}}}: the helper 'media'",
        f"{chat}:12: {{{{section \"notes\"}}}}: the helper 'section'",
        f"{chat}:13: {{{{upper name}}}}: the helper 'upper'",
        f"{chat}:13: {{{{json profile}}}}: json: translated to Jinja2's tojson",
        f"{chat}:14: {{{{#customBlock name}}}}: the block helper 'customBlock'",
        f'{chat}:15: {{{{#if (eq name "x")}}}}: a subexpression or hash argument',
        f"{chat}:16: {{{{{{{{raw}}}}}}}}",
        f'{chat}:17: {{{{role "model"}}}}: a bundle template is one user message',
        f"{chat}:6: tools: no promptver equivalent",
    ):
        assert expected in result.err, expected
    template = (project / "bundles/chat/prompts/chat.j2").read_text()
    assert "{# untranslated Handlebars: {{upper name}} #}" in template
    assert "{# untranslated Handlebars: {{{{raw}}}}{{x}}{{{{/raw}}}} #}" in template
    assert "{# untranslated message (model):" in template and "An earlier answer." in template
    assert pv("check", "chat").code == 0
    # input.default gives `name` a value when it is left out, as Dotprompt does
    assert template.startswith('{% set name = name | default("friend") %}')
    assert "input.default" not in result.err
    assert not (project / "bundles/chat/evals/samples.jsonl").exists()


def test_dotprompt_import_json_lists_findings(files: Path, pv) -> None:  # type: ignore[no-untyped-def]
    result = pv("import-prompt", "incoming/dotprompt/chat.prompt", "--into", "chat", "--json")
    data = json.loads(result.out)
    assert data["bundle"] == "chat" and data["created"] is True
    history = next(f for f in data["findings"] if f["construct"] == "{{history}}")
    assert history["line"] == 10 and history["file"].endswith("chat.prompt")


# ---- Prompty ------------------------------------------------------------------------------


def test_prompty_v2_import_renders_like_prompty(files: Path, project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    result = pv("import-prompt", "incoming/prompty/v2.prompty", "--into", "support")
    assert result.code == 0, result.err
    assert result.err == ""
    spec = _toml(project, "support")
    assert spec["model"] == {
        "provider": "openai",
        "name": "gpt-4o-mini",
        "params": {"temperature": 0.3, "max_tokens": 500, "frequency_penalty": 0.5, "logprobs": False},
    }
    assert spec["prompts"]["templates"] == {"Basic_Support": "prompts/Basic_Support.j2"}
    assert spec["evals"]["samples"]["path"] == "evals/samples.jsonl"
    sample = json.loads((project / "bundles/support/evals/samples.jsonl").read_text())
    assert sample["vars"]["firstName"] == "Jane" and sample["template"] == "Basic_Support"
    view = folder_view(project / "bundles" / "support")
    for orders in (sample["vars"]["orders"], []):
        case = {**sample["vars"], "orders": orders}
        expected = prompty_messages(files / "prompty" / "v2.prompty", case)
        assert trimmed(view.messages("Basic_Support", **case)) == expected


def test_prompty_v1_front_matter(files: Path, project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    result = pv("import-prompt", "incoming/prompty/v1.prompty", "--into", "tents")
    assert result.code == 0, result.err
    spec = _toml(project, "tents")
    assert spec["model"] == {
        "provider": "azure_openai",
        "name": "gpt-35-turbo",
        "params": {"max_tokens": 3000, "temperature": 0.2},
    }
    assert spec["bundle"]["description"].startswith("A prompt that uses context")
    assert "incoming/prompty/v1.prompty:8: model.configuration: azure_endpoint" in result.err
    system = (project / "bundles/tents/prompts/system.j2").read_text()
    assert system.startswith("You are an AI assistant") and "{{context}}" in system
    assert (project / "bundles/tents/prompts/ExamplePrompt.j2").read_text() == "{{question}}\n"
    sample = json.loads((project / "bundles/tents/evals/samples.jsonl").read_text())
    assert sample["vars"]["firstName"] == "Seth"
    view = folder_view(project / "bundles" / "tents")
    messages = view.messages("ExamplePrompt", **sample["vars"])
    assert messages[1] == {"role": "user", "content": "What can you tell me about your tents?\n"}


def test_prompty_mustache_and_extra_turns_are_reported(files: Path, project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    result = pv("import-prompt", "incoming/prompty/mustache.prompty", "--into", "greet")
    assert result.code == 0, result.err
    where = "incoming/prompty/mustache.prompty"
    for expected in (
        f"{where}:6: model.connection",
        f"{where}:9: tools: no promptver equivalent",
        f"{where}:21: {{{{#items}}}}: the block helper 'items'",
        f"{where}:22: assistant:: a bundle template is one user message",
        f'{where}:24: user[name="second"]:: role attributes',
        f"{where}:24: user:: a bundle template is one user message",
    ):
        assert expected in result.err, expected
    user = (project / "bundles/greet/prompts/mustache_greeting.j2").read_text()
    assert user.startswith("Hello, I am {{ name }}.")
    assert (
        project / "bundles/greet/prompts/system.j2"
    ).read_text() == "Greet {{ name }} politely.{# internal note #}\n"
    assert pv("check", "greet").code == 0


def test_prompty_custom_invoker_is_reported(files: Path, pv) -> None:  # type: ignore[no-untyped-def]
    result = pv("import-prompt", "incoming/prompty/invoker.prompty", "--into", "custom")
    assert result.code == 0
    assert (
        "invoker.prompty:5: template: the invoker 'liquid'/'prompty' has no promptver equivalent"
        in result.err
    )
    assert "no provider given for 'gpt-4o'; using 'openai'" in result.err


def test_several_files_make_one_bundle_and_update_it(files: Path, project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    first = files / "one.prompt"
    second = files / "two.prompt"
    first.write_text("---\nmodel: openai/gpt-4o\n---\nHello {{name}}\n")
    second.write_text("---\nmodel: openai/gpt-4o\n---\nBye {{name}}\n")
    assert pv("import-prompt", str(first), str(second), "--into", "pair").code == 0
    assert _toml(project, "pair")["prompts"]["templates"] == {
        "one": "prompts/one.j2",
        "two": "prompts/two.j2",
    }
    second.write_text("---\nmodel: openai/gpt-4o\n---\nSee you {{name}}\n")
    again = pv("import-prompt", str(second), "--into", "pair")
    assert "updated bundle pair" in again.out
    assert (project / "bundles/pair/prompts/two.j2").read_text() == "See you {{ name }}"
    assert _toml(project, "pair")["prompts"]["templates"] == {
        "one": "prompts/one.j2",
        "two": "prompts/two.j2",
    }


# ---- errors: one message, exit 1, nothing written ------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.txt", "hi", "unknown prompt format '.txt'"),
        ("nomodel.prompt", "Hello {{x}}", "names no model"),
        ("open.prompt", "---\nmodel: a/b\nHello", "the front matter has no closing '---' line"),
        ("bad.prompt", "---\nmodel: [a\n---\nHi", "invalid YAML"),
        ("tag.prompt", "---\nmodel: a/b\n---\nHi {{name", "a Handlebars tag is not closed"),
    ],
)
def test_bad_input_is_one_clear_error(
    files: Path, project: Path, pv, name: str, text: str, message: str
) -> None:  # type: ignore[no-untyped-def]
    path = files / name
    path.write_text(text)
    result = pv("import-prompt", str(path), "--into", "broken")
    assert result.code == 1
    assert message in result.err and "Traceback" not in result.err
    assert not (project / "bundles" / "broken").exists()


def test_conflicting_files_are_refused(files: Path, project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    (files / "a.prompt").write_text('---\nmodel: a/b\n---\n{{role "system"}}A{{role "user"}}x')
    (files / "b.prompt").write_text('---\nmodel: a/b\n---\n{{role "system"}}B{{role "user"}}y')
    result = pv("import-prompt", str(files / "a.prompt"), str(files / "b.prompt"), "--into", "mixed")
    assert result.code == 1 and "different system prompts" in result.err
    (files / "b.prompt").write_text("---\nmodel: a/c\n---\ny")
    result = pv("import-prompt", str(files / "a.prompt"), str(files / "b.prompt"), "--into", "mixed")
    assert result.code == 1 and "different model" in result.err and "--model" in result.err
    assert not (project / "bundles" / "mixed").exists()


def test_missing_file_and_bad_name(files: Path, pv) -> None:  # type: ignore[no-untyped-def]
    result = pv("import-prompt", "nope.prompt", "--into", "x")
    assert result.code == 1 and "nope.prompt: no such file" in result.err
    result = pv("import-prompt", "incoming/dotprompt/recipe.prompt", "--into", "../x")
    assert result.code == 1 and "not a valid bundle name" in result.err


def test_dotprompt_with_a_partial_round_trips(files: Path, project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    assert pv("import-prompt", "incoming/dotprompt/recipe.prompt", "--into", "recipes").code == 0
    assert pv("bump", "minor", "recipes", "-m", "imported").code == 0
    result = pv("export", "recipes@latest", "--format", "dotprompt", "-o", "out", "--json")
    assert result.code == 0, result.err
    assert sorted(Path(p).name for p in json.loads(result.out)["files"]) == [
        "_footer.prompt",
        "recipe.prompt",
    ]
    assert "{{> footer}}" in (project / "out/recipe.prompt").read_text()
    view = folder_view(project / "bundles" / "recipes")
    for case in RECIPE_CASES:
        assert dotprompt_messages(project / "out/recipe.prompt", case) == view.messages("recipe", **case)
    # importing the export again changes only the comment (exports carry no comments)
    system = project / "bundles/recipes/prompts/system.j2"
    assert system.read_text() == "\nYou are a chef. {# the persona #}Reply in JSON.\n"
    again = pv("import-prompt", "out/recipe.prompt", "--into", "recipes", "--json")
    assert again.code == 0 and json.loads(again.out)["written"] == [str(system)]
    assert system.read_text() == "\nYou are a chef. Reply in JSON.\n"
    # from then on, export -> import is a fixed point
    assert pv("bump", "patch", "recipes", "-m", "again").code == 0
    assert pv("export", "recipes@latest", "--format", "dotprompt", "-o", "out2").code == 0
    before = {p: p.read_bytes() for p in (project / "bundles/recipes").rglob("*") if p.is_file()}
    third = pv("import-prompt", "out2/recipe.prompt", "--into", "recipes", "--json")
    assert third.code == 0 and json.loads(third.out)["written"] == []
    assert {p: p.read_bytes() for p in (project / "bundles/recipes").rglob("*") if p.is_file()} == before


def test_prompty_round_trip_through_the_prompty_package(files: Path, project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    assert pv("import-prompt", "incoming/prompty/v2.prompty", "--into", "support").code == 0
    assert pv("bump", "minor", "support", "-m", "imported").code == 0
    assert pv("export", "support@latest", "--format", "prompty", "-o", "out").code == 0
    exported = project / "out/Basic_Support.prompty"
    sample = json.loads((project / "bundles/support/evals/samples.jsonl").read_text())["vars"]
    view = folder_view(project / "bundles" / "support")
    for orders in (sample["orders"], []):
        case = {**sample, "orders": orders}
        assert prompty_messages(exported, case) == trimmed(view.messages("Basic_Support", **case))
        assert prompty_messages(exported, case) == prompty_messages(files / "prompty/v2.prompty", case)
    before = {p: p.read_bytes() for p in (project / "bundles/support").rglob("*") if p.is_file()}
    again = pv("import-prompt", "out/Basic_Support.prompty", "--into", "support", "--json")
    assert again.code == 0 and json.loads(again.out)["written"] == []
    assert {p: p.read_bytes() for p in (project / "bundles/support").rglob("*") if p.is_file()} == before
