"""The store: a ``.promptver/`` folder of plain files that can be committed to git.

    .promptver/
      config.toml                          format, workspace settings, remotes
      objects/ab/cdef...                   content-addressed blobs: written once, read-only
      bundles/<name>/versions/<v>.json     immutable manifests
      bundles/<name>/log.jsonl             append-only, hash-chained audit events
      runs/                                eval runs
      cache/ locks/ tmp/                   local only (ignored by git)

Writes go to ``tmp/`` first, are fsynced and then published with a link (objects,
manifests: never overwriting) or a rename, so a reader never sees half a file and a
killed writer leaves only garbage in ``tmp/``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import threading
import tomllib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from promptver.errors import (
    ConfigError,
    ConflictError,
    IntegrityError,
    NotFoundError,
    PolicyError,
    PromptverError,
    StoreFormatError,
    VersionSyntaxError,
    WriteError,
    did_you_mean,
)
from promptver.semver import Version
from promptver.store.atomic import (
    FdWriter,
    atomic_write,
    fsync_dir,
    remove_quietly,
    tmp_name,
    write_all,
    write_failed,
    write_new,
)
from promptver.store.digests import CHUNK, sha256_bytes, short
from promptver.store.manifest import Manifest
from promptver.store.stat_cache import StatCache
from promptver.store.tree import Tree, WorkTree

if TYPE_CHECKING:
    from promptver.store.events import Signer
    from promptver.store.linewalk import Walk

STORE_DIR = ".promptver"
RECIPE_MARK = b"PVR1\n"  # `packs.MAGIC`: kept here so reading a small object never imports packs
PACK_FROM = 4 << 20  # files of at least 4 MiB written from memory are kept in packs (store/packs.py)
FORMAT = 1
ENV_HOME = "PROMPTVER_HOME"
DEFAULT_CONFIG = f"""\
# promptver store. Everything here but cache/, locks/ and tmp/ is meant to be committed.
format = {FORMAT}

