"""import-prompt reads only inside the imported file's folder (issue 24, item 5): a Prompty
``sample:`` or a Dotprompt partial that names a path outside it (``../``, absolute, or
through a symbolic link) is a finding, and the file it names is never read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SECRET = "sk-live-EXFILTRATED-0000"


@pytest.fixture
def outside(project: Path) -> Path:
    """A secret file outside the folder of the imported files (``incoming/``)."""
    secret = project / "secrets" / "credentials.json"
    secret.parent.mkdir()
    secret.write_text(json.dumps({"question": SECRET, "_": SECRET}))
    (project / "secrets" / "_leak.prompt").write_text(f"{SECRET}\n")
    return secret


@pytest.fixture
def incoming(project: Path) -> Path:
    folder = project / "incoming"
    folder.mkdir()
    return folder


def _prompty(folder: Path, sample: str) -> Path:
    path = folder / "ask.prompty"
    path.write_text(
        "---\nname: ask\nmodel:\n  id: gpt-4o-mini\n  provider: openai\n"
        f"sample: {json.dumps(sample)}\n---\nsystem:\nBe brief.\n\nuser:\n{{{{ question }}}}\n"
    )
    return path


def _nothing_leaked(project: Path) -> None:
    for path in (project / "bundles").rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path


def _import(pv, path: Path) -> dict:  # type: ignore[no-untyped-def]
    result = pv("import-prompt", str(path), "--into", "ask", "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink", "symlinked-folder"])
def test_a_prompty_sample_outside_the_folder_is_not_read(
    how: str, project: Path, incoming: Path, outside: Path, pv
) -> None:  # type: ignore[no-untyped-def]
    if how == "dotdot":
        named = "../secrets/credentials.json"
    elif how == "absolute":
        named = str(outside)
    elif how == "symlink":
        (incoming / "sample.json").symlink_to(outside)
        named = "sample.json"
    else:
        (incoming / "data").symlink_to(outside.parent, target_is_directory=True)
        named = "data/credentials.json"
    report = _import(pv, _prompty(incoming, named))
    found = [f for f in report["findings"] if f["construct"] == "sample"]
    assert len(found) == 1 and "not read" in found[0]["message"], report["findings"]
    assert found[0]["line"] == 6  # the `sample:` line
    assert not (project / "bundles/ask/evals/samples.jsonl").exists()
    _nothing_leaked(project)


def test_a_prompty_sample_inside_the_folder_is_read_even_through_a_link(
    project: Path, incoming: Path, pv
) -> None:  # type: ignore[no-untyped-def]
    (incoming / "data").mkdir()
    (incoming / "data" / "real.json").write_text(json.dumps({"question": "What is 2+2?"}))
    (incoming / "sample.json").symlink_to(incoming / "data" / "real.json")
    report = _import(pv, _prompty(incoming, "sample.json"))
    assert not [f for f in report["findings"] if f["construct"] == "sample"]
    case = json.loads((project / "bundles/ask/evals/samples.jsonl").read_text())
    assert case["vars"] == {"question": "What is 2+2?"}


def _dotprompt(folder: Path, partial: str) -> Path:
    path = folder / "ask.prompt"
    path.write_text(f"---\nmodel: openai/gpt-4o-mini\n---\nHello {{{{name}}}}.\n{{{{> {partial}}}}}\n")
    return path


@pytest.mark.parametrize("partial", ["../secrets/_leak", "[/etc/hostname]", "../../secrets/leak"])
def test_a_partial_name_that_climbs_out_is_not_read(
    partial: str, project: Path, incoming: Path, outside: Path, pv
) -> None:  # type: ignore[no-untyped-def]
    report = _import(pv, _dotprompt(incoming, partial))
    assert any("not a plain relative name" in f["message"] for f in report["findings"]), report
    assert not (project / "bundles/ask/prompts/partials").exists()
    _nothing_leaked(project)
    assert pv("check", "ask").code == 0


def test_a_partial_that_is_a_link_out_of_the_folder_is_not_read(
    project: Path, incoming: Path, outside: Path, pv
) -> None:  # type: ignore[no-untyped-def]
    (incoming / "_footer.prompt").symlink_to(outside.parent / "_leak.prompt")
    report = _import(pv, _dotprompt(incoming, "footer"))
    found = [f for f in report["findings"] if f["construct"] == "{{> footer}}"]
    assert len(found) == 1 and "symbolic link" in found[0]["message"], report["findings"]
    template = (project / "bundles/ask/prompts/ask.j2").read_text()
    assert "include" not in template and "not imported" in template
    _nothing_leaked(project)
    assert pv("check", "ask").code == 0


def test_a_template_name_from_metadata_cannot_write_outside_the_bundle(
    project: Path, incoming: Path, pv
) -> None:  # type: ignore[no-untyped-def]
    path = incoming / "ask.prompt"
    path.write_text(
        "---\nmodel: openai/gpt-4o-mini\next:\n  promptver:\n    template: ../../../escaped\n---\nHi {{name}}\n"
    )
    assert _import(pv, path)["templates"] == ["escaped"]
    assert (project / "bundles/ask/prompts/escaped.j2").is_file()
    assert [p for p in project.rglob("*escaped*") if (project / "bundles/ask") not in p.parents] == []
