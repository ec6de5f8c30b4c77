"""Benchmark: bump and status of a bundle with a 100,000-case (~65 MB) eval set.

Whole-process times (Python start-up included), each beside the floor measured in the same
run: Python start-up + hashlib.sha256 over the same bytes + one copy of them. The re-bump
rewrites the eval set with 1% of its cases changed (every 100th) and bumps patch: the
new file is hashed, walked once against the stored set (for the check, the change summary
and the store), and only its new bytes are written (docs/storage.md, spans of packs).
`dvc add` (installed into its own venv under ~/.cache/promptver-bench when absent) and
`git diff --numstat` run beside it, interleaved, in two phases: quiet and with one core
kept busy by a CPU hog. Peak RSS of each process comes from its own wait4 accounting.

    python tests/benchmarks/bench_store.py [--cases 100000] [--repeat 5] [--phase both]
"""

from __future__ import annotations

import argparse
import json
import os
import random
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


def run(args: list[str], cwd: Path) -> tuple[float, float, float]:
    """Wall time, CPU time (user + sys) and peak RSS (MB) of one process, from its own
    `wait4` accounting; CPU time is the figure that holds up on a loaded machine."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode not in (0, 1):  # diff --exit-code style 1 is fine
        sys.exit(f"failed: {' '.join(args)}\n{stderr}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def dvc_command() -> list[str] | None:
    """dvc from PATH, else from its own venv under the cache folder (made on first use)."""
    found = shutil.which("dvc")
    if found:
        return [found]
    venv = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "promptver-bench" / "dvc"
    exe = venv / "bin" / "dvc"
    if not exe.exists():
        print(f"installing dvc into {venv} ...", flush=True)
        made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True)
        got = (
            made.returncode == 0
            and subprocess.run(
                [str(venv / "bin" / "pip"), "install", "-q", "dvc"], capture_output=True
            ).returncode
            == 0
        )
        if not got or not exe.exists():
            print("dvc could not be installed: comparing with git only")
            return None
    return [str(exe)]


def phase(label: str, work: Path, data: Path, changed_data: Path, repeat: int, dvc: list[str] | None) -> None:
    pv = [sys.executable, "-m", "promptver"]
    git = ["git", "-c", "user.name=b", "-c", "user.email=b@b", "-c", "gc.auto=0"]
    rows: dict[str, list[tuple[float, float, float]]] = {}

    def add(key: str, value: tuple[float, float, float]) -> None:
        rows.setdefault(key, []).append(value)

    sizes: dict[str, int] = {}
    for i in range(repeat):  # each step is run A (promptver) then B (peer): interleaved
        project = work / f"{label}-p{i}"
        project.mkdir()
        run([*pv, "init"], project)
        run([*pv, "new", "bench"], project)
        target = project / "bundles/bench/evals/golden.jsonl"
        shutil.copy(data, target)
        repo = work / f"{label}-dvc{i}"
        if dvc:
            repo.mkdir()
            run([*dvc, "init", "--no-scm", "-q"], repo)
            shutil.copy(data, repo / "cases.jsonl")
        gitrepo = work / f"{label}-git{i}"
        gitrepo.mkdir()
        run([*git, "init", "-q"], gitrepo)
        shutil.copy(data, gitrepo / "cases.jsonl")
        run([*git, "add", "cases.jsonl"], gitrepo)
        run([*git, "commit", "-qm", "a"], gitrepo)
        shutil.copy(changed_data, gitrepo / "cases.jsonl")
        run([*git, "commit", "-qam", "b"], gitrepo)
        time.sleep(0.1)  # let the copies' mtimes age past the stat cache's racy window
        add("first", run([*pv, "bump", "minor", "bench"], project))
        if dvc:
            add("first.peer", run([*dvc, "add", "-q", "cases.jsonl"], repo))
        add("status", run([*pv, "status", "bench"], project))
        shutil.copy(changed_data, target)
        if dvc:
            shutil.copy(changed_data, repo / "cases.jsonl")
        time.sleep(0.1)
        add("rebump", run([*pv, "bump", "patch", "bench"], project))
        if dvc:
            add("rebump.peer", run([*dvc, "add", "-q", "cases.jsonl"], repo))
        add("restatus", run([*pv, "status", "bench"], project))
        add("diff", run([*pv, "diff", "--stat", "bench", "0.1.0", "0.1.1"], project))
        add("diff.peer", run([*git, "diff", "--numstat", "HEAD~1", "HEAD"], gitrepo))
        if i == 0:
            store = project / ".promptver"
            sizes["store"] = sum(folder_size(store / d) for d in ("objects", "packs") if (store / d).exists())
            if dvc:
                sizes["dvc"] = folder_size(repo / ".dvc" / "cache")
            run([*git, "init", "-q"], project)
            run([*git, "add", "-A", ".promptver"], project)
            run([*git, "commit", "-qm", "store"], project)
            run([*git, "gc", "-q", "--aggressive"], project)
            sizes["git"] = folder_size(project / ".git" / "objects")
        for folder in (project, repo, gitrepo):
            shutil.rmtree(folder, ignore_errors=True)

    def med(key: str) -> str:
        values = rows[key]
        wall = statistics.median(v[0] for v in values) * 1000
        cpu = statistics.median(v[1] for v in values) * 1000
        rss = max(v[2] for v in values)
        return f"{wall:6.0f} ms (cpu {cpu:5.0f}, peak RSS {rss:4.0f} MB)"

    def ratio(key: str) -> str:
        peer = rows.get(key + ".peer")
        if not peer:
            return ""
        pairs = [a[0] / b[0] for a, b in zip(rows[key], peer, strict=True)]
        return f"ratio {statistics.median(pairs):.2f}x (pairs {min(pairs):.2f}-{max(pairs):.2f})"

    print(f"\n[{label}] medians of {repeat} interleaved runs; load {os.getloadavg()[0]:.1f}")
    print(f"  first bump                  {med('first')}   target <= 0.45x dvc add")
    if dvc:
        print(f"    dvc add                   {med('first.peer')}   {ratio('first')}")
    print(f"  status, nothing changed     {med('status')}   target < 150 ms")
    print(f"  bump after 1% changed       {med('rebump')}   target <= 0.5x dvc add, RSS <= 200 MB")
    if dvc:
        print(f"    dvc add                   {med('rebump.peer')}   {ratio('rebump')}")
    print(f"  status after that bump      {med('restatus')}")
    print(f"  diff --stat of the two      {med('diff')}   target <= 0.8x git diff --numstat")
    print(f"    git diff --numstat        {med('diff.peer')}   {ratio('diff')}")
    if sizes:
        line = f"  storage of both versions    {sizes['store'] / 1e6:6.1f} MB"
        if "dvc" in sizes:
            line += f"   dvc cache {sizes['dvc'] / 1e6:.1f} MB, ratio {sizes['store'] / sizes['dvc']:.2f}x"
        print(line + "   target <= 0.6x")
        print(f"  committed store after git gc {sizes['git'] / 1e6:6.1f} MB (.git/objects)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--phase", choices=["quiet", "busy", "both"], default="both")
    options = parser.parse_args()
    dvc = dvc_command()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ENV["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        data = work / "cases.jsonl"
        make_cases(data, options.cases)
        changed_data = work / "cases-changed.jsonl"
        changed = change_cases(data, changed_data)
        print(
            f"eval set: {options.cases:,} cases, {data.stat().st_size / 1e6:.1f} MB, {changed:,} changed;"
            f" wall, user+sys CPU and peak RSS per process; peers: {'dvc, ' if dvc else ''}git"
        )
        floor = run([sys.executable, "-c", FLOOR, str(data), str(work / "copy")], work)
        print(f"floor (start-up + sha256 + 1 copy): {floor[0] * 1000:.0f} ms")
        if options.phase in ("quiet", "both"):
            phase("quiet", work, data, changed_data, options.repeat, dvc)
        if options.phase in ("busy", "both"):
            hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            try:
                phase("one core kept busy", work, data, changed_data, options.repeat, dvc)
            finally:
                hog.kill()
                hog.wait()


if __name__ == "__main__":
    main()
