"""Benchmark: bump and status of a bundle with a 100,000-case (~65 MB) eval set.

Whole-process times (Python start-up included), each beside the floor measured in the same
run: Python start-up + hashlib.sha256 over the same bytes + one copy of them. The re-bump
rewrites the eval set with 1% of its cases changed (every 100th) and bumps patch: the
new file is hashed and copied, and the change summary compares it with the stored set.
`dvc add` of the same changed file is printed beside it when dvc is installed.

    python tests/benchmarks/bench_store.py [--cases 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Bytecode is written and read in a temporary folder, as an installed package has it, even
# where PYTHONDONTWRITEBYTECODE is set (set in main()).
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PROMPTVER_USER": "bench"}
ENV.pop("PYTHONDONTWRITEBYTECODE", None)

FLOOR = """
import hashlib, shutil, sys
h = hashlib.sha256()
with open(sys.argv[1], 'rb') as src, open(sys.argv[2], 'wb') as dst:
    while chunk := src.read(1 << 20):
        h.update(chunk); dst.write(chunk)
print(h.hexdigest())
"""


def make_cases(path: Path, count: int) -> None:
    rng = random.Random(7)
    words = [
        "refund",
        "invoice",
        "plan",
        "seat",
        "shift",
        "schedule",
        "export",
        "login",
        "sso",
        "mobile",
        "team",
        "admin",
        "billing",
    ]
    with open(path, "w") as out:
        for i in range(count):
            question = " ".join(rng.choice(words) for _ in range(60))
            case = {
                "id": f"case-{i:06d}",
                "vars": {"question": question},
                "expected": " ".join(rng.choice(words) for _ in range(20)),
                "tags": ["bench"],
            }
            out.write(json.dumps(case) + "\n")


def change_cases(source: Path, target: Path, every: int = 100) -> int:
    """``source`` rewritten with every ``every``-th case's expected answer changed."""
    changed = 0
    with open(source, "rb") as src, open(target, "wb") as out:
        for number, line in enumerate(src):
            if number % every == 0:
                case = json.loads(line)
                case["expected"] += " escalate"
                line = (json.dumps(case) + "\n").encode()
                changed += 1
            out.write(line)
    return changed


def run(args: list[str], cwd: Path) -> tuple[float, float]:
    """Wall time and CPU time (user + sys) of one process; CPU time is the figure that
    holds up on a loaded machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}\n{result.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    pv = [sys.executable, "-m", "promptver"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ENV["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        data = work / "cases.jsonl"
        make_cases(data, options.cases)
        size_mb = data.stat().st_size / 1e6
        changed_data = work / "cases-changed.jsonl"
        changed = change_cases(data, changed_data)
        floors, firsts, statuses, seconds, rebumps, restatuses = [], [], [], [], [], []
        for i in range(options.repeat):
            project = work / f"p{i}"
            project.mkdir()
            run([*pv, "init"], project)
            run([*pv, "new", "bench"], project)
            shutil.copy(data, project / "bundles/bench/evals/golden.jsonl")
            time.sleep(0.1)  # let the copy's mtime age past the stat cache's racy window
            floors.append(run([sys.executable, "-c", FLOOR, str(data), str(work / f"copy{i}")], work))
            firsts.append(run([*pv, "bump", "minor", "bench"], project))
            statuses.append(run([*pv, "status", "bench"], project))
            with open(project / "bundles/bench/prompts/system.j2", "a") as handle:
                handle.write("Be concise.\n")
            seconds.append(run([*pv, "bump", "minor", "bench"], project))
            shutil.copy(changed_data, project / "bundles/bench/evals/golden.jsonl")
            time.sleep(0.1)
            rebumps.append(run([*pv, "bump", "patch", "bench"], project))
            restatuses.append(run([*pv, "status", "bench"], project))
        start = run([sys.executable, "-c", "pass"], work)
        dvc = shutil.which("dvc")
        dvcs = []
        if dvc is not None:  # never installed by this script: compared only when present
            for i in range(options.repeat):
                repo = work / f"dvc{i}"
                repo.mkdir()
                run([dvc, "init", "--no-scm", "-q"], repo)
                shutil.copy(changed_data, repo / "cases.jsonl")
                dvcs.append(run([dvc, "add", "-q", "cases.jsonl"], repo))

    def med(values: list[tuple[float, float]]) -> str:
        wall = statistics.median(v[0] for v in values) * 1000
        cpu = statistics.median(v[1] for v in values) * 1000
        return f"{wall:7.0f} ms (cpu {cpu:4.0f} ms)"

    print(
        f"eval set: {options.cases:,} cases, {size_mb:.1f} MB; medians of {options.repeat} runs"
        f" (wall, and user+sys CPU); load average {os.getloadavg()[0]:.1f}"
    )
    print(f"  python start-up                     {med([start])}")
    print(f"  floor (start-up + sha256 + 1 copy)  {med(floors)}")
    print(f"  first bump                          {med(firsts)}   target < 500 ms")
    print(f"  status, nothing changed             {med(statuses)}   target < 150 ms")
    print(f"  bump after one prompt change        {med(seconds)}   target < 200 ms")
    print(
        f"  bump after {changed:,} cases changed ({changed / options.cases:.0%})"
        f"  {med(rebumps)}   target <= 600 ms"
    )
    if dvcs:
        print(f"    dvc add of the same file          {med(dvcs)}")
    print(f"  status after that bump              {med(restatuses)}   target < 150 ms")


if __name__ == "__main__":
    main()
