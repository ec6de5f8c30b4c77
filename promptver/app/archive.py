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
import hashlib
import io
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptver.errors import ConflictError, IntegrityError
from promptver.semver import Version
from promptver.store.atomic import atomic_write
from promptver.store.digests import CHUNK
from promptver.store.manifest import Manifest
from promptver.store.names import collision_message, collisions
from promptver.store.store import NAME_RE
from promptver.store.tree import FileEntry, MemoryTree, path_problem, printable

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


# Sane limits for reading an archive: a prompt bundle is small, a decompression bomb is not.
MAX_MANIFEST_BYTES = 16 << 20
MAX_FILES = 100_000
MAX_TOTAL_BYTES = 512 << 20  # every file of the version together, uncompressed
_TAR_OVERHEAD = 4 << 20  # headers and padding allowed on top of the listed sizes


# What to do with each verified member's bytes: called with the entry and an iterator of
# chunks (the hash is checked once the iterator is exhausted).
Sink = Callable[[FileEntry, Iterator[bytes]], None]


def read_archive(path: Path) -> ArchiveContents:
    """Read and verify an exported file into memory (``load``); `IntegrityError` says what
    is wrong with it. Sizes are checked against the limits before anything is read."""
    files: dict[str, bytes] = {}

    def keep(entry: FileEntry, chunks: Iterator[bytes]) -> None:
        files[entry.path] = b"".join(chunks)

    manifest = scan_archive(path, keep)
    return ArchiveContents(manifest, MemoryTree(files, label=manifest.ref), path)


def scan_archive(path: Path, sink: Sink | None = None, *, manifest_only: bool = False) -> Manifest:
    """Check an archive member by member, streamed: never more than one chunk in memory.

    The manifest comes first and is checked (paths canonical and unique, sizes within the
    limits); each file member must then be listed, appear once, and have exactly the
    listed size *before* its bytes are read; its hash is checked as it streams into
    ``sink``. The decompressed stream as a whole is capped, so a bomb stops early."""
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        from promptver.errors import NotFoundError

        raise NotFoundError(f"no such export file: {path}") from None
    except OSError as exc:
        raise IntegrityError(f"cannot read {path}: {exc.strerror}") from None
    try:
        with handle, gzip.GzipFile(fileobj=handle, mode="rb") as gz:
            capped = _Capped(gz, MAX_MANIFEST_BYTES + MAX_TOTAL_BYTES + _TAR_OVERHEAD, path)
            with tarfile.open(fileobj=capped, mode="r|") as tar:
                manifest = _scan_members(tar, path, capped, sink, manifest_only)
            if not manifest_only:
                # to the end of the stream: gzip checks its CRC only there, so damage in
                # the tar's padding or end blocks is found too (bounded by the cap)
                while capped.read(1 << 16):
                    pass
            return manifest
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
        raise IntegrityError(
            f"{path} is corrupted or truncated ({exc or type(exc).__name__})",
            location=str(path),
            hint=_HINT,
        ) from None


class _Capped(io.RawIOBase):
    """A read-only stream that refuses to yield more than ``limit`` bytes in total."""

    def __init__(self, inner: gzip.GzipFile, limit: int, path: Path):
        self._inner = inner
        self.limit = limit
        self._path = path
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        self.count += len(data)
        if self.count > self.limit:
            raise _too_big(self._path, f"it expands to more than {_mib(self.limit)}")
        buffer[: len(data)] = data
        return len(data)


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.0f} MiB"


def _too_big(path: Path, what: str) -> IntegrityError:
    return IntegrityError(
        f"{path} is refused: {what} (limit {_mib(MAX_TOTAL_BYTES)} of files, {MAX_FILES} files;"
        " a decompression bomb?)",
        location=str(path),
        hint="only import exports you trust; a real bundle this large cannot be imported",
    )


