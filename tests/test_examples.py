"""The example bundles in bundles/: consistent content, a valid format, a replayable history."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
import jsonschema
import pytest

REPO = Path(__file__).resolve().parents[1]
BUNDLES = REPO / "bundles"
sys.path.insert(0, str(REPO / "tests" / "fixtures"))

import example_history  # noqa: E402


def promptver(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PROMPTVER_HOME"}
    env["PYTHONPATH"] = str(REPO)
    command = [sys.executable, "-m", "promptver", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)


def cases(bundle: str) -> list[dict[str, Any]]:
    lines = (BUNDLES / bundle / "evals" / "golden.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in lines.splitlines() if line.strip()]


def template_variables(bundle: str, template: str) -> set[str]:
    source = (BUNDLES / bundle / "prompts" / template).read_text(encoding="utf-8")
    return jinja2.meta.find_undeclared_variables(jinja2.Environment().parse(source))


def corpus_doc(name: str) -> dict[str, str]:
    title, _, text = (BUNDLES / "support-bot" / "corpus" / name).read_text().partition("\n")
    assert title.startswith("# "), name
    return {"title": title[2:], "text": text.strip()}


def test_support_bot_corpus_is_about_twenty_short_articles() -> None:
    docs = sorted((BUNDLES / "support-bot" / "corpus").glob("*.md"))
    assert 18 <= len(docs) <= 25
    for doc in docs:
        assert 100 <= len(doc.read_text().split()) <= 300, doc.name


def test_support_bot_cases_are_grounded_in_their_sources() -> None:
    golden = cases("support-bot")
    assert 28 <= len(golden) <= 35
    assert len({case["id"] for case in golden}) == len(golden)
    needed = template_variables("support-bot", "answer.j2")
    assert needed == {"question", "context", "customer_plan"}
    for case in golden:
        assert set(case["vars"]) == needed, case["id"]
        docs = [corpus_doc(name) for name in case["expected_sources"]]
        assert case["vars"]["context"] == docs, case["id"]
        sources_text = " ".join(doc["text"] for doc in docs).lower()
        assert case["expected"].lower() in sources_text, case["id"]
        assert case["vars"]["customer_plan"] in {"Free", "Starter", "Pro", "Business"}


def test_ticket_triage_expectations_fit_the_response_schema() -> None:
    schema = json.loads((BUNDLES / "ticket-triage" / "schemas" / "triage.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    golden = cases("ticket-triage")
    assert len(golden) == 40
    assert len({case["id"] for case in golden}) == len(golden)
    needed = template_variables("ticket-triage", "classify.j2")
    categories = set()
    for case in golden:
        assert set(case["vars"]) == needed, case["id"]
        jsonschema.validate(case["expected"], schema)
        categories.add(case["expected"]["category"])
    assert categories == set(schema["properties"]["category"]["enum"])


def test_history_edits_lead_back_to_the_shipped_bundles() -> None:
    steps = example_history.dry_run(BUNDLES)
    assert sum(step.startswith("support-bot") for step in steps) >= 4
    assert sum(step.startswith("ticket-triage") for step in steps) >= 2


def test_history_refuses_a_stale_edit(tmp_path: Path) -> None:
    source = tmp_path / "bundles"
    for name in example_history.BUNDLES:
        files = example_history.read_bundle(BUNDLES / name)
        example_history.write_bundle(source / name, files)
    toml = source / "support-bot" / "bundle.toml"
    toml.write_text(toml.read_text().replace("top_k = 6", "top_k = 8"))
    with pytest.raises(example_history.HistoryError, match=r"rag\.top_k is 8, expected 6"):
        example_history.dry_run(source)


@pytest.mark.parametrize("bundle", example_history.BUNDLES)
def test_example_bundles_pass_check(bundle: str) -> None:
    done = promptver(REPO, "check", f"bundles/{bundle}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{bundle}: ok" in done.stdout


def versions(cwd: Path, bundle: str) -> list[str]:
    done = promptver(cwd, "log", bundle, "--json")
    assert done.returncode == 0, done.stderr
    return [entry["version"] for entry in json.loads(done.stdout)]


def assert_clean_and_verified(cwd: Path) -> None:
    status = promptver(cwd, "status", "--json")
    assert status.returncode == 0, status.stderr
    assert all(entry["clean"] for entry in json.loads(status.stdout)), status.stdout
    verify = promptver(cwd, "verify", "--json")
    assert json.loads(verify.stdout)["ok"], verify.stdout


def test_history_replays_with_the_cli(tmp_path: Path) -> None:
    example_history.replay(tmp_path, BUNDLES)
    assert versions(tmp_path, "support-bot") == [
        "2.2.0",
        "2.1.0",
        "2.0.1",
        "2.0.0",
        "1.2.0",
        "1.1.0",
        "1.0.0",
    ]
    assert versions(tmp_path, "ticket-triage") == ["1.2.0", "1.1.1", "1.1.0", "1.0.0"]
    assert_clean_and_verified(tmp_path)
    # --production: the latest support-bot goes through its own policy to production
    assert example_history.make_production(tmp_path) == "2.2.0"
    shown = json.loads(promptver(tmp_path, "show", "support-bot@production", "--json").stdout)
    assert shown["version"] == "2.2.0"
    assert_clean_and_verified(tmp_path)


def test_the_examples_serve_production_as_the_docs_show() -> None:
    """`load("support-bot@production")` and `show support-bot@production` work in this
    repository: the example went through its own policy, with its evidence labelled."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import promptver; b = promptver.load('support-bot@production'); print(b.version)"],
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if k != "PROMPTVER_HOME"} | {"PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == versions(REPO, "support-bot")[0]
    shown = promptver(REPO, "show", "support-bot@production", "--json")
    assert shown.returncode == 0, shown.stderr
    text = promptver(REPO, "show", "support-bot@production").stdout
    assert "(met)" in text and "local test server" in text


def test_repository_store_holds_the_history_of_the_shipped_bundles() -> None:
    """`promptver log` works on a fresh clone, and bundles/ is what the latest versions hold
    (after editing an example bundle, bump it)."""
    assert len(versions(REPO, "support-bot")) >= 4
    assert len(versions(REPO, "ticket-triage")) >= 2
    assert_clean_and_verified(REPO)
