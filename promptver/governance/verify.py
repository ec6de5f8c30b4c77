"""`promptver verify`: re-hash every object, check every manifest, audit log and recorded
eval run."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from promptver.errors import IntegrityError, PromptverError
from promptver.store.digests import CHUNK, is_hex_digest, sha256_bytes
from promptver.store.gc import scan_tmp
from promptver.store.manifest import Manifest
from promptver.store.store import Store


@dataclass
class VerifyReport:
    objects: int = 0
    manifests: int = 0
    events: int = 0
    problems: list[str] = field(default_factory=list)
    leftovers: int = 0  # temporary files of interrupted writes (harmless)
    leftover_bytes: int = 0  # their total size (`promptver gc` removes the dead ones)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "objects": self.objects,
            "manifests": self.manifests,
            "events": self.events,
            "problems": self.problems,
            "leftovers": self.leftovers,
            "leftover_bytes": self.leftover_bytes,
        }


def verify_store(store: Store, progress: Callable[[int, int], None] | None = None) -> VerifyReport:
    report = VerifyReport()
    objects = _object_files(store)
    for index, path in enumerate(objects, start=1):
        _verify_object(path, report)
        if progress:
            progress(index, len(objects))
    present = {p.parent.name + p.name for p in objects}
    for name in store.bundle_names():
        _verify_bundle(store, name, present, report)
    leftovers = scan_tmp(store)
    report.leftovers = len(leftovers)
    report.leftover_bytes = sum(x.size for x in leftovers)
    return report


def _object_files(store: Store) -> list[Path]:
    root = store.root / "objects"
    if not root.is_dir():
        return []
    return sorted(Path(d, f) for d, _, files in os.walk(root) for f in files)


def _verify_object(path: Path, report: VerifyReport) -> None:
    report.objects += 1
    name = path.parent.name + path.name
    if not is_hex_digest(name):
        report.problems.append(f"{path}: not an object name (stray file in objects/)")
        return
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
    except OSError as exc:
        report.problems.append(f"{path}: cannot read object ({exc.strerror})")
        return
    if digest.hexdigest() != name:
        report.problems.append(f"object {name[:12]} is corrupted: content does not match its hash ({path})")


def _verify_bundle(store: Store, name: str, present: set[str], report: VerifyReport) -> None:
    manifests = {}
    for version in store.version_names(name):
        report.manifests += 1
        try:
            manifest = store.manifest(name, str(version))
        except PromptverError as exc:
            report.problems.append(str(exc).splitlines()[0])
            continue
        manifests[manifest.version] = manifest
        for entry in manifest.files:
            if entry.digest not in present:
                report.problems.append(
                    f"{manifest.ref}: object {entry.digest[:12]} of {entry.path} is missing"
                )
    _verify_log(store, name, manifests, report)
    from promptver.governance.aliases import pointer_problems

    report.problems += pointer_problems(store, name, manifests)


def _verify_log(store: Store, name: str, manifests: dict[str, Manifest], report: VerifyReport) -> None:
    from promptver.store.events import parse_event

    path = store.log_path(name)
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        return
    previous: bytes | None = None
    for number, line in enumerate(lines, start=1):
        report.events += 1
        where = f"{path}:{number}"
        try:
            event = parse_event(line, where)
        except IntegrityError as exc:
            report.problems.append(f"{where}: {exc.message} (edited by hand?)")
            previous = line
            continue
        expected_prev = sha256_bytes(previous) if previous is not None else None
        if event.get("prev") != expected_prev or event.get("seq") != number:
            what = event.get("event", "?")
            report.problems.append(
                f"{where}: audit chain broken at event {number} ({what} {event.get('version', '')}):"
                " an event before it was edited, removed or reordered"
            )
        if event.get("event") == "bump":
            manifest = manifests.get(str(event.get("version")))
            if manifest is not None:
                manifest_file = store.manifest_path(name, manifest.version)
                actual = hashlib.sha256(manifest_file.read_bytes()).hexdigest()
                if event.get("manifest_sha256") != actual:
                    report.problems.append(
                        f"{manifest.ref}: manifest differs from the one recorded at bump time"
                    )
        if event.get("event") == "eval" and event.get("run"):
            from promptver.evals.records import run_problem

            problem = run_problem(store, name, event)
            if problem is not None:
                report.problems.append(problem)
        previous = line
