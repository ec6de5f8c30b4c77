"""Benchmark: every command that reads the audit log, against a long log.

Every move replays the bundle's log under its lock (the log is the truth), so its cost
grows with the log. This measures alias set, approve, promote, rollback, audit, `show
NAME@production`, `log` and `verify` with logs of 1,000 to 100,000 events (a chained log
written directly, alternating review and alias events; each review is an approval of one
of the two versions by a different person, the worst case for counting each person's
latest decision), in-process (no start-up time), each run as a new command would (no
parsed events kept in memory) after an earlier command left its checkpoint
(governance/checkpoint.py); `verify --full` ignores the checkpoint. The "cold" columns
run with no checkpoint at all, as the first command of a fresh clone or a CI job does.
Then the CLI as whole processes (`python -m promptver`, output read from a pipe): `show
NAME@production`, `audit`, `verify`, `verify --full`, `promote --dry-run`, `log`, `alias
ls`, `approve` and `promote` (after a promotion the other way, as the in-process column
runs it), warm, and the first four cold.

    python tests/benchmarks/bench_aliases.py [--events 1000 10000 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
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
from promptver.governance.aliases import rollback  # noqa: E402
from promptver.governance.approvals import decide  # noqa: E402
from promptver.governance.audit import audit  # noqa: E402
from promptver.governance.deployment import deployment  # noqa: E402
from promptver.governance.promotion import promote, set_alias  # noqa: E402
from promptver.governance.verify import verify_store  # noqa: E402
from promptver.store.events import forget_parsed  # noqa: E402
from promptver.store.manifest import Manifest  # noqa: E402
from promptver.store.store import Store  # noqa: E402
from promptver.versions.bump import bump  # noqa: E402
from promptver.versions.history import history  # noqa: E402


def build(folder: Path, events: int) -> Store:
    store, _ = Store.init(folder)
    scaffold(folder / "bundles/bot", "bot")
    toml = folder / "bundles/bot/bundle.toml"
    scaffolded = toml.read_text().split("\n[aliases.", 1)[0]  # `new` protects production with an eval too
    toml.write_text(scaffolded + "\n[aliases.production]\napprovals = 1\n")
    versions = []
    for i in range(2):
        with open(folder / "bundles/bot/prompts/system.j2", "a") as handle:
            handle.write(f"edit {i}\n")
        versions.append(bump(store, "bot", "minor", author="Ana <ana@example.com>").manifest)
    append_events(store, events - len(store.log_path("bot").read_bytes().splitlines()), versions)
    return store


def append_events(store: Store, count: int, versions: list[Manifest], tag: str = "") -> None:
    """``count`` more events of bot's log, chained, alternating alias moves of 50 aliases
    (``{tag}a0``...) and approvals of the two ``versions`` by a new person each."""
    log = store.log_path("bot")
    last = log.read_bytes().splitlines()[-1]
    seq, prev = json.loads(last)["seq"], hashlib.sha256(last).hexdigest()
    with open(log, "ab") as out:
        for i in range(count):
            seq += 1
            v = versions[i % 2]
            if i % 2:
                event = {
                    "event": "review",
                    "decision": "approved",
                    "actor": f"{tag}r{i}@example.com",
                    "new": {"version": v.version, "digest": v.digest},
                    "old": None,
                }
            else:
                event = {
                    "event": "alias",
                    "action": "set",
                    "alias": f"{tag}a{i % 50}",
                    "to": v.version,
                    "to_digest": v.digest,
                    "from": None,
                    "actor": "x",
                }
            event.update(time="2026-11-26T12:00:00Z", bundle="bot", seq=seq, prev=prev)
            line = json.dumps(event, sort_keys=True).encode()
            out.write(line + b"\n")
            prev = hashlib.sha256(line).hexdigest()


def no_checkpoints(store: Store) -> Callable[[], None]:
    """What a fresh clone (or CI) has: no checkpoint of the log's checks."""
    return lambda: shutil.rmtree(store.root / "cache" / "checkpoints", ignore_errors=True)


def timed(
    action: Callable[[], object], repeat: int, setup: Callable[[], None] | None = None
) -> tuple[float, float]:
    """The median wall and CPU time of ``action`` in ms, each run cold (as a fresh
    command: no parsed events kept from the run before; ``setup`` run before each, not
    timed). On a shared machine the CPU time says what the work costs, the wall time what
    a user waits."""
    walls, cpus = [], []
    for _ in range(repeat):
        if setup is not None:
            setup()
        forget_parsed()
        start, cpu = time.perf_counter(), time.process_time()
        action()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000


