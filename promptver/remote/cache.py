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
from pathlib import Path
from typing import Any

from promptver.errors import IntegrityError, NotFoundError, PromptverError
from promptver.semver import Version
from promptver.store.atomic import atomic_write
from promptver.store.manifest import Manifest
from promptver.store.store import Store

from .config import RemoteConfig, check_url
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
    """The verified cache of one remote: resolve a reference, fetch, verify, keep."""

    def __init__(self, remote: RemoteConfig, root: Path | None = None, transport: Transport | None = None):
        self.remote = remote
        folder = (root or cache_root()) / hashlib.sha256(remote.url.encode()).hexdigest()[:16]
        self.store, _ = Store.init(folder, folder / ".promptver")
        self._transport = transport
        self._resolved_path = self.store.root / "cache" / "resolved.json"
        self._etags: dict[str, str] = {}  # of aliases.json, once what it named was served
        self._pending: dict[str, str] = {}  # of aliases.json as last read
        self._lock = threading.Lock()

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            self._transport = open_transport(self.remote)
        return self._transport

    # -- resolving ------------------------------------------------------------------------

    def resolve(self, name: str, ref: str) -> tuple[str, str | None]:
        """(version, digest or None) for ``ref`` on the remote: a version, latest or an alias."""
        from promptver.store.store import check_name

        check_name(name)
        if Version.is_valid(ref):
            return ref, None
        if ref in ("", "latest"):
            keys = self.transport.list(f"bundles/{name}/versions")
            versions = [k.rsplit("/", 1)[1][:-5] for k in keys if k.endswith(".json")]
            valid = sorted(Version.parse(v) for v in versions if Version.is_valid(v))
            if not valid:
                raise NotFoundError(f"remote {self.remote.url} has no versions of {name!r}")
            return str(valid[-1]), None
        pointers = self._pointers(name, self.transport.get(f"bundles/{name}/aliases.json"))
        return self._from_pointers(name, ref, pointers)

    def _pointers(self, name: str, found: tuple[bytes, str] | None) -> dict[str, Any]:
        if found is None:
            return {}
        self._pending[name] = found[1]
        try:
            data = json.loads(found[0])
        except ValueError:
            raise IntegrityError(f"aliases of {name} on {self.remote.url} are not valid JSON") from None
        return data if isinstance(data, dict) else {}

    def _from_pointers(self, name: str, alias: str, pointers: dict[str, Any]) -> tuple[str, str | None]:
        entry = pointers.get(alias)
        if not isinstance(entry, dict) or not isinstance(entry.get("version"), str):
            raise NotFoundError(
                f"{name} has no alias {alias!r} on {self.remote.url}",
                hint=f"aliases there: {', '.join(sorted(pointers)) or 'none'}",
            )
        digest = entry.get("digest")
        return entry["version"], digest if isinstance(digest, str) else None

    def settle(self, name: str) -> None:
        """What aliases.json named is now served: later checks ask only whether it changed."""
        if name in self._pending:
            self._etags[name] = self._pending[name]

    def changed(self, name: str, alias: str) -> tuple[str, str | None] | None:
        """The alias's target if its pointer file changed since last read (one conditional
        request), else None."""
        found = self.transport.get_if_changed(f"bundles/{name}/aliases.json", self._etags.get(name))
        if found is False:
            return None
        assert found is not True
        return self._from_pointers(name, alias, self._pointers(name, found))

    # -- fetching -------------------------------------------------------------------------

    def manifest(self, name: str, version: str, digest: str | None) -> Manifest:
        """The version's manifest and every object it names, verified, in the cache."""
        from promptver.remote.objects import fetch_object

        path = self.store.manifest_path(name, version)
        if path.exists():
            # the cache has no audit log: its manifests are checked against the remote's
            # alias digest (below) and their objects re-hashed on every read
            manifest = self.store.manifest(name, version, checked=False)
        else:
            key = f"bundles/{name}/versions/{version}.json"
            found = self.transport.get(key)
            if found is None:
                raise NotFoundError(f"remote {self.remote.url} has no version {name}@{version}")
            manifest = Manifest.loads(found[0], f"{self.remote.url}/{key}")  # checks digest vs files
            if manifest.bundle != name or manifest.version != version:
                raise IntegrityError(f"manifest names {manifest.ref}, not {name}@{version}", location=key)
        if digest is not None and manifest.digest != digest:
            raise IntegrityError(
                f"{name}@{version} on {self.remote.url} has digest {manifest.digest},"
                f" the alias says {digest}",
                hint="the remote's alias pointer and manifest disagree; run `promptver verify --remote`",
            )
        for entry in manifest.files:
            hexdigest = entry.digest.removeprefix("sha256:")
            if not self.store.has_object(hexdigest):
                data = fetch_object(self.transport, hexdigest)  # verified
                self.store.put_bytes(data)
        if not path.exists():
            try:
                self.store.write_manifest(manifest)
            except PromptverError:
                pass  # another process cached it first (same content: manifests are checked)
        return manifest

    def manifest_cached(self, name: str, version: str, digest: str) -> Manifest:
        manifest = self.store.manifest(name, version, checked=False)  # no log in the cache
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

    def source(hexdigest: str) -> bytes:
        from .sync import fetch_into

        return fetch_into(store, open_transport(get_remote(store)), hexdigest)

    store.object_source = source
