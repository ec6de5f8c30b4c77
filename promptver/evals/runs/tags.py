"""Tags on stored runs (``baseline``, ``nightly``), and the filters of ``promptver runs``.

A run's tags live in ``tags.json`` beside its ``run.json``: a label is not part of what the
run measured, so it is not among the files the run's ``eval`` event hashes (tagging a
recorded run leaves it evidence), and it travels with the run folder in git. The file is
read as untrusted: anything but a list of valid tag names reads as no tags.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from promptver.errors import ConfigError

TAGS_FILE = "tags.json"
TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")


def check_tag(tag: str) -> str:
    if not TAG_RE.match(tag):
        raise ConfigError(
            f"{tag!r} is not a valid run tag",
            hint="use up to 64 letters, digits, '.', '_' and '-', starting with a letter or digit",
        )
    return tag


def read_tags(folder: Path) -> list[str]:
    """The tags of the run in ``folder`` (none when the file is missing or not valid)."""
    try:
        data = json.loads((folder / TAGS_FILE).read_bytes())
    except (OSError, ValueError):
        return []
    if not isinstance(data, list) or not all(isinstance(t, str) and TAG_RE.match(t) for t in data):
        return []
    return sorted(set(data))


def tag_run(
    runs_root: Path, run_id: str, tag: str, *, remove: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """Add (or with ``remove``, take off) a tag of a run; (the run's metadata, its tags)."""
    from promptver.evals.runs.storage import RunStore, read_run
    from promptver.store.atomic import atomic_write

    check_tag(tag)
    folder = RunStore(runs_root).find(run_id)
    meta = read_run(folder).meta
    tags = set(read_tags(folder))
    if remove:
        tags.discard(tag)
    else:
        tags.add(tag)
    ordered = sorted(tags)
    atomic_write(folder / TAGS_FILE, (json.dumps(ordered) + "\n").encode())
    return meta, ordered


def target_matches(meta: dict[str, Any], target: str) -> bool:
    """A run's target is ``target``: its whole label (``retrieval:bm25:top6``) or its kind
    (``retrieval``, the part before the first ``:``; ``python:pkg.mod:fn`` by its label)."""
    label = str(meta.get("target") or "model")
    return label == target or label.split(":", 1)[0] == target


def list_runs(
    runs_root: Path, bundle: str, *, target: str | None = None, tag: str | None = None
) -> list[dict[str, Any]]:
    """A bundle's runs, newest first, each with its ``tags``; only those of ``target`` and
    carrying ``tag`` when given."""
    from promptver.evals.runs.summaries import read_run_metas

    if tag is not None:
        check_tag(tag)
    found = []
    for meta in read_run_metas(runs_root / bundle, bundle):
        run_id = str(meta.get("id") or "")
        safe = run_id not in ("", ".", "..") and "/" not in run_id and "\\" not in run_id
        meta = {**meta, "tags": read_tags(runs_root / bundle / run_id) if safe else []}
        if target is not None and not target_matches(meta, target):
            continue
        if tag is not None and tag not in meta["tags"]:
            continue
        found.append(meta)
    return found
