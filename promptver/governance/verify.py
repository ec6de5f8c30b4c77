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
    anchored: str | None = None  # the git ref the history was checked against
    anchor_commit: str | None = None
    anchor_note: str | None = None
    signed: list[str] = field(default_factory=list)  # who signed which decision
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
            "anchored": {"ref": self.anchored, "commit": self.anchor_commit} if self.anchored else None,
            "anchor_note": self.anchor_note,
            "signed": self.signed,
            "leftover_bytes": self.leftover_bytes,
        }


def verify_store(
    store: Store,
    progress: Callable[[int, int], None] | None = None,
    *,
    against: str | None = None,
    anchored: bool = True,
) -> VerifyReport:
    """Re-hash and cross-check the store; unless ``anchored`` is False, also check that the
    history only grew since the commit ``against`` (default: ``HEAD`` when in git)."""
    report = VerifyReport()
    if anchored:
        from promptver.governance.anchor import anchor

        found = anchor(store, against)
        report.anchored, report.anchor_commit, report.anchor_note = found.ref, found.commit, found.note
        report.problems += found.problems
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


def _verify_bundle(
    store: Store, name: str, present: set[str] | None, report: VerifyReport, *, runs: bool = True
) -> None:
    """Manifests against their events, the log's chain, recorded runs and alias pointers
    of one bundle (``present``: the objects found, None to look each one up)."""
    from promptver.store.store import manifest_problem

    manifests = {}
    try:
        recorded = store.recorded_versions(name)
    except PromptverError:
        recorded = {}  # the broken log line is reported by the chain check
    log_missing = not store.log_path(name).exists()
    for version in store.version_names(name):
        report.manifests += 1
        try:
            manifest = store.manifest(name, str(version), checked=False)
        except PromptverError as exc:
            report.problems.append(str(exc).splitlines()[0])
            continue
        manifests[manifest.version] = manifest
        data = store.manifest_path(name, manifest.version).read_bytes()
        problem = manifest_problem(manifest, data, recorded.get(manifest.version))
        if problem is not None and log_missing:
            log = store.log_path(name)
            problem = f"{manifest.ref} has no bump event: the audit log {log} is missing (removed?)"
        if problem is not None:
            report.problems.append(problem)
        for entry in manifest.files:
            if (entry.digest not in present) if present is not None else not store.has_object(entry.digest):
                report.problems.append(
                    f"{manifest.ref}: object {entry.digest[:12]} of {entry.path} is missing"
                )
    for recorded_version, event in recorded.items():
        if recorded_version in manifests or store.manifest_path(name, recorded_version).exists():
            continue
        hexdigest = event.get("manifest_sha256")
        if isinstance(hexdigest, str) and store.has_object(hexdigest):
            report.problems.append(
                f"{name}@{recorded_version}: {event.get('event')} event {event.get('seq')} has no"
                " manifest file (an interrupted bump): the next command that writes to the bundle"
                " restores it"
            )
        else:
            report.problems.append(
                f"{name}@{recorded_version}: {event.get('event')} event {event.get('seq')} has no manifest"
                " (the manifest file was removed)"
            )
    _verify_log(store, name, manifests, report, runs=runs)
    from promptver.governance.aliases import pointer_problems

    report.problems += pointer_problems(store, name, manifests)


def _verify_log(
    store: Store, name: str, manifests: dict[str, Manifest], report: VerifyReport, *, runs: bool = True
) -> None:
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
        if runs and "signature" in event:
            _check_signature(store, name, number, event, report)
        if runs and event.get("event") == "eval" and event.get("run"):
            from promptver.evals.records import run_problem

            problem = run_problem(store, name, event)
            if problem is not None:
                report.problems.append(problem)
        previous = line


def bundle_problems(store: Store, name: str, *, anchored: bool = True, runs: bool = True) -> list[str]:
    """What `promptver verify` says about one bundle (objects are not re-hashed): its
    manifests, log, recorded runs and signatures (unless ``runs`` is False: what is merely
    not evidence), alias pointers and, when in git, its anchoring."""
    report = VerifyReport()
    _verify_bundle(store, name, None, report, runs=runs)
    if anchored:
        from promptver.governance.anchor import anchor

        report.problems = anchor(store, None, bundles=[name]).problems + report.problems
    return report.problems


def _check_signature(
    store: Store, name: str, number: int, event: dict[str, object], report: VerifyReport
) -> None:
    """A signed decision: who signed it (``report.signed``), or why the signature is bad."""
    from promptver.governance.signing import check

    verdict = check(store, dict(event))
    kind = event.get("decision") or event.get("action") or event.get("event")
    new = event.get("new")
    on = event.get("version") or event.get("to") or (new.get("version") if isinstance(new, dict) else None)
    what = f"{name} event {number} ({kind} {on or ''}, by {event.get('actor')})"
    if verdict.signer is not None:
        report.signed.append(f"{what}: signed by {verdict.signer}")
    elif verdict.problem and "does not verify" in verdict.problem:  # edited after signing
        report.problems.append(f"{store.log_path(name)}:{number}: {what}: {verdict.problem}")
    else:  # an unknown key, someone else's key: the decision does not count, nothing was edited
        report.signed.append(f"{what}: signature not accepted: {verdict.problem}")
