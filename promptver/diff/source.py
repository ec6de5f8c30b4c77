"""One side of a diff: a bundle tree plus its ``bundle.toml`` read as plain data.

The configuration is read with ``tomllib`` and not validated here: a diff must work on
a bundle that ``check`` would refuse (it shows what changed, and marks what is broken).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from promptver.bundle.versioning import Policy
from promptver.diff.model import Impact
from promptver.store.linewalk import Walk


class TreeLike(Protocol):
    """What the diff needs of a ``promptver.store.tree.Tree`` (docs/architecture.md)."""

    @property
    def entries(self) -> Mapping[str, Any]: ...  # path -> FileEntry (.digest, .size)

    @property
    def digest(self) -> str: ...

    def read_bytes(self, path: str) -> bytes: ...

    def open(self, path: str) -> IO[bytes]: ...

    def held(self, path: str) -> bytes | None: ...  # the bytes, when already in memory

    def read_buffer(self, path: str) -> bytes | bytearray: ...  # read_bytes, without a copy

    def walk_of(self, path: str, old_digest: str) -> Walk | None: ...  # a bump's walk, if any


CONFIG = "bundle.toml"


@dataclass
class Snapshot:
    tree: TreeLike
    config: dict[str, Any] = field(default_factory=dict)
    config_error: str | None = None
    _cache: dict[str, bytes] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, tree: TreeLike) -> Snapshot:
        snap = cls(tree)
        if not tree.entries:
            return snap  # the empty bundle (no versions yet): nothing, not a broken config
        if CONFIG not in tree.entries:
            snap.config_error = f"{CONFIG}: missing"
            return snap
        try:
            snap.config = _plain(tomllib.loads(tree.read_bytes(CONFIG).decode("utf-8")))
        except UnicodeDecodeError:
            snap.config_error = f"{CONFIG}: not UTF-8 text"
        except RecursionError:
            snap.config_error = f"{CONFIG}: not valid TOML (nested too deeply)"
        except tomllib.TOMLDecodeError as exc:
            snap.config_error = f"{CONFIG}: {exc}"
        return snap

    def has(self, path: str | None) -> bool:
        return path is not None and path in self.tree.entries

    def digest_of(self, path: str | None) -> str | None:
        if path is None or path not in self.tree.entries:
            return None
        return str(self.tree.entries[path].digest)

    def size_of(self, path: str | None) -> int | None:
        if path is None or path not in self.tree.entries:
            return None
        return int(self.tree.entries[path].size)

    def read(self, path: str | None) -> bytes | None:
        if path is None or path not in self.tree.entries:
            return None
        if path not in self._cache:
            self._cache[path] = self.tree.read_bytes(path)
        return self._cache[path]

    def text(self, path: str | None) -> str | None:
        from promptver.diff.text import decode

        return decode(self.read(path))

    def table(self, *keys: str) -> dict[str, Any]:
        """A nested table of the config, ``{}`` when absent or not a table."""
        node: Any = self.config
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        return node if isinstance(node, dict) else {}

    def paths_under(self, folder: str) -> Iterator[str]:
        prefix = folder.strip("/") + "/"
        return (p for p in self.tree.entries if p.startswith(prefix))


def _plain(value: Any) -> Any:
    """TOML values as JSON values: dates and times become ISO 8601 strings."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def clean_path(value: Any) -> str | None:
    """A bundle-relative path from the config (``./a/b`` -> ``a/b``), None if not a string."""
    if not isinstance(value, str) or not value.strip():
        return None
    path = value.strip().replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.rstrip("/")


@dataclass
class Context:
    """Shared by the component differs: policy, the lazily built tokenizer, claimed files."""

    policy: Policy
    tokenizer: Callable[[], Any] | None  # None: no token counts
    claimed: set[str] = field(default_factory=set)
    progress: Callable[[int, int], None] | None = None  # (bytes done, total) of big files
    chunks: bool = True  # count the chunks of a changed RAG corpus (reads its documents)

    def impact(self, rule: str, field_name: str | None = None) -> Impact:
        return self.policy.impact(rule, field_name)
