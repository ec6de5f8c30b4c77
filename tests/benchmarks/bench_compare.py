"""How long a comparison's statistics take: the seeded paired bootstrap (10,000 resamples)
and the exact McNemar test, for eval sets of several sizes. Prints figures; asserts nothing.

    python tests/benchmarks/bench_compare.py
"""

from __future__ import annotations

import random
import subprocess
import sys
import time

from promptver.evals.analysis.stats import mcnemar_exact, paired_stats


def records(n: int, rate: float, seed: int) -> list[dict[str, object]]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        ok = rnd.random() < rate
        out.append({"id": f"c{i}", "repeat": 0, "pass": ok, "score": 1.0 if ok else rnd.random() * 0.5})
    return out


def main() -> None:
    code = "import time; t = time.perf_counter(); import numpy; print(time.perf_counter() - t)"
    seconds = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout)
    print(f"import numpy (fresh process): {seconds * 1000:.0f} ms")
    for n in (31, 1_000, 10_000):
        base, head = records(n, 0.87, 1), records(n, 0.92, 2)
        start = time.perf_counter()
        stats = paired_stats(base, head)
        took = time.perf_counter() - start
        assert stats is not None
        first = " (numpy's import included)" if n == 31 else ""
        print(f"{n:>6} cases: {took * 1000:7.1f} ms{first}  ->  {stats.describe()}")
    start = time.perf_counter()
    p = mcnemar_exact(4_000, 5_000)
    print(
        f"exact McNemar with 9,000 discordant pairs: {(time.perf_counter() - start) * 1000:.1f} ms (p = {p:.3g})"
    )


if __name__ == "__main__":
    main()
