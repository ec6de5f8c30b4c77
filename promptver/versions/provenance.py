"""What a version records about where it came from: author, git state, tool versions."""

from __future__ import annotations

import getpass
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from promptver.about import __version__
from promptver.errors import ConfigError

ENV_USER = "PROMPTVER_USER"
KEY_LIBRARIES = ("jinja2", "tomlkit", "deepdiff", "textual", "tiktoken", "click", "aiohttp")


def _git(folder: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def identity(folder: Path | None = None) -> str:
    """Who is acting: ``PROMPTVER_USER``, else git's user.name <user.email>, else the login."""
    if user := os.environ.get(ENV_USER, "").strip():
        return user
    where = folder or Path.cwd()
    name = _git(where, "config", "user.name")
    if name:
        email = _git(where, "config", "user.email")
        return f"{name} <{email}>" if email else name
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def editor(folder: Path) -> str:
    """Who the files of a working copy come from: with uncommitted changes in ``folder`` (or
    outside git) whoever edits here (``identity``); when git has it clean, the author of the
    last commit that touched it, as git recorded them."""
    status = _git(folder, "status", "--porcelain", "--", ".")
    if status == "":  # inside git, nothing uncommitted
        author = _git(folder, "log", "-1", "--format=%an <%ae>", "--", ".")
        if author:
            return author
    return identity(folder)


def provenance(folder: Path) -> dict[str, Any]:
    """Git commit of the enclosing repository (and whether the bundle folder was dirty),
    promptver, Python and key library versions."""
    commit = _git(folder, "rev-parse", "--verify", "-q", "HEAD")
    dirty = None
    if commit is not None:
        status = _git(folder, "status", "--porcelain", "--", ".")
        dirty = bool(status) if status is not None else None
    inside = commit is not None or _git(folder, "rev-parse", "--is-inside-work-tree") == "true"
    return {
        "git_commit": commit,
        "git_dirty": dirty,
        "git_repository": inside,
        "promptver": __version__,
        "python": platform.python_version(),
        "libraries": _library_versions(),
    }


def describe_git(provenance: dict[str, Any]) -> str:
    """What ``show`` says about a version's git state: the commit (and "dirty"), "git
    repository, no commits yet", or "not in git" (older manifests did not record the
    repository without a commit: for them, no commit reads as "not in git")."""
    commit = provenance.get("git_commit")
    if isinstance(commit, str) and commit:
        return commit[:12] + (" (dirty)" if provenance.get("git_dirty") else "")
    if provenance.get("git_repository"):
        return "git repository, no commits yet"
    return "not in git"


def _library_versions() -> dict[str, str]:
    """Installed versions of the key libraries, read from dist-info folder names.

    ``importlib.metadata.version`` scans every distribution per call (about 50 ms here);
    listing the site folders once is a few milliseconds."""
    import re
    import sys

    wanted = set(KEY_LIBRARIES)
    found: dict[str, str] = {}
    pattern = re.compile(r"^([A-Za-z0-9_.\-]+?)-([^-]+?)\.(?:dist|egg)-info\Z")
    for folder in sys.path:
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue
        for entry in names:
            match = pattern.match(entry)
            if match:
                name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
                if name in wanted and name not in found:
                    found[name] = match.group(2)
    return dict(sorted(found.items()))


def commit_and_tag(project_root: Path, paths: list[Path], message: str, tag: str) -> str:
    """``--git``: commit the given paths and tag the commit, as ``npm version`` does."""
    if _git(project_root, "rev-parse", "--git-dir") is None:
        raise ConfigError(
            f"--git: {project_root} is not inside a git repository",
            hint="run `git init` first, or drop --git",
        )
    if _git(project_root, "rev-parse", "-q", "--verify", f"refs/tags/{tag}") is not None:
        raise ConfigError(f"--git: tag {tag!r} already exists", hint="delete the tag or drop --git")
    rel = [str(p) for p in paths]
    for args in (["add", "--", *rel], ["commit", "-q", "-m", message, "--", *rel], ["tag", tag]):
        result = subprocess.run(["git", *args], cwd=project_root, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ConfigError(
                f"--git: `git {' '.join(args[:2])}` failed: {result.stderr.strip()}",
                hint="the version was created; commit the store by hand",
            )
    return _git(project_root, "rev-parse", "HEAD") or ""
