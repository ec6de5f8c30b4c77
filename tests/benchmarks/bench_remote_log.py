"""Benchmark: the team remote's commands against a long audit log, as whole processes.

The store `bench_aliases.py` builds (a chained log alternating approvals by distinct
people and alias moves; then canary set and production promoted, as policy-checked
moves), pushed to a file:// remote. Timed, each as a new `python -m promptver` process
(its output to /dev/null): `push` into an empty remote; `pull` into a new project (the
cold path: the whole incoming log is checked: chain, signatures, every move against its
policy); `pull` again when up to date; `pull` of ``--new`` events pushed since. Each row
gives the median wall and CPU (user + system) seconds and the largest peak resident set
of the runs.

    python tests/benchmarks/bench_remote_log.py [--events 100000] [--new 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ["PROMPTVER_USER"] = "Bench <bench@example.com>"

from bench_aliases import append_events, build  # noqa: E402

from promptver.governance.promotion import promote, set_alias  # noqa: E402
from promptver.remote.config import add_remote  # noqa: E402
from promptver.store.store import Store  # noqa: E402

# Times one command in a small process of its own: a child forked by this process (which
# holds the whole store it built) would report this process's resident set as its peak.
RUNNER = """
import resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(code, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)
"""


def run(folder: Path, args: list[str]) -> tuple[float, float, float]:
    """``promptver ARGS`` in ``folder`` as a whole process: (wall s, CPU s, peak MiB)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # byte-compiled, as an installed package is
    runner = [sys.executable, "-c", RUNNER, sys.executable, "-m", "promptver", *args]
    done = subprocess.run(runner, cwd=folder, env=env, capture_output=True, text=True, check=True)
    code, wall, cpu, peak = done.stdout.split()
    if code != "0":
        raise SystemExit(f"promptver {' '.join(args)} failed: {done.stderr}")
    return float(wall), float(cpu), int(peak) / 1024


def timed(folder: Callable[[], Path], args: list[str], repeat: int) -> tuple[float, float, float]:
    """Median wall and CPU seconds and the largest peak MiB of ``repeat`` runs (after one
    that is not counted: it byte-compiles); ``folder`` sets each run up, untimed."""
    runs = [run(folder(), args) for _ in range(repeat + 1)][1:]
    return (
        statistics.median(r[0] for r in runs),
        statistics.median(r[1] for r in runs),
        max(r[2] for r in runs),
    )


def project(folder: Path, remotes: dict[str, Path]) -> Path:
    """A new, empty project with these remotes."""
    shutil.rmtree(folder, ignore_errors=True)
    store, _ = Store.init(folder)
    for name, path in remotes.items():
        add_remote(store, name, f"file://{path}")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["PYTHONPYCACHEPREFIX"] = str(root / ".pycache")
        store = build(root / "src", args.events)
        set_alias(store, "bot", "canary", "0.2.0")
        promote(store, "bot", "0.2.0", "production")
        remote, newer = root / "remote", root / "newer"
        add_remote(store, "origin", f"file://{remote}")
        events = len(store.log_path("bot").read_bytes().splitlines())

        def empty_remote() -> Path:
            shutil.rmtree(remote, ignore_errors=True)
            remote.mkdir()
            shutil.rmtree(store.root / "cache" / "remote", ignore_errors=True)
            return store.project_root

        rows = [("push (into an empty remote)", timed(empty_remote, ["push"], args.repeat))]
        fresh = root / "fresh"
        pulled = lambda: project(fresh, {"origin": remote})  # noqa: E731
        rows.append(("pull into a new project", timed(pulled, ["pull"], args.repeat)))
        rows.append(("pull, up to date", timed(lambda: fresh, ["pull"], args.repeat)))
        shutil.copytree(remote, newer)
        add_remote(store, "newer", f"file://{newer}")
        append_events(store, args.new, [store.manifest("bot", v) for v in ("0.1.0", "0.2.0")], tag="new")
        run(store.project_root, ["push", "--remote", "newer"])
        add_remote(Store.find(override=fresh / ".promptver"), "newer", f"file://{newer}")
        behind = root / "behind"  # a copy of the project the last pull made, for each run

        def copy_behind() -> Path:
            shutil.rmtree(behind, ignore_errors=True)
            shutil.copytree(fresh, behind)
            return behind

        rows.append(
            (
                f"pull of {args.new:,} new events",
                timed(copy_behind, ["pull", "--remote", "newer"], args.repeat),
            )
        )
    print(f"{events:,} log events, medians of {args.repeat}, load average {os.getloadavg()[0]:.1f}")
    print(f"{'whole process':<32}{'wall s':>8}{'CPU s':>8}{'peak MiB':>10}")
    for label, (wall, cpu, peak) in rows:
        print(f"{label:<32}{wall:>8.2f}{cpu:>8.2f}{peak:>10.0f}")


if __name__ == "__main__":
    main()
