"""push, pull and fetch: moving versions, events, aliases and runs to and from a remote.

Remote layout (below the remote URL's prefix)::

    objects/<hex>                       file contents (see objects.py), create-only
    packs/<sha256>                      chunk packs of large files, create-only
    bundles/<name>/versions/<v>.json    manifests, create-only (byte-identical or conflict)
    bundles/<name>/log.jsonl            the audit log, replaced by compare-and-swap on its ETag
    bundles/<name>/aliases.json         alias pointers derived from the log, compare-and-swap
    runs/<name>/<id>/run.json           recorded eval runs (their hashes are in the log),
    runs/<name>/<id>/cases.jsonl        create-only

Order of a push: objects, manifests and runs first, then the log (the commit point), then
the alias pointers. A push interrupted anywhere leaves the remote consistent (nothing
references what is missing) and a re-run completes it. The log only ever moves forward:
the local log must extend the remote's, else "the remote has new events: pull first".

A pull brings the remote's new events; local events not yet pushed are put after them,
content unchanged, chain re-linked (``seq``, ``prev``, and the ``seq`` of approvals a
promotion cites). Only true conflicts are refused: both sides moved the same alias, or
published the same version with different content.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import compress, repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptver.errors import ConflictError, IntegrityError, NotFoundError, PromptverError
from promptver.store.atomic import atomic_write
from promptver.store.digests import sha256_bytes, short
from promptver.store.events import adopt, log_events, parse_lines
from promptver.store.manifest import Manifest
from promptver.store.store import Store, check_name

from . import objects as remote_objects
from .config import RemoteConfig
from .proof import Proven, aliases_key, check_chain, check_extends, log_key, manifest_key, pointer_mismatches
from .transport import CasFailed, RemoteError, Transport, open_transport

if TYPE_CHECKING:
    from promptver.governance.aliases import AliasState

Progress = Callable[[int, int], None]
PULL_FIRST = "the remote has new events: pull first"
RUN_FILES = ("run.json", "cases.jsonl")


def run_key(name: str, run_id: str, file: str, folder: str = "runs") -> str:
    return f"{folder}/{name}/{run_id}/{file}"


# the audit events whose files travel with the log: eval runs and judge calibrations
RECORDED_FOLDERS = {"eval": "runs", "calibration": "calibrations"}


@dataclass
class SyncResult:
    bundle: str
    versions: list[str] = field(default_factory=list)  # manifests written
    objects: int = 0  # objects moved
    bytes: int = 0  # bytes moved over the wire (compressed on the remote side)
    events: int = 0  # log events moved
    relinked: int = 0  # local events put after the remote's (pull)
    runs: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "bundle": self.bundle,
            "versions": self.versions,
            "objects": self.objects,
            "bytes": self.bytes,
            "events": self.events,
            "relinked": self.relinked,
            "runs": self.runs,
        }


class Remote:
    """A configured remote opened for one command: transport plus local bookkeeping."""

    def __init__(self, store: Store, config: RemoteConfig, transport: Transport | None = None):
        self.store = store
        self.config = config
        self.transport = transport or open_transport(config)
        self._known_path = store.root / "cache" / "remote" / config.name / "objects.txt"
        self._known: set[str] | None = None

    # objects the remote is known to have (a local memo, so a push does not ask again)
    def known_objects(self) -> set[str]:
        if self._known is None:
            try:
                self._known = set(self._known_path.read_text().split())
            except OSError:
                self._known = set()
        return self._known

    def remember(self, hexdigests: list[str]) -> None:
        known = self.known_objects()
        new = [h for h in hexdigests if h not in known]
        if new:
            known.update(new)
            self._known_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self._known_path, "a") as out:
                out.write("".join(h + "\n" for h in new))

    # the newest remote log position verified per bundle (refuse a rolled-back remote)
    def _seen_path(self, name: str) -> Path:
        return self.store.root / "cache" / "remote" / self.config.name / "seen" / f"{name}.json"

    def check_not_older(self, name: str, lines: list[bytes]) -> None:
        """Refuse a remote log older than, or rewriting, the newest one this machine saw."""
        try:
            seen = json.loads(self._seen_path(name).read_bytes())
            count, head = int(seen["events"]), str(seen["head"])
        except (OSError, ValueError, KeyError, TypeError):
            return
        where = f"{self.config.url}/{log_key(name)}"
        if len(lines) < count:
            check_extends(name, [b""] * count, lines, where)  # the "older" error
        if count and sha256_bytes(lines[count - 1]) != head:
            raise IntegrityError(
                f"the remote's history for {name} differs at event {count} from what this machine"
                " has seen: it was rewritten",
                location=f"{where}:{count}",
                hint="restore the remote's log from a clone that has the history, and find out who"
                " can write to the bucket",
            )

    def saw(self, name: str, lines: list[bytes]) -> None:
        """Remember the remote's log (verified, pulled or pushed) as the newest seen."""
        if not lines:
            return
        data = json.dumps({"events": len(lines), "head": sha256_bytes(lines[-1])}).encode()
        self._seen_path(name).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self._seen_path(name), data, durable=False)

    def bundle_names(self) -> list[str]:
        names = {key.split("/")[1] for key in self.transport.list("bundles") if key.count("/") >= 2}
        return sorted(names)


