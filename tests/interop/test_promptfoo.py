"""promptfoo export: schema-valid, assertions mapped, prompts render (in Nunjucks) to the
messages promptver renders, and, with Node 22 and promptfoo, `promptfoo eval` passes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from promptver.interop.exporter import export, open_version
from tests.interop.support import EXAMPLES, REPO, eval_cases, example_store

SCHEMA = REPO / "tests" / "fixtures" / "promptfoo" / "config-schema.json"
NUNJUCKS_DIRS = [
    os.environ.get("PROMPTVER_NUNJUCKS", ""),
    str(REPO / "tests" / "interop" / ".node" / "node_modules"),
]


def _config(name: str, tmp_path: Path) -> tuple[dict[str, Any], Any]:
    bundle = open_version(example_store(), name, "latest")
    result = export(bundle, "promptfoo", tmp_path)
    assert [p.name for p in result.files] == ["promptfooconfig.yaml"]
    return yaml.safe_load(result.files[0].read_text(encoding="utf-8")), bundle


@pytest.mark.parametrize("name", EXAMPLES)
def test_export_validates_against_promptfoos_config_schema(name: str, tmp_path: Path) -> None:
    config, bundle = _config(name, tmp_path)
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(config)
    used = {a["type"] for test in config["tests"] for a in test.get("assert", [])}
    assert used <= _assertion_types(schema)
    assert len(config["tests"]) == len(eval_cases(bundle))
    assert config["providers"][0]["id"] == "openai:chat:gpt-4o-mini"


def _assertion_types(schema: dict[str, Any]) -> set[str]:
    """The assertion type names the schema lists. Its type field also admits anything (a
    refinement zod cannot write as JSON Schema: promptfoo accepts `not-` + a listed type),
    so the exports' types are checked against the list as well."""
    tests = next(x for x in schema["properties"]["tests"]["anyOf"] if x.get("type") == "array")
    case = next(x for x in tests["items"]["anyOf"] if "assert" in x.get("properties", {}))
    single = next(
        x for x in case["properties"]["assert"]["items"]["anyOf"] if "const" not in json.dumps(x)[:80]
    )
    names: set[str] = set()
    for option in single["properties"]["type"]["anyOf"]:
        names |= set(option.get("enum", []))
    return names | {f"not-{n}" for n in names}


def test_the_schema_refuses_what_promptfoo_refuses() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    for bad in (
        {"tests": []},
        {"prompts": 3},
        {"prompts": ["x"], "tests": [{"assert": [{"value": "no type"}]}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(bad)
    assert {"icontains", "is-json", "llm-rubric", "not-icontains-any"} <= _assertion_types(schema)
    assert "json-field" not in _assertion_types(schema)


def test_support_bot_assertions_are_rendered_for_each_case(tmp_path: Path) -> None:
    config, _ = _config("support-bot", tmp_path)
    first = config["tests"][0]
    assert first["description"] == "refund-annual-window"
    assert first["assert"] == [{"type": "icontains", "value": "30 days"}]
    assert first["prompts"] == ["answer"]
    assert first["options"] == {"disableVarExpansion": True}  # a list var is one value, as in promptver
    assert config["providers"][0]["config"] == {"temperature": 0.2, "max_tokens": 400}


def test_ticket_triage_json_assertions_map_to_is_json_schemas(tmp_path: Path) -> None:
    config, bundle = _config("ticket-triage", tmp_path)
    asserts = config["tests"][0]["assert"]
    schema = json.loads(bundle.read_bytes("schemas/triage.schema.json"))
    assert asserts[0] == {"type": "is-json"}
    assert asserts[1] == {"type": "is-json", "value": schema}
    assert asserts[2] == {
        "type": "is-json",
        "value": {
            "type": "object",
            "required": ["category"],
            "properties": {"category": {"const": "billing"}},
        },
    }
    rf = config["providers"][0]["config"]["response_format"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["schema"] == schema


def _nunjucks() -> str:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    for folder in NUNJUCKS_DIRS:
        if folder and (Path(folder) / "nunjucks").is_dir():
            return folder
    pytest.skip("nunjucks is not installed (npm install --prefix tests/interop/.node nunjucks@3.2.4)")


@pytest.mark.parametrize("name", EXAMPLES)
def test_prompts_render_in_nunjucks_to_promptvers_messages(name: str, tmp_path: Path) -> None:
    folder = _nunjucks()
    config, bundle = _config(name, tmp_path)
    raws = {p["label"]: p["raw"] for p in config["prompts"]}
    jobs = [{"raw": raws[test["prompts"][0]], "vars": test["vars"]} for test in config["tests"]]
    proc = subprocess.run(
        ["node", str(Path(__file__).with_name("render_nunjucks.mjs"))],
        input=json.dumps({"prompts": jobs}),
        capture_output=True,
        text=True,
        env={**os.environ, "NUNJUCKS_FROM": folder},
        timeout=60,
        check=True,
    )
    rendered = json.loads(proc.stdout)
    expected = [bundle.messages(template, **variables) for template, variables in eval_cases(bundle)]
    assert rendered == expected


def _promptfoo() -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < 22:
        pytest.skip(f"promptfoo needs Node 22; this machine has {version}")
    binary = os.environ.get("PROMPTFOO_BIN") or shutil.which("promptfoo")
    if binary is None:
        pytest.skip("promptfoo is not installed (set PROMPTFOO_BIN)")
    return [binary]


def test_promptfoo_eval_passes_against_the_fake_server(tmp_path: Path) -> None:
    """Needs Node 22+ and a promptfoo CLI (PROMPTFOO_BIN or on PATH); skipped otherwise."""
    promptfoo = _promptfoo()
    from tests.fakeserver import FakeLLMServer

    config, _ = _config("support-bot", tmp_path)
    with FakeLLMServer() as server:
        # each question is answered with the text its icontains assertion looks for
        for test in config["tests"]:
            server.add(
                match=re.escape(test["vars"]["question"]), reply=f"Answer: {test['assert'][0]['value']}"
            )
        config["providers"][0]["config"]["apiBaseUrl"] = server.openai_base
        path = tmp_path / "promptfooconfig.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        proc = subprocess.run(
            [*promptfoo, "eval", "-c", str(path), "--no-cache", "-o", str(tmp_path / "out.json")],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={
                **os.environ,
                "OPENAI_API_KEY": "test",
                "PROMPTFOO_DISABLE_TELEMETRY": "1",
                "PROMPTFOO_DISABLE_UPDATE": "1",
                "PROMPTFOO_CONFIG_DIR": str(tmp_path / ".promptfoo"),
            },
            timeout=300,
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert results["results"]["stats"]["successes"] == len(config["tests"])
