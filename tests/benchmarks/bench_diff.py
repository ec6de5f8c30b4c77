"""Benchmark: `promptver diff --format json` of two versions of a large eval set.

Two versions of an N-case JSONL dataset (about 650 bytes a case) differing by 1,000
changed cases, 100 added and 100 removed, stored as versions 0.1.0 and 0.1.1 of a
bundle. Measured per size, as whole processes (wall time and peak RSS from wait4):

- `promptver diff bench 0.1.0 0.1.1 --format json`, checked to report exactly
  1,000 / 100 / 100;
- `git diff --numstat --no-index` of the same two files, for scale;
- `promptver bump auto` that created 0.1.1 (it runs the same diff; one run).

Times are the best of 3 runs, memory the largest.

Usage: python tests/benchmarks/bench_diff.py [SIZES...]   (default: 10000 100000 300000)
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHANGED, ADDED, REMOVED = 1_000, 100, 100
WORDS = [
    "refund",
    "order",
    "shipping",
    "invoice",
    "account",
    "password",
    "delivery",
    "warranty",
    "return",
    "payment",
    "card",
    "address",
    "billing",
    "support",
    "answer",
    "customer",
    "product",
    "status",
]


def case(rng: random.Random, number: int) -> dict[str, object]:
    def sentence(n: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(n))

    return {
        "id": f"case-{number:07d}",
        "vars": {"question": sentence(22) + "?", "context": sentence(24), "locale": "en-US"},
        "expected": sentence(12),
        "expected_sources": [f"docs/{rng.choice(WORDS)}.md"],
        "tags": [rng.choice(WORDS), rng.choice(WORDS)],
        "assert": [{"type": "icontains", "value": rng.choice(WORDS)}],
    }


def datasets(size: int, seed: int = 7) -> tuple[bytes, bytes]:
    """Old and new JSONL: CHANGED edited, REMOVED dropped, ADDED new cases."""
    rng = random.Random(seed)
    cases = [case(rng, i) for i in range(size)]
    old = b"".join(json.dumps(c).encode() + b"\n" for c in cases)
    picks = rng.sample(range(size), CHANGED + REMOVED)
    changed, removed = set(picks[:CHANGED]), set(picks[CHANGED:])
    new_cases = []
    for i, c in enumerate(cases):
        if i in removed:
            continue
        if i in changed:
            c = json.loads(json.dumps(c))
            c["vars"]["question"] += " (edited)"  # type: ignore[index]
            c["tags"].append("edited")  # type: ignore[attr-defined]
        new_cases.append(c)
    for j in range(ADDED):
        new_cases.insert(rng.randrange(len(new_cases)), case(rng, size + j))
    new = b"".join(json.dumps(c).encode() + b"\n" for c in new_cases)
    return old, new


REPEAT = 3


def measure(cmd: list[str], cwd: Path) -> tuple[float, float, int, bytes]:
    """Best wall seconds and peak RSS in MB of REPEAT runs (the machine is shared), with
    the exit code and stdout of the last."""
    runs = [measure_once(cmd, cwd) for _ in range(REPEAT)]
    return min(r[0] for r in runs), max(r[1] for r in runs), runs[-1][2], runs[-1][3]


def measure_once(cmd: list[str], cwd: Path) -> tuple[float, float, int, bytes]:
    """Wall seconds, peak RSS in MB, exit code and stdout of one process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.PIPE, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        data = out.read()
    return wall, usage.ru_maxrss / 1024, proc.returncode, data


def generate(size: int, old_path: Path, new_path: Path) -> None:
    old, new = datasets(size)
    old_path.write_bytes(old)
    new_path.write_bytes(new)


def run_size(size: int, work: Path) -> dict[str, object]:
    """One size. The data is generated in a child process: a child forked from a big
    parent would count the parent's pages in its own peak RSS."""
    from promptver.bundle.scaffold import scaffold
    from promptver.store.store import Store

    project = work / f"p{size}"
    project.mkdir()
    Store.init(project)
    scaffold(project / "bundles" / "bench", "bench")
    dataset = project / "bundles" / "bench" / "evals" / "golden.jsonl"
    a, b = work / "a.jsonl", work / "b.jsonl"
    subprocess.run([sys.executable, __file__, "--generate", str(size), str(a), str(b)], check=True)
    shutil.copyfile(a, dataset)
    old_size = a.stat().st_size
    pv = [sys.executable, "-m", "promptver"]
    code = measure_once([*pv, "bump", "minor", "bench"], project)[2]
    assert code == 0, "first bump failed"
    shutil.copyfile(b, dataset)
    bump_wall, bump_rss, code, _ = measure_once([*pv, "bump", "auto", "bench"], project)
    assert code == 0, "bump auto failed"
    diff_wall, diff_rss, code, out = measure(
        [*pv, "diff", "bench", "0.1.0", "0.1.1", "--format", "json"], project
    )
    assert code == 0, out[:500]
    (comp,) = [c for c in json.loads(out)["components"] if c["kind"] == "evals"]
    detail = comp["detail"]
    counts = (detail["changed"], detail["added"], detail["removed"])
    git_wall, git_rss, git_code, git_out = measure(
        ["git", "diff", "--numstat", "--no-index", "a.jsonl", "b.jsonl"], work
    )
    assert git_code == 1, git_out
    return {
        "cases": size,
        "mb": old_size / 1e6,
        "diff_s": diff_wall,
        "diff_mb": diff_rss,
        "counts": counts,
        "exact": counts == (CHANGED, ADDED, REMOVED),
        "git_s": git_wall,
        "git_mb": git_rss,
        "git_numstat": git_out.decode().split("\t")[:2],
        "bump_auto_s": bump_wall,
        "bump_auto_mb": bump_rss,
    }


def main() -> None:
    sys.path.insert(0, str(ROOT))
    if sys.argv[1:2] == ["--generate"]:
        generate(int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
        return
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 100_000, 300_000]
    print(
        f"{'cases':>8} {'file MB':>8} | {'diff s':>7} {'diff MB':>8} {'reported':>16} | "
        f"{'git s':>6} {'git MB':>7} | {'bump auto s':>11} {'MB':>6}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            r = run_size(size, Path(tmp))
            counts = "/".join(f"{n:,}" for n in r["counts"])  # type: ignore[attr-defined]
            print(
                f"{r['cases']:>8,} {r['mb']:>8.1f} | {r['diff_s']:>7.2f} {r['diff_mb']:>8.0f} "
                f"{counts:>16} | {r['git_s']:>6.2f} {r['git_mb']:>7.0f} | "
                f"{r['bump_auto_s']:>11.2f} {r['bump_auto_mb']:>6.0f}"
                + ("" if r["exact"] else "  WRONG COUNTS"),
                flush=True,
            )
            shutil.rmtree(Path(tmp) / f"p{size}")


if __name__ == "__main__":
    main()