def _scan_members(
    tar: tarfile.TarFile, path: Path, capped: _Capped, sink: Sink | None, manifest_only: bool
) -> Manifest:
    first = tar.next()
    if first is None or first.name != MANIFEST_MEMBER:
        raise _bad(path, f"it does not start with {MANIFEST_MEMBER}: not a promptver export")
    _check_member(first, path)
    if first.size > MAX_MANIFEST_BYTES:
        raise _too_big(path, f"its manifest is {first.size} bytes")
    manifest = _parse_manifest(b"".join(_chunks(tar, first, path)), path)
    if len(manifest.files) > MAX_FILES:
        raise _too_big(path, f"its manifest lists {len(manifest.files)} files")
    if manifest.size > MAX_TOTAL_BYTES:
        raise _too_big(path, f"its manifest lists {_mib(manifest.size)} of files")
    if manifest_only:
        return manifest
    # Now the whole stream is known: headers of the listed files and little else.
    capped.limit = capped.count + manifest.size + _TAR_OVERHEAD + 1024 * len(manifest.files)
    expected = manifest.file_map()
    seen: set[str] = set()
    while (member := tar.next()) is not None:
        _check_member(member, path)
        if not member.name.startswith(FILES_PREFIX):
            raise _bad(path, f"unexpected member {member.name!r}")
        rel = member.name[len(FILES_PREFIX) :]
        entry = expected.get(rel)
        if entry is None:
            raise _bad(path, f"member {member.name!r} is not listed in the manifest")
        if rel in seen:
            raise _bad(path, f"member {member.name!r} appears twice")
        seen.add(rel)
        if member.size != entry.size:
            raise _bad(path, f"{rel} is {member.size} bytes, the manifest says {entry.size}")
        digest = hashlib.sha256()

        def hashed(member: tarfile.TarInfo = member, digest: Any = digest) -> Iterator[bytes]:
            for chunk in _chunks(tar, member, path):
                digest.update(chunk)
                yield chunk

        chunks = hashed()
        if sink is not None:
            sink(entry, chunks)
        for _ in chunks:  # whatever the sink did not read still counts for the hash
            pass
        if digest.hexdigest() != entry.digest:
            raise _bad(path, f"{rel} does not match its hash in the manifest (tampered or corrupted)")
    missing = sorted(set(expected) - seen)
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise _bad(path, f"files listed in the manifest are missing: {shown}")
    return manifest


def _check_member(member: tarfile.TarInfo, path: Path) -> None:
    if member.issym() or member.islnk():
        raise _bad(path, f"member {member.name!r} is a link; exports hold regular files only")
    if not member.isreg():
        raise _bad(path, f"member {member.name!r} is not a regular file")
    reason = path_problem(member.name)
    if reason:
        raise _bad(path, f"member {printable(member.name)!r} {reason}")


def _chunks(tar: tarfile.TarFile, member: tarfile.TarInfo, path: Path) -> Iterator[bytes]:
    extracted = tar.extractfile(member)
    if extracted is None:
        raise _bad(path, f"member {member.name!r} cannot be read")
    left = member.size
    while left > 0:
        chunk = extracted.read(min(CHUNK, left))
        if not chunk:
            raise _bad(path, f"member {member.name!r} is truncated")
        left -= len(chunk)
        yield chunk


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
        reason = path_problem(entry.path)
        if reason:
            raise _bad(path, f"the manifest lists a path that {reason}: {printable(entry.path)!r}")
    for first, second, why in collisions(entry.path for entry in manifest.files):
        raise _bad(path, f"the manifest lists {collision_message(printable(first), printable(second), why)}")
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

    manifest = scan_archive(path, manifest_only=True)
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
        with store.staging() as staging:
            staged: dict[str, str] = {}

            def stage(entry: FileEntry, chunks: Iterator[bytes]) -> None:
                staged[entry.path] = staging.add_chunks(chunks)

            # Streamed into tmp/ and checked whole; nothing is published unless all of it is good.
            if scan_archive(path, stage) != manifest or any(
                staged.get(e.path) != e.digest for e in manifest.files
            ):
                raise IntegrityError(f"{path} changed while it was being imported", hint="import it again")
            staging.publish()
            event: dict[str, Any] = {
                "event": "import",
                "time": utc_now(),
                "actor": actor or identity(),
                "bundle": name,
                "version": manifest.version,
                "digest": manifest.digest,
                "source": path.name,
            }
            store.publish_version(manifest, event, staging)  # all or nothing: no manifest without its event
    return ImportResult(manifest, created=True)


def describe_archive(path: Path) -> dict[str, Any]:
    """What ``promptver show`` prints for an exported file (as for a stored version)."""
    from promptver.bundle.spec import SPEC_FILE, parse_spec

    spec_bytes: list[bytes] = []

    def keep_spec(entry: FileEntry, chunks: Iterator[bytes]) -> None:
        if entry.path == SPEC_FILE:
            spec_bytes.append(b"".join(chunks))  # the only member held in memory

    manifest = scan_archive(path, keep_spec)
    details = manifest.to_json()
    details["size"] = manifest.size
    details["source"] = str(path)
    model = None
    if spec_bytes:
        try:
            spec, _ = parse_spec(spec_bytes[0].decode("utf-8"))
        except UnicodeDecodeError:
            spec = None
        model = spec.model.to_dict() if spec is not None else None
    details["model"] = model
    return details