# ---- push ------------------------------------------------------------------------------------


def push(
    store: Store,
    remote: Remote,
    name: str | None = None,
    version: str | None = None,
    progress: Progress | None = None,
) -> list[SyncResult]:
    """Upload what the remote lacks, bundle by bundle (all bundles with a log by default)."""
    names = [check_name(name)] if name else [n for n in store.bundle_names() if store.log_path(n).exists()]
    if name and not store.log_path(name).exists():
        raise NotFoundError(
            f"{name} has no history to push", hint=f"bump it first: `promptver bump minor {name}`"
        )
    return [_push_bundle(store, remote, n, version, progress) for n in names]


def _push_bundle(
    store: Store, remote: Remote, name: str, version: str | None, progress: Progress | None
) -> SyncResult:
    result = SyncResult(name)
    t = remote.transport
    with store.lock(name):
        local = _lines(store.log_path(name).read_bytes())
        events = parse_lines(local, str(store.log_path(name)))
        if version is not None:
            manifest = store.resolve(name, version)
            end = _bump_line(events, manifest.version) + 1
            local, events = local[:end], events[:end]
        found = t.get(log_key(name))
        remote_lines, etag = (_lines(found[0]), found[1]) if found else ([], None)
        if local[: len(remote_lines)] != remote_lines:
            raise ConflictError(
                f"{name}: {PULL_FIRST}",
                hint=f"run `promptver pull {name}`, then push again",
            )
        versions = [
            e["version"] for e in events if e.get("event") == "bump" and isinstance(e.get("version"), str)
        ]
        _push_versions(store, remote, name, versions, result, progress)
        _push_runs(store, remote, name, events, result)
        if len(local) > len(remote_lines):
            try:
                etag = t.put_cas(log_key(name), b"".join(line + b"\n" for line in local), etag)
            except CasFailed:
                raise ConflictError(
                    f"{name}: {PULL_FIRST} (another push landed while this one ran)",
                    hint=f"run `promptver pull {name}`, then push again",
                ) from None
            result.events = len(local) - len(remote_lines)
        _write_remote_pointers(t, name, local, events, etag)
        remote.saw(name, local)
        _write_timestamp(store, t, name, local)
    return result


def _write_timestamp(store: Store, t: Transport, name: str, lines: list[bytes]) -> None:
    """With a signing key and ``[remote] max_age``: a fresh signed statement of where the
    log ends (promptver/remote/freshness.py), so clients can tell a frozen remote."""
    from promptver.governance.signing import signing_key

    from . import freshness

    age = freshness.max_age(store)
    key = signing_key(None, store.project_root) if age is not None else None
    if age is None or key is None or not lines:
        return
    data = freshness.make(store, name, lines, age, key)
    found = t.get(freshness.timestamp_key(name))
    try:
        t.put_cas(freshness.timestamp_key(name), data, found[1] if found else None)
    except CasFailed:
        pass  # another push wrote a newer one


