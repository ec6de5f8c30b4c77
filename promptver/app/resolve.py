"""Resolving pins into ``promptver.lock``, and finding newer versions (the CLI side).

``promptver lock`` changes as little as it can, the way npm does: a locked version that
still satisfies its pin stays locked (so a new release in range does not silently move an
application); new or changed pins resolve to the highest matching version; ``--upgrade``
re-resolves. ``lock --check`` fails when the lock is not what ``promptver lock`` would
write (a pin added, removed or changed, a locked version gone from the store).

A pin to an alias (``support-bot = "production"``) is re-resolved by every ``lock``: the
lock follows the alias, and ``lock --check`` fails once the alias has moved since the lock
was written, so CI notices that production changed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptver.app.lockfile import (
    Lock,
    LockEntry,
    app_store,
    format_lock,
    lock_digest_mismatch,
    parse_lock,
    read_lock,
    write_lock,
)
from promptver.app.pins import AppConfig, Pin, PinChange
from promptver.errors import ConfigError, NotFoundError
from promptver.semver import Version
from promptver.versions.ranges import max_satisfying

if TYPE_CHECKING:
    from promptver.store.store import Store


@dataclass(frozen=True)
class LockChange:
    """One line of what ``promptver lock`` did (or, with ``--check``, would do)."""

    name: str
    old: LockEntry | None
    new: LockEntry | None

    @property
    def kind(self) -> str:
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        if self.old.version != self.new.version:
            return (
                "upgraded"
                if Version.parse(self.new.version) > Version.parse(self.old.version)
                else "downgraded"
            )
        if self.old.digest != self.new.digest:
            return "digest"
        return "spec"

    def __str__(self) -> str:
        old, new = self.old, self.new
        if old is None and new is not None:
            return f"{self.name}: added {new.version} ({_origin(new)})"
        if new is None and old is not None:
            return f"{self.name}: removed (was {old.version}; no longer pinned)"
        assert old is not None and new is not None
        if old.version != new.version:
            return f"{self.name}: {old.version} -> {new.version} ({_origin(new)})"
        if old.digest != new.digest:
            return f"{self.name}: {new.version} digest {old.digest[:15]}... -> {new.digest[:15]}..."
        return f"{self.name}: spec {old.spec!r} -> {new.spec!r} (stays {new.version})"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "change": self.kind,
            "old": self.old.to_json() if self.old else None,
            "new": self.new.to_json() if self.new else None,
        }


def _origin(entry: LockEntry) -> str:
    return f"from alias {entry.alias}" if entry.alias else entry.spec


@dataclass(frozen=True)
class LockPlan:
    """The lock ``promptver lock`` would write, and how it differs from the current one."""

    config: AppConfig
    entries: dict[str, LockEntry]
    changes: list[LockChange]
    text: str
    current_text: str | None

    @property
    def stale(self) -> bool:
        return self.text != self.current_text


# ---- resolving --------------------------------------------------------------------------------


def resolve_pin(store: Store, pin: Pin) -> LockEntry:
    """The highest stored version inside the pin's range, or the version its alias points
    at now, with its digest."""
    versions = store.version_names(pin.name)
    if not versions:
        store.resolve(pin.name, "latest")  # unknown bundle / no versions, with a hint
    if pin.alias is not None:
        manifest = store.manifest(pin.name, alias_version(store, pin))
        return LockEntry(pin.name, pin.spec, manifest.version, manifest.digest, pin.alias)
    assert pin.range is not None
    best = max_satisfying(versions, pin.range)
    if best is None:
        shown = ", ".join(str(v) for v in versions[-12:])
        more = f" (and {len(versions) - 12} older)" if len(versions) > 12 else ""
        raise NotFoundError(
            f"no version of {pin.name} matches {pin.spec!r}; it has {shown}{more}",
            location=pin.location,
            hint=f"change the pin, e.g. promptver pin {pin.name}@^{_newest_release(versions)}",
        )
    manifest = store.manifest(pin.name, str(best))
    return LockEntry(pin.name, pin.spec, manifest.version, manifest.digest)


def alias_version(store: Store, pin: Pin) -> str:
    """The version ``pin``'s alias points at now; NotFoundError naming the known aliases."""
    from promptver.errors import did_you_mean
    from promptver.governance.aliases import pointers

    assert pin.alias is not None
    targets = pointers(store, pin.name)
    target = targets.get(pin.alias)
    if target is not None:
        return str(target["version"])
    known = sorted(targets)
    has = f"its aliases are {', '.join(known)}" if known else "it has no aliases"
    hint = did_you_mean(pin.alias, known)
    raise NotFoundError(
        f"{pin.name} has no alias {pin.alias!r} ({has})",
        location=pin.location,
        hint=hint
        or f"set it with `promptver alias set {pin.name} {pin.alias} VERSION`, or pin a version range",
    )


