"""Turn a bundle's working folder into a new immutable version (bump and snapshot)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from promptver.bundle.check import EvalPrevalidator, ValidatedCache, check_tree
from promptver.bundle.spec import BundleSpec
from promptver.errors import BundleError, ConfigError, ConflictError, NothingChangedError, PromptverError
from promptver.semver import Version, check_identifier
from promptver.store.digests import sha256_bytes, sha256_file, short
from promptver.store.events import Signer, utc_now
from promptver.store.manifest import Manifest
from promptver.store.store import Staging, Store
from promptver.store.tree import Tree, WorkTree
from promptver.versions.base import is_snapshot, record_base, working_base
from promptver.versions.provenance import identity, provenance

DEFAULT_INITIAL = Version(0, 1, 0)


@dataclass(frozen=True)
class Toward:
    """What a ``prerelease`` or ``release`` bump leads to, so it obeys the same bump-size
    rule as major/minor/patch: ``version`` is a ``level`` release of ``anchor``, the
    release the line started from (``0.1.1-rc.1`` and ``0.1.1`` are patches of ``0.1.0``)."""

    version: Version
    level: str  # major | minor | patch
    anchor: Manifest
    anchor_tree: Tree
    base: Version  # the version the working copy came from
    pre: str  # the prerelease identifier to suggest (rc)


class Analyzer(Protocol):
    """A bump hook (the semantic diff plugs in here): given the base version's tree (or
    None), the working tree and the requested level, it returns the level to use (resolving
    "auto", refusing a level that is too low unless forced) and the semantic summary to
    store in the manifest. ``toward``: a prerelease or release bump, checked by the release
    it leads to."""

    def __call__(
        self, base: Tree | None, tree: WorkTree, level: str, force: bool, toward: Toward | None = None
    ) -> tuple[str, dict[str, Any] | None]: ...


# A read-ahead hook (``promptver.diff.bumping.prefetch_bump``): given the version the bump
# will most likely compare with and a test of whether a file of it may differ in the
# working copy, it names the stored files worth reading ahead (`_ReadAhead` reads them in a
# second thread while the working copy is hashed).
Prefetch = Callable[[Tree, Callable[[str], bool]], list[str]]


@dataclass(frozen=True)
class BumpResult:
    manifest: Manifest
    previous: Manifest | None
    dry_run: bool
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        old = self.previous.version if self.previous else "(none)"
        return f"{self.manifest.bundle} {old} -> {self.manifest.version} ({short(self.manifest.digest)})"


def next_version(latest: Version | None, level: str, pre: str | None, initial: Version | None) -> Version:
    if latest is None:
        first = initial or DEFAULT_INITIAL
        if pre is not None:
            check_identifier(pre)
            return Version(*first.core, (pre, 1))
        return first
    if initial is not None:
        raise ConflictError(
            f"--initial only applies to a first version; the latest is {latest}", hint="drop --initial"
        )
    return latest.bump(level, pre)


def snapshot_version(latest: Version | None, level: str, stamp: str | None = None) -> Version:
    """An experiment version: the next ``level`` release with ``-dev.<UTC timestamp>``."""
    stamp = stamp or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    if latest is None:
        core = DEFAULT_INITIAL.core
    elif latest.prerelease:
        core = latest.core
    else:
        core = latest.bump(level).core
    candidate = Version(*core, ("dev", stamp))
    if latest is not None and candidate <= latest:
        candidate = Version(*Version(*latest.core).bump("patch").core, ("dev", stamp))
    return candidate


def bump(
    store: Store,
    name: str,
    level: str,
    *,
    pre: str | None = None,
    message: str = "",
    initial: Version | None = None,
    dry_run: bool = False,
    force: bool = False,
    author: str | None = None,
    analyzer: Analyzer | None = None,
    version: Version | None = None,
    snapshot: str | None = None,
    prefetch: Prefetch | None = None,
    sign: Signer | None = None,
) -> BumpResult:
    """Snapshot ``bundles/<name>`` as the next version. Serialised per bundle by a lock.

    The next version is computed from the version the working copy came from
    (``versions/base.py``), so a checked-out older version gets a maintenance release on
    its own line. ``snapshot`` (major, minor or patch): an experiment version
    ``X.Y.Z-dev.<time>`` toward that release; it does not become the working copy's base.
    ``sign``: signs the bump event (``governance/signing.signer``), so the author is a
    signed identity."""
    with store.lock(name), store.staging() as staging, _ReadAhead(store, name, prefetch) as ahead:
        tree, _ = checked_tree(store, name, staging, ahead.old_side if ahead.reading else None)
        latest = working_base(store, name, tree.digest)
        # a prerelease released as it is (`release`, or `minor` of 0.2.0-rc.1: 0.2.0)
        releasing = (
            level in ("release", "major", "minor", "patch")
            and pre is None
            and latest is not None
            and latest.semver.is_prerelease
        )
        # a checked-out snapshot may be released as it is: it is an experiment, not a release
        from_snapshot = latest is not None and is_snapshot(latest.semver) and snapshot is None
        if latest is not None and latest.digest == tree.digest and not releasing and not from_snapshot:
            raise NothingChangedError(
                f"{name}: nothing changed since {latest.version} ({short(latest.digest)})",
                hint="edit the bundle first; `promptver status` shows what changed",
            )
        if snapshot is not None:
            _refuse_same_snapshot(store, name, tree.digest)
        changes = None
        if analyzer is None and level == "auto":
            raise ConfigError(
                "bump auto needs the semantic diff", hint="pass analyzer=promptver.diff.bumping..."
            )
        if analyzer is not None:
            ahead.wait()
            base = store.tree(latest) if latest is not None else None
            toward = _toward(store, name, latest, level, pre) if snapshot is None else None
            level, changes = analyzer(base, tree, level, force, toward)
        if snapshot is not None:
            version = snapshot_version(latest.semver if latest else None, snapshot)
        new = version or next_version(latest.semver if latest else None, level, pre, initial)
        if store.manifest_path(name, str(new)).exists():
            raise ConflictError(
                f"{name}@{new} already exists; versions are immutable",
                hint=f"`promptver checkout {name}@{new}` and bump from there, or choose a higher bump",
            )
        if latest is not None and new <= latest.semver:
            raise ConflictError(
                f"{name} {new} would not be newer than {latest.version}, the version the working copy"
                " came from",
                hint="choose a higher bump",
            )
        if not is_snapshot(new):
            _check_line(store, name, new, level)
        manifest = Manifest(
            bundle=name,
            version=str(new),
            digest=tree.digest,
            files=tuple(sorted(tree.entries.values(), key=lambda e: e.path)),
            created=utc_now(),
            author=author or identity(tree.folder),
            message=message,
            parent=latest.version if latest else None,
            parent_digest=latest.digest if latest else None,
            bump=level,
            forced=force,
            provenance=provenance(tree.folder),
            changes=changes,
        )
        if dry_run:
            return BumpResult(manifest, latest, dry_run=True)
        _stage_cached_files(store, tree, staging)
        staging.publish()
        store.publish_version(manifest, bump_event(manifest), staging, sign)
        if not is_snapshot(new):
            record_base(store, manifest)
        return BumpResult(manifest, latest, dry_run=False)


# What a read-ahead hands over for a path: the stored digest, the bytes, and a call that
# waits for those bytes to be hashed and says whether they are that digest's.
OldSide = tuple[str, bytes | bytearray, Callable[[], bool]]


class _ReadAhead:
    """Reads, in a thread, the files a `Prefetch` hook names of the version the working
    copy most likely came from (found before the working copy is hashed: the recorded or
    newest version). A guess: a wrong one costs reading a file early, never a wrong result.

    The bytes are handed over as soon as they are read, then hashed: a reader starts with
    them at once (the check walks them against the new file) and asks the verdict before it
    keeps anything it made of them (`OldSide`)."""

    def __init__(self, store: Store, name: str, prefetch: Prefetch | None):
        self._thread: threading.Thread | None = None
        self._read = threading.Event()
        self._hashed = threading.Event()
        self._found: dict[str, tuple[str, bytes | bytearray]] = {}
        self._good: set[str] = set()
        if prefetch is None:
            return
        guess = working_base(store, name, "")
        if guess is None:
            return
        base = store.tree(guess)
        stat_cache = store.stat_cache(name)
        folder = store.bundle_dir(name)

        def may_differ(path: str) -> bool:
            try:
                known = stat_cache.lookup(path, (folder / path).stat())
            except OSError:
                return False  # no such file: nothing to compare line by line
            return known is None or known != base.entries[path].digest

        def run() -> None:
            try:
                for path in prefetch(base, may_differ):
                    digest = str(base.entries[path].digest)
                    self._found[path] = (digest, store.read_unchecked(digest))
            except Exception:  # an optimisation only: the analyzer reads what it needs
                pass
            finally:
                self._read.set()
            try:
                for path, (digest, data) in self._found.items():
                    if sha256_bytes(data) == digest:
                        self._good.add(path)
            finally:
                self._hashed.set()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    @property
    def reading(self) -> bool:
        """Whether anything is read ahead (no earlier version, or no hook: nothing is)."""
        return self._thread is not None

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def old_side(self, path: str) -> OldSide | None:
        """The stored side of ``path`` read ahead, once read (None when it was not)."""
        if self._thread is None:
            return None
        self._read.wait()
        found = self._found.get(path)
        if found is None:
            return None

        def verified() -> bool:
            self._hashed.wait()
            return path in self._good

        return found[0], found[1], verified

    def __enter__(self) -> _ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.wait()
        self._found = {}


def _toward(store: Store, name: str, latest: Manifest | None, level: str, pre: str | None) -> Toward | None:
    """For ``prerelease`` and ``release`` (and any level from a prerelease): the release the
    new version is toward, as a major, minor or patch of the release its line started from
    (None: nothing to check)."""
    if latest is None:
        return None
    if level not in ("prerelease", "release") and not (
        level in ("major", "minor", "patch") and latest.semver.is_prerelease
    ):
        return None  # from a release, major/minor/patch are checked as they are
    version = latest.semver.bump(level, pre)
    anchor: Manifest | None = latest
    seen = set()
    while anchor is not None and anchor.semver.is_prerelease and anchor.parent and anchor.parent not in seen:
        seen.add(anchor.parent)
        try:
            anchor = store.manifest(name, anchor.parent)
        except PromptverError:
            anchor = None
    if anchor is None or anchor.semver.is_prerelease:
        return None  # the line has no release before it: nothing to measure against
    old, new = anchor.semver.core, version.core
    implied = "major" if new[0] != old[0] else "minor" if new[1] != old[1] else "patch"
    ident = pre or (str(latest.semver.prerelease[0]) if latest.semver.is_prerelease else "rc")
    if ident == "dev":
        ident = "rc"
    return Toward(version, implied, anchor, store.tree(anchor), latest.semver, ident)


def _refuse_same_snapshot(store: Store, name: str, digest: str) -> None:
    """A second snapshot of the same files would only repeat the first."""
    for manifest in reversed(store.versions(name)):
        if manifest.digest == digest and is_snapshot(manifest.semver):
            raise NothingChangedError(
                f"{name}: nothing changed since the snapshot {manifest.version} ({short(digest)})",
                hint=f"edit the bundle first, or release it: `promptver bump LEVEL {name}`",
            )


def _check_line(store: Store, name: str, new: Version, level: str) -> None:
    """A maintenance release may go below the newest version, but not below a version on
    its own line: 1.3.1 after 2.0.0 is fine, 1.3.1 after 1.3.2 is not (nor 1.4.0 after
    1.5.0, nor a major that is not the newest). Snapshots are not on any line."""
    keep = {"patch": 2, "minor": 1, "major": 0}.get(level, 3)  # prerelease, release: same core
    newer = [
        v
        for v in store.version_names(name)
        if v > new and not is_snapshot(v) and v.core[:keep] == new.core[:keep]
    ]
    if newer:
        raise ConflictError(
            f"{name} {new} would be older than {newer[-1]}, which is on the same line",
            hint=f"`promptver checkout {name}@{newer[-1]}` and bump from there",
        )


def checked_tree(
    store: Store,
    name: str,
    staging: Staging | None = None,
    old_side: Callable[[str], OldSide | None] | None = None,
) -> tuple[WorkTree, BundleSpec]:
    """The working tree of a bundle, or `BundleError` with every problem.

    An eval set the stat cache does not know is read once, whole, and hashed; a second
    thread validates the same bytes meanwhile. With ``old_side`` (a bump's read-ahead of
    the stored version it compares with), that thread walks the two once and validates
    only the lines that differ (`EvalPrevalidator`). The tree keeps the bytes and the walk,
    so the checks and the change summary use exactly the bytes that were hashed, and
    ``staging`` stores the new version from them: once the walk says what is new, or at
    once, beside the validation, when there is nothing to compare with."""
    cache = ValidatedCache(store.root / "cache" / "validated.txt")
    folder = store.bundle_dir(name)
    validator = EvalPrevalidator(folder, cache, old_side)
    loaded: dict[str, tuple[bytes, str]] = {}

    def hasher(path: Path) -> str:
        rel = Path(os.path.relpath(path, folder)).as_posix()
        if rel not in validator.paths:
            return staging.add(path) if staging is not None else sha256_file(path)[0]
        data = path.read_bytes()
        validator.submit(rel, data)
        digest = sha256_bytes(data)
        loaded[rel] = (data, digest)
        if staging is not None and old_side is None:  # nothing to build on: store it now,
            staging.add_hashed(data, digest)  # while the other thread validates it
        return digest

    try:
        tree = store.work_tree(name, hasher=hasher)
    finally:
        validator.finish()
    for rel, (data, digest) in loaded.items():
        tree.keep(rel, data, digest)
        if rel in validator.walks:
            tree.keep_walk(rel, *validator.walks[rel])
        for key in validator.keys(rel, digest):
            cache.add(key)
        validator.keep_ids(rel, digest, len(data))
    spec, problems = check_tree(tree, name, cache)
    if problems or spec is None:
        raise BundleError(name, problems)
    if staging is not None:
        for rel, (data, digest) in loaded.items():
            walked = validator.walks.get(rel)
            staging.add_hashed(data, digest, (walked[0], walked[1].shared) if walked else None)
    return tree, spec


def _stage_cached_files(store: Store, tree: WorkTree, staging: Staging) -> None:
    """Stage the files whose digest came from the stat cache (not read by this bump) and
    that the store does not have yet."""
    for entry in tree.entries.values():
        if store.has_object(entry.digest) or staging.has(entry.digest):
            continue
        try:
            stored = staging.add(tree.path_of(entry.path))
        except OSError as exc:
            raise ConflictError(
                f"{entry.path} cannot be read: {exc.strerror}",
                location=str(tree.path_of(entry.path)),
                hint="run the bump again",
            ) from None
        if stored != entry.digest:
            raise ConflictError(
                f"{entry.path} changed while the version was being written",
                location=str(tree.path_of(entry.path)),
                hint="run the bump again",
            )


def bump_event(manifest: Manifest) -> dict[str, Any]:
    import hashlib

    return {
        "event": "bump",
        "time": manifest.created,
        "actor": manifest.author,
        "bundle": manifest.bundle,
        "version": manifest.version,
        "digest": manifest.digest,
        "parent": manifest.parent,
        "bump": manifest.bump,
        "forced": manifest.forced,
        "message": manifest.message,
        "manifest_sha256": hashlib.sha256(manifest.dumps()).hexdigest(),
    }
