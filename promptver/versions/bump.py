"""Turn a bundle's working folder into a new immutable version (bump and snapshot)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptver.bundle.check import EvalPrevalidator, ValidatedCache, check_tree
from promptver.bundle.spec import BundleSpec
from promptver.errors import BundleError, ConfigError, ConflictError, NothingChangedError
from promptver.semver import Version, check_identifier
from promptver.store.digests import sha256_bytes, sha256_file, short
from promptver.store.events import Signer, utc_now
from promptver.store.manifest import Manifest
from promptver.store.store import Staging, Store
from promptver.store.tree import Tree, WorkTree
from promptver.versions.base import is_snapshot, record_base, working_base
from promptver.versions.provenance import identity, provenance

DEFAULT_INITIAL = Version(0, 1, 0)

# A bump hook (the semantic diff plugs in here): given the latest version's tree (or None),
# the working tree and the requested level, it returns the level to use (resolving
# "auto", refusing a level that is too low unless forced) and the semantic summary to
# store in the manifest.
Analyzer = Callable[[Tree | None, WorkTree, str, bool], tuple[str, dict[str, Any] | None]]

# A read-ahead hook for the analyzer (``promptver.diff.bumping.prefetch_bump``): given the
# version the bump will most likely compare with and a test of whether a file of it may
# differ in the working copy, it reads what the analyzer will need, in a second thread
# while the working copy is hashed and copied. It returns the call that drops what went
# unused.
Prefetch = Callable[[Tree, Callable[[str], bool]], Callable[[], None]]


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
        tree, _ = checked_tree(store, name, staging)
        latest = working_base(store, name, tree.digest)
        releasing = level == "release" and latest is not None and latest.semver.is_prerelease
        if latest is not None and latest.digest == tree.digest and not releasing:
            raise NothingChangedError(
                f"{name}: nothing changed since {latest.version} ({short(latest.digest)})",
                hint="edit the bundle first; `promptver status` shows what changed",
            )
        changes = None
        if analyzer is None and level == "auto":
            raise ConfigError(
                "bump auto needs the semantic diff", hint="pass analyzer=promptver.diff.bumping..."
            )
        if analyzer is not None:
            ahead.wait()
            base = store.tree(latest) if latest is not None else None
            level, changes = analyzer(base, tree, level, force)
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


class _ReadAhead:
    """Runs a `Prefetch` hook in a thread on the version the working copy most likely came
    from (found before the working copy is hashed: the recorded or newest version). A
    guess: a wrong one costs reading a file early, never a wrong result."""

    def __init__(self, store: Store, name: str, prefetch: Prefetch | None):
        self._thread: threading.Thread | None = None
        self._release: Callable[[], None] | None = None
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
                self._release = prefetch(base, may_differ)
            except Exception:  # an optimisation only: the analyzer reads what it needs
                pass

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> _ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.wait()
        if self._release is not None:
            self._release()


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


def checked_tree(store: Store, name: str, staging: Staging | None = None) -> tuple[WorkTree, BundleSpec]:
    """The working tree of a bundle, or `BundleError` with every problem.

    An eval set the stat cache does not know is read once, whole: its bytes are validated
    in a second thread while they are hashed (and, in a bump, copied into ``staging``),
    and the tree keeps them, so the checks and the change summary read them from memory,
    exactly the bytes that were hashed."""
    cache = ValidatedCache(store.root / "cache" / "validated.txt")
    folder = store.bundle_dir(name)
    validator = EvalPrevalidator(folder, cache)
    loaded: dict[str, tuple[bytes, str]] = {}

    def hasher(path: Path) -> str:
        rel = Path(os.path.relpath(path, folder)).as_posix()
        if rel not in validator.paths:
            return staging.add(path) if staging is not None else sha256_file(path)[0]
        data = path.read_bytes()
        validator.submit(rel, data)
        digest = staging.add_bytes(data) if staging is not None else sha256_bytes(data)
        loaded[rel] = (data, digest)
        return digest

    try:
        tree = store.work_tree(name, hasher=hasher)
    finally:
        validator.finish()
    for rel, (data, digest) in loaded.items():
        tree.keep(rel, data, digest)
        for key in validator.keys(rel, digest):
            cache.add(key)
    spec, problems = check_tree(tree, name, cache)
    if problems or spec is None:
        raise BundleError(name, problems)
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