def plan_lock(
    config: AppConfig,
    store: Store,
    upgrade: bool | Iterable[str] = False,
) -> LockPlan:
    """What the lock should hold. ``upgrade``: True for every pin, or names to re-resolve."""
    current_text: str | None
    try:
        current_text = config.lock_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        current_text = None
    current = parse_lock(current_text, config.lock_path) if current_text is not None else None
    old = current.entries if current else {}
    if upgrade is True or upgrade is False:
        upgrade_names = set(config.pins) if upgrade else set()
    else:
        upgrade_names = set(upgrade)
        for name in upgrade_names:
            config.pin(name)  # NotFoundError with did-you-mean
    entries: dict[str, LockEntry] = {}
    for name in sorted(config.pins):
        pin = config.pins[name]
        kept = old.get(name)
        if pin.alias is not None:
            new = entries[name] = resolve_pin(store, pin)  # always: the lock follows the alias
            if kept is not None and kept.version == new.version and kept.digest != new.digest:
                raise lock_digest_mismatch(kept, new.digest, store)
        elif kept is not None and name not in upgrade_names and _still_good(store, pin, kept):
            entries[name] = LockEntry(name, pin.spec, kept.version, kept.digest)
        else:
            entries[name] = resolve_pin(store, pin)
    changes = [
        LockChange(name, old.get(name), entries.get(name))
        for name in sorted(set(old) | set(entries))
        if old.get(name) != entries.get(name)
    ]
    text = format_lock(entries.values(), config.path.name)
    return LockPlan(config, entries, changes, text, current_text)


def _still_good(store: Store, pin: Pin, entry: LockEntry) -> bool:
    """Whether a locked version can stay: in range and in the store with the same digest."""
    version = Version.parse(entry.version)
    if pin.range is None or not pin.range.satisfies(version):
        return False
    if version not in store.version_names(pin.name):
        return False
    _check_digest(store, entry)
    return True


def _check_digest(store: Store, entry: LockEntry) -> None:
    """Versions are immutable: a locked digest that differs from the store's is an
    integrity error, never a silent relock."""
    manifest = store.manifest(entry.name, entry.version)
    if manifest.digest != entry.digest:
        raise lock_digest_mismatch(entry, manifest.digest, store)


def _newest_release(versions: list[Version]) -> Version:
    """The highest release, or the highest prerelease when there is no release yet."""
    releases = [v for v in versions if not v.prerelease]
    return (releases or versions)[-1]


def apply_plan(plan: LockPlan) -> bool:
    """Write the planned lock; returns whether the file changed."""
    if not plan.stale:
        return False
    write_lock(plan.config.lock_path, plan.text)
    return True


