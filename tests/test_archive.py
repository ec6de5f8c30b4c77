"""Exported .pvb files: deterministic, self-contained, verified, and safe to read."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

import promptver
from promptver.app.archive import (
    archive_bytes,
    describe_archive,
    export,
    import_archive,
    read_archive,
)
from promptver.errors import ConflictError, IntegrityError, NotFoundError
from promptver.store.digests import sha256_bytes, tree_digest
from promptver.store.store import Store
from tests.app_fixtures import Project, make_project, release


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv("PROMPTVER_USER", "tester")
    monkeypatch.delenv("PROMPTVER_HOME", raising=False)
    promptver.clear_cache()
    yield make_project(tmp_path)
    promptver.clear_cache()


@pytest.fixture
def exported(project: Project, tmp_path: Path) -> Path:
    return export(project.store, project.store.manifest("support-bot", "1.2.1"), tmp_path)


def test_same_version_same_bytes(project: Project, tmp_path: Path) -> None:
    manifest = project.store.manifest("support-bot", "1.2.1")
    first = export(project.store, manifest, tmp_path / "a")
    os.utime(project.store.object_path(manifest.files[0].digest), (1, 1))  # mtimes do not leak
    second = export(project.store, manifest, tmp_path / "b.pvb")
    assert first.name == "a" and second.name == "b.pvb"
    assert first.read_bytes() == second.read_bytes() == archive_bytes(project.store, manifest)
    other = export(project.store, project.store.manifest("support-bot", "1.2.0"), tmp_path)
    assert other.read_bytes() != first.read_bytes()


def test_export_into_a_folder_uses_the_default_name(exported: Path) -> None:
    assert exported.name == "support-bot-1.2.1.pvb"


def test_archive_layout(exported: Path, project: Project) -> None:
    manifest = project.store.manifest("support-bot", "1.2.1")
    with tarfile.open(exported, "r:gz") as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names[0] == "manifest.json"
    assert names[1:] == sorted("files/" + f.path for f in manifest.files)
    assert all(m.mtime == 0 and m.uid == 0 and m.mode == 0o644 and m.isreg() for m in members)


def test_load_needs_no_store(
    exported: Path, project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nowhere = tmp_path / "nowhere"
    nowhere.mkdir()
    monkeypatch.chdir(nowhere)
    monkeypatch.setenv("PROMPTVER_HOME", str(tmp_path / "no-such-store"))
    bot = promptver.load(str(exported))
    assert (bot.version, bot.digest) == ("1.2.1", project.store.manifest("support-bot", "1.2.1").digest)
    assert bot.messages("answer", question="q", context=[])[0]["content"].endswith("Release 1.2.1.\n")
    assert bot.read_bytes("corpus/refunds.md") == b"Refunds within 30 days (1.2.1).\n"
    assert promptver.load(exported) is bot  # a PathLike works too, and is cached


def test_describe(exported: Path) -> None:
    details = describe_archive(exported)
    assert details["bundle"] == "support-bot" and details["version"] == "1.2.1"
    assert details["model"]["name"] == "gpt-4o-mini"
    assert details["source"] == str(exported)


def test_import_into_another_store(exported: Path, tmp_path: Path, project: Project) -> None:
    other, _ = Store.init(tmp_path / "other")
    result = import_archive(other, exported)
    assert result.created
    manifest = other.manifest("support-bot", "1.2.1")
    assert manifest.digest == project.store.manifest("support-bot", "1.2.1").digest
    assert other.tree(manifest).read_text("prompts/answer.j2").startswith("{% include")
    assert [e["event"] for e in other.events("support-bot")] == ["import"]
    # idempotent, and the imported version exports to the very same bytes
    assert not import_archive(other, exported).created
    assert archive_bytes(other, manifest) == exported.read_bytes()


def test_import_refuses_a_different_version_under_the_same_name(
    exported: Path, project: Project, tmp_path: Path
) -> None:
    rival_root = tmp_path / "rival"
    rival_root.mkdir()
    rival = make_project(rival_root)
    release(rival.store, "support-bot", "3.0.0")
    forged = export(rival.store, rival.store.manifest("support-bot", "3.0.0"), tmp_path)
    forged = _rename_version(forged, "1.2.1", tmp_path / "forged.pvb")
    with pytest.raises(ConflictError, match="already in the store with a different digest"):
        import_archive(project.store, forged)


def _rename_version(path: Path, version: str, out: Path) -> Path:
    members = _members(path)
    manifest = json.loads(members[0][1])
    manifest["version"] = version
    members[0] = ("manifest.json", json.dumps(manifest).encode())
    out.write_bytes(_build(members))
    return out


# ---- bad archives -------------------------------------------------------------------------


def _members(path: Path) -> list[tuple[str, bytes]]:
    with tarfile.open(path, "r:gz") as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]  # type: ignore[union-attr]


def _build(members: list[tuple[str, bytes] | tarfile.TarInfo]) -> bytes:
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
                continue
            name, data = member
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def _manifest_listing(files: dict[str, bytes]) -> bytes:
    entries = [{"path": p, "digest": "sha256:" + sha256_bytes(d), "size": len(d)} for p, d in files.items()]
    return json.dumps(
        {
            "format": 1,
            "bundle": "evil",
            "version": "1.0.0",
            "digest": tree_digest((p, sha256_bytes(d)) for p, d in files.items()),
            "created": "2026-01-01T00:00:00Z",
            "author": "x",
            "files": entries,
        }
    ).encode()


def _link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def _bad_archives(good: list[tuple[str, bytes]]) -> dict[str, tuple[bytes, str]]:
    manifest = good[0]
    files = good[1:]
    tampered = [manifest, *[(n, d + b"!" if n.endswith("answer.j2") else d) for n, d in files]]
    directory = tarfile.TarInfo("files/prompts")
    directory.type = tarfile.DIRTYPE
    return {
        "absolute": (_build([manifest, ("/etc/passwd", b"x"), *files]), "is absolute"),
        "dotdot": (_build([manifest, ("files/../../evil.sh", b"x"), *files]), "climbs out"),
        "symlink": (
            _build([manifest, _link("files/x", "/etc/passwd", tarfile.SYMTYPE), *files]),
            "is a link",
        ),
        "hardlink": (
            _build([manifest, _link("files/x", "manifest.json", tarfile.LNKTYPE), *files]),
            "is a link",
        ),
        "directory": (_build([manifest, directory, *files]), "not a regular file"),
        "extra": (_build([*good, ("files/extra.txt", b"hi")]), "not listed in the manifest"),
        "outside files/": (_build([*good, ("notes.txt", b"hi")]), "unexpected member"),
        "duplicate": (_build([*good, files[0]]), "appears twice"),
        "missing": (_build(good[:-1]), "are missing"),
        "tampered": (_build(tampered), r"bytes, the manifest says|does not match its hash"),
        "no manifest first": (_build([*files, manifest]), "does not start with manifest.json"),
        "manifest lists ../": (
            _build([("manifest.json", _manifest_listing({"../x": b"x"})), ("files/../x", b"x")]),
            "climbs out",
        ),
        "bad manifest json": (_build([("manifest.json", b"{not json"), *files]), "not valid JSON"),
        **{
            kind: (
                _build(
                    [
                        ("manifest.json", _manifest_listing(listed)),
                        *((f"files/{n}", d) for n, d in listed.items()),
                    ]
                ),
                message,
            )
            for kind, listed, message in (
                ("case collision", {"CASE.txt": b"a", "case.txt": b"b"}, "differ only in case"),
                ("nfc collision", {"caf\u00e9.j2": b"a", "cafe\u0301.j2": b"b"}, "Unicode normalisations"),
                ("folder collision", {"Docs/a.txt": b"a", "docs/b.txt": b"b"}, "differ only in case"),
                ("bidi name", {"evil\u202etxt.j2": b"a"}, "U\\+202E RIGHT-TO-LEFT OVERRIDE"),
                ("zero-width name", {"a\u200bb.txt": b"a"}, "U\\+200B ZERO WIDTH SPACE"),
            )
        },
    }


BAD_KINDS = [
    "absolute",
    "dotdot",
    "symlink",
    "hardlink",
    "directory",
    "extra",
    "outside files/",
    "duplicate",
    "missing",
    "tampered",
    "no manifest first",
    "manifest lists ../",
    "bad manifest json",
    "case collision",
    "nfc collision",
    "folder collision",
    "bidi name",
    "zero-width name",
]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_unsafe_or_inconsistent_archives_are_rejected(exported: Path, tmp_path: Path, kind: str) -> None:
    data, message = _bad_archives(_members(exported))[kind]
    bad = tmp_path / "bad.pvb"
    bad.write_bytes(data)
    with pytest.raises(IntegrityError, match=message):
        read_archive(bad)
    other, _ = Store.init(tmp_path / "other")
    with pytest.raises(IntegrityError):
        import_archive(other, bad)
    assert other.bundle_names() == []  # nothing was written
    with pytest.raises(IntegrityError):
        promptver.load(str(bad))


@pytest.mark.parametrize(
    "damage",
    ["truncated", "flipped byte", "empty", "not gzip", "gzip of garbage"],
)
def test_corrupted_or_truncated_files(exported: Path, tmp_path: Path, damage: str) -> None:
    data = exported.read_bytes()
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "flipped byte":
        middle = len(data) // 2
        data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]
    elif damage == "empty":
        data = b""
    elif damage == "not gzip":
        data = b"PK\x03\x04 this is a zip, or something else"
    else:
        data = gzip.compress(b"hello" * 1000, mtime=0)
    bad = tmp_path / "bad.pvb"
    bad.write_bytes(data)
    with pytest.raises(IntegrityError) as info:
        read_archive(bad)
    assert str(bad) in info.value.message
    assert info.value.hint and "promptver export" in info.value.hint


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no such export file"):
        read_archive(tmp_path / "nope.pvb")


def test_any_flipped_byte_is_found(exported: Path, tmp_path: Path) -> None:
    """Wherever a byte is damaged (a member, the tar's padding or end blocks, the gzip
    trailer), reading the export fails: the stream is read to its end, where gzip checks
    its CRC."""
    data = exported.read_bytes()
    bad = tmp_path / "bad.pvb"
    for position in range(10, len(data), max(1, len(data) // 97)):
        bad.write_bytes(data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :])
        with pytest.raises(IntegrityError):
            read_archive(bad)
