"""Remote settings in ``.promptver/config.toml`` (committed; credentials never are).

[store]
objects = "remote"        # keep objects/ out of git: contents come from the remote

[remote.origin]
url = "s3://bucket/prefix"
endpoint = "https://..."  # S3-compatible servers (R2, MinIO, SeaweedFS)
region = "auto"
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from promptver.errors import ConfigError, NotFoundError, did_you_mean
from promptver.store.atomic import atomic_write
from promptver.store.store import Store

SCHEMES = ("s3", "gs", "az", "file")
REMOTE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")
URL_HINT = "use s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, az://CONTAINER/PREFIX or file:///PATH"


SETTINGS = ("max_age",)  # keys of [remote] that are settings of every remote


@dataclass(frozen=True)
class RemoteConfig:
    name: str
    url: str
    endpoint: str | None = None
    region: str | None = None
    timeout: float | None = None  # seconds for one request (default: transport's)

    @property
    def scheme(self) -> str:
        return self.url.split("://", 1)[0]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "endpoint": self.endpoint, "region": self.region}


def check_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in SCHEMES:
        raise ConfigError(f"{url!r} is not a remote URL promptver knows", hint=URL_HINT)
    if scheme == "file":
        if not rest.startswith("/"):
            raise ConfigError(f"{url!r}: a file remote needs an absolute path", hint="use file:///PATH")
    elif not rest.split("/", 1)[0]:
        raise ConfigError(f"{url!r} names no bucket", hint=URL_HINT)
    return url.rstrip("/") if scheme != "file" or rest != "/" else url


def remotes(store: Store) -> dict[str, RemoteConfig]:
    """The configured remotes, by name."""
    table = store.config.get("remote", {})
    found = {}
    if not isinstance(table, dict):
        raise ConfigError("[remote] must be a table of remotes", location=str(store.root / "config.toml"))
    for name, entry in table.items():
        if name in SETTINGS:  # [remote] max_age = "7d": a setting, not a remote
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise ConfigError(
                f"remote {name!r} has no url",
                location=str(store.root / "config.toml"),
                hint=f"set url under [remote.{name}] or run `promptver remote add {name} URL`",
            )
        timeout = entry.get("timeout")
        found[name] = RemoteConfig(
            name,
            check_url(entry["url"]),
            entry.get("endpoint"),
            entry.get("region"),
            float(timeout) if isinstance(timeout, int | float) else None,
        )
    return found


def get_remote(store: Store, name: str | None = None) -> RemoteConfig:
    """The named remote; without a name, ``origin`` or the only one configured."""
    known = remotes(store)
    if name is None:
        if "origin" in known:
            return known["origin"]
        if len(known) == 1:
            return next(iter(known.values()))
        if not known:
            raise NotFoundError(
                "no remote is configured",
                hint="add one with `promptver remote add origin s3://BUCKET/PREFIX`",
            )
        raise ConfigError(
            f"several remotes are configured ({', '.join(sorted(known))})", hint="name one with --remote NAME"
        )
    if name not in known:
        raise NotFoundError(
            f"no remote named {name!r}",
            hint=did_you_mean(name, list(known))
            or f"configured remotes: {', '.join(sorted(known)) or 'none'}",
        )
    return known[name]


def add_remote(
    store: Store, name: str, url: str, endpoint: str | None = None, region: str | None = None
) -> RemoteConfig:
    if not REMOTE_NAME_RE.match(name):
        raise ConfigError(f"{name!r} is not a valid remote name", hint="use letters, digits, '.', '_', '-'")
    url = check_url(url)
    if name in remotes(store):
        raise ConfigError(
            f"a remote named {name!r} already exists",
            hint=f"remove it first: `promptver remote remove {name}`",
        )
    import tomlkit

    doc = _read_doc(store)
    table = doc.setdefault("remote", tomlkit.table(is_super_table=True))
    entry = tomlkit.table()
    entry["url"] = url
    if endpoint:
        entry["endpoint"] = endpoint
    if region:
        entry["region"] = region
    table[name] = entry
    _write_doc(store, doc)
    return RemoteConfig(name, url, endpoint, region)


def remove_remote(store: Store, name: str) -> RemoteConfig:
    found = get_remote(store, name)
    doc = _read_doc(store)
    del doc["remote"][name]
    if not doc["remote"]:
        del doc["remote"]
    _write_doc(store, doc)
    return found


def objects_mode(store: Store) -> str:
    """``local`` (objects/ committed with the store) or ``remote`` (fetched on demand)."""
    table = store.config.get("store", {})
    mode = table.get("objects", "local") if isinstance(table, dict) else "local"
    if mode not in ("local", "remote"):
        raise ConfigError(
            f"[store] objects = {mode!r} is not 'local' or 'remote'", location=str(store.root / "config.toml")
        )
    return str(mode)


def set_objects_mode(store: Store, mode: str) -> None:
    """Switch ``[store] objects``; ``remote`` also keeps ``objects/`` and ``packs/`` out of git."""
    if mode not in ("local", "remote"):
        raise ConfigError(f"{mode!r} is not 'local' or 'remote'")
    import tomlkit

    doc = _read_doc(store)
    table = doc.setdefault("store", tomlkit.table())
    table["objects"] = mode
    _write_doc(store, doc)
    ignore = store.root / ".gitignore"
    lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.exists() else []
    wanted = [line for line in lines if line.strip() not in ("objects/", "packs/")]
    if mode == "remote":
        wanted += ["objects/", "packs/"]  # packs/: the bytes of large local objects
    if wanted != lines:
        atomic_write(ignore, ("\n".join(wanted) + "\n").encode(), tmp_dir=store.tmp_dir)


def _read_doc(store: Store) -> Any:
    import tomlkit

    return tomlkit.parse((store.root / "config.toml").read_text(encoding="utf-8"))


def _write_doc(store: Store, doc: Any) -> None:
    import tomlkit

    atomic_write(store.root / "config.toml", tomlkit.dumps(doc).encode(), tmp_dir=store.tmp_dir)
    store.config = store._read_config()
