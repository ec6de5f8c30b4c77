"""`Manifest`: the immutable record of one version (``bundles/<name>/versions/<v>.json``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from promptver.errors import IntegrityError, StoreFormatError
from promptver.semver import Version
from promptver.store import jsontext
from promptver.store.digests import PREFIX, is_hex_digest, tree_digest
from promptver.store.tree import FileEntry, noncanonical_reason

FORMAT = 1


@dataclass(frozen=True)
class Manifest:
    bundle: str
    version: str
    digest: str  # "sha256:<hex>" over the canonical listing of files
    files: tuple[FileEntry, ...]
    created: str  # UTC, ISO 8601 with Z
    author: str
    message: str = ""
    parent: str | None = None
    parent_digest: str | None = None
    bump: str | None = None
    forced: bool = False
    provenance: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, Any] | None = None  # the semantic summary (promptver.diff)
    format: int = FORMAT

    @property
    def semver(self) -> Version:
        return Version.parse(self.version)

    @property
    def ref(self) -> str:
        return f"{self.bundle}@{self.version}"

    def file_map(self) -> dict[str, FileEntry]:
        return {f.path: f for f in self.files}

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "bundle": self.bundle,
            "version": self.version,
            "digest": self.digest,
            "parent": self.parent,
            "parent_digest": self.parent_digest,
            "created": self.created,
            "author": self.author,
            "message": self.message,
            "bump": self.bump,
            "forced": self.forced,
            "files": [f.to_json() for f in self.files],
            "provenance": self.provenance,
            "changes": self.changes,
        }

    def dumps(self) -> bytes:
        """Canonical bytes: sorted keys, two-space indent, trailing newline."""
        return (json.dumps(self.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()

    @classmethod
    def loads(cls, data: bytes, where: str) -> Manifest:
        """Parse and check a manifest: its digest must match its file list."""
        try:
            raw = jsontext.loads(data)
        except ValueError as exc:
            raise IntegrityError(
                f"manifest is not valid JSON: {exc}",
                location=where,
                hint="restore it from git or a remote; run `promptver verify`",
            ) from None
        if not isinstance(raw, dict):
            raise IntegrityError("manifest is not a JSON object", location=where)
        fmt = raw.get("format")
        if isinstance(fmt, int) and fmt > FORMAT:
            raise StoreFormatError(
                f"manifest format {fmt} is newer than this promptver understands ({FORMAT})",
                location=where,
                hint="upgrade promptver: pip install -U promptver",
            )
        try:
            files = tuple(_file_entry(f) for f in raw["files"])
            manifest = cls(
                bundle=str(raw["bundle"]),
                version=str(raw["version"]),
                digest=str(raw["digest"]),
                files=files,
                created=str(raw["created"]),
                author=str(raw.get("author", "")),
                message=str(raw.get("message", "")),
                parent=raw.get("parent"),
                parent_digest=raw.get("parent_digest"),
                bump=raw.get("bump"),
                forced=bool(raw.get("forced", False)),
                provenance=dict(raw.get("provenance") or {}),
                changes=raw.get("changes"),
                format=int(fmt or FORMAT),
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise IntegrityError(
                f"manifest is malformed ({exc!r} missing or wrong)",
                location=where,
                hint="restore it from git or a remote; run `promptver verify`",
            ) from None
        seen: set[str] = set()
        for entry in files:
            if reason := noncanonical_reason(entry.path):
                raise IntegrityError(
                    f"manifest lists a file path that {reason}: {entry.path!r}",
                    location=where,
                    hint="the manifest was edited by hand; restore it from git or a remote",
                )
            if entry.path in seen:
                raise IntegrityError(
                    f"manifest lists {entry.path!r} twice",
                    location=where,
                    hint="the manifest was edited by hand; restore it from git or a remote",
                )
            seen.add(entry.path)
        expected = tree_digest((f.path, f.digest) for f in files)
        if manifest.digest != expected:
            raise IntegrityError(
                f"manifest digest {manifest.digest[:15]}... does not match its files ({expected[:15]}...)",
                location=where,
                hint="the manifest was edited by hand; restore it from git or a remote",
            )
        return manifest


def _file_entry(raw: dict[str, Any]) -> FileEntry:
    digest = str(raw["digest"]).removeprefix(PREFIX)
    if not is_hex_digest(digest):
        raise ValueError("digest")
    size = raw["size"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ValueError("size")
    return FileEntry(path=str(raw["path"]), digest=digest, size=size)