def _bump_line(events: list[dict[str, Any]], version: str) -> int:
    for index, event in enumerate(events):
        if event.get("event") == "bump" and event.get("version") == version:
            return index
    raise NotFoundError(f"no bump event for version {version} in the log")


def _push_versions(
    store: Store,
    remote: Remote,
    name: str,
    versions: list[str],
    result: SyncResult,
    progress: Progress | None,
) -> None:
    t = remote.transport
    manifests = [store.manifest(name, v) for v in versions]
    known = remote.known_objects()
    todo: list[tuple[Manifest, str, str]] = []  # (manifest, path, hex)
    seen: set[str] = set()
    for manifest in manifests:
        for entry in manifest.files:
            hexdigest = entry.digest.removeprefix("sha256:")
            if hexdigest not in known and hexdigest not in seen:
                seen.add(hexdigest)
                todo.append((manifest, entry.path, hexdigest))
    by_version = {m.version: m for m in manifests}
    total = sum(m.file_map()[path].size for m, path, _ in todo)  # content, not a recipe's size
    done = 0
    for manifest, path, hexdigest in todo:
        if t.exists(remote_objects.object_key(hexdigest)):
            remote.remember([hexdigest])
            continue
        if not store.has_object(hexdigest):
            raise IntegrityError(
                f"object {short(hexdigest)} ({manifest.ref}:{path}) is neither here nor on the remote",
                hint="pull it from another remote or restore the store from git",
            )
        data = store.read_object(hexdigest)
        base = _base(store, remote, by_version, manifest, path, hexdigest)
        result.bytes += remote_objects.push_object(t, hexdigest, data, base)
        result.objects += 1
        remote.remember([hexdigest])
        done += len(data)
        if progress:
            progress(done, total)
    for manifest in manifests:
        data = store.manifest_path(name, manifest.version).read_bytes()
        key = manifest_key(name, manifest.version)
        if t.put_create(key, data):
            result.versions.append(manifest.version)
            result.bytes += len(data)
            continue
        found = t.get(key)
        if found is not None and found[0] != data:
            raise ConflictError(
                f"{manifest.ref} on the remote has different content than here",
                hint="versions are immutable: bump to a new version (someone published this one first)",
            )


def _base(
    store: Store,
    remote: Remote,
    by_version: dict[str, Manifest],
    manifest: Manifest,
    path: str,
    hexdigest: str,
) -> tuple[bytes, list[Any]] | None:
    """The same file in the parent version, when it is chunked on the remote (delta base)."""
    if manifest.file_map()[path].size < remote_objects.CHUNK_FROM or not manifest.parent:
        return None
    parent = by_version.get(manifest.parent)
    if parent is None:
        try:
            parent = store.manifest(manifest.bundle, manifest.parent)
        except NotFoundError:
            return None
    entry = parent.file_map().get(path)
    if entry is None:
        return None
    base_hex = entry.digest.removeprefix("sha256:")
    if base_hex == hexdigest or not store.has_object(base_hex):
        return None
    spans = remote_objects.read_recipe(remote.transport, base_hex, entry.size)
    return (store.read_object(base_hex), spans) if spans is not None else None


def _push_runs(
    store: Store, remote: Remote, name: str, events: list[dict[str, Any]], result: SyncResult
) -> None:
    for event in events:
        run_id = event.get("run")
        if run_id is None:
            continue
        kind = RECORDED_FOLDERS.get(str(event.get("event")))
        if kind is None or not isinstance(run_id, str):
            continue
        folder = store.root / kind / name / run_id
        for file in RUN_FILES:
            try:
                data = (folder / file).read_bytes()
            except FileNotFoundError:
                continue  # verify reports a recorded run whose files are gone
            if remote.transport.put_create(run_key(name, run_id, file, kind), data):
                result.bytes += len(data)
                result.runs += file == "run.json" and kind == "runs"


