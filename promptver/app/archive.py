"""Exported bundles (``.pvb``): one self-contained, verifiable file per version.

A ``.pvb`` is a gzip-compressed tar archive, written deterministically (members sorted,
timestamps, owners and modes fixed, gzip header without name or time), so exporting the
same version twice gives the same bytes::

    manifest.json          the version's manifest, exactly as the store holds it
    files/<path>           every file of the version

Reading checks everything before anything is used: the manifest against its file list,
every member against the manifest (name, size, sha256), and the archive's shape: only
regular files, no absolute paths, no ``..``, no links, no duplicates, nothing missing or
extra. Nothing is ever extracted to disk by path; importing writes content-addressed
objects through the store.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptver.errors import ConflictError, IntegrityError
from promptver.semver import Version
from promptver.store.atomic import atomic_write
from promptver.store.digests import sha256_bytes
from promptver.store.manifest import Manifest
from promptver.store.store import NAME_RE
from promptver.store.tree import MemoryTree, unsafe_path_reason

if TYPE_CHECKING:
    from promptver.store.store import Store

MANIFEST_MEMBER = "manifest.json"
FILES_PREFIX = "files/"
SUFFIX = ".pvb"
_HINT = "export it again with `promptver export NAME@VERSION`"


@dataclass(frozen=True)
class ArchiveContents:
    manifest: Manifest
    tree: MemoryTree
    path: Path


def default_name(manifest: Manifest) -> str:
    return f"{manifest.bundle}-{manifest.version}{SUFFIX}"


def archive_bytes(store: Store, manifest: Manifest) -> bytes:
    """The archive of a stored version; every object is verified as it is read."""
    raw = io.BytesIO()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        _add(tar, MANIFEST_MEMBER, manifest.dumps())
        for entry in sorted(manifest.files, key=lambda e: e.path):
            _add(tar, FILES_PREFIX + entry.path, store.read_object(entry.digest))
    return raw.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    tar.addfile(info, io.BytesIO(data))


def export(store: Store, manifest: Manifest, out: Path, *, folder: bool = False) -> Path:
    """Write the archive of a version to ``out``: a file, or (when it is an existing folder
    or ``folder`` is set) a folder that gets ``NAME-VERSION.pvb``."""
    if folder or out.is_dir():
        out = out / default_name(manifest)
    atomic_write(out, archive_bytes(store, manifest))
    return out


def read_archive(path: Path) -> ArchiveContents:
    """Read and verify an exported file; `IntegrityError` says what is wrong with it."""
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        from promptver.errors import NotFoundError

        raise NotFoundError(f"no such export file: {path}") from None
    except OSError as exc:
        raise IntegrityError(f"cannot read {path}: {exc.strerror}") from None
    try:
        with handle, tarfile.open(fileobj=handle, mode="r:gz") as tar:
            manifest, files = _read_members(tar, path)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
        raise IntegrityError(
            f"{path} is corrupted or truncated ({exc or type(exc).__name__})",
            location=str(path),
            hint=_HINT,
        ) from None
    return ArchiveContents(manifest, MemoryTree(files, label=manifest.ref), path)


def _read_members(tar: tarfile.TarFile, path: Path) -> tuple[Manifest, dict[str, bytes]]:
    first = tar.next()
    if first is None or first.name != MANIFEST_MEMBER:
        raise _bad(path, f"it does not start with {MANIFEST_MEMBER}: not a promptver export")
    _check_member(first, path)
    manifest = _parse_manifest(_read(tar, first, path), path)
    expected = manifest.file_map()
    files: dict[str, bytes] = {}
    while (member := tar.next()) is not None:
        _check_member(member, path)
        if not member.name.startswith(FILES_PREFIX):
            raise _bad(path, f"unexpected member {member.name!r}")
        rel = member.name[len(FILES_PREFIX) :]
        entry = expected.get(rel)
        if entry is None:
            raise _bad(path, f"member {member.name!r} is not listed in the manifest")
        if rel in files:
            raise _bad(path, f"member {member.name!r} appears twice")
        if member.size != entry.size:
            raise _bad(path, f"{rel} is {member.size} bytes, the manifest says {entry.size}")
        data = _read(tar, member, path)
        if sha256_bytes(data) != entry.digest:
            raise _bad(path, f"{rel} does not match its hash in the manifest (tampered or corrupted)")
        files[rel] = data
    missing = sorted(set(expected) - set(files))
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise _bad(path, f"files listed in the manifest are missing: {shown}")
    return manifest, files


def _check_member(member: tarfile.TarInfo, path: Path) -> None:
    if member.issym() or member.islnk():
        raise _bad(path, f"member {member.name!r} is a link; exports hold regular files only")
    if not member.isreg():
        raise _bad(path, f"member {member.name!r} is not a regular file")
    reason = unsafe_path_reason(member.name)
    if reason:
        raise _bad(path, f"member {member.name!r} {reason}")


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo, path: Path) -> bytes:
    extracted = tar.extractfile(member)
    if extracted is None:
        raise _bad(path, f"member {member.name!r} cannot be read")
    data = extracted.read()
    if len(data) != member.size:
        raise _bad(path, f"member {member.name!r} is truncated")
    return data


def _parse_manifest(data: bytes, path: Path) -> Manifest:
    try:
        manifest = Manifest.loads(data, f"{path}:{MANIFEST_MEMBER}")
    except IntegrityError as exc:
        raise _bad(path, f"its {MANIFEST_MEMBER} is damaged: {exc.message}") from None
    if not NAME_RE.match(manifest.bundle):
        raise _bad(path, f"the manifest names an invalid bundle {manifest.bundle!r}")
    if not Version.is_valid(manifest.version):
        raise _bad(path, f"the manifest has an invalid version {manifest.version!r}")
    for entry in manifest.files:
        reason = unsafe_path_reason(entry.path)
        if reason:
            raise _bad(path, f"the manifest lists a path that {reason}: {entry.path!r}")
    return manifest


def _bad(path: Path, what: str) -> IntegrityError:
    return IntegrityError(f"{path} is not a valid promptver export: {what}", location=str(path), hint=_HINT)


# ---- import and describe --------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    manifest: Manifest
    created: bool  # False when the store already had this exact version


def import_archive(store: Store, path: Path, actor: str | None = None) -> ImportResult:
    """Add an exported version to a store (objects, manifest, an audit event)."""
    from promptver.store.events import utc_now
    from promptver.versions.provenance import identity

    contents = read_archive(path)
    manifest = contents.manifest
    name = manifest.bundle
    with store.lock(name):
        if store.manifest_path(name, manifest.version).exists():
            existing = store.manifest(name, manifest.version)
            if existing.digest == manifest.digest:
                return ImportResult(existing, created=False)
            raise ConflictError(
                f"{manifest.ref} is already in the store with a different digest "
                f"({existing.digest[:15]}... here, {manifest.digest[:15]}... in {path.name})",
                hint="versions are immutable; this export is not the version the store has",
            )
        for entry in manifest.files:
            stored = store.put_bytes(contents.tree.read_bytes(entry.path))
            assert stored == entry.digest  # checked when the archive was read
        event: dict[str, Any] = {
            "event": "import",
            "time": utc_now(),
            "actor": actor or identity(),
            "bundle": name,
            "version": manifest.version,
            "digest": manifest.digest,
            "source": path.name,
        }
        store.publish_version(manifest, event)
    return ImportResult(manifest, created=True)


def describe_archive(path: Path) -> dict[str, Any]:
    """What ``promptver show`` prints for an exported file (as for a stored version)."""
    from promptver.bundle.spec import SPEC_FILE, parse_spec

    contents = read_archive(path)
    details = contents.manifest.to_json()
    details["size"] = contents.manifest.size
    details["source"] = str(path)
    model = None
    if contents.tree.has(SPEC_FILE):
        spec, _ = parse_spec(contents.tree.read_text(SPEC_FILE))
        model = spec.model.to_dict() if spec is not None else None
    details["model"] = model
    return details