def measure(store: Store, repeat: int) -> list[tuple[float, float]]:
    counter = iter(range(10**6))

    def flip() -> str:
        return ["0.1.0", "0.2.0"][next(counter) % 2]

    def approve() -> None:
        n = next(counter)
        decide(store, "bot", ["0.1.0", "0.2.0"][n % 2], "approved", f"p{n}@x")

    cold = no_checkpoints(store)
    warm = [
        timed(lambda: set_alias(store, "bot", "staging", flip()), repeat),
        timed(approve, max(repeat, 2) * 2),
        timed(lambda: promote(store, "bot", flip(), "production"), repeat),
        timed(lambda: rollback(store, "bot", "staging"), 1),
        timed(lambda: audit(store, "bot", alias="production"), repeat),
        timed(lambda: deployment(store, store.resolve("bot", "production"), "production"), repeat),
        timed(lambda: history(Store.find(store.project_root), "bot"), repeat),
        timed(lambda: verify_store(store), repeat),
        timed(lambda: verify_store(store, full=True), repeat),
    ]
    return [  # then cold: no checkpoint (a fresh clone, CI)
        *warm,
        timed(lambda: promote(store, "bot", flip(), "production"), repeat, cold),
        timed(lambda: audit(store, "bot", alias="production"), repeat, cold),
        timed(lambda: deployment(store, store.resolve("bot", "production"), "production"), repeat, cold),
        timed(lambda: verify_store(store), repeat, cold),
    ]


def process(
    folder: Path,
    args: list[str] | Callable[[], list[str]],
    repeat: int,
    setup: Callable[[], None] | None = None,
) -> tuple[float, float]:
    """The median wall and CPU time (user + system, of the child) in ms of ``promptver
    ARGS`` as a whole process, its output to a pipe (read and dropped); ``setup`` run
    before each, not timed; ``args`` made anew for each run when it is a function."""
    walls, cpus = [], []
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONPYCACHEPREFIX": str(folder / ".pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # byte-compiled, as an installed package is
    for run in range(-1, repeat):  # the first run compiles the modules: not counted
        if setup is not None:
            setup()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "promptver", *(args() if callable(args) else args)],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if run >= 0:
            walls.append(time.perf_counter() - start)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000


def measure_processes(store: Store, repeat: int) -> list[tuple[float, float]]:
    other = "0.1.0" if store.resolve("bot", "production").version == "0.2.0" else "0.2.0"
    folder = store.project_root
    dry = ["promote", f"bot@{other}", "--to", "production", "--dry-run"]
    cold = no_checkpoints(store)
    people = iter(range(10**6))

    def back() -> None:  # production back on the version the timed promotion moves it from
        if store.resolve("bot", "production").version == other:
            forget_parsed()
            promote(store, "bot", "0.1.0" if other == "0.2.0" else "0.2.0", "production")

    return [
        process(folder, ["show", "bot@production"], repeat),
        process(folder, ["audit", "bot"], repeat),
        process(folder, ["verify"], repeat),
        process(folder, ["verify", "--full"], repeat),
        process(folder, dry, repeat),
        process(folder, ["log", "bot"], repeat),
        process(folder, ["alias", "ls", "bot"], repeat),
        process(folder, lambda: ["approve", f"bot@{other}", "--by", f"q{next(people)}@example.com"], repeat),
        process(folder, ["promote", f"bot@{other}", "--to", "production"], repeat, back),
        process(folder, ["show", "bot@production"], repeat, cold),
        process(folder, ["audit", "bot"], repeat, cold),
        process(folder, ["verify"], repeat, cold),
        process(folder, dry, repeat, cold),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    columns = (
        "alias set",
        "approve",
        "promote",
        "rollback",
        "audit",
        "show @prod",
        "log",
        "verify",
        "verify --full",
        "cold promote",
        "cold audit",
        "cold show",
        "cold verify",
    )
    commands = (
        "show @prod",
        "audit",
        "verify",
        "verify --full",
        "promote --dry-run",
        "log",
        "alias ls",
        "approve",
        "promote",
        "cold show",
        "cold audit",
        "cold verify",
        "cold promote -n",
    )
    print(f"wall (CPU) ms, load average {os.getloadavg()[0]:.1f}")
    print(f"in-process\n{'log events':>10}  " + "  ".join(f"{c:>13}" for c in columns))
    rows = []
    for count in args.events:
        with tempfile.TemporaryDirectory() as tmp:
            store = build(Path(tmp), count)
            set_alias(store, "bot", "canary", "0.2.0")  # aliases.json written from the log
            verify_store(store)  # an earlier command: its checkpoint
            figures = measure(store, args.repeat)
            print(f"{count:>10}  " + "  ".join(f"{wall:>6.0f} ({cpu:>4.0f})" for wall, cpu in figures))
            rows.append((count, measure_processes(store, args.repeat)))
    print(
        f"whole processes (python -m promptver ...)\n{'log events':>10}  "
        + "  ".join(f"{c:>17}" for c in commands)
    )
    for count, figures in rows:
        print(f"{count:>10}  " + "  ".join(f"{wall:>10.0f} ({cpu:>4.0f})" for wall, cpu in figures))


if __name__ == "__main__":
    main()
