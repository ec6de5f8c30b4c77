"""Benchmark: signing and checking signed events (issue 23, item 6).

Made: one ``ssh-keygen -Y sign`` per signed event (bound to its place). Checked: the first
check of a signature runs ``ssh-keygen -Y find-principals`` and ``-Y verify``; its verdict
is then cached by content (the allowed-signers file, the signed payload and the signature)
in memory and in the store's ``cache/signatures/``, so a new process (the next command)
reads it back instead of running OpenSSH again.

The log: 1,000 events, 100 of them signed approvals (really signed, with a throw-away
key), the rest alias moves and unsigned reviews. Timed in-process: ``promote --dry-run``
and ``audit`` with a cold cache (first check), and with only the on-disk cache (the
in-memory cache cleared, as in a new process).

    python tests/benchmarks/bench_signatures.py [--events 1000] [--signed 100] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ["PROMPTVER_USER"] = "Bench <bench@example.com>"

from promptver.bundle.scaffold import scaffold  # noqa: E402
from promptver.governance import signing  # noqa: E402
from promptver.governance.approvals import Reviewed, review_event  # noqa: E402
from promptver.governance.audit import audit  # noqa: E402
from promptver.governance.promotion import promote  # noqa: E402
from promptver.store.store import Store  # noqa: E402
from promptver.versions.bump import bump  # noqa: E402


def build(folder: Path, events: int, signed: int) -> tuple[Store, list[float]]:
    """The store, and the time of each signature made (ms)."""
    store, _ = Store.init(folder)
    scaffold(folder / "bundles/bot", "bot")
    toml = folder / "bundles/bot/bundle.toml"
    toml.write_text(toml.read_text().split("\n[aliases.", 1)[0] + "\n[aliases.production]\napprovals = 1\n")
    key = folder / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    principals = [f"r{i}@example.com" for i in range(signed)]
    pub = key.with_suffix(".pub").read_text().strip()
    (store.root / "allowed_signers").write_text("".join(f"{p} {pub}\n" for p in principals))
    versions = []
    for i in range(2):
        with open(folder / "bundles/bot/prompts/system.j2", "a") as handle:
            handle.write(f"edit {i}\n")
        versions.append(bump(store, "bot", "minor", author="Ana <ana@example.com>").manifest)
    made = []
    every = max(1, (events - 2) // signed)
    n = 0
    for i in range(events - 2):
        v = versions[1]
        if i % every == 0 and n < signed:
            event = review_event("bot", "approved", principals[n], None, Reviewed(v.version, v.digest))
            start = time.perf_counter()
            signing.append_signed(store, "bot", event, key)
            made.append((time.perf_counter() - start) * 1000)
            n += 1
        elif i % 2:
            event = review_event(
                "bot", "approved", f"u{i}@example.com", None, Reviewed(v.version, "sha256:" + "0" * 64)
            )
            store.append_event("bot", event)
        else:
            store.append_event(
                "bot",
                {
                    "event": "alias",
                    "action": "set",
                    "alias": f"a{i % 50}",
                    "bundle": "bot",
                    "to": v.version,
                    "to_digest": v.digest,
                    "from": None,
                    "actor": "x",
                    "time": "2026-11-26T12:00:00Z",
                },
            )
    from promptver.governance.aliases import alias_states, write_pointers

    write_pointers(store, "bot", alias_states(store, "bot"))  # the moves were appended directly
    return store, made


def timed(action: Callable[[], object], repeat: int, before: Callable[[], None] = lambda: None) -> float:
    times = []
    for _ in range(repeat):
        before()
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--signed", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store, made = build(Path(tmp), args.events, args.signed)
        print(
            f"{len(made)} signatures made: median {statistics.median(made):.1f} ms, max {max(made):.1f} ms"
            " (each: append_signed = ssh-keygen -Y sign + the append)"
        )

        key = Path(tmp) / "key"
        alone = []
        for i in range(20):
            start = time.perf_counter()
            signing.sign_bytes(f"payload {i}".encode(), key)
            alone.append((time.perf_counter() - start) * 1000)
        print(f"ssh-keygen -Y sign alone: median {statistics.median(alone):.1f} ms over 20")

        def dry() -> object:
            return promote(store, "bot", "0.2.0", "production", dry_run=True)

        def trail() -> object:
            return audit(store, "bot")

        def cold() -> None:
            signing._CACHE.clear()
            shutil.rmtree(store.root / "cache" / "signatures", ignore_errors=True)

        first = timed(dry, 1, cold)
        print(f"promote --dry-run, cold cache (every signature checked by OpenSSH): {first:.0f} ms")
        disk = timed(dry, args.repeat, signing._CACHE.clear)
        print(f"promote --dry-run, on-disk cache only (a new process): {disk:.0f} ms")
        warm = timed(dry, args.repeat)
        print(f"promote --dry-run, in-process cache: {warm:.0f} ms")
        disk = timed(trail, args.repeat, signing._CACHE.clear)
        print(f"audit, on-disk cache only (a new process): {disk:.0f} ms")
        warm = timed(trail, args.repeat)
        print(f"audit, in-process cache: {warm:.0f} ms")


if __name__ == "__main__":
    main()
