"""`promptver diff`, `bump auto` and its refusals, `changelog`: a real store in a temp dir."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from promptver.bundle.scaffold import scaffold
from promptver.store.store import Store
from tests.diff_support import cli


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store with bundle ``bot`` at 0.1.0 (scaffold as is)."""
    monkeypatch.delenv("PROMPTVER_HOME", raising=False)
    monkeypatch.setenv("PROMPTVER_USER", "Tess Tester <tess@example.com>")
    monkeypatch.setenv("COLUMNS", "160")
    root = tmp_path / "proj"
    root.mkdir()
    Store.init(root)
    scaffold(root / "bundles" / "bot", "bot")
    monkeypatch.chdir(root)
    assert cli("bump", "minor", "bot").code == 0
    return root


def edit(root: Path, path: str, old: str, new: str) -> None:
    file = root / "bundles" / "bot" / path
    text = file.read_text()
    assert old in text, (path, old)
    file.write_text(text.replace(old, new))


def test_diff_latest_vs_working_copy_terminal_and_stat(proj: Path) -> None:
    edit(proj, "bundle.toml", "temperature = 0.2", "temperature = 0.7")
    res = cli("diff", "bot")
    assert res.code == 0, res.err
    assert "bot@0.1.0 -> bot (working copy): suggested bump minor (1 minor)" in res.out
    assert "params.temperature: 0.2 -> 0.7" in res.out
    assert "\x1b[" not in res.out  # not a terminal: no colour codes
    stat = cli("diff", "bot", "--stat")
    assert stat.out.splitlines()[1].split() == ["model", "changed", "minor", "1", "change"]


def test_diff_exit_code_and_identical(proj: Path) -> None:
    same = cli("diff", "bot", "--exit-code")
    assert same.code == 0 and "no changes (identical" in same.out
    edit(proj, "prompts/answer.j2", "Question", "Q")
    assert cli("diff", "bot", "--exit-code").code == 1
    assert cli("diff", "bot").code == 0


def test_diff_between_versions_and_json_schema(proj: Path) -> None:
    golden = proj / "bundles/bot/evals/golden.jsonl"
    golden.write_text(golden.read_text().replace('"vars": {', '"vars": {"locale": "en", '))
    assert cli("bump", "patch", "bot").code == 0  # the cases supply the new variable first
    edit(proj, "prompts/answer.j2", "{{ question }}", "{{ question }} ({{ locale }})")
    assert cli("bump", "auto", "bot").code == 0
    res = cli("diff", "bot", "0.1.1", "latest", "--format", "json")
    data = json.loads(res.out)
    assert data["schema_version"] == 1 and data["suggested_bump"] == "major"
    assert (data["old"]["version"], data["new"]["version"]) == ("0.1.1", "1.0.0")
    (comp,) = data["components"]
    assert comp["detail"]["variables_added"] == ["locale"]
    assert comp["detail"]["tokens"]["delta"] > 0
    assert json.loads(cli("diff", "bot@0.1.1", "bot@1.0.0", "--json").out) == data


def test_diff_two_bundles(proj: Path) -> None:
    scaffold(proj / "bundles" / "other", "other")
    edit(proj, "../other/bundle.toml", 'name = "gpt-4o-mini"', 'name = "gpt-4.1"')
    assert cli("bump", "minor", "other").code == 0
    res = cli("diff", "bot@0.1.0", "other@latest", "--format", "json")
    data = json.loads(res.out)
    changes = [c for comp in data["components"] for c in comp["changes"]]
    assert {c["path"] for c in changes} == {"bundle.name", "model.name"}


def test_markdown_format(proj: Path) -> None:
    edit(proj, "prompts/answer.j2", "Question", "The question")
    out = cli("diff", "bot", "--format", "markdown").out
    assert out.startswith("### promptver diff: bot@0.1.0 → bot (working copy)")
    assert "| templates answer | minor |" in out
    assert "```diff" in out and "+The question: {{ question }}" in out


def test_unknown_bundle_and_version_are_errors_with_suggestions(proj: Path) -> None:
    res = cli("diff", "bott")
    assert res.code == 1 and "unknown bundle 'bott'" in res.err and "'bot'" in res.err
    res = cli("diff", "bot", "0.1.1")
    assert res.code == 1 and "no version '0.1.1'" in res.err and "0.1.0" in res.err
    res = cli("diff", "bot", "1.0", "2.0", "3.0")
    assert res.code == 1 and "too many arguments" in res.err
    assert "Traceback" not in res.err


