"""`promptver status` (with its stat cache) and `promptver checkout`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import promptver.store.tree
from promptver.store.store import Store

BOT = Path("bundles/bot")


def test_status_lists_added_removed_modified(project: Path, pv) -> None:
    assert "bot: no versions yet\n  added    bundle.toml" in pv("status").out
    pv("bump", "minor", "bot")
    assert pv("status", "bot").out == "bot: matches 0.1.0\n"
    (project / BOT / "prompts/answer.j2").write_text("Q: {{ question }}\n")
    (project / BOT / "prompts/system.j2").unlink()
    (project / BOT / "notes.md").write_text("notes\n")
    out = pv("status", "bot").out
    assert "  added    notes.md" in out and "  removed  prompts/system.j2" in out
    assert "  modified prompts/answer.j2" in out
    data = json.loads(pv("status", "bot", "--json").out)[0]
    assert data["added"] == ["notes.md"] and data["clean"] is False and data["base"] == "0.1.0"


def test_ignored_files_are_not_part_of_the_bundle(project: Path, pv) -> None:
    pv("bump", "minor", "bot")
    (project / BOT / "prompts/answer.j2.swp").write_text("x")
    (project / BOT / "__pycache__").mkdir()
    (project / BOT / "__pycache__/x.pyc").write_text("x")
    (project / BOT / ".promptverignore").write_text("# scratch\nscratch/\n")
    (project / BOT / "scratch").mkdir()
    (project / BOT / "scratch/tmp.txt").write_text("x")
    out = pv("status", "bot").out
    assert "added    .promptverignore" in out
    assert "scratch" not in out and "swp" not in out and "pyc" not in out


def test_unchanged_files_are_not_rehashed(project: Path, pv, monkeypatch: pytest.MonkeyPatch) -> None:
    pv("bump", "minor", "bot")
    pv("status", "bot")  # warms the cache (files written just now are "racy" and re-hashed once)
    for path in (project / BOT).rglob("*"):
        if path.is_file():
            st = path.stat()
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - 10_000_000_000))
    pv("status", "bot")
    hashed: list[Path] = []
    real = promptver.store.tree.sha256_file
    monkeypatch.setattr(promptver.store.tree, "sha256_file", lambda p, *a: hashed.append(p) or real(p, *a))
    assert "matches 0.1.0" in pv("status", "bot").out
    assert hashed == []
    path = project / BOT / "prompts/system.j2"
    path.write_text("Changed, same cache otherwise.\n")
    assert "modified prompts/system.j2" in pv("status", "bot").out
    assert hashed == [path]


def test_same_size_same_second_edit_is_seen(project: Path, pv) -> None:
    pv("bump", "minor", "bot")
    path = project / BOT / "prompts/answer.j2"
    original = path.read_text()
    path.write_text(original.replace("Question", "Qvestion"))  # same size, right after hashing
    assert "modified prompts/answer.j2" in pv("status", "bot").out


def test_checkout_restores_byte_for_byte(project: Path, store: Store, pv) -> None:
    pv("bump", "minor", "bot")
    original = {p: p.read_bytes() for p in (project / BOT).rglob("*") if p.is_file()}
    (project / BOT / "prompts/answer.j2").write_text("v2 {{ question }}\n")
    (project / BOT / "extra.txt").write_text("new file\n")
    pv("bump", "minor", "bot")
    result = pv("checkout", "bot@0.1.0")
    assert result.code == 0 and "restored bot@0.1.0" in result.out
    now = {p: p.read_bytes() for p in (project / BOT).rglob("*") if p.is_file()}
    assert now == original
    assert pv("checkout", "bot@latest").code == 0
    assert (project / BOT / "extra.txt").read_text() == "new file\n"


def test_checkout_refuses_to_overwrite_unsaved_work(project: Path, pv) -> None:
    pv("bump", "minor", "bot")
    path = project / BOT / "prompts/answer.j2"
    path.write_text("precious unsaved work {{ question }}\n")
    result = pv("checkout", "bot@0.1.0")
    assert result.code == 1 and "changes that are in no stored version" in result.err
    assert "--force" in result.err
    assert path.read_text().startswith("precious")
    assert pv("checkout", "bot@0.1.0", "--force").code == 0
    assert not path.read_text().startswith("precious")


def test_checkout_to_a_folder(project: Path, pv, tmp_path: Path) -> None:
    pv("bump", "minor", "bot")
    target = tmp_path / "restored"
    assert pv("checkout", "bot@0.1.0", "--to", str(target)).code == 0
    assert (target / "prompts/answer.j2").read_bytes() == (project / BOT / "prompts/answer.j2").read_bytes()
    result = pv("checkout", "bot@0.1.0", "--to", str(target))
    assert result.code == 1 and "is not empty" in result.err


def test_checkout_rejects_unsafe_manifest_paths(project: Path, store: Store, pv, tmp_path: Path) -> None:
    import dataclasses

    from promptver.store.tree import FileEntry
    from promptver.versions.checkout import checkout

    pv("bump", "minor", "bot")
    manifest = store.resolve("bot")
    evil = dataclasses.replace(manifest, files=(*manifest.files, FileEntry("../../escape.txt", "0" * 64, 1)))
    from promptver.errors import IntegrityError

    with pytest.raises(IntegrityError, match="climbs out"):
        checkout(store, evil, to=tmp_path / "x")
    assert not (tmp_path / "escape.txt").exists()


def test_unknown_version_suggests_known_ones(project: Path, pv) -> None:
    pv("bump", "minor", "bot")
    result = pv("show", "bot@0.2.0")
    assert result.code == 1 and "bot has no version '0.2.0'" in result.err and "0.1.0" in result.err
    result = pv("show", "bot@1.2")
    assert result.code == 1 and "not a semantic version" in result.err
