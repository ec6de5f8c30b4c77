"""The verified local cache of a remote, for production loading (``promptver.load(...,
remote=...)`` and ``promptver.follow``, in promptver/app/follow.py).

The cache (``PROMPTVER_CACHE``, default the user cache folder) holds one store per remote
URL: manifests and objects are written there only after their hashes were checked, and
every read checks them again, so a warm load is a local load. The last resolution of each
reference is remembered, so a process can start from the cache when the remote is down.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from promptver.errors import ConfigError, IntegrityError, NotFoundError, PromptverError
from promptver.semver import Version
from promptver.store.atomic import atomic_write
from promptver.store.manifest import Manifest
from promptver.store.store import Store

from .config import RemoteConfig, check_url
from .proof import Proven, check_extends, lines_of
from .transport import Transport, open_transport

ENV_CACHE = "PROMPTVER_CACHE"


def cache_root() -> Path:
    explicit = os.environ.get(ENV_CACHE)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or (
        os.path.join(os.environ["LOCALAPPDATA"], "promptver", "Cache")
        if os.name == "nt" and os.environ.get("LOCALAPPDATA")
        else os.path.expanduser("~/.cache")
    )
    return Path(base) / "promptver"


def remote_config(
    remote: str | RemoteConfig, endpoint: str | None = None, region: str | None = None
) -> RemoteConfig:
    if isinstance(remote, RemoteConfig):
        return remote
    return RemoteConfig(
        "runtime",
        check_url(remote),
        endpoint or os.environ.get("AWS_ENDPOINT_URL") if remote.startswith("s3://") else endpoint,
        region,
    )


class RemoteCache:
    """The verified cache of one remote: resolve a reference through the remote's audit log,
    fetch, verify, keep.

    The bucket is an untrusted mirror (promptver/remote/proof.py): a reference is resolved
    from the bundle's hash-chained log only (never from ``aliases.json`` or a listing), a
    manifest is kept only when its bytes hash to what its bump event recorded, and objects
    only when they hash to their names. The newest verified log of each bundle is kept in
    the cache's store (``bundles/<name>/log.jsonl``), so cached manifests are checked
    against it on every read and a remote whose log is older than it is refused."""

    def __init__(self, remote: RemoteConfig, root: Path | None = None, transport: Transport | None = None):
        self.remote = remote
        folder = (root or cache_root()) / hashlib.sha256(remote.url.encode()).hexdigest()[:16]
        self.store, _ = Store.init(folder, folder / ".promptver")
        self._transport = transport
        self._resolved_path = self.store.root / "cache" / "resolved.json"
        self._etags: dict[str, str] = {}  # of the log, once what it named was served
        self._pending: dict[str, str] = {}  # of the log as last read
        self._lock = threading.Lock()
        self.expires: dict[str, float] = {}  # bundle -> expiry of its signed timestamp

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            self._transport = open_transport(self.remote)
        return self._transport

    # -- the log: what is proven -----------------------------------------------------------

    def proven(self, name: str, found: tuple[bytes, str] | bool | None = False) -> Proven:
        """The remote's log of ``name`` (``found``: as already read, None when absent),
        its chain checked, no older than the newest this cache verified; kept as the new
        newest."""
        from promptver.store.store import check_name

        from .proof import log_key

        check_name(name)
        key = log_key(name)
        if found is False:
            found = self.transport.get(key)
        assert found is not True and found is not False
        where = f"{self.remote.url}/{key}"
        lines = lines_of(found[0]) if found is not None else []
        seen = self.seen(name)
        check_extends(name, seen, lines, where)
        if not lines:
            raise NotFoundError(f"remote {self.remote.url} has no bundle {name!r}")
        proven = Proven.of(name, lines, where)
        if found is not None:
            self._pending[name] = found[1]
        if len(lines) > len(seen):
            with self._lock:
                if len(self.seen(name)) < len(lines):
                    path = self.store.log_path(name)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    data = b"".join(line + b"\n" for line in lines)
                    atomic_write(path, data, self.store.tmp_dir, durable=False)
        return proven

    def seen(self, name: str) -> list[bytes]:
        """The newest log of ``name`` this cache verified (empty: none yet)."""
        try:
            return lines_of(self.store.log_path(name).read_bytes())
        except OSError:
            return []

    # -- resolving ------------------------------------------------------------------------

    def resolve(self, name: str, ref: str) -> tuple[str, str | None]:
        """(version, digest or None) for ``ref`` on the remote: a version, latest or an
        alias, as the remote's audit log says (one request: the log)."""
        proven = self.proven(name)
        self.freshness(proven)
        return self._from_log(proven, ref)

    def freshness(self, proven: Proven) -> float | None:
        """When signatures are checked (``PROMPTVER_ALLOWED_SIGNERS``): the expiry of the
        remote's signed timestamp of this log (promptver/remote/freshness.py), kept in
        ``expires``; None when the remote has none. One request."""
        if not os.environ.get("PROMPTVER_ALLOWED_SIGNERS"):
            return None
        from . import freshness

        self._trusted_signers()
        key = freshness.timestamp_key(proven.name)
        found = self.transport.get(key)
        seen = self.store.root / "cache" / "timestamps" / proven.name
        if found is None:
            # once a signed timestamp was seen, deleting it does not make the remote fresh:
            # the last verified expiry still holds (a frozen remote shows as stale)
            remembered = _read_expiry(seen)
            if remembered is None:
                self.expires.pop(proven.name, None)
                return None
            expires = remembered
        else:
            where = f"{self.remote.url}/{key}"
            expires = freshness.check(self.store, proven.name, found[0], proven.lines, where)
            _write_expiry(seen, expires, self.store.tmp_dir)
        self.expires[proven.name] = expires
        if expires < time.time():
            import logging

            logging.getLogger("promptver.remote").warning(
                "%s", freshness.stale_message(proven.name, expires, self.remote.url)
            )
        return expires

    def _from_log(self, proven: Proven, ref: str) -> tuple[str, str | None]:
        version = proven.version(ref)
        if version is not None:
            if ref in proven.heads:
                self.check_moves(proven, ref)
            return version, proven.digest_of(ref)
        name = proven.name
        if ref in ("", "latest"):
            raise NotFoundError(f"remote {self.remote.url} has no versions of {name!r}")
        if Version.is_valid(ref):
            raise NotFoundError(
                f"remote {self.remote.url} has no version {name}@{ref} (its audit log has no bump of it)",
                hint=f"versions there: {', '.join(sorted(proven.created)) or 'none'}",
            )
        aliases = sorted(a for a, e in proven.heads.items() if isinstance(e.get("to"), str))
        raise NotFoundError(
            f"{name} has no alias {ref!r} on {self.remote.url}",
            hint=f"aliases there: {', '.join(aliases) or 'none'}",
        )

    def check_moves(self, proven: Proven, alias: str) -> None:
        """Every move of ``alias`` in the remote's log checked against the policy in force at
        its point (promptver/governance/promotion.py), as `pull` and `verify` do: a move
        appended by a bucket writer is not followed. Signed decisions are checked against
        ``PROMPTVER_ALLOWED_SIGNERS`` (never a file from the bucket). A verdict is kept per
        last move (its line's hash commits to the history before it) and signers file."""
        from promptver.store.digests import sha256_bytes

        name = proven.name
        moves = [
            (e, line)
            for e, line in zip(proven.events, proven.lines, strict=True)
            if e.get("event") == "alias" and e.get("alias") == alias
        ]
        signers = self._trusted_signers()
        token = sha256_bytes(moves[-1][1] + b"\0" + signers)
        verdicts = self.store.root / "cache" / "moves.txt"
        try:
            if token in verdicts.read_text().split():
                return
        except OSError:
            pass
        specs = [
            self._policy_file(name, version)
            for event, _ in moves
            for version in (event.get("to"), event.get("from"))
            if isinstance(version, str) and version in proven.created
        ]
        if not any(b"aliases" in spec for spec in specs):
            return  # no version it held declares a policy: any move of it is allowed
        from promptver.errors import PolicyError
        from promptver.governance.checks import bad_moves

        bad = bad_moves(self.store, name, proven.events, alias=alias)
        if bad:
            raise PolicyError(
                f"{name}@{alias} on {self.remote.url} is not followed: {bad[-1][1]}",
                hint="a move in the remote's log went around `promptver promote` (run `promptver verify"
                " --remote`); where the policy asks for signed decisions, PROMPTVER_ALLOWED_SIGNERS must"
                " name the team's allowed-signers file",
            )
        with self._lock:
            verdicts.parent.mkdir(parents=True, exist_ok=True)
            with open(verdicts, "a") as out:
                out.write(token + "\n")

    def _trusted_signers(self) -> bytes:
        """The allowed-signers file named by ``PROMPTVER_ALLOWED_SIGNERS``, put where the
        cache's store reads it (removed when unset: nothing from the bucket is trusted)."""
        target = self.store.root / "allowed_signers"
        source = os.environ.get("PROMPTVER_ALLOWED_SIGNERS")
        data = b""
        if source:
            try:
                data = Path(source).expanduser().read_bytes()
            except OSError as exc:
                raise ConfigError(
                    f"PROMPTVER_ALLOWED_SIGNERS names {source}, which cannot be read ({exc.strerror})",
                    hint="point it at the team's allowed_signers file",
                ) from None
        try:
            current: bytes | None = target.read_bytes()
        except OSError:
            current = None
        if not data and current is not None:
            target.unlink()
        elif data and current != data:
            atomic_write(target, data, self.store.tmp_dir, durable=False)
        return data

    def _policy_file(self, name: str, version: str) -> bytes:
        """A version's manifest and its bundle.toml (where its alias policies are) in the
        cache; returns the bundle.toml (empty when it has none)."""
        from promptver.bundle.spec import SPEC_FILE
        from promptver.remote.objects import fetch_object

        path = self.store.manifest_path(name, version)
        if path.exists():
            manifest = self.store.manifest(name, version)
        else:
            manifest = self._fetch_manifest(name, version)
            try:
                self.store.write_manifest(manifest)
            except PromptverError:
                pass  # another process cached it first
        entry = manifest.file_map().get(SPEC_FILE)
        if entry is None:
            return b""
        hexdigest = entry.digest.removeprefix("sha256:")
        if not self.store.has_object(hexdigest):
            self.store.put_bytes(fetch_object(self.transport, hexdigest, size=entry.size))
        return self.store.read_object(hexdigest)

    def settle(self, name: str) -> None:
        """What the log named is now served: later checks ask only whether it changed."""
        if name in self._pending:
            self._etags[name] = self._pending[name]

    def changed(self, name: str, ref: str) -> tuple[str, str | None] | None:
        """The reference's target if the bundle's log changed since last served (one
        conditional request), else None."""
        from .proof import log_key

        found = self.transport.get_if_changed(log_key(name), self._etags.get(name))
        if found is False:
            return None
        assert found is not True
        proven = self.proven(name, found)
        if name in self.expires:
            self.freshness(proven)
        return self._from_log(proven, ref)

    # -- fetching -------------------------------------------------------------------------

    def manifest(self, name: str, version: str, digest: str | None) -> Manifest:
        """The version's manifest and every object it names, verified, in the cache: the
        manifest's bytes must hash to what its bump event in the verified log recorded."""
        from promptver.remote.objects import fetch_object

        path = self.store.manifest_path(name, version)
        manifest = None
        if path.exists():
            try:
                manifest = self.store.manifest(name, version)  # checked against the kept log
            except IntegrityError:
                _forget(path)  # cached before its event was checked (older releases): fetch again
        if manifest is None:
            manifest = self._fetch_manifest(name, version)
        if digest is not None and manifest.digest != digest:
            raise IntegrityError(
                f"{name}@{version} on {self.remote.url} has digest {manifest.digest},"
                f" the alias move recorded {digest}",
                hint="the remote's log and its manifest disagree; run `promptver verify --remote`",
            )
        for entry in manifest.files:
            hexdigest = entry.digest.removeprefix("sha256:")
            if not self.store.has_object(hexdigest):
                data = fetch_object(self.transport, hexdigest, size=entry.size)  # verified
                self.store.put_bytes(data)
        if not path.exists():
            try:
                self.store.write_manifest(manifest)
            except PromptverError:
                pass  # another process cached it first (same content: manifests are checked)
        return manifest

    def _fetch_manifest(self, name: str, version: str) -> Manifest:
        from promptver.store.digests import sha256_bytes

        from .proof import manifest_key

        key = manifest_key(name, version)
        where = f"{self.remote.url}/{key}"
        event = self.store.recorded_versions(name).get(version)
        recorded = event.get("manifest_sha256") if event else None
        if event is None:
            raise NotFoundError(f"remote {self.remote.url} has no version {name}@{version} in its audit log")
        found = self.transport.get(key)
        if found is None:
            raise NotFoundError(
                f"remote {self.remote.url} has no manifest of {name}@{version}",
                location=where,
                hint="push it again from a store that has it",
            )
        data = found[0]
        if not isinstance(recorded, str) or sha256_bytes(data) != recorded:
            raise IntegrityError(
                f"the manifest of {name}@{version} on the remote is not the one its"
                f" {event.get('event')} event ({event.get('seq')}) recorded: it was replaced",
                location=where,
                hint="push a good copy from a store that has it; run `promptver verify --remote`",
            )
        manifest = Manifest.loads(data, where)
        if manifest.bundle != name or manifest.version != version or manifest.dumps() != data:
            raise IntegrityError(f"manifest names {manifest.ref}, not {name}@{version}", location=where)
        return manifest

    def manifest_cached(self, name: str, version: str, digest: str) -> Manifest:
        manifest = self.store.manifest(name, version)  # checked against the kept log
        if manifest.digest != digest:
            raise IntegrityError(f"cached {name}@{version} does not have the digest remembered for it")
        return manifest

    # -- remembered resolutions (start from the cache when the remote is down) --------------

    def remember(self, ref: str, version: str, digest: str) -> None:
        with self._lock:
            data = self.resolutions()
            data[ref] = {"version": version, "digest": digest}
            atomic_write(self._resolved_path, json.dumps(data, indent=1).encode(), durable=False)

    def resolutions(self) -> dict[str, Any]:
        try:
            data = json.loads(self._resolved_path.read_bytes())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}


