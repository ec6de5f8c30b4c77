"""Shards: one eval run cut across CI machines (``--shard i/N``), then merged back.

A case belongs to shard ``1 + int(sha256(case id)[:8]) % N``: the slice depends only on
the case's id, so every machine picks the same slice without talking to the others, and
adding a case moves no other case. A shard run is stored like any run, with status
``partial`` when it finishes (never taken as a version's newest complete run, never
recorded as evidence); ``promptver eval merge`` checks that the shards are the N slices of
one run (same version, dataset, target and selection) and stores the merged run, which is.
"""

from __future__ import annotations

import hashlib
import heapq
import re
import time
from typing import Any

from promptver.errors import ConfigError
from promptver.evals.analysis.summary import summarize
from promptver.evals.runs.storage import RunStore, RunWriter, StoredRun, new_run_id

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*\Z")
PARTIAL = "partial"
# Options that change what is evaluated: shards must agree on them. The others
# (concurrency, rate caps, timeout, retries, cache) only change how it ran.
SAME = ("dataset", "target", "tags", "limit", "repeat", "model")


def parse_shard(spec: str) -> tuple[int, int]:
    """``"i/N"`` -> (i, N) with 1 <= i <= N."""
    found = _SPEC.match(spec)
    if found is None or not 1 <= int(found[1]) <= int(found[2]):
        raise ConfigError(f"bad --shard {spec!r}", hint="use INDEX/COUNT with 1 <= INDEX <= COUNT, e.g. 2/4")
    return int(found[1]), int(found[2])


def shard_of(case_id: str, count: int) -> int:
    """The shard (1..count) a case id belongs to."""
    digest = hashlib.sha256(case_id.encode("utf-8", "surrogatepass")).digest()
    return 1 + int.from_bytes(digest[:8], "big") % count


def _shard(meta: dict[str, Any]) -> tuple[int, int] | None:
    spec = (meta.get("options") or {}).get("shard")
    return parse_shard(spec) if isinstance(spec, str) else None


def check_shards(runs: list[StoredRun]) -> int:
    """Refuse anything but the N finished shards of one run; returns N."""
    if not runs:
        raise ConfigError("no runs to merge", hint="name the shard runs: promptver eval merge RUN RUN...")
    first = runs[0].meta
    seen: dict[int, str] = {}
    count = None
    for run in runs:
        meta, where = run.meta, f"run {run.id}"
        shard = _shard(meta)
        if shard is None:
            raise ConfigError(f"{where} is not a shard", hint="merge runs made with --shard i/N")
        if count is not None and shard[1] != count:
            raise ConfigError(f"{where} is shard {shard[0]}/{shard[1]}, the others are of {count}")
        count = shard[1]
        for what, mine, theirs in (
            ("bundle", meta.get("bundle"), first.get("bundle")),
            ("version", meta.get("digest"), first.get("digest")),
            ("dataset", meta.get("dataset"), first.get("dataset")),
            ("target", meta.get("target"), first.get("target")),
            *(
                (
                    f"option {name}",
                    (meta.get("options") or {}).get(name),
                    (first.get("options") or {}).get(name),
                )
                for name in SAME
            ),
        ):
            if mine != theirs:
                label = {"version": "version", "dataset": "dataset"}.get(what, what)
                raise ConfigError(
                    f"{where} has another {label} than run {runs[0].id}",
                    hint="merge only the shards of one run: same version, dataset, target and options",
                )
        if shard[0] in seen:
            raise ConfigError(f"{where} and run {seen[shard[0]]} are both shard {shard[0]}/{count}")
        seen[shard[0]] = run.id
        if meta.get("status") != PARTIAL:
            raise ConfigError(
                f"{where} (shard {shard[0]}/{count}) is {meta.get('status')}, not finished",
                hint=f"finish it first: promptver eval ... --resume {run.id}",
            )
    assert count is not None
    missing = sorted(set(range(1, count + 1)) - set(seen))
    if missing:
        raise ConfigError(
            f"shard{'s' if len(missing) > 1 else ''} {', '.join(f'{i}/{count}' for i in missing)} missing",
            hint="run them (--shard i/N) and name every shard run",
        )
    return count


def merge(runs: list[StoredRun], store: RunStore) -> RunWriter:
    """Store the run the shards make together; returns its (closed) writer."""
    check_shards(runs)
    first = runs[0].meta
    meta = {
        **{k: v for k, v in first.items() if k not in ("format", "retrieval_requests", "cache")},
        "id": new_run_id(),
        "options": {**first.get("options", {}), "shard": None},
        "planned": sum(int(r.meta.get("planned") or 0) for r in runs),
        "started": min(str(r.meta.get("started") or "") for r in runs),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "status": "running",
        "summary": None,
        "shards": [r.id for r in sorted(runs, key=lambda r: _shard(r.meta) or (0, 0))],
    }
    writer = store.create(meta)
    # each shard's records come in dataset order: merged as streams, never all in memory
    records = heapq.merge(
        *(run.records for run in runs), key=lambda r: (r.get("repeat", 0), r.get("index", 0))
    )
    try:
        for record in records:
            writer.append(record)
    finally:
        writer.close()
    writer.meta.update(status="complete", summary=summarize(writer.records))
    writer.save_meta()
    return writer