def test_bump_lower_than_suggested_is_refused_then_forced(proj: Path) -> None:
    (proj / "bundles/bot/prompts/answer.j2").unlink()
    edit(proj, "bundle.toml", 'answer = "prompts/answer.j2"', "")
    edit(proj, "bundle.toml", 'template = "answer"\n', "")
    refused = cli("bump", "minor", "bot")
    assert refused.code == 1
    assert "a minor bump is refused" in refused.err and "template 'answer' removed" in refused.err
    assert not (proj / ".promptver/bundles/bot/versions/0.2.0.json").exists()
    forced = cli("bump", "minor", "bot", "--force", "--json")
    assert forced.code == 0, forced.err
    data = json.loads(forced.out)
    assert data["version"] == "0.2.0" and data["forced"] is True
    assert data["changes"]["forced"] == {"requested": "minor", "suggested": "major"}
    manifest = json.loads((proj / ".promptver/bundles/bot/versions/0.2.0.json").read_text())
    assert manifest["changes"]["suggested_bump"] == "major" and manifest["forced"] is True


def test_bump_auto_explains_and_changelog(proj: Path) -> None:
    edit(proj, "bundle.toml", "max_tokens = 400", "max_tokens = 800")
    res = cli("bump", "auto", "bot", "-m", "Longer answers")
    assert res.code == 0, res.err
    assert "bot 0.1.0 -> 0.2.0" in res.out and "bump minor (the changes suggest minor)" in res.out
    assert "params.max_tokens: 400 -> 800" in res.out
    edit(proj, "evals/golden.jsonl", '"Paris"', '"Paris, France"')
    assert cli("bump", "auto", "bot").code == 0  # eval cases only: a patch
    log = cli("changelog", "bot").out
    assert log.index("## [0.2.1]") < log.index("## [0.2.0]") < log.index("## [0.1.0]")
    assert "### Changed\n\n- params.max_tokens: 400 -> 800 (minor)" in log
    assert "dataset 'golden': 1 case changed (patch)" in log
    assert "Longer answers" in log and "Initial version." in log
    data = json.loads(cli("changelog", "bot", "--json").out)
    assert [v["version"] for v in data["versions"]] == ["0.2.1", "0.2.0", "0.1.0"]
    assert data["versions"][0]["suggested_bump"] == "patch"


def test_snapshot_stores_the_summary(proj: Path) -> None:
    edit(proj, "prompts/system.j2", "", "Be concise. ")
    res = cli("snapshot", "bot", "--json")
    assert res.code == 0, res.err
    data = json.loads(res.out)
    assert data["changes"]["suggested_bump"] == "minor"


def test_check_reports_bad_versioning_table(proj: Path) -> None:
    with open(proj / "bundles/bot/bundle.toml", "a") as handle:
        handle.write('\n[versioning.impact]\n"template.remove" = "major"\n')
    res = cli("check", "bot")
    assert res.code == 1 and "unknown impact rule 'template.remove'" in res.out + res.err


def test_changelog_of_versions_made_without_summaries(proj: Path) -> None:
    """Versions written before summaries existed are diffed against their parent."""
    from promptver.versions.bump import bump

    store = Store.find(proj)
    edit(proj, "bundle.toml", "max_tokens = 400", "max_tokens = 300")
    bump(store, "bot", "minor")  # the library without the analyzer: no summary stored
    assert store.manifest("bot", "0.2.0").changes is None
    data = json.loads(cli("changelog", "bot", "--json").out)
    newest = data["versions"][0]
    assert newest["computed"] is True and newest["suggested_bump"] == "minor"
    assert newest["sections"]["Changed"][0]["reason"] == "params.max_tokens: 400 -> 300"