def _write_remote_pointers(
    t: Transport, name: str, lines: list[bytes], events: list[dict[str, Any]], etag: str | None
) -> None:
    """aliases.json from the log we just pushed (``lines``, parsed: ``events``; the remote
    copy's ``etag``); a newer log's writer wins a race."""
    data = _pointer_bytes(events)
    for _ in range(5):
        found = t.get(aliases_key(name))
        if found is not None and found[0] == data:
            return
        current_log = t.get_if_changed(log_key(name), etag)  # False: still ours, not read again
        if current_log is None or (isinstance(current_log, tuple) and _lines(current_log[0]) != lines):
            return  # someone pushed after us: their pointers include our events
        try:
            t.put_cas(aliases_key(name), data, found[1] if found else None)
            return
        except CasFailed:
            continue


def _pointer_bytes(events: list[dict[str, Any]]) -> bytes:
    """``aliases.json`` of these events."""
    from promptver.governance.aliases import pointer_bytes

    return pointer_bytes(_pointer_states(events))


def _pointer_states(events: list[dict[str, Any]]) -> dict[str, AliasState]:
    """The alias states ``aliases.json`` is written from. A pointer is where its alias's
    last move left it (a move, a rollback and a removal each end on the place they name),
    so only each alias's last move is replayed."""
    from promptver.governance.aliases import EVENT, replay

    last = {e["alias"]: e for e in events if e.get("event") == EVENT and isinstance(e.get("alias"), str)}
    return replay(list(last.values()))


# ---- pull ------------------------------------------------------------------------------------


def pull(
    store: Store,
    remote: Remote,
    name: str | None = None,
    objects: bool = False,
    progress: Progress | None = None,
) -> list[SyncResult]:
    """Bring the remote's history (and, with ``objects``, every object) into the store."""
    names = [check_name(name)] if name else remote.bundle_names()
    if name and name not in remote.bundle_names():
        raise NotFoundError(f"remote {remote.config.url} has no bundle {name!r}")
    results = []
    for n in names:
        result = _pull_bundle(store, remote, n)
        if objects:
            fetched, moved = fetch_objects(store, remote, store.versions(n), progress)
            result.objects += fetched
            result.bytes += moved
        results.append(result)
    return results


def _pull_bundle(store: Store, remote: Remote, name: str) -> SyncResult:
    result = SyncResult(name)
    t = remote.transport
    found = t.get(log_key(name))
    if found is None:
        remote.check_not_older(name, [])
        return result
    remote_lines = _lines(found[0])
    remote.check_not_older(name, remote_lines)
    path = store.log_path(name)
    with store.lock(name):
        held = path.read_bytes() if path.exists() else None
        if _holds(held or b"", found[0]):
            remote.saw(name, remote_lines)
            return result  # nothing new there (we may be ahead)
        held_lines = _lines(held or b"")
        start = _common(held_lines, remote_lines)
    where = f"{remote.config.url}/{log_key(name)}"
    incoming = _checked_tail(store, name, remote_lines, start, where)
    with store.lock(name):
        before = path.read_bytes() if path.exists() else None
        local = held_lines if before == held else _lines(before or b"")
        common = _common(local, remote_lines)
        if common == len(remote_lines):
            remote.saw(name, remote_lines)
            return result  # nothing new there (we may be ahead)
        if common < start:  # the local log was replaced meanwhile (another pull): check from here
            incoming, start = _checked_tail(store, name, remote_lines, common, where), common
        lines = _merge(store, t, name, remote_lines, incoming[common - start :], local, common, result)
        if not local and len(incoming) == len(lines):  # the remote's log as it is: its re-check
            merged = adopt(path, lines, incoming)  # takes these events rather than parsing it again
        else:
            merged = b"".join(line + b"\n" for line in lines)
        del incoming  # (otherwise the policy check parses the log it reads: these are freed first)
        atomic_write(path, merged, tmp_dir=store.tmp_dir)
        _refuse_bad_moves(store, name, common, before, result.versions, remote.config.url)
        remote.saw(name, remote_lines)
        from promptver.governance.aliases import EVENT, write_pointers

        write_pointers(store, name, _pointer_states(log_events(store, name, EVENT)))
    return result


