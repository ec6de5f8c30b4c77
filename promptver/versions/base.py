"""Which version a working copy came from: what `status` compares with and what a bump
builds on.

A working copy's *base* is, in order:

1. the newest release (not a snapshot) whose content is exactly the working copy's: after
   `checkout` or `bump`, with no edits since;
2. the version last checked out or bumped in this store (recorded in
   ``cache/worktree/<name>.json`` with the digest it had, machine-local like the stat
   cache), when it still exists; `snapshot` records nothing;
3. when only snapshots hold exactly these files: the release the newest of them counted
   from (its parent);
4. the newest version that is not a snapshot, else the newest snapshot.

So after `checkout bot@0.3.0`, edits bump to 0.3.1 even when 0.4.0 exists, and a
snapshot (``0.4.0-dev.<time>``) never becomes the base of a release unless it is checked
out on purpose: edit, `snapshot`, `bump minor` releases the snapshot's files as the next
minor of the release before it.
"""

from __future__ import annotations

import json
from pathlib import Path

from promptver.errors import PromptverError
from promptver.semver import Version
from promptver.store.atomic import atomic_write
from promptver.store.manifest import Manifest
from promptver.store.store import Store, check_name


def is_snapshot(version: Version) -> bool:
    """An experiment version made by `promptver snapshot` (``X.Y.Z-dev.<time>``)."""
    return bool(version.prerelease) and version.prerelease[0] == "dev"


def _record_path(store: Store, name: str) -> Path:
    return store.root / "cache" / "worktree" / f"{check_name(name)}.json"


def record_base(store: Store, manifest: Manifest) -> None:
    """Remember that the working copy of ``manifest.bundle`` now comes from ``manifest``.
    A cache: failing to write it changes nothing but the fallback."""
    data = json.dumps({"version": manifest.version, "digest": manifest.digest}).encode()
    try:
        atomic_write(_record_path(store, manifest.bundle), data, tmp_dir=store.tmp_dir, durable=False)
    except OSError:
        pass


def _recorded(store: Store, name: str) -> Manifest | None:
    try:
        data = json.loads(_record_path(store, name).read_bytes())
        manifest = store.manifest(name, str(data["version"]))
    except (OSError, ValueError, KeyError, TypeError, PromptverError):
        return None
    return manifest if manifest.digest == data.get("digest") else None


def working_base(store: Store, name: str, digest: str) -> Manifest | None:
    """The version the working copy with ``digest`` came from (see the module docstring);
    None before the first version."""
    names = store.version_names(name)
    if not names:
        return None
    versions = [store.manifest(name, str(v)) for v in names]  # ascending precedence
    same = [m for m in versions if m.digest == digest]
    same_releases = [m for m in same if not is_snapshot(m.semver)]
    if same_releases:
        return same_releases[-1]
    recorded = _recorded(store, name)
    if recorded is not None:
        return recorded
    if same:  # only snapshots hold these files: count from the release they came from
        parent = same[-1].parent
        return next((m for m in versions if m.version == parent), same[-1])
    releases = [m for m in versions if not is_snapshot(m.semver)]
    return (releases or versions)[-1]