# ---- outdated ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outdated:
    """One pin in ``promptver outdated``. For a pin to an alias, ``wanted`` is the version
    the alias points at now (None: the alias is gone) and the pin is outdated when the lock
    holds anything else, older or newer (an alias can be rolled back): ``promptver lock``
    takes it. A newer ``latest`` is shown but is not an update for such a pin: the app
    follows the alias, and moving the alias is the way to ship it."""

    name: str
    spec: str
    locked: str | None
    wanted: str | None  # the highest version inside the range, or the alias's target
    latest: str | None  # the highest release (or prerelease, if there are only those)
    alias: str | None = None

    @property
    def update_in_range(self) -> bool:
        if self.alias is not None:
            return self.alias_moved
        return self.wanted is not None and (
            self.locked is None or Version.parse(self.wanted) > Version.parse(self.locked)
        )

    @property
    def alias_moved(self) -> bool:
        """The alias points somewhere other than the locked version (or nowhere)."""
        return self.alias is not None and self.wanted != self.locked

    @property
    def update_outside_range(self) -> bool:
        if self.latest is None or self.alias is not None:
            return False
        current = self.wanted or self.locked
        return current is None or Version.parse(self.latest) > Version.parse(current)

    @property
    def is_outdated(self) -> bool:
        return self.update_in_range or self.update_outside_range

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "spec": self.spec,
            "alias": self.alias,
            "locked": self.locked,
            "wanted": self.wanted,
            "latest": self.latest,
            "update_in_range": self.update_in_range,
            "update_outside_range": self.update_outside_range,
            "alias_moved": self.alias_moved,
        }


def outdated(config: AppConfig, store: Store) -> list[Outdated]:
    """For every pin: the locked version, the newest in range (or the alias's target),
    the newest overall."""
    from promptver.governance.aliases import pointers

    try:
        lock: Lock | None = read_lock(config.lock_path)
    except ConfigError:
        if config.lock_path.exists():
            raise
        lock = None
    rows = []
    for name in sorted(config.pins):
        pin = config.pins[name]
        versions = store.version_names(name)
        if not versions:
            store.resolve(name, "latest")  # unknown bundle or no versions: a clear error
        wanted: Version | str | None
        if pin.alias is not None:
            target = pointers(store, name).get(pin.alias)
            wanted = str(target["version"]) if target else None
        else:
            assert pin.range is not None
            wanted = max_satisfying(versions, pin.range)
        entry = lock.entries.get(name) if lock else None
        rows.append(
            Outdated(
                name,
                pin.spec,
                entry.version if entry else None,
                str(wanted) if wanted else None,
                str(_newest_release(versions)) if versions else None,
                pin.alias,
            )
        )
    return rows


# ---- pin with a check against the store ---------------------------------------------------


def pin_bundle(
    path: Path, name: str, spec: str | None = None, store_override: str | os.PathLike[str] | None = None
) -> tuple[PinChange, LockEntry]:
    """Pin ``name`` in the config file ``path`` after checking the store has a match.

    ``spec`` (a range or an alias) defaults to ``^`` the newest release. An unknown bundle,
    a range that matches no stored version or an alias the bundle does not have is refused
    before the file is touched.
    """
    from promptver.app.pins import AppConfig, check_name, parse_config, parse_spec, set_pin

    check_name(name)
    if spec is not None:
        parse_spec(spec)  # a syntax error first, before looking for a store
    if path.exists():
        probe = parse_config(path.read_text(encoding="utf-8"), path)
    else:
        probe = AppConfig(path.resolve())
    store = app_store(probe, store_override)
    if spec is None:
        versions = store.version_names(name)
        if not versions:
            store.resolve(name, "latest")  # unknown bundle or no versions yet
        spec = f"^{_newest_release(versions)}"
    range, alias = parse_spec(spec)
    entry = resolve_pin(store, Pin(name, spec, range, str(path), alias))
    # A store given on the command line is recorded, so a plain `lock` or `load` finds it.
    record = _relative_store(path, store.root) if store_override and probe.store is None else None
    return set_pin(path, name, spec, store=record), entry


def _relative_store(config: Path, store_root: Path) -> str:
    """The store's path as the config records it: relative to the config's folder (so
    the repository can move), with forward slashes."""
    folder = config.resolve().parent
    try:
        return Path(os.path.relpath(store_root, folder)).as_posix()
    except ValueError:  # another drive (Windows): only an absolute path works
        return store_root.as_posix()