[workspace]
bundles = "bundles"   # where bundle folders live, relative to the project root
"""
GITIGNORE = "cache/\nlocks/\ntmp/\n"


# Bundle names: also folder names and the NAME of NAME@VERSION (docs/bundle-format.md).
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z")


class Store:
    def __init__(self, root: Path):
        self.root = root
        self._recorded: dict[str, tuple[tuple[int, ...], dict[str, dict[str, Any]]]] = {}
        self.config = self._read_config()
        workspace = self.config.get("workspace", {})
        self.project_root = root.parent
        self.bundles_dir = (self.project_root / workspace.get("bundles", "bundles")).resolve()
        # Called with the hex digest of an object missing here; returns its verified bytes
        # after publishing it (set by the remote layer: lazy fetch from a remote).
        self.object_source: Callable[[str], bytes] | None = None
        # (name, alias, last move) -> why the move may not be followed, or None; set by the
        # CLI (governance/checks.py `alias_guard`): the store layer knows no policies
        self.alias_check: Callable[[str, str, dict[str, Any]], str | None] | None = None

    # --- finding and creating ----------------------------------------------------------

    @classmethod
    def find(cls, start: Path | None = None, override: str | os.PathLike[str] | None = None) -> Store:
        """The store named by ``override`` or ``PROMPTVER_HOME``, else the nearest ``.promptver/``."""
        explicit = override or os.environ.get(ENV_HOME)
        if explicit:
            root = Path(explicit).expanduser().resolve()
            if not (root / "config.toml").is_file():
                raise NotFoundError(
                    f"no promptver store at {root}",
                    hint=f"create one with `promptver init` or fix --store/{ENV_HOME}",
                )
            return cls(root)
        here = (start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            candidate = folder / STORE_DIR
            if (candidate / "config.toml").is_file():
                return cls(candidate)
        raise NotFoundError(
            f"no {STORE_DIR}/ store in {here} or any parent folder",
            hint="run `promptver init` at your project root",
        )

    @classmethod
    def init(cls, project_root: Path, store_dir: Path | None = None) -> tuple[Store, bool]:
        """Create a store (idempotent). Returns the store and whether it was created."""
        root = (store_dir or project_root / STORE_DIR).resolve()
        created = not (root / "config.toml").exists()
        if created:
            for sub in ("objects", "bundles", "runs", "tmp"):
                try:
                    (root / sub).mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise write_failed(root / sub, exc) from None
            atomic_write(root / ".gitignore", GITIGNORE.encode(), tmp_dir=root / "tmp")
            atomic_write(root / "config.toml", DEFAULT_CONFIG.encode(), tmp_dir=root / "tmp")
        return cls(root), created

    def _read_config(self) -> dict[str, Any]:
        path = self.root / "config.toml"
        try:
            config = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotFoundError(f"no promptver store at {self.root}", hint="run `promptver init`") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise ConfigError(f"store config is not valid TOML: {exc}", location=str(path)) from None
        fmt = config.get("format", FORMAT)
        if not isinstance(fmt, int) or fmt > FORMAT:
            raise StoreFormatError(
                f"store format {fmt} is newer than this promptver understands ({FORMAT})",
                location=str(path),
                hint="upgrade promptver: pip install -U promptver",
            )
        return config

    # --- paths ----------------------------------------------------------------------------

    @property
    def tmp_dir(self) -> Path:
        path = self.root / "tmp"
        path.mkdir(exist_ok=True)
        return path

    def bundle_dir(self, name: str) -> Path:
        """The working folder of a bundle (``bundles/<name>``)."""
        return self.bundles_dir / check_name(name)

    def _meta_dir(self, name: str) -> Path:
        return self.root / "bundles" / check_name(name)

    def object_path(self, hexdigest: str) -> Path:
        return self.root / "objects" / hexdigest[:2] / hexdigest[2:]

    # --- objects ------------------------------------------------------------------------

    def has_object(self, hexdigest: str) -> bool:
        return self.object_path(hexdigest).exists()

    def put_file(self, path: Path) -> str:
        """Store a file's content (read once: hashed while copied); returns its hex digest."""
        with self.staging() as staging:
            hexdigest = staging.add(path)
            staging.publish()
        return hexdigest

    def staging(self) -> Staging:
        """Stage objects for one write (a bump, an import). While it is open, ``gc`` waits:
        an object this writer found already present cannot disappear under it."""
        return Staging(self)

    def put_bytes(self, data: bytes) -> str:
        with self.staging() as staging:
            hexdigest = staging.add_bytes(data)
            staging.publish()
        return hexdigest

    def _tmp_file(self) -> Path:
        return self.tmp_dir / tmp_name(f"obj-{threading.get_ident()}")

    def _link_in(self, tmp: Path, final: Path) -> bool:
        """Link a staged file in as an object or a pack; True when this call created it."""
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp, 0o444)
            try:
                os.link(tmp, final)  # never overwrites: an existing object has this same content
            except FileExistsError:
                return False
        except OSError as exc:
            raise write_failed(final, exc) from None
        fsync_dir(final.parent)
        return True

    def read_object(self, hexdigest: str) -> bytes:
        """An object's bytes, verified against its name."""
        data = self.read_buffer(hexdigest)
        return data if isinstance(data, bytes) else bytes(data)

    def read_buffer(self, hexdigest: str) -> bytes | bytearray:
        """`read_object`, but a large object kept in packs comes as the bytearray it was
        rebuilt into, without the copy ``bytes`` would make."""
        path = self.object_path(hexdigest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            if self.object_source is not None:
                return self.object_source(hexdigest)
            raise IntegrityError(
                f"object {short(hexdigest)} is missing",
                location=str(path),
                hint="pull it from a remote or restore the store from git",
            ) from None
        if sha256_bytes(data) != hexdigest:
            if data.startswith(RECIPE_MARK):  # a large object kept in packs
                from promptver.store import packs

                return packs.read_all(self, hexdigest, packs.Recipe.parse(data, path))
            raise corrupted(hexdigest, path)
        return data

    def read_unchecked(self, hexdigest: str) -> bytes | bytearray:
        """The bytes an object holds (a large one rebuilt from its packs), NOT checked
        against its name: only for a caller that hashes them itself while it starts using
        them, and drops what it did when they do not match (a bump's read-ahead)."""
        path = self.object_path(hexdigest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return self.read_buffer(hexdigest)  # fetched from a remote, checked, or the error
        if data.startswith(RECIPE_MARK):
            from promptver.store import packs

            try:
                recipe = packs.recipe_in(data, hexdigest, path)
            except IntegrityError:
                return data  # a damaged recipe: the caller's hash says it is not the object
            if recipe is not None:
                return packs.read_unchecked(self, hexdigest, recipe)
        return data

    def open_object(self, hexdigest: str) -> BinaryIO:
        """A streaming reader that checks the hash when it reaches the end."""
        path = self.object_path(hexdigest)
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            if self.object_source is not None:
                return io.BufferedReader(io.BytesIO(self.object_source(hexdigest)), CHUNK)
            raise IntegrityError(
                f"object {short(hexdigest)} is missing",
                location=str(path),
                hint="pull it from a remote or restore the store from git",
            ) from None
        if handle.peek(len(RECIPE_MARK)).startswith(RECIPE_MARK):
            from promptver.store import packs

            try:
                recipe = packs.load_recipe(self, hexdigest)
                if recipe is not None:
                    packs.check_size(self, hexdigest, recipe)
            except IntegrityError:
                handle.close()
                raise
            if recipe is not None:
                handle.close()
                return io.BufferedReader(packs.RecipeReader(self, hexdigest, recipe), CHUNK)
        return io.BufferedReader(VerifiedReader(handle, hexdigest, path), CHUNK)

    # --- manifests ------------------------------------------------------------------------

    def bundle_names(self) -> list[str]:
        folder = self.root / "bundles"
        names = {p.name for p in folder.iterdir() if p.is_dir()} if folder.is_dir() else set()
        if self.bundles_dir.is_dir():
            names |= {p.name for p in self.bundles_dir.iterdir() if (p / "bundle.toml").is_file()}
        return sorted(n for n in names if NAME_RE.match(n))

    def version_names(self, name: str) -> list[Version]:
        """All versions of a bundle in ascending precedence (from file names: no reads)."""
        folder = self._meta_dir(name) / "versions"
        if not folder.is_dir():
            return []
        found = []
        for entry in os.scandir(folder):
            if entry.name.endswith(".json") and Version.is_valid(entry.name[:-5]):
                found.append(Version.parse(entry.name[:-5]))
        return sorted(found)

    def versions(self, name: str) -> list[Manifest]:
        return [self.manifest(name, str(v)) for v in self.version_names(name)]

    def manifest_path(self, name: str, version: str) -> Path:
        return self._meta_dir(name) / "versions" / f"{version}.json"

    def manifest(self, name: str, version: str, *, checked: bool = True) -> Manifest:
        """A stored version's manifest. ``checked`` (the default): refused unless the audit
        log has its bump (or import) event and the file is byte for byte the one that event
        recorded, so a manifest added or edited by hand is never served."""
        path = self.manifest_path(name, version)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise self._unknown_version(name, version) from None
        manifest = Manifest.loads(data, str(path))
        if manifest.bundle != name or manifest.version != version:
            raise IntegrityError(
                f"manifest names {manifest.ref}, not {name}@{version}",
                location=str(path),
                hint="a manifest was moved or edited by hand",
            )
        if checked:
            problem = manifest_problem(manifest, data, self.recorded_versions(name).get(version))
            if problem is not None:
                raise IntegrityError(
                    problem, location=str(path), hint="run `promptver verify`; restore the store from git"
                )
        return manifest

    def recorded_versions(self, name: str) -> dict[str, dict[str, Any]]:
        """The event that created each version (``bump`` or ``import``), by version, from
        the audit log (cached until the log file changes)."""
        from promptver.store.events import creation_events

        path = self.log_path(name)
        try:
            stat = path.stat()
            key: tuple[int, ...] = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        except FileNotFoundError:
            key = ()
        cached = self._recorded.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        found = creation_events(self, name) if key else {}
        self._recorded[name] = (key, found)
        return found

    def publish_version(
        self,
        manifest: Manifest,
        event: dict[str, Any],
        staging: Staging | None = None,
        sign: Signer | None = None,
    ) -> dict[str, Any]:
        """Publish a new version so that a crash leaves nothing visible or a state the next
        writer repairs: the manifest's bytes go in as an object, then its event (carrying
        their sha256) is appended, then the manifest file is linked. Killed before the
        event: an unreferenced object. Killed after: `repair` links the manifest from the
        object (the caller holds the bundle lock). ``staging``: the caller's, whose objects
        are taken back with the manifest's if this fails."""
        data = manifest.dumps()
        if self.manifest_path(manifest.bundle, manifest.version).exists():
            raise ConflictError(
                f"{manifest.ref} already exists; versions are immutable",
                hint="bump to a new version instead",
            )
        self._refuse_name_collision(manifest.bundle)

        def link(_record: dict[str, Any]) -> None:
            self.write_manifest(manifest)

        # the manifest is linked under the lock right after its event; if that fails (a
        # full disk), the event is taken back, and so is the stored manifest object
        if staging is None:
            with self.staging() as own:
                return self.publish_version(manifest, event, own, sign)
        hexdigest = staging.add_bytes(data)
        staging.publish()
        record = {**event, "manifest_sha256": hexdigest}
        with self.lock(manifest.bundle):  # held by the caller: the chain tip stays put
            if sign is not None:
                from promptver.store.events import last_event_id

                record = sign(record, manifest.bundle, last_event_id(self, manifest.bundle))
            return self.append_event(manifest.bundle, record, then=link)

    def _refuse_name_collision(self, name: str) -> None:
        """A bundle whose name differs from another's only in case (``Bot``, ``bot``) would
        share its folders on macOS and Windows: refused (the same rule as file names)."""
        from promptver.store.names import collision_message, fold

        for other in self.bundle_names():
            if other != name and fold(other) == fold(name):
                raise ConfigError(
                    f"bundle names {collision_message(other, name, 'differ only in case')}",
                    hint=f"use the bundle {other!r}, or another name",
                )

    def repair(self, name: str) -> list[str]:
        """Finish interrupted version writes: link the manifest of every creation event
        whose manifest file is missing but whose bytes are stored. Returns the versions."""
        restored = []
        for version, event in self.recorded_versions(name).items():
            path = self.manifest_path(name, version)
            hexdigest = event.get("manifest_sha256")
            if path.exists() or not isinstance(hexdigest, str) or not self.has_object(hexdigest):
                continue
            try:
                manifest = Manifest.loads(self.read_object(hexdigest), str(self.object_path(hexdigest)))
            except PromptverError:
                continue  # verify reports it
            if manifest.bundle == name and manifest.version == version:
                self.write_manifest(manifest)
                restored.append(version)
        return restored

    def latest(self, name: str) -> Manifest | None:
        versions = self.version_names(name)
        return self.manifest(name, str(versions[-1])) if versions else None

    def resolve(self, name: str, ref: str | None = "latest") -> Manifest:
        """A version of a bundle by version string, ``latest``, or alias."""
        if ref in (None, "", "latest"):
            latest = self.latest(name)
            if latest is None:
                raise self._no_versions(name)
            return latest
        assert ref is not None
        if Version.is_valid(ref):
            # Build metadata does not change precedence: 1.2.0 finds 1.2.0+build.5 too.
            wanted = Version.parse(ref)
            for version in self.version_names(name):
                if version == wanted and (not wanted.build or version.build == wanted.build):
                    return self.manifest(name, str(version))
            raise self._unknown_version(name, ref)
        target = self.alias_target(name, ref)
        if target is not None:
            return self.manifest(name, target)
        if ref[:1].isdigit() or ref[:1] == "v":
            raise VersionSyntaxError(
                f"{ref!r} is not a semantic version", hint="use MAJOR.MINOR.PATCH, e.g. 1.2.0, or `latest`"
            )
        raise self._unknown_version(name, ref)

    def alias_target(self, name: str, alias: str) -> str | None:
        """The version an alias points at, or None: the last move in the audit log, checked
        against ``aliases.json`` (a hand-edited pointer is refused, not followed)."""
        from promptver.store.events import alias_events, pointer_conflict

        path = self._meta_dir(name) / "aliases.json"
        try:
            aliases = json.loads(path.read_bytes())
        except FileNotFoundError:
            aliases = {}
        except ValueError:
            raise IntegrityError("aliases file is not valid JSON", location=str(path)) from None
        entry = aliases.get(alias) if isinstance(aliases, dict) else None
        if isinstance(entry, str):
            entry = {"version": entry}
        moves = alias_events(self, name, alias) if (entry is not None or self.log_path(name).exists()) else []
        head = moves[-1] if moves else None
        problem = pointer_conflict(str(path), alias, entry if isinstance(entry, dict) else None, head)
        if problem is not None:
            raise IntegrityError(problem, hint="run `promptver verify`; restore aliases.json from git")
        target = head.get("to") if head else None
        if head is not None and isinstance(target, str) and self.alias_check is not None:
            why = self.alias_check(name, alias, head)
            if why is not None:
                raise PolicyError(
                    f"{name}@{alias} is not followed: {why}",
                    hint="the move went around `promptver promote` (an old pull, a hand edit);"
                    " `promptver verify` lists it; promote or roll back to a version properly",
                )
        return target if isinstance(target, str) else None

    def _unknown_version(self, name: str, version: str) -> NotFoundError:
        known = [str(v) for v in self.version_names(name)]
        if not known:
            return self._no_versions(name)
        aliases = self._alias_names(name)
        hint = did_you_mean(version, known + aliases) or f"known versions: {', '.join(known[-8:])}" + (
            f"; aliases: {', '.join(aliases)}" if aliases else ""
        )
        what = "version" if Version.is_valid(version) else "version or alias"
        return NotFoundError(f"{name} has no {what} {version!r}", hint=hint)

    def _alias_names(self, name: str) -> list[str]:
        try:
            aliases = json.loads((self._meta_dir(name) / "aliases.json").read_bytes())
        except (OSError, ValueError):
            return []
        return sorted(aliases) if isinstance(aliases, dict) else []

    def _no_versions(self, name: str) -> NotFoundError:
        if name not in self.bundle_names():
            known = self.bundle_names()
            hint = did_you_mean(name, known) or (
                f"known bundles: {', '.join(known)}" if known else "create one with `promptver new NAME`"
            )
            return NotFoundError(f"unknown bundle {name!r}", hint=hint)
        return NotFoundError(
            f"{name} has no versions yet", hint=f"create the first one with `promptver bump minor {name}`"
        )

    def write_manifest(self, manifest: Manifest) -> Path:
        """Publish a manifest; an existing version is an error, never an overwrite."""
        path = self.manifest_path(manifest.bundle, manifest.version)
        tmp = self._tmp_file()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_new(tmp, manifest.dumps())
            os.chmod(tmp, 0o444)
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise ConflictError(
                    f"{manifest.ref} already exists; versions are immutable",
                    hint="bump to a new version instead",
                ) from None
        except OSError as exc:
            raise write_failed(path, exc) from None
        finally:
            remove_quietly(tmp)
        fsync_dir(path.parent)
        return path

    def unpublish_manifest(self, manifest: Manifest) -> None:
        """Take back a manifest this writer just published (its event could not be
        written). Only under the bundle lock, before anything else could refer to it."""
        path = self.manifest_path(manifest.bundle, manifest.version)
        try:
            os.chmod(path, 0o644)
            path.unlink()
        except FileNotFoundError:
            return
        fsync_dir(path.parent)

    # --- trees --------------------------------------------------------------------------

    def tree(self, manifest: Manifest) -> StoreTree:
        return StoreTree(self, manifest)

    def work_tree(self, name: str, hasher: Callable[[Path], str] | None = None) -> WorkTree:
        """The working copy of a bundle, hashed through the stat cache (``hasher`` for misses)."""
        folder = self.bundle_dir(name)
        if not folder.is_dir():
            raise self._no_bundle_folder(name, folder)
        return WorkTree(folder, self.stat_cache(name), hasher=hasher)

    def stat_cache(self, name: str) -> StatCache:
        return StatCache(self.root / "cache" / "stat" / f"{check_name(name)}.json")

    def _no_bundle_folder(self, name: str, folder: Path) -> NotFoundError:
        known = self.bundle_names()
        hint = did_you_mean(name, known) or (
            f"known bundles: {', '.join(known)}" if known else f"create it with `promptver new {name}`"
        )
        return NotFoundError(f"unknown bundle {name!r}: no folder {folder}", hint=hint)

    # --- locking and events -------------------------------------------------------------

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Serialise writers of one bundle across processes (re-entrant in a process)."""
        from promptver.store.events import writers_excluded

        path = self.root / "locks" / f"{check_name(name)}.lock"
        with _LOCKS.hold(path) as first:
            if not first:
                yield
                return
            with writers_excluded(self.log_path(name)):
                if self.log_path(name).exists():
                    try:
                        self.repair(name)  # an interrupted bump: the next writer finishes it
                    except OSError:
                        pass  # e.g. a read-only store: `verify` names the state; the command goes on
                yield

    def object_lock(self, *, exclusive: bool) -> int:
        """Take ``locks/objects.lock``: shared by writers while they stage and publish
        objects and write the manifest naming them, exclusive for removing objects (gc).
        Returns the descriptor to pass to `release_lock`. Callers take a bundle lock
        first, never the other way round."""
        path = self.root / "locks" / "objects.lock"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise write_failed(path, exc) from None
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        except ImportError:  # pragma: no cover - Windows: exclusive only
            if exclusive:
                _lock_fd(fd)
        return fd

    def log_path(self, name: str) -> Path:
        return self._meta_dir(name) / "log.jsonl"

    def events(self, name: str) -> list[dict[str, Any]]:
        """Every event of a bundle's log, in order (a list of the caller's own); the
        `IntegrityError` of the first line that is not an event."""
        from promptver.store.events import read_log

        return list(read_log(self.log_path(name))[1])

    def append_event(
        self, name: str, event: dict[str, Any], then: Callable[[dict[str, Any]], None] | None = None
    ) -> dict[str, Any]:
        """Append an event, chained to the previous one by ``prev`` (sha256 of its line).

        The line is written whole and fsynced, or the log is cut back to its old length
        and `WriteError` raised: a failed append leaves the log as it was. ``then`` runs
        under the lock after the append (files derived from the event); if it fails, the
        event is taken back the same way."""
        path = self.log_path(name)
        with self.lock(name):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            except OSError as exc:
                raise write_failed(path, exc) from None
            try:
                size = os.fstat(fd).st_size
                from promptver.store.events import last_line

                previous = last_line(path)
                lines = _count_lines(path)
                if previous is not None:
                    # Never chain to a line that is not an event: the log was edited or
                    # torn, and an event appended now would hide that (verify reports it).
                    from promptver.store.events import parse_event

                    parse_event(previous, f"{path}:{lines}")
                record = {
                    **event,
                    "seq": lines + 1,
                    "prev": sha256_bytes(previous) if previous else None,
                }
                line = json.dumps(record, sort_keys=True, ensure_ascii=False).encode() + b"\n"
                try:
                    write_all(fd, line)
                    os.fsync(fd)
                    if then is not None:
                        then(record)
                except BaseException as exc:
                    _cut_back(fd, size)
                    if isinstance(exc, OSError):
                        raise write_failed(path, exc) from None
                    raise
            finally:
                os.close(fd)
        return record


class Staging:
    """Files hashed and copied in one read into ``tmp/``, published as objects only when the
    version is written (and discarded otherwise), so a bump reads each new file once.

    Entering it removes the provably dead leftovers of earlier writers from ``tmp/`` and
    takes the object lock shared (``gc`` takes it exclusively). `created` lists the objects
    its publications created, so a writer that fails later can take them back."""

    def __init__(self, store: Store):
        self.store = store
        self._staged: dict[str, Path] = {}
        self._packs: dict[str, Path] = {}
        self.created: list[str] = []
        self.created_packs: list[str] = []
        self._lock: int | None = None

    def __enter__(self) -> Staging:
        from promptver.store.gc import remove_dead

        self._lock = self.store.object_lock(exclusive=False)
        remove_dead(self.store)
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        for tmp in [*self._staged.values(), *self._packs.values()]:
            remove_quietly(tmp)
        self._staged.clear()
        self._packs.clear()
        if self._lock is not None:
            release_lock(self._lock)
            self._lock = None
        if exc_type is not None:
            self.take_back()

    def add(self, path: Path) -> str:
        """Hash ``path`` while copying it into ``tmp/``. A failure to read it is an
        `OSError` (the caller reports the file); a failure to write is a `WriteError`."""
        from promptver.store.digests import sha256_file

        tmp = self.store._tmp_file()
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as exc:
            raise write_failed(tmp, exc) from None
        writer = _TrackedWriter(fd)
        try:
            hexdigest, _ = sha256_file(path, copy_to=writer)
        except BaseException as exc:
            os.close(fd)
            remove_quietly(tmp)
            if isinstance(exc, OSError) and writer.failed:
                raise write_failed(tmp, exc) from None
            raise
        os.close(fd)
        return self._keep(tmp, hexdigest)

    def add_chunks(self, chunks: Iterable[bytes]) -> str:
        """Stage content arriving in chunks (an archive member), hashed as it is written."""
        tmp = self.store._tmp_file()
        digest = hashlib.sha256()
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as exc:
            raise write_failed(tmp, exc) from None
        writer = _TrackedWriter(fd)
        try:
            for chunk in chunks:  # a failure to read is the source's; to write, ours
                digest.update(chunk)
                writer.write(chunk)
        except BaseException as exc:
            os.close(fd)
            remove_quietly(tmp)
            if isinstance(exc, OSError) and writer.failed:
                raise write_failed(tmp, exc) from None
            raise
        os.close(fd)
        return self._keep(tmp, digest.hexdigest())

    def add_bytes(self, data: bytes) -> str:
        return self.add_hashed(data, sha256_bytes(data))

    def add_hashed(
        self, data: bytes, hexdigest: str, base: tuple[str, Iterable[tuple[int, int, int]]] | None = None
    ) -> str:
        """Stage ``data``, which the caller hashed to ``hexdigest`` (bytes it holds, so
        what is written is what was hashed). A large file (`packs.PACK_FROM`) is kept in
        packs: with ``base`` (the digest of the version it was compared with, and the
        stretches they share: `linewalk.Walk.shared`), only what the base lacks is written."""
        if hexdigest in self._staged or self.store.has_object(hexdigest):
            return hexdigest
        if len(data) >= PACK_FROM:
            return self._add_packed(data, hexdigest, base)
        tmp = self.store._tmp_file()
        try:
            write_new(tmp, data, durable=False)
        except OSError as exc:
            raise write_failed(tmp, exc) from None
        return self._keep(tmp, hexdigest)

    def _add_packed(
        self, data: bytes, hexdigest: str, base: tuple[str, Iterable[tuple[int, int, int]]] | None
    ) -> str:
        from promptver.store import packs  # imported here: `load` reads, never writes

        write = packs.PackedWrite(self.store, data, hexdigest, base, self.store._tmp_file())
        if write.pack is not None:
            tmp_pack, pack = write.pack
            if pack in self._packs or packs.pack_path(self.store, pack).exists():
                remove_quietly(tmp_pack)
            else:
                self._packs[pack] = tmp_pack
        tmp = self.store._tmp_file()
        try:
            write_new(tmp, write.recipe.dumps(), durable=False)
        except OSError as exc:
            raise write_failed(tmp, exc) from None
        self._staged[hexdigest] = tmp
        return hexdigest

    def has(self, hexdigest: str) -> bool:
        return hexdigest in self._staged

    def _keep(self, tmp: Path, hexdigest: str) -> str:
        if hexdigest in self._staged or self.store.has_object(hexdigest):
            remove_quietly(tmp)
        else:
            self._staged[hexdigest] = tmp
        return hexdigest

    def publish(self) -> None:
        from promptver.store.packs import pack_path

        for pack, tmp in list(self._packs.items()):  # packs first: a recipe names them
            if self._publish(tmp, pack_path(self.store, pack)):
                self.created_packs.append(pack)
            del self._packs[pack]
        for hexdigest, tmp in list(self._staged.items()):
            if self._publish(tmp, self.store.object_path(hexdigest)):
                self.created.append(hexdigest)
            del self._staged[hexdigest]

    def _publish(self, tmp: Path, final: Path) -> bool:
        """Make ``tmp`` durable and link it in as ``final``; True when this call created it."""
        try:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise write_failed(final, exc) from None
        created = self.store._link_in(tmp, final)
        remove_quietly(tmp)
        return created

    def take_back(self) -> None:
        """Remove the objects this staging created that no manifest names (a later step of
        the write failed), so a failed write leaves no orphan objects. Runs with the object
        lock held exclusively, as ``gc`` does: no other writer can be relying on them."""
        if not self.created and not self.created_packs:
            return
        from promptver.store.gc import remove_unreferenced

        remove_unreferenced(self.store, set(self.created), set(self.created_packs))
        self.created.clear()
        self.created_packs.clear()


class _TrackedWriter(FdWriter):
    """Remembers whether an error came from writing (the store) or reading (the source)."""

    failed = False

    def write(self, data: bytes) -> int:
        try:
            return super().write(data)
        except OSError:
            self.failed = True
            raise


class StoreTree(Tree):
    """The files of a stored version, read from verified objects."""

    def __init__(self, store: Store, manifest: Manifest):
        self.store = store
        self.manifest = manifest
        self.label = manifest.version
        self.entries = manifest.file_map()

    @property
    def digest(self) -> str:
        return self.manifest.digest

    def open(self, path: str) -> BinaryIO:
        return self.store.open_object(self.entry(path).digest)

    def read_bytes(self, path: str) -> bytes:
        return self.store.read_object(self.entry(path).digest)

    def read_buffer(self, path: str) -> bytes | bytearray:
        return self.store.read_buffer(self.entry(path).digest)

    def walk_of(self, path: str, old_digest: str) -> Walk | None:
        """Two versions of a large file kept in packs are walked from their recipes
        (`promptver.store.packwalk`): what they share is not compared, nor held."""
        entry = self.entry(path)
        if entry.size < PACK_FROM:
            return None
        from promptver.store.packwalk import walk_packed

        return walk_packed(self.store, old_digest, entry.digest)


class VerifiedReader(io.RawIOBase):
    """Reads an object and raises `IntegrityError` at the end if its hash is wrong."""

    def __init__(self, handle: io.BufferedReader, hexdigest: str, path: Path):
        self._handle = handle
        self._hash = hashlib.sha256()
        self._expected = hexdigest
        self._path = path
        self._checked = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._handle.readinto(buffer)
        if count:
            self._hash.update(memoryview(buffer)[:count])
        elif not self._checked:
            self._checked = True
            if self._hash.hexdigest() != self._expected:
                raise corrupted(self._expected, self._path)
        return count or 0

    def close(self) -> None:
        self._handle.close()
        super().close()


def corrupted(hexdigest: str, path: Path) -> IntegrityError:
    return IntegrityError(
        f"object {short(hexdigest)} is corrupted: its content does not match its hash",
        location=str(path),
        hint="restore the store from git or pull from a remote",
    )


def manifest_problem(manifest: Manifest, data: bytes, event: dict[str, Any] | None) -> str | None:
    """Why a manifest file is not the one its creation event recorded (None: it is)."""
    if event is None:
        return (
            f"{manifest.ref} has no bump event in the audit log: the manifest was added by hand"
            " (or copied from another store)"
        )
    recorded = event.get("manifest_sha256")
    if isinstance(recorded, str):
        if sha256_bytes(data) != recorded:
            return f"{manifest.ref}: manifest differs from the one recorded at bump time (edited by hand?)"
    elif event.get("digest") != manifest.digest:  # old import events recorded the digest only
        return f"{manifest.ref}: manifest digest differs from the one its {event.get('event')} event recorded"
    return None


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        from promptver.store.names import hidden_character

        why = hidden_character(name) if isinstance(name, str) else None
        raise ConfigError(
            f"{name!r} is not a valid bundle name" + (f": it {why}" if why else ""),
            hint="use letters, digits, '.', '_' and '-', starting with a letter or digit",
        )
    return name


def release_lock(fd: int) -> None:
    """Release a lock from `Store.object_lock` (closing the descriptor releases it)."""
    os.close(fd)


def _cut_back(fd: int, size: int) -> None:
    """Undo a partial append: the log returns to exactly its previous bytes."""
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError as exc:  # pragma: no cover - truncating to a smaller size needs no space
        raise WriteError(f"could not undo a failed append: {exc.strerror}; run `promptver verify`") from None


def _count_lines(path: Path) -> int:
    """The lines of a log, counted in the bytes this command read of it when the file has
    not changed since (a move has read the whole log: 33 MB read again for a count cost
    more than the count)."""
    from promptver.store.events import log_bytes

    try:
        return log_bytes(path).count(b"\n")
    except FileNotFoundError:
        return 0


class _LockTable:
    """Process-wide table of held file locks, so nested ``lock()`` calls do not deadlock."""

    def __init__(self) -> None:
        self._mutex = threading.RLock()
        self._held: dict[Path, tuple[int, int]] = {}  # path -> (fd, depth)

    @contextmanager
    def hold(self, path: Path) -> Iterator[bool]:
        """Hold the lock; yields True for the outermost holder in this process."""
        with self._mutex:
            fd, depth = self._held.get(path, (-1, 0))
            if depth == 0:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
                _lock_fd(fd)
            self._held[path] = (fd, depth + 1)
            try:
                yield depth == 0
            finally:
                fd, depth = self._held[path]
                if depth == 1:
                    del self._held[path]
                    _unlock_fd(fd)
                    os.close(fd)
                else:
                    self._held[path] = (fd, depth - 1)


def _lock_fd(fd: int) -> None:
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # type: ignore[attr-defined,unused-ignore]


def _unlock_fd(fd: int) -> None:
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined,unused-ignore]


_LOCKS = _LockTable()