def _merge(
    store: Store,
    t: Transport,
    name: str,
    remote_lines: list[bytes],
    remote_tail: list[dict[str, Any]],
    local: list[bytes],
    common: int,
    result: SyncResult,
) -> list[bytes]:
    """The lines of the merged log: the remote's, then the local events past the ``common``
    lines, re-linked; the remote's new manifests, runs and the policies its moves name fetched
    first. Refuses (changing nothing) a true conflict and a local event signed in format 2."""
    from promptver.governance.signing import refuse_moving_signed

    local_tail = parse_lines(local[common:], str(store.log_path(name))) if common < len(local) else []
    _check_conflicts(name, remote_tail, local_tail)
    for event in remote_tail:
        is_bump = event.get("event") == "bump" and isinstance(event.get("version"), str)
        if is_bump and _pull_manifest(store, t, name, event):
            result.versions.append(event["version"])
    result.runs += _pull_runs(store, t, name, remote_tail)
    refuse_moving_signed(name, local_tail)
    relinked = _relink(remote_lines, local_tail, first_local_seq=common + 1)
    _fetch_policies(store, t, name, remote_tail)
    result.events = len(remote_tail)
    result.relinked = len(local_tail)
    return relinked


def _fetch_policies(store: Store, t: Transport, name: str, events: list[dict[str, Any]]) -> None:
    """The bundle.toml of every version an incoming alias move names (from or to), so its
    policy can be checked: a pull fetches other objects lazily."""
    from promptver.bundle.spec import SPEC_FILE

    get = dict.get  # (mapped over the events: 100,000 of them in a first pull)
    moves = list(compress(events, map(operator.eq, map(get, events, repeat("event")), repeat("alias"))))
    named: list[Any] = [*map(get, moves, repeat("to")), *map(get, moves, repeat("from"))]
    versions: set[str] = set(compress(named, map(isinstance, named, repeat(str))))
    for version in sorted(versions):
        try:
            manifest = store.manifest(name, version, checked=False)
        except NotFoundError:
            continue  # verify names a move to a version that does not exist
        entry = manifest.file_map().get(SPEC_FILE)
        if entry is not None and not store.has_object(entry.digest.removeprefix("sha256:")):
            fetch_into(store, t, entry.digest.removeprefix("sha256:"), entry.size)


def _refuse_bad_moves(
    store: Store, name: str, common: int, before: bytes | None, versions: list[str], url: str
) -> None:
    """After the merged log is written: every move past the common history is checked
    against the policy in force at its point (the remote's, and the local ones re-checked
    after them); one that breaks it puts the log back as it was and refuses the pull."""
    from promptver.errors import PolicyError
    from promptver.governance.checks import bad_moves

    try:
        bad = [why for seq, why in bad_moves(store, name) if seq > common]
    except PromptverError:  # the written log cannot be read back: as it was, then the reason
        _put_back(store, name, before, versions)
        raise
    if not bad:
        return
    _put_back(store, name, before, versions)
    raise PolicyError(
        f"pull of {name} from {url} refused; nothing was changed:\n" + "\n".join(f"  - {b}" for b in bad),
        hint="a move in the remote's history (or one of yours, after it) went around `promptver promote`;"
        " find out who can write to the bucket, and restore the remote's log from a good clone",
    )


def _put_back(store: Store, name: str, before: bytes | None, versions: list[str]) -> None:
    """The log as it was before a refused pull, without the versions it brought."""
    path = store.log_path(name)
    if before is None:
        path.unlink()
    else:
        atomic_write(path, before, tmp_dir=store.tmp_dir)
    for version in versions:
        store.unpublish_manifest(store.manifest(name, version, checked=False))


def _common(local: list[bytes], remote_lines: list[bytes]) -> int:
    """How many lines the two logs share from the start (compared a block at a time)."""
    common, shared = 0, min(len(local), len(remote_lines))
    while common < shared:
        end = min(common + 4096, shared)
        if local[common:end] != remote_lines[common:end]:
            while local[common] == remote_lines[common]:
                common += 1
            return common
        common = end
    return common


def _checked_tail(
    store: Store, name: str, lines: list[bytes], start: int, where: str
) -> list[dict[str, Any]]:
    """The events of the remote log past the lines the local log holds (``lines[:start]``,
    byte for byte, checked when they came), checked: their hash chain, from the line
    before them; when one of them is signed, the signed events of the whole log (a
    signature counts only at its place, after the events it was signed after and
    repeating none: `governance.signing.refuse_tampered`)."""
    from promptver.governance.signing import refuse_tampered

    previous = lines[start - 1] if start else None
    tail = check_chain(lines[start:], where, first=start + 1, previous=previous)
    if any("signature" in event for event in tail):
        refuse_tampered(store, name, lines, where, parse_lines(lines[:start], where) + tail)
    return tail


