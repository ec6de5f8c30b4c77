"""Names that are not what they look like (issue 24, item 6): check, bump and import refuse
paths that collide under case folding or Unicode normalisation, and names holding
bidirectional controls or invisible characters, each with the reason; bundle and alias
names follow the same rule (`promptver/store/names.py`). Archives: tests/test_archive.py."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from promptver.errors import ConfigError
from promptver.governance.aliases import check_alias
from promptver.store.names import collisions, fold, hidden_character
from promptver.store.store import Store, check_name
from promptver.versions.bump import bump

NFC = unicodedata.normalize("NFC", "café.j2")
NFD = unicodedata.normalize("NFD", "café.j2")

COLLIDING = {
    "case": (["prompts/CASE.txt", "prompts/case.txt"], "differ only in case"),
    "nfc": ([f"prompts/{NFC}", f"prompts/{NFD}"], "different Unicode normalisations"),
    "folder": (["Docs/a.txt", "docs/b.txt"], "differ only in case"),
    "file and folder": (["notes", "NOTES/a.txt"], "differ only in case"),
}

HIDDEN = {
    "\u202e": "RIGHT-TO-LEFT OVERRIDE",
    "\u202a": "LEFT-TO-RIGHT EMBEDDING",
    "\u2066": "LEFT-TO-RIGHT ISOLATE",
    "\u2069": "POP DIRECTIONAL ISOLATE",
    "\u200e": "LEFT-TO-RIGHT MARK",
    "\u200f": "RIGHT-TO-LEFT MARK",
    "\u200b": "ZERO WIDTH SPACE",
    "\u200c": "ZERO WIDTH NON-JOINER",
    "\u200d": "ZERO WIDTH JOINER",
    "\u2060": "WORD JOINER",
    "\ufeff": "ZERO WIDTH NO-BREAK SPACE",
    "\u00ad": "SOFT HYPHEN",
    "\u3164": "HANGUL FILLER",
}


def _write(project: Path, paths: list[str]) -> None:
    for rel in paths:
        path = project / "bundles" / "bot" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{rel}\n", encoding="utf-8")


@pytest.mark.parametrize("kind", sorted(COLLIDING))
def test_check_and_bump_refuse_colliding_paths(kind: str, project: Path, store: Store, pv) -> None:  # type: ignore[no-untyped-def]
    paths, reason = COLLIDING[kind]
    _write(project, paths)
    result = pv("check", "bot")
    assert result.code == 1 and reason in result.out and "macOS and Windows" in result.out, result.out
    assert pv("bump", "minor", "bot", "-m", "x").code == 1
    assert store.version_names("bot") == []


@pytest.mark.parametrize("char", sorted(HIDDEN))
def test_check_and_bump_refuse_hidden_characters_in_paths(char: str, project: Path, store: Store, pv) -> None:  # type: ignore[no-untyped-def]
    _write(project, [f"prompts/evil{char}txt.j2"])
    result = pv("check", "bot", "--json")
    assert result.code == 1
    messages = [p["message"] for p in json.loads(result.out)[0]["problems"]]
    assert any(f"U+{ord(char):04X} {HIDDEN[char]}" in m for m in messages), messages
    assert pv("bump", "minor", "bot", "-m", "x").code == 1
    assert store.version_names("bot") == []


def test_import_prompt_refuses_files_that_collide(project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    incoming = project / "incoming"
    (incoming / "a").mkdir(parents=True)
    (incoming / "b").mkdir()
    for folder, name in (("a", "Greet"), ("b", "greet")):
        (incoming / folder / f"{name}.prompt").write_text(
            "---\nmodel: openai/gpt-4o-mini\n---\nHi {{name}}\n"
        )
    result = pv("import-prompt", "incoming/a/Greet.prompt", "incoming/b/greet.prompt", "--into", "greeter")
    assert result.code == 1 and "differ only in case" in result.err, result.err
    assert not (project / "bundles" / "greeter").exists()


def test_a_bundle_name_that_differs_only_in_case_is_refused(project: Path, store: Store, pv) -> None:  # type: ignore[no-untyped-def]
    bump(store, "bot", "minor")
    (project / "bundles" / "bot").rename(project / "bundles" / "Bot")
    toml = project / "bundles" / "Bot" / "bundle.toml"
    toml.write_text(toml.read_text().replace('name = "bot"', 'name = "Bot"', 1))
    with pytest.raises(ConfigError, match="'bot' and 'Bot' differ only in case"):
        bump(store, "Bot", "minor")
    assert store.version_names("Bot") == []


@pytest.mark.parametrize("char", ["\u202e", "\u200b", "\ufeff"])
def test_bundle_and_alias_names_say_why_they_are_refused(char: str) -> None:
    with pytest.raises(ConfigError, match=f"U\\+{ord(char):04X}"):
        check_name(f"bot{char}")
    with pytest.raises(ConfigError, match=f"U\\+{ord(char):04X}"):
        check_alias(f"production{char}")


def test_hidden_character_allows_ordinary_text() -> None:
    for text in ("prompts/system.j2", NFC, NFD, "日本語/プロンプト.j2", "emoji 🙂.txt", "Ελληνικά.md"):
        assert hidden_character(text) is None, text


def test_collisions_name_each_pair_once() -> None:
    assert collisions(["a/B.txt", "a/b.txt", "A/c.txt", "x"]) == [
        ("A", "a", "differ only in case"),
        ("a/B.txt", "a/b.txt", "differ only in case"),
    ]
    assert collisions(["prompts/a.j2", "prompts/b.j2", NFC]) == []
    assert fold("Straße") == fold("STRASSE")
