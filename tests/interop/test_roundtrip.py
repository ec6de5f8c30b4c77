"""Export the example versions, load them with the real prompty and dotpromptz packages,
render every eval case: the same messages as promptver. Import the exports back: stable."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptver.evals.execution.bundle import folder_view
from promptver.interop.exporter import export, open_version
from promptver.store.store import Store
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


def _without_version(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if "version:" not in line)


@pytest.mark.parametrize("fmt", ["prompty", "dotprompt"])
@pytest.mark.parametrize("name", EXAMPLES)
def test_import_export_import_is_stable(name: str, fmt: str, tmp_path: Path, pv, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    bundle = open_version(example_store(), name, "latest")
    first = export(bundle, fmt, tmp_path / "first")
    Store.init(tmp_path)
    monkeypatch.chdir(tmp_path)
    imported = pv("import-prompt", *map(str, first.files), "--into", name)
    assert imported.code == 0, imported.err
    assert imported.err == ""  # nothing reported: every construct translated
    # the imported bundle renders every eval case as the original version does
    view = folder_view(tmp_path / "bundles" / name)
    for template, variables in eval_cases(bundle):
        assert view.messages(template, **variables) == bundle.messages(template, **variables)
    assert pv("bump", "minor", name, "-m", "imported").code == 0
    assert pv("export", f"{name}@latest", "--format", fmt, "-o", str(tmp_path / "second")).code == 0
    for path in first.files:
        again = (tmp_path / "second" / path.name).read_text(encoding="utf-8")
        assert _without_version(again) == _without_version(path.read_text(encoding="utf-8"))
    # importing the second export changes nothing
    before = {p: p.read_bytes() for p in (tmp_path / "bundles" / name).rglob("*") if p.is_file()}
    second = sorted(str(p) for p in (tmp_path / "second").iterdir())
    again = pv("import-prompt", *second, "--into", name, "--json")
    assert again.code == 0 and '"written": []' in again.out
    assert {p: p.read_bytes() for p in (tmp_path / "bundles" / name).rglob("*") if p.is_file()} == before
