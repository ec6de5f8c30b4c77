"""Anchoring the audit trail in git: the history may only grow.

A hash chain proves that no event *inside* the log was changed, but not that the last
events are still there (truncate the file and the rest still chains) nor that the last
line is the one first written. What git has already recorded anchors it: against a commit
(``HEAD``, or the main branch in CI), every committed ``log.jsonl`` must be a byte prefix
of the current one and every committed manifest must be unchanged. Those checks are run
by ``promptver verify`` (``--against REF``) and before a promotion decides.

What is not anchored: events appended since the last commit can still be edited or
dropped by someone with write access before they are committed (signatures prove who made
a decision, not that it was kept; review the diff of ``log.jsonl`` in pull requests).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from promptver.errors import ConfigError
from promptver.store.store import Store


@dataclass
class AnchorReport:
    ref: str | None  # None: not anchored (no git repository, or no commit)
    commit: str | None = None
    logs: int = 0
    manifests: int = 0
    problems: list[str] = field(default_factory=list)
    note: str | None = None


def _git(cwd: Path, *args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes] | None:
    try:
        return subprocess.run(
            ["git", *args], cwd=cwd, input=data, capture_output=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None


def _repo_prefix(store: Store) -> tuple[Path, str] | None:
    """The git work tree holding the store and the store's path inside it, or None."""
    found = _git(store.root, "rev-parse", "--show-toplevel")
    if found is None or found.returncode != 0:
        return None
    top = Path(found.stdout.decode().strip()).resolve()
    try:
        rel = store.root.resolve().relative_to(top)
    except ValueError:
        return None
    return top, rel.as_posix()


def anchor(store: Store, ref: str | None = None, bundles: list[str] | None = None) -> AnchorReport:
    """Check that the store only grew since ``ref`` (default ``HEAD``). With ``ref`` given
    explicitly, a missing repository or an unknown ref is an error; with the default, it
    only leaves the history unanchored (``note`` says why)."""
    explicit = ref is not None
    wanted = ref or "HEAD"
    located = _repo_prefix(store)
    if located is None:
        if explicit:
            raise ConfigError(
                f"--against {wanted}: the store {store.root} is not inside a git repository",
                hint="commit the store to git, or drop --against",
            )
        return AnchorReport(None, note="not anchored: the store is not in a git repository")
    top, prefix = located
    resolved = _git(top, "rev-parse", "--verify", "-q", f"{wanted}^{{commit}}")
    if resolved is None or resolved.returncode != 0:
        if explicit:
            raise ConfigError(
                f"--against {wanted}: no such commit in {top}",
                hint="fetch it first (`git fetch origin main`) or name another ref",
            )
        return AnchorReport(None, note="not anchored: the repository has no commit yet")
    commit = resolved.stdout.decode().strip()
    report = AnchorReport(wanted, commit)
    listed = _git(top, "ls-tree", "-r", "-z", "--name-only", commit, "--", f"{prefix}/bundles/")
    if listed is None or listed.returncode != 0:
        return report
    base = f"{prefix}/bundles/" if prefix != "." else "bundles/"
    paths = [p for p in listed.stdout.decode("utf-8", "replace").split("\0") if p]
    committed = _read_blobs(top, commit, paths)
    for path, data in committed.items():
        parts = path[len(base) :].split("/")
        if bundles is not None and parts[0] not in bundles:
            continue
        current = store.root / "bundles" / Path(*parts)
        if len(parts) == 2 and parts[1] == "log.jsonl":
            report.logs += 1
            problem = _log_problem(current, data, wanted)
        elif len(parts) == 3 and parts[1] == "versions" and parts[2].endswith(".json"):
            report.manifests += 1
            problem = _manifest_problem(current, data, parts[0], parts[2][:-5], wanted)
        else:
            continue
        if problem:
            report.problems.append(problem)
    return report


def _read_blobs(top: Path, commit: str, paths: list[str]) -> dict[str, bytes]:
    """The committed content of the logs and manifests among ``paths`` (one git process)."""
    wanted = [p for p in paths if p.endswith("/log.jsonl") or ("/versions/" in p and p.endswith(".json"))]
    if not wanted:
        return {}
    request = b"".join(f"{commit}:{p}\n".encode() for p in wanted)
    result = _git(top, "cat-file", "--batch", data=request)
    if result is None or result.returncode != 0:
        return {}
    out, found, at = result.stdout, {}, 0
    for path in wanted:
        end = out.index(b"\n", at)
        header = out[at:end].split()
        at = end + 1
        if len(header) < 3 or header[1] != b"blob":
            continue
        size = int(header[2])
        found[path] = out[at : at + size]
        at += size + 1
    return found


def _log_problem(path: Path, committed: bytes, ref: str) -> str | None:
    try:
        current = path.read_bytes()
    except FileNotFoundError:
        count = committed.count(b"\n")
        return f"{path}: audit log removed ({count} event(s) committed in {ref})"
    if current.startswith(committed):
        return None
    old, new = committed.splitlines(), current.splitlines()
    if _relinked(old, new):
        return None
    for number, (a, b) in enumerate(zip(old, new, strict=False), start=1):
        if a != b:
            return (
                f"{path}:{number}: audit event {number} was edited after it was committed"
                f" (differs from {ref}); the history may only grow"
            )
    return (
        f"{path}: audit log truncated: {len(old)} event(s) committed in {ref},"
        f" {len(new)} now (the last {len(old) - len(new)} removed)"
    )


def _relinked(old: list[bytes], new: list[bytes]) -> bool:
    """Whether ``new`` is ``old`` after a pull: a common prefix, then teammates' events, and
    every committed event after the prefix still there, in order, content unchanged (by
    `event_id`: only ``seq`` and ``prev`` were re-linked). Nothing committed was removed or
    edited; events were only inserted before the ones not pushed yet."""
    from promptver.store.events import event_id

    common = 0
    while common < min(len(old), len(new)) and old[common] == new[common]:
        common += 1

    def ids(lines: list[bytes]) -> list[str] | None:
        try:
            events = [json.loads(line) for line in lines]
        except ValueError:
            return None
        return [event_id(e) if isinstance(e, dict) else "" for e in events]

    wanted, have = ids(old[common:]), ids(new[common:])
    if wanted is None or have is None:
        return False
    found = iter(have)
    return all(any(w == h for h in found) for w in wanted)


def _manifest_problem(path: Path, committed: bytes, name: str, version: str, ref: str) -> str | None:
    try:
        current = path.read_bytes()
    except FileNotFoundError:
        return f"{name}@{version}: manifest removed (committed in {ref})"
    if current != committed:
        return f"{name}@{version}: manifest edited after it was committed (differs from {ref})"
    return None