def _holds(local: bytes, remote: bytes) -> bool:
    """Whether the local log already holds the remote's, byte for byte (it is the whole
    local log, or a prefix of it ending at a line's end): a pull then brings nothing, and
    nothing of the remote's is parsed or checked. Every line of it is already here, where
    it was checked when it came (or written), and `verify` checks it; the rollback check
    (`Remote.check_not_older`) has run before."""
    return local.startswith(remote) and (len(local) == len(remote) or remote.endswith(b"\n") or not remote)


def _check_conflicts(name: str, remote_tail: list[dict[str, Any]], local_tail: list[dict[str, Any]]) -> None:
    if not local_tail:
        return  # nothing of ours to conflict with
    remote_moves = {
        e["alias"]: e for e in remote_tail if e.get("event") == "alias" and isinstance(e.get("alias"), str)
    }
    for event in local_tail:
        if (
            event.get("event") == "alias"
            and isinstance(event.get("alias"), str)
            and event["alias"] in remote_moves
        ):
            theirs = remote_moves[event.get("alias")]
            raise ConflictError(
                f"{name}: alias {event.get('alias')!r} was moved both here"
                f" (to {event.get('to') or 'nothing'},"
                f" by {event.get('actor')}) and on the remote (to {theirs.get('to') or 'nothing'},"
                f" by {theirs.get('actor')} at {theirs.get('time')}); nothing was changed",
                hint="agree on one move; to keep the remote's, restore the local log from git"
                " (`git checkout -- .promptver/bundles/" + name + "/log.jsonl`) and pull again",
            )
    remote_versions = {
        e["version"] for e in remote_tail if e.get("event") == "bump" and isinstance(e.get("version"), str)
    }
    for event in local_tail:
        if (
            event.get("event") == "bump"
            and isinstance(event.get("version"), str)
            and event["version"] in remote_versions
        ):
            raise ConflictError(
                f"{name}@{event.get('version')} was published both here and on the remote;"
                " nothing was changed",
                hint="versions are immutable: the one pushed first stands; bump yours to a new version"
                " after restoring the local log from git",
            )


def _pull_manifest(store: Store, t: Transport, name: str, event: dict[str, Any]) -> bool:
    version = event["version"]
    key = manifest_key(name, version)
    found = t.get(key)
    if found is None:
        raise IntegrityError(
            f"the remote's log names {name}@{version} but its manifest is missing",
            location=key,
            hint="push it again from a store that has it",
        )
    data = found[0]
    recorded = event.get("manifest_sha256")
    if recorded and sha256_bytes(data) != recorded:
        raise IntegrityError(
            f"manifest of {name}@{version} on the remote differs from the one recorded at bump time",
            location=key,
            hint="the remote copy was edited; push a good copy from a store that has it",
        )
    manifest = Manifest.loads(data, key)
    if manifest.bundle != name or manifest.version != version:
        raise IntegrityError(f"manifest names {manifest.ref}, not {name}@{version}", location=key)
    if not recorded and manifest.digest != event.get("digest"):  # a bump from before manifest_sha256
        raise IntegrityError(
            f"manifest of {name}@{version} on the remote is not the version its bump event recorded",
            location=key,
            hint="the remote copy was edited; push a good copy from a store that has it",
        )
    path = store.manifest_path(name, version)
    if path.exists():
        if path.read_bytes() != data:
            raise ConflictError(
                f"{name}@{version} here differs from the remote's",
                hint="versions are immutable: the one pushed first stands; bump yours to a new version",
            )
        return False
    if manifest.dumps() != data:
        raise IntegrityError(f"manifest of {name}@{version} on the remote is not canonical", location=key)
    store.write_manifest(manifest)
    return True


