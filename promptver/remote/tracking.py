"""Where a bundle's local history stands against a remote's: ahead, behind, both, or even.

The two audit logs share a prefix of identical events; what follows it here is unpushed
(ahead), what follows it there is unpulled (behind). One small read of the remote's log per
bundle; nothing is written. Versions and alias moves are named so that ``status`` can say
what a push or a pull would bring.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from promptver.store.store import Store

from .sync import Remote, _lines, log_key


@dataclass
class Tracking:
    """One bundle against one remote; ``ahead``/``behind`` count events."""

    bundle: str
    remote: str
    on_remote: bool = True
    ahead: int = 0
    behind: int = 0
    ahead_versions: list[str] = field(default_factory=list)
    behind_versions: list[str] = field(default_factory=list)
    ahead_aliases: list[str] = field(default_factory=list)
    behind_aliases: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """``up to date with origin``, ``ahead of origin by 1 event (0.2.0): push``,
        ``behind origin by 2 events (0.3.0, production moved): pull``, or both."""
        if not self.on_remote:
            return f"not on {self.remote} yet: push to publish it" if self.ahead else f"not on {self.remote}"
        ahead = _events(self.ahead) + _what(self.ahead_versions, self.ahead_aliases)
        behind = _events(self.behind) + _what(self.behind_versions, self.behind_aliases)
        if self.ahead and self.behind:
            return f"ahead of {self.remote} by {ahead} and behind by {behind}: pull, then push"
        if self.ahead:
            return f"ahead of {self.remote} by {ahead}: push"
        if self.behind:
            return f"behind {self.remote} by {behind}: pull"
        return f"up to date with {self.remote}"

    def to_json(self) -> dict[str, Any]:
        return {
            "remote": self.remote,
            "on_remote": self.on_remote,
            "ahead": self.ahead,
            "behind": self.behind,
            "ahead_versions": self.ahead_versions,
            "behind_versions": self.behind_versions,
            "ahead_aliases": self.ahead_aliases,
            "behind_aliases": self.behind_aliases,
        }


def _events(count: int) -> str:
    return f"{count} event{'s' if count != 1 else ''}"


def _what(versions: list[str], aliases: list[str]) -> str:
    named = versions + [f"{a} moved" for a in aliases]
    return f" ({', '.join(named)})" if named else ""


def track(store: Store, remote: Remote, name: str) -> Tracking:
    """Compare ``name``'s local log with the remote's (read, not changed)."""
    path = store.log_path(name)
    local = _lines(path.read_bytes()) if path.exists() else []
    found = remote.transport.get(log_key(name))
    theirs = _lines(found[0]) if found else []
    common = 0
    while common < min(len(local), len(theirs)) and local[common] == theirs[common]:
        common += 1
    result = Tracking(name, remote.config.name, on_remote=found is not None)
    result.ahead = len(local) - common
    result.behind = len(theirs) - common
    result.ahead_versions, result.ahead_aliases = _named(local[common:])
    result.behind_versions, result.behind_aliases = _named(theirs[common:])
    return result


def _named(lines: list[bytes]) -> tuple[list[str], list[str]]:
    """Versions bumped and aliases moved by these events (text from a bucket: checked)."""
    versions: list[str] = []
    aliases: list[str] = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue  # pull reports a damaged log with its line; status only counts
        if not isinstance(event, dict):
            continue
        kind, version, alias = event.get("event"), event.get("version"), event.get("alias")
        if kind == "bump" and isinstance(version, str) and _printable(version):
            versions.append(version)
        elif kind == "alias" and isinstance(alias, str) and _printable(alias) and alias not in aliases:
            aliases.append(alias)
    return versions, aliases


def _printable(text: str) -> bool:
    return len(text) <= 100 and text.isprintable()


@dataclass
class RemoteStanding:
    """Every bundle asked about against one remote, or why they could not be compared."""

    remote: str | None
    bundles: dict[str, Tracking] = field(default_factory=dict)
    error: str | None = None


def track_all(store: Store, names: list[str], remote_name: str | None = None) -> RemoteStanding | None:
    """The bundles against the named remote (default: origin, or the only one); None when no
    remote is configured. A remote that fails (unreachable, refused) is reported in
    ``error``, not raised: status still describes the working copies."""
    from promptver.errors import PromptverError

    from .config import get_remote, remotes
    from .sync import open_remote

    if remote_name is None and not remotes(store):
        return None
    config = get_remote(store, remote_name)
    standing = RemoteStanding(config.name)
    try:
        remote = open_remote(store, config.name)
        for name in names:
            standing.bundles[name] = track(store, remote, name)
    except PromptverError as exc:
        standing.error = str(exc)
    return standing