def test_colours_on_a_terminal_and_none_with_no_color(proj: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    edit(proj, "prompts/answer.j2", "Question", "Your question")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich treats the output as a terminal
    coloured = cli("diff", "bot").out
    colour = re.compile(r"\x1b\[[0-9;]*3[0-7]m")
    assert colour.search(coloured)
    monkeypatch.setenv("NO_COLOR", "1")
    plain = cli("diff", "bot").out
    assert not colour.search(plain)
    assert "\x1b[7m" in plain or "\x1b[1;7m" in plain  # changed words still stand out


def test_approximate_token_counts_are_marked_in_every_output(
    proj: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An encoding shipped by nothing offline (p50k_base); with no network and an empty
    cache the offline cl100k_base counts, and every output says the counts are approximate.
    gpt-4o-mini's own o200k_base is counted exactly, offline."""
    import socket

    from promptver.bundle import tokens

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network blocked by test")

    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    tokens.reset()
    try:
        edit(proj, "prompts/answer.j2", "Question", "The customer's question")
        exact = cli("diff", "bot").out
        assert "approximate" not in exact and "tokens (o200k_base):" in exact
        edit(proj, "bundle.toml", 'name = "gpt-4o-mini"', 'name = "gpt-4o-mini"\nencoding = "p50k_base"')
        res = cli("diff", "bot")
        assert "tokens (cl100k_base, approximate): ~" in res.out
        # the note is for the person, on stderr: stdout is only the diff (and survives 2>/dev/null)
        assert "note: approximate token counts (cl100k_base)" in res.err
        assert "note:" not in res.out
        data = json.loads(cli("diff", "bot", "--json").out)
        assert data["tokens_approximate"] is True
        template = next(c for c in data["components"] if c["kind"] == "templates")
        assert template["detail"]["tokens"]["approximate"] is True
        md = cli("diff", "bot", "--format", "markdown")
        assert "tokens ~" in md.out and "approximate token counts" not in md.out  # a PR comment
        assert "note: approximate token counts (cl100k_base)" in md.err
        assert "tokens ~+" in cli("diff", "bot", "--stat").out
    finally:
        tokens.reset()


def test_side_by_side_shows_both_sides(proj: Path) -> None:
    edit(proj, "prompts/answer.j2", "Question", "Your question")
    out = cli("diff", "bot", "--side-by-side").out
    row = next(line for line in out.splitlines() if "Your question" in line)
    assert "Question: {{ question }}" in row.replace("Your question", "")


def test_side_by_side_without_colour_marks_each_change(proj: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Piped with NO_COLOR, changed, added and removed lines still differ in plain text."""
    monkeypatch.setenv("NO_COLOR", "1")
    template = proj / "bundles/bot/prompts/answer.j2"
    template.write_text(template.read_text().replace("Question", "Your question") + "Be brief.\n")
    out = cli("diff", "bot", "--side-by-side").out
    assert "\x1b[" not in out
    changed = next(line for line in out.splitlines() if "Your question" in line)
    assert re.search(r"-\s+Question: \{\{ question \}\}.*\+\s+Your question", changed)
    added = next(line for line in out.splitlines() if "Be brief." in line)
    assert "+" in added.split("Be brief.")[0] and "-" not in added
    unchanged = [
        line for line in out.splitlines() if line.strip().startswith("1 ") and "Your question" not in line
    ]
    assert all("+" not in line and "-" not in line for line in unchanged)


def test_non_utf8_and_binary_eval_lines_are_problems_not_crashes(proj: Path) -> None:
    dataset = proj / "bundles/bot/evals/golden.jsonl"
    dataset.write_bytes(dataset.read_bytes() + b'{"id": "x\xff"}\n\x00\x01\x02\n')
    res = cli("diff", "bot", "--json")
    assert res.code == 0, res.err
    (comp,) = json.loads(res.out)["components"]
    problems = comp["detail"]["problems"]
    assert problems == [
        "evals/golden.jsonl:3:10: not UTF-8 text (byte 0xff)",
        "evals/golden.jsonl:4:1: not valid JSON (Expecting value)",
    ]


def test_diff_of_a_bundle_with_no_versions_yet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a new user starts: `diff` on a fresh bundle shows everything added and the
    first version it would make, instead of failing."""
    monkeypatch.delenv("PROMPTVER_HOME", raising=False)
    monkeypatch.setenv("PROMPTVER_USER", "Tess Tester <tess@example.com>")
    monkeypatch.chdir(tmp_path)
    assert cli("init").code == 0 and cli("new", "my-bot").code == 0
    res = cli("diff", "my-bot")
    assert res.code == 0, res.err
    first = res.out.splitlines()[0]
    assert first.startswith("my-bot (no versions yet) -> my-bot (working copy): everything is new")
    assert "the first version will be 0.1.0" in first
    data = json.loads(cli("diff", "my-bot", "--json").out)
    assert data["old"] == {
        "bundle": "my-bot",
        "version": None,
        "digest": "",
        "label": "my-bot (no versions yet)",
    }
    statuses = {(c["kind"], c["name"]): c["status"] for c in data["components"]}
    assert statuses[("model", "model")] == "added" and statuses[("templates", "answer")] == "added"
    assert cli("diff", "my-bot", "--stat").code == 0
    assert cli("diff", "my-bot", "--format", "markdown").code == 0
    # an unknown bundle is still an error
    assert cli("diff", "no-such-bot").code == 1