def _pull_runs(store: Store, t: Transport, name: str, events: list[dict[str, Any]]) -> int:
    count = 0
    for event in events:
        run_id = event.get("run")
        if run_id is None:
            continue
        kind = RECORDED_FOLDERS.get(str(event.get("event")))
        if kind is None or not isinstance(run_id, str) or "/" in run_id or run_id.startswith("."):
            continue
        folder = store.root / kind / name / run_id
        for file, field_name in (("run.json", "run_sha256"), ("cases.jsonl", "cases_sha256")):
            if (folder / file).exists():
                continue
            found = t.get(run_key(name, run_id, file, kind))
            if found is None:
                continue  # verify reports a recorded run whose files are missing
            if event.get(field_name) and sha256_bytes(found[0]) != event.get(field_name):
                what = "eval run" if kind == "runs" else "judge calibration"
                raise IntegrityError(
                    f"{what} {run_id} of {name} on the remote does not match its recorded hash",
                    location=run_key(name, run_id, file, kind),
                )
            atomic_write(folder / file, found[0], tmp_dir=store.tmp_dir)
            count += file == "run.json" and kind == "runs"
    return count


def _relink(remote_lines: list[bytes], local_tail: list[dict[str, Any]], first_local_seq: int) -> list[bytes]:
    """The remote's log followed by the local events, re-chained (content unchanged)."""
    lines = list(remote_lines)
    shift = len(remote_lines) + 1 - first_local_seq
    for event in local_tail:
        record = dict(event)
        if isinstance(record.get("approvals"), list) and "signature" not in record:
            # cited by seq; a signed event's content is never changed (it cites by id too:
            # ``approval_ids``, which a re-link does not move)
            record["approvals"] = [_shifted(a, first_local_seq, shift) for a in record["approvals"]]
        record["seq"] = len(lines) + 1
        record["prev"] = sha256_bytes(lines[-1]) if lines else None
        lines.append(json.dumps(record, sort_keys=True, ensure_ascii=False).encode())
    return lines


def _shifted(cited: Any, first_local_seq: int, shift: int) -> Any:
    """A cited event's ``seq`` (an int, or ``{"seq": n}``) after a re-link moved it."""
    if isinstance(cited, int) and not isinstance(cited, bool) and cited >= first_local_seq:
        return cited + shift
    if isinstance(cited, dict) and isinstance(cited.get("seq"), int) and cited["seq"] >= first_local_seq:
        return {**cited, "seq": cited["seq"] + shift}
    return cited


def _lines(data: bytes) -> list[bytes]:
    return [line for line in data.split(b"\n") if line]


# ---- objects ---------------------------------------------------------------------------------


def fetch_objects(
    store: Store, remote: Remote, manifests: list[Manifest], progress: Progress | None = None
) -> tuple[int, int]:
    """Download (verified) every object of these versions missing here: (count, bytes)."""
    missing: dict[str, int] = {}
    for manifest in manifests:
        for entry in manifest.files:
            hexdigest = entry.digest.removeprefix("sha256:")
            if not store.has_object(hexdigest):
                missing[hexdigest] = entry.size
    total = sum(missing.values())
    done = 0
    for hexdigest in missing:
        fetch_into(store, remote.transport, hexdigest, missing[hexdigest])
        done += missing[hexdigest]
        if progress:
            progress(done, total)
    remote.remember(list(missing))
    return len(missing), total


def fetch_into(store: Store, t: Transport, hexdigest: str, size: int) -> bytes:
    """One object of ``size`` bytes (as its manifest recorded) from the remote, verified,
    published in the local store."""
    data = remote_objects.fetch_object(t, hexdigest, size=size)
    if store.put_bytes(data) != hexdigest:  # fetch_object verified it; this cannot differ
        raise IntegrityError(f"object {short(hexdigest)} changed while it was stored")
    return data


LIST_FROM = 64  # more objects than this to look up: one listing instead of a request each


def remote_has(remote: Remote, hexdigests: list[str]) -> set[str]:
    """Which of these objects the remote holds (asked, not taken from the local memo):
    one existence check each, or one listing of ``objects/`` when there are many."""
    t = remote.transport
    if len(hexdigests) > LIST_FROM:
        listed = {key.rsplit("/", 1)[-1] for key in t.list("objects")}
        return {h for h in hexdigests if h in listed}
    return {h for h in hexdigests if t.exists(remote_objects.object_key(h))}