def _forget(path: Path) -> None:
    try:
        path.chmod(0o644)
        path.unlink()
    except OSError:
        pass


_CACHES: dict[tuple[str, str | None, str], RemoteCache] = {}


def remote_cache(remote: str | RemoteConfig, endpoint: str | None = None) -> RemoteCache:
    config = remote_config(remote, endpoint)
    key = (config.url, config.endpoint, str(cache_root()))
    cache = _CACHES.get(key)
    if cache is None:
        cache = _CACHES[key] = RemoteCache(config)
    return cache


def attach_lazy_fetch(store: Store) -> None:
    """Let ``store`` fetch a missing object from its default remote when it is read."""
    from .config import get_remote, remotes

    if not remotes(store):
        return

    sizes: dict[str, int] = {}

    def source(hexdigest: str) -> bytes:
        from .sync import fetch_into

        if hexdigest not in sizes:  # the size its manifests record caps what is decoded
            for name in store.bundle_names():
                for version in store.version_names(name):
                    try:
                        manifest = store.manifest(name, str(version), checked=False)
                    except PromptverError:
                        continue
                    for entry in manifest.files:
                        sizes.setdefault(entry.digest.removeprefix("sha256:"), entry.size)
        if hexdigest not in sizes:
            raise IntegrityError(
                f"object {hexdigest[:12]} is missing and no version here names it",
                hint="restore the store from git",
            )
        return fetch_into(store, open_transport(get_remote(store)), hexdigest, sizes[hexdigest])

    store.object_source = source


def _read_expiry(path: Path) -> float | None:
    try:
        return float(path.read_text())
    except (OSError, ValueError):
        return None


def _write_expiry(path: Path, expires: float, tmp_dir: Path) -> None:
    """Remember the last verified expiry of a bundle's signed timestamp (the cache's own
    note, never read from a remote)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, repr(expires).encode(), tmp_dir, durable=False)
    except OSError:
        pass  # a cache that cannot remember it still checks every timestamp it is given
