"""Garbage: leftovers of dead writers in ``tmp/`` and objects no manifest names.

A temporary file is *dead* when the writer that made it provably cannot finish it: its
name carries a pid (``<prefix>.<pid>.<random>.tmp``) and no such process is alive, or the
live process with that pid started after the file was last written (the pid was reused).
A file whose name carries no pid is dead once it is a day old. Writers remove dead
leftovers when they start; ``promptver gc`` also removes objects that no manifest and no
run names, holding the object lock exclusively so no writer can be relying on them.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from promptver.errors import IntegrityError
from promptver.store.atomic import remove_quietly
from promptver.store.digests import is_hex_digest


class Store(Protocol):
    """What collecting needs of a store (`promptver.store.store.Store`, which calls this
    module: typed by what it offers, not by its class)."""

    root: Path

    def bundle_names(self) -> list[str]: ...
    def recorded_versions(self, name: str) -> dict[str, dict[str, Any]]: ...
    def object_lock(self, *, exclusive: bool) -> int: ...
    def object_path(self, hexdigest: str) -> Path: ...


NO_PID_GRACE = 24 * 3600  # seconds before a leftover without a pid counts as dead
_PID_PATTERNS = (
    re.compile(r"\.(\d+)\.[0-9a-f]+\.tmp\Z"),  # <prefix>.<pid>.<random>.tmp
    re.compile(r"^obj-(\d+)-\d+-[0-9a-f]+\Z"),  # older object files: obj-<pid>-<thread>-<random>
    re.compile(r"\.(\d+)\.tmp\Z"),  # <prefix>.<pid>.tmp
)
_HEX_RE = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")


@dataclass(frozen=True)
class Leftover:
    path: Path
    size: int
    dead: bool


@dataclass
class GcReport:
    leftovers: list[Leftover] = field(default_factory=list)  # dead ones only
    objects: list[tuple[str, int]] = field(default_factory=list)  # (hex, size)
    packs: list[tuple[str, int]] = field(default_factory=list)  # (hex, size): no kept recipe names them
    removed: bool = False
    busy: int = 0  # leftovers of live writers, kept
    not_here: int = 0  # objects versions name that are not in this store (pulled, not fetched)

    @property
    def size(self) -> int:
        return (
            sum(x.size for x in self.leftovers)
            + sum(size for _, size in self.objects)
            + sum(size for _, size in self.packs)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": not self.removed,
            "removed": self.removed,
            "tmp_files": [{"path": str(x.path), "size": x.size} for x in self.leftovers],
            "objects": [{"digest": "sha256:" + h, "size": size} for h, size in self.objects],
            "packs": [{"digest": "sha256:" + h, "size": size} for h, size in self.packs],
            "bytes": self.size,
            "busy_tmp_files": self.busy,
            "not_fetched": self.not_here,
        }


def pid_of(name: str) -> int | None:
    for pattern in _PID_PATTERNS:
        if match := pattern.search(name):
            return int(match.group(1))
    return None


def _pid_started(pid: int) -> float | None:
    """When process ``pid`` started, as a Unix time (Linux: ``/proc``), or None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat[stat.rindex(")") + 2 :].split()[19])  # field 22: starttime
        lines = Path("/proc/stat").read_text().splitlines()
        boot = next(int(line.split()[1]) for line in lines if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but is not ours, or we cannot tell: keep its files
    return True


def is_dead(name: str, mtime: float, now: float | None = None) -> bool:
    pid = pid_of(name)
    if pid is None or pid <= 0:
        return (now or time.time()) - mtime > NO_PID_GRACE
    if pid == os.getpid():
        return False
    if not _alive(pid):
        return True
    started = _pid_started(pid)
    return started is not None and mtime < started - 2  # the pid was reused since (btime: 1 s)


def scan_tmp(store: Store) -> list[Leftover]:
    """Every file in ``tmp/`` with its size and whether its writer is provably gone."""
    folder = store.root / "tmp"
    found = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    now = time.time()
    for entry in entries:
        try:
            stat = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not entry.is_file(follow_symlinks=False):
            continue
        found.append(Leftover(Path(entry.path), stat.st_size, is_dead(entry.name, stat.st_mtime, now)))
    return found


def remove_dead(store: Store) -> int:
    """Remove the dead leftovers in ``tmp/``; returns how many (never fails)."""
    removed = 0
    for leftover in scan_tmp(store):
        if leftover.dead:
            remove_quietly(leftover.path)
            removed += 1
    return removed


def referenced_objects(store: Store) -> set[str]:
    """Every object digest any manifest, recorded run or creation event names (a bump's
    ``manifest_sha256``: the manifest's own bytes, from which an interrupted bump is
    repaired). A manifest that cannot be parsed stops the collection: what it names is
    unknown, so nothing may be removed."""
    names = manifest_objects(store)
    for bundle in store.bundle_names():
        for event in store.recorded_versions(bundle).values():
            if isinstance(event.get("manifest_sha256"), str):
                names.add(event["manifest_sha256"])
    runs = store.root / "runs"
    for run_file in sorted(runs.glob("*/*/run.json")) if runs.is_dir() else []:
        try:
            names.update(_HEX_RE.findall(run_file.read_text(encoding="utf-8", errors="replace")))
        except OSError:
            continue
    return names


def manifest_objects(store: Store) -> set[str]:
    """Every object digest any manifest names (see `referenced_objects`)."""
    names: set[str] = set()
    bundles = store.root / "bundles"
    for manifest_path in sorted(bundles.glob("*/versions/*.json")) if bundles.is_dir() else []:
        try:
            raw = json.loads(manifest_path.read_bytes())
            files = raw["files"]
            for entry in files:
                names.add(str(entry["digest"]).removeprefix("sha256:"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IntegrityError(
                f"cannot read the manifest ({type(exc).__name__}); gc removes nothing while a"
                " manifest is unreadable",
                location=str(manifest_path),
                hint="run `promptver verify` and restore it from git",
            ) from None
    return names


def _objects(store: Store) -> Iterable[tuple[str, Path]]:
    root = store.root / "objects"
    if not root.is_dir():
        return
    for folder in sorted(root.iterdir()):
        if not folder.is_dir() or len(folder.name) != 2:
            continue
        for path in sorted(folder.iterdir()):
            hexdigest = folder.name + path.name
            if is_hex_digest(hexdigest):
                yield hexdigest, path


def _packs(store: Store) -> Iterable[tuple[str, Path]]:
    root = store.root / "packs"
    if not root.is_dir():
        return
    for folder in sorted(root.iterdir()):
        if folder.is_dir() and len(folder.name) == 2:
            for path in sorted(folder.iterdir()):
                if is_hex_digest(folder.name + path.name):
                    yield folder.name + path.name, path


def kept_packs(store: Store, objects: Iterable[str]) -> set[str]:
    """The packs the recipes of ``objects`` (those here and kept in packs) name."""
    from promptver.store.packs import load_recipe

    names: set[str] = set()
    for hexdigest in objects:
        recipe = load_recipe(store, hexdigest)
        if recipe is not None:
            names |= recipe.packs()
    return names


def remove_unreferenced(store: Store, candidates: set[str], packs: set[str] | None = None) -> list[str]:
    """Remove those of ``candidates`` (objects) that nothing names, and those of ``packs``
    no remaining recipe names, under the exclusive object lock; returns the removed object
    digests. Used to take back a failed write's objects."""
    from promptver.store.packs import pack_path

    fd = store.object_lock(exclusive=True)
    try:
        keep = referenced_objects(store)
        removed = []
        for hexdigest in sorted(candidates - keep):
            path = store.object_path(hexdigest)
            if path.exists():
                remove_quietly(path)
                removed.append(hexdigest)
        if packs:
            for pack in sorted(packs - kept_packs(store, (h for h, _ in _objects(store)))):
                remove_quietly(pack_path(store, pack))
        return removed
    finally:
        os.close(fd)  # releases the lock


def collect(store: Store, *, remove: bool = False) -> GcReport:
    """What ``promptver gc`` finds (and, with ``remove``, deletes): dead ``tmp/`` leftovers
    and unreferenced objects. Never touches manifests, logs, runs, locks or a live writer's
    files, and never a remote: an object a version names is kept whether it is here or not,
    and one named but not here (pulled, not fetched yet) is only counted (``not_here``)."""
    report = GcReport()
    fd = store.object_lock(exclusive=True)
    try:
        for leftover in scan_tmp(store):
            if leftover.dead:
                report.leftovers.append(leftover)
            else:
                report.busy += 1
        keep = referenced_objects(store)
        seen = set()
        for hexdigest, path in _objects(store):
            seen.add(hexdigest)
            if hexdigest not in keep:
                try:
                    size = path.stat().st_size
                except OSError:
                    continue
                report.objects.append((hexdigest, size))
        report.not_here = len(manifest_objects(store) - seen)
        unreferenced = {h for h, _ in report.objects}
        named = kept_packs(store, seen - unreferenced)
        for pack, path in _packs(store):
            if pack not in named:
                try:
                    report.packs.append((pack, path.stat().st_size))
                except OSError:
                    continue
        if remove:
            from promptver.store.packs import pack_path

            for pack, _ in report.packs:
                remove_quietly(pack_path(store, pack))
            for leftover in report.leftovers:
                remove_quietly(leftover.path)
            for hexdigest, _ in report.objects:
                remove_quietly(store.object_path(hexdigest))
            report.removed = True
    finally:
        os.close(fd)  # releases the lock
    return report