def open_remote(store: Store, name: str | None = None) -> Remote:
    from .config import get_remote

    return Remote(store, get_remote(store, name))


__all__ = [
    "PULL_FIRST",
    "Remote",
    "RemoteError",
    "SyncResult",
    "fetch_objects",
    "open_remote",
    "pull",
    "push",
]


def verify_remote(store: Store, remote: Remote, progress: Progress | None = None) -> dict[str, Any]:
    """``verify --remote``: each remote log's hash chain and agreement with the local log;
    each manifest against the hash its bump event recorded, and every manifest or alias
    pointer on the remote that no event accounts for; every object rebuilt and checked
    against its hash (no larger than its manifest says)."""
    problems: list[str] = []
    checked = {"bundles": 0, "manifests": 0, "objects": 0}
    t = remote.transport
    todo: dict[str, int] = {}
    for name in remote.bundle_names():
        where = f"{remote.config.url}/{log_key(name)}"
        found = t.get(log_key(name))
        if found is None:
            problems.append(f"{name}: the remote has files of {name} but no audit log ({where})")
            continue
        checked["bundles"] += 1
        lines = _lines(found[0])
        try:
            remote.check_not_older(name, lines)
            proven = Proven.of(name, lines, where)
        except IntegrityError as exc:
            problems.append(str(exc))
            continue
        local = _lines(store.log_path(name).read_bytes()) if store.log_path(name).exists() else []
        shared = min(len(local), len(lines))
        if local[:shared] != lines[:shared] and not _diverged_cleanly(local, lines):
            problems.append(f"{name}: the remote log and the local log disagree before either's new events")
        for version, event in proven.created.items():
            key = manifest_key(name, version)
            data = t.get(key)
            checked["manifests"] += 1
            if data is None:
                problems.append(f"{name}@{version}: manifest missing on the remote ({key})")
                continue
            recorded = event.get("manifest_sha256")
            if isinstance(recorded, str) and sha256_bytes(data[0]) != recorded:
                problems.append(
                    f"{name}@{version}: manifest on the remote ({key}) is not the one its"
                    f" {event.get('event')} event {event.get('seq')} recorded (replaced)"
                )
                continue
            try:
                manifest = Manifest.loads(data[0], key)
            except PromptverError as exc:
                problems.append(f"{name}@{version}: {exc.message} ({key})")
                continue
            if not isinstance(recorded, str) and manifest.digest != event.get("digest"):
                problems.append(
                    f"{name}@{version}: manifest on the remote ({key}) differs from the recorded one"
                )
                continue
            for entry in manifest.files:
                todo.setdefault(entry.digest.removeprefix("sha256:"), entry.size)
        for key in t.list(f"bundles/{name}/versions"):
            version = key.rsplit("/", 1)[-1].removesuffix(".json")
            if version not in proven.created:
                problems.append(
                    f"{name}@{version}: manifest on the remote ({key}) that no event in its log created"
                    " (added by a bucket writer?); it is never served"
                )
        from promptver.governance.checks import move_problems

        problems += [f"{remote.config.url}: {why}" for why in move_problems(store, name, proven.events)]
        pointer_file = t.get(aliases_key(name))
        problems += pointer_mismatches(
            proven, pointer_file[0] if pointer_file else None, f"{remote.config.url}/{aliases_key(name)}"
        )
    for done, (hexdigest, size) in enumerate(todo.items(), start=1):
        problem = remote_objects.check_remote_object(t, hexdigest, size)
        if problem:
            problems.append(problem)
        checked["objects"] += 1
        if progress:
            progress(done, len(todo))
    return {"remote": remote.config.url, "ok": not problems, "problems": problems, **checked}


def _diverged_cleanly(local: list[bytes], remote_lines: list[bytes]) -> bool:
    """Both sides appended after a common prefix (normal before a pull)."""
    common = 0
    while common < min(len(local), len(remote_lines)) and local[common] == remote_lines[common]:
        common += 1
    if common == 0:
        return not local or not remote_lines
    return json.loads(local[common - 1]).get("seq") == common
