"""`promptver verify`: re-hash every object, check every manifest, audit log and recorded
eval run."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import compress, count, repeat
from operator import or_
from pathlib import Path
from typing import Any

from promptver.errors import IntegrityError, PromptverError
from promptver.store.digests import CHUNK, is_hex_digest
from promptver.store.gc import scan_tmp
from promptver.store.jsontext import collector_paused
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
    not_fetched: list[str] = field(default_factory=list)  # hex digests on the remote, not here

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
            "not_fetched": len(self.not_fetched),
        }


RemoteHas = Callable[[list[str]], set[str]]


@collector_paused()
def verify_store(
    store: Store,
    progress: Callable[[int, int], None] | None = None,
    *,
    against: str | None = None,
    anchored: bool = True,
    remote_has: RemoteHas | None = None,
    full: bool = False,
) -> VerifyReport:
    """Re-hash and cross-check the store; unless ``anchored`` is False, also check that the
    history only grew since the commit ``against`` (default: ``HEAD`` when in git).

    ``remote_has`` (given when a remote is configured): which of some object digests the
    remote holds. An object a version names that is not here but is on the remote was
    pulled and not fetched yet (pulls are lazy): it is listed in ``not_fetched``, not a
    problem. Without ``remote_has``, or when the remote lacks it too or cannot be asked, a
    missing object is a problem."""
    report = VerifyReport()
    if anchored:
        from promptver.governance.anchor import anchor

        found = anchor(store, against)
        report.anchored, report.anchor_commit, report.anchor_note = found.ref, found.commit, found.note
        report.problems += found.problems
    objects = _object_files(store)
    for index, path in enumerate(objects, start=1):
        _verify_object(store, path, report)
        if progress:
            progress(index, len(objects))
    present = {p.parent.name + p.name for p in objects}
    missing: dict[str, list[str]] = {}  # hex -> "ref: object X of path is missing"
    for name in store.bundle_names():
        _verify_bundle(store, name, present, report, missing=missing, full=full)
    _place_missing(missing, remote_has, report)
    leftovers = scan_tmp(store)
    report.leftovers = len(leftovers)
    report.leftover_bytes = sum(x.size for x in leftovers)
    return report


def _object_files(store: Store) -> list[Path]:
    root = store.root / "objects"
    if not root.is_dir():
        return []
    return sorted(Path(d, f) for d, _, files in os.walk(root) for f in files)


def _verify_object(store: Store, path: Path, report: VerifyReport) -> None:
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
    if digest.hexdigest() != name and _rebuilds(store, name, path, report):
        return
    if digest.hexdigest() != name:
        report.problems.append(f"object {name[:12]} is corrupted: content does not match its hash ({path})")


def _rebuilds(store: Store, name: str, path: Path, report: VerifyReport) -> bool:
    """An object kept in packs (a recipe): rebuilt from its packs and every byte re-hashed; True
    when it is one (a problem it has is reported here)."""
    from promptver.store.packs import load_recipe

    try:
        if load_recipe(store, name) is None:
            return False
        with store.open_object(name) as reader:
            while reader.read(CHUNK):
                pass
    except IntegrityError as exc:
        report.problems.append(f"{exc.message} ({exc.location})" if exc.location else exc.message)
    return True


def _place_missing(missing: dict[str, list[str]], remote_has: RemoteHas | None, report: VerifyReport) -> None:
    """Missing objects the remote holds are not fetched yet; the rest are problems."""
    if not missing:
        return
    on_remote: set[str] = set()
    suffix = ""
    if remote_has is not None:
        try:
            on_remote = remote_has(sorted(missing))
            suffix = " (here and on the remote)"
        except PromptverError as exc:
            suffix = f" (the remote could not be asked: {exc.message})"
    for hexdigest, lines in missing.items():
        if hexdigest in on_remote:
            report.not_fetched.append(hexdigest)
        else:
            report.problems += [line + suffix for line in lines]


def _verify_bundle(
    store: Store,
    name: str,
    present: set[str] | None,
    report: VerifyReport,
    *,
    runs: bool = True,
    missing: dict[str, list[str]] | None = None,
    full: bool = False,
) -> None:
    """Manifests against their events, the log's chain, recorded runs and alias pointers
    of one bundle (``present``: the objects found, None to look each one up). Missing
    objects go to ``missing`` when given (the caller asks the remote about them), else
    straight to the problems."""
    from promptver.store.store import manifest_problem

    chain = VerifyReport()  # the log's chain first: a whole read of it serves what follows
    _verify_log(store, name, chain, runs=runs, full=full)
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
                line = f"{manifest.ref}: object {entry.digest[:12]} of {entry.path} is missing"
                if missing is None:
                    report.problems.append(line)
                else:
                    missing.setdefault(entry.digest, []).append(line)
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
    report.events += chain.events
    report.problems += chain.problems
    report.signed += chain.signed
    from promptver.governance.aliases import pointer_problems
    from promptver.governance.checks import move_problems

    try:  # first: it keeps the checkpoint that spares the pointer check a parse
        moves = move_problems(store, name, full=full)
    except PromptverError:
        moves = []  # a log line that is not an event: the chain check names it
    report.problems += pointer_problems(store, name, manifests, full=full) + moves


def _verify_log(
    store: Store,
    name: str,
    report: VerifyReport,
    *,
    runs: bool = True,
    full: bool = False,
) -> None:
    """The chain and the signatures of every line (those of the prefix a checkpoint covers,
    governance/checkpoint.py, are taken from it unless ``full``), and the recorded runs
    the log names (always: their files can change without the log)."""
    from promptver.governance import checkpoint
    from promptver.store.events import event_id, kind_places, read_lines, sound_lines

    path = store.log_path(name)
    ctx = f"{checkpoint.context(store)}; log {path}"
    if not full and _checked_whole(store, name, path, ctx, report, runs):
        return
    data, lines = read_lines(path)
    sound = sound_lines(path, data)  # the same lines and events, as two lists (each a dict)
    # A log parsed whole that nowhere holds the bytes "signature" (a key is spelt so, but with
    # a \u escape, which such a log has none of) has no signed event: its marked events are
    # the runs, found by kind rather than by a look at every event.
    run_places = kind_places(path, data, RUN_KINDS) if b'"signature"' not in data else None
    skip, found, signed = 0, [], []  # what the chain and signature checks found (kept)
    kept = None if full else checkpoint.read(store, name, checkpoint.LOG, data, ctx)
    if kept is not None and isinstance(kept[1], dict):
        old_found, old_signed = kept[1].get("problems"), kept[1].get("signed")
        if isinstance(old_found, list) and isinstance(old_signed, list):
            skip, found, signed = kept[0], [str(p) for p in old_found], [str(s) for s in old_signed]
    signatures: dict[str, int] = {}  # armored signature -> the line it was first seen on
    ids: dict[str, int] = {}  # the id of every event before this one -> its line
    unnamed: list[tuple[dict[str, Any], int]] = []  # events not yet in ``ids``
    before = hashlib.sha256(lines[skip - 1][0]).hexdigest() if skip else None  # the line before
    report.events += len(lines)
    if skip:  # checked before: only what the lines after it need of them
        special: list[tuple[int, dict[str, Any]]] = (
            [(at + 1, sound[1][at]) for at in _marked(sound[1][:skip], run_places, 0)]  # (found in C)
            if sound is not None
            else [
                (number, kept_event)
                for number, (_, kept_event) in enumerate(lines[:skip], start=1)
                if isinstance(kept_event, dict)
                and ("signature" in kept_event or kept_event.get("event") in RUN_KINDS)
            ]
        )
        for number, kept_event in special:
            signature = kept_event.get("signature")
            if isinstance(signature, dict) and isinstance(signature.get("armored"), str):
                signatures.setdefault(signature["armored"], number)
            _check_run(store, name, kept_event, report, runs)
        if any(isinstance(e, dict) and "signature" in e for _, e in lines[skip:]):
            unnamed = [(e, n) for n, (_, e) in enumerate(lines[:skip], start=1) if isinstance(e, dict)]
    rest = lines[skip:]
    if _chain_holds(lines, skip, before, sound):  # then only the signed and the run events are looked at
        tail: list[dict[str, Any]]  # every one is a dict
        tail = sound[1][skip:] if sound is not None else [e for _, e in rest if isinstance(e, dict)]
        marks = _marked(tail, run_places, skip)
        named = 0  # the events of the tail before it are in ``ids`` (when a signature needed them)
        for i in marks:
            marked = tail[i]
            if "signature" in marked:
                for earlier, at in unnamed:
                    ids.setdefault(event_id(earlier), at)
                unnamed.clear()
                for j in range(named, i):
                    ids.setdefault(event_id(tail[j]), skip + 1 + j)
                named = i
                _check_signature(store, name, skip + 1 + i, marked, found, signed, signatures, ids)
            _check_run(store, name, marked, report, runs)
        rest = []  # nothing left for the line-by-line pass
    for number, (line, event) in enumerate(rest, start=skip + 1):
        prev, before = before, hashlib.sha256(line).hexdigest()
        if not isinstance(event, dict):
            found.append(f"{path}:{number}: {event.message} (edited by hand?)")
            continue
        if event.get("prev") != prev or event.get("seq") != number:
            what = event.get("event", "?")
            found.append(
                f"{path}:{number}: audit chain broken at event {number} ({what} {event.get('version', '')}):"
                " an event before it was edited, removed or reordered"
            )
        if "signature" in event:
            for earlier, at in unnamed:  # ids only when a signature asks for them
                ids.setdefault(event_id(earlier), at)
            unnamed.clear()
            _check_signature(store, name, number, event, found, signed, signatures, ids)
        unnamed.append((event, number))
        _check_run(store, name, event, report, runs)
    report.problems += found
    if runs:
        report.signed += signed
    if len(lines) > skip:
        checkpoint.write(
            store, name, checkpoint.LOG, data, len(lines), {"problems": found, "signed": signed}, ctx
        )


RUN_KINDS = ("eval", "calibration")  # events whose files are checked on every pass


def _chain_holds(
    lines: list[tuple[bytes, Any]],
    skip: int,
    before: str | None,
    sound: tuple[list[bytes], list[dict[str, Any]]] | None = None,
) -> bool:
    """Whether every line after the first ``skip`` is an event whose ``prev`` is the sha256
    of the line before it (``before`` for the first) and whose ``seq`` is its line number:
    the chain check of a sound log (`events.chained`; ``sound``: the same lines and events
    as two lists, every event a dict). False: the line-by-line pass names what is wrong."""
    if sound is not None:
        texts, events = sound[0][skip:], sound[1][skip:]
    else:
        tail = lines[skip:]
        if not all(type(event) is dict for _, event in tail):
            return False
        texts, events = [line for line, _ in tail], [event for _, event in tail]
    from promptver.store.events import chained

    return chained(texts, events, skip + 1, before)


def _marked(events: list[dict[str, Any]], run_places: list[int] | None = None, start: int = 0) -> list[int]:
    """The places of the signed events and of the recorded runs among ``events``: those
    for which ``"signature" in event or event.get("event") in RUN_KINDS``, found by
    functions mapped over the list (C) rather than a test per event in Python.
    ``run_places``: when no event is signed, the places of the runs in the whole log
    (``events`` are its events from ``start`` on), taken instead."""
    if run_places is not None:
        return [at - start for at in run_places if start <= at < start + len(events)]
    signed = map(dict.__contains__, events, repeat("signature"))
    runs = map(RUN_KINDS.__contains__, map(dict.get, events, repeat("event")))
    return list(compress(count(), map(or_, signed, runs)))


def _checked_whole(store: Store, name: str, path: Path, ctx: str, report: VerifyReport, runs: bool) -> bool:
    """When a checkpoint covers the whole log: its findings, and the recorded runs checked
    again (only their lines are parsed, found by their kind's token: not in a log that
    holds a ``\\u`` escape); False when it does not."""
    from promptver.governance import checkpoint
    from promptver.store.events import has_escape, log_bytes, log_events

    try:
        data = log_bytes(path)
    except FileNotFoundError:
        return False
    if has_escape(data):  # an event kind could be spelt with escapes: every line is read
        return False
    kept = checkpoint.read(store, name, checkpoint.LOG, data, ctx)
    if kept is None or not checkpoint.whole(data, kept[0]) or not isinstance(kept[1], dict):
        return False
    found, signed = kept[1].get("problems"), kept[1].get("signed")
    if not isinstance(found, list) or not isinstance(signed, list):
        return False
    report.events += kept[0]
    report.problems += [str(p) for p in found]
    if runs:
        report.signed += [str(s) for s in signed]
        for event in log_events(store, name, *RUN_KINDS):
            _check_run(store, name, event, report, runs)
    return True


def _check_run(store: Store, name: str, event: dict[str, Any], report: VerifyReport, runs: bool) -> None:
    """A recorded eval run or calibration against its files (unless ``runs`` is False)."""
    if not runs or not event.get("run"):
        return
    if event.get("event") == "eval":
        from promptver.evals.runs.records import run_problem

        problem = run_problem(store, name, event)
    elif event.get("event") == "calibration":
        from promptver.evals.analysis.calibration import calibration_problem

        problem = calibration_problem(store.root, name, event)
    else:
        return
    if problem is not None:
        report.problems.append(problem)


@collector_paused()
def bundle_problems(
    store: Store, name: str, *, anchored: bool = True, runs: bool = True, objects: bool = True
) -> list[str]:
    """What `promptver verify` says about one bundle (objects are not re-hashed): its
    manifests, log, recorded runs and signatures (unless ``runs`` is False: what is merely
    not evidence), alias pointers and, when in git, its anchoring. ``objects=False``: a
    file's object missing here is not a problem (a store whose objects live on a remote
    holds only those it fetched; a promotion decides on the trail, not on the contents)."""
    report = VerifyReport()
    _verify_bundle(store, name, None, report, runs=runs, missing=None if objects else {})
    if anchored:
        from promptver.governance.anchor import anchor

        report.problems = anchor(store, None, bundles=[name]).problems + report.problems
    return report.problems


def _check_signature(
    store: Store,
    name: str,
    number: int,
    event: dict[str, object],
    found: list[str],
    signed: list[str],
    signed_at: dict[str, int],
    ids: dict[str, int],
) -> None:
    """A signed event: who signed it (``signed``), or why the signature is bad (``found``).
    Tampering (an edited event, a line replayed or moved: the same signature twice, or
    signed after an event that is not earlier, ``ids``) is a problem; an unknown key or
    someone else's is not (the decision simply does not count)."""
    from promptver.governance.signing import check, misplaced
    from promptver.store.events import event_id

    first = ids.get(event_id(event))
    if first is not None:  # a copied line has the id of the original
        found.append(
            f"{store.log_path(name)}:{number}: audit event {number} repeats signed event {first}"
            f" ({event.get('event')} by {event.get('actor')}): the line was replayed (copied) into"
            " the log; a signed decision counts once, where it was made"
        )
        return
    verdict = check(store, dict(event), name)
    kind = event.get("decision") or event.get("action") or event.get("event")
    new = event.get("new")
    on = event.get("version") or event.get("to") or (new.get("version") if isinstance(new, dict) else None)
    what = f"{name} event {number} ({kind} {on or ''}, by {event.get('actor')})"
    where = f"{store.log_path(name)}:{number}"
    signature = event.get("signature")
    armored = signature.get("armored") if isinstance(signature, dict) else None
    if isinstance(armored, str):
        if armored in signed_at:
            found.append(
                f"{where}: {what}: the same signature as event {signed_at[armored]}:"
                " the line was replayed (copied) into the log"
            )
            return
        signed_at[armored] = number
    place = misplaced(dict(event), number, ids)
    if verdict.tampered or place is not None:  # another log's signature says more than its place
        found.append(f"{where}: {what}: {verdict.problem if verdict.tampered else place}")
    elif verdict.signer is not None:
        signed.append(f"{what}: signed by {verdict.signer}")
    else:  # an unknown key, someone else's key: the decision does not count, nothing was edited
        signed.append(f"{what}: signature not accepted: {verdict.problem}")
