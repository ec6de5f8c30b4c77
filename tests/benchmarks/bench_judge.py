"""Judged eval throughput: 1,000 cases, each a generation then an llm-judge call, against
the fake server in its own process at 50 ms a request.

    .venv/bin/python tests/benchmarks/bench_judge.py [--cases 1000] [--latency 0.05] [--concurrency 50]

Theory: every case makes two requests one after the other, so the minimum is
cases x 2 x latency / concurrency (2.0 s for the defaults). Then, with the request cache
on and warm, the rubric of the assertion is changed and the eval run again: it must make
no generation request (the answers come from the cache) and one judge request a case.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from promptver.evals import EvalOptions, runner  # noqa: E402
from promptver.evals.runs.storage import RunStore  # noqa: E402
from promptver.evals.source import open_bundle  # noqa: E402
from promptver.store.store import Store  # noqa: E402

SERVER = (
    "import sys, time; sys.path.insert(0, {root!r}); from tests.fakeserver import FakeLLMServer; "
    "s = FakeLLMServer(latency={latency}); "
    "s.add(match='<answer-', reply='{{\"pass\": true, \"reason\": \"fine\"}}', model='judge'); "
    "s.start(); print(s.url, flush=True); time.sleep(10**6)"
)


def make_project(folder: Path, base_url: str, cases: int, rubric: str) -> Store:
    store, _ = Store.init(folder)
    bundle = folder / "bundles" / "bench"
    (bundle / "prompts").mkdir(parents=True, exist_ok=True)
    (bundle / "evals").mkdir(exist_ok=True)
    (bundle / "bundle.toml").write_text(
        '[bundle]\nname = "bench"\n\n'
        f'[model]\nprovider = "openai"\nname = "gpt-4o-mini"\nbase_url = "{base_url}"\n\n'
        '[prompts]\nsystem = "prompts/system.j2"\n\n'
        '[prompts.templates]\nanswer = "prompts/answer.j2"\n\n'
        '[evals.golden]\npath = "evals/golden.jsonl"\ntemplate = "answer"\n'
        f'grader = {{ provider = "openai", name = "judge", base_url = "{base_url}" }}\n'
        f'assert = [{{ type = "llm-judge", value = "{rubric}" }}]\n'
    )
    (bundle / "prompts" / "system.j2").write_text("You answer in one word.")
    (bundle / "prompts" / "answer.j2").write_text("Question {{ n }}: {{ question }}")
    with (bundle / "evals" / "golden.jsonl").open("w") as handle:
        for n in range(cases):
            handle.write(
                json.dumps({"id": f"case-{n:05}", "vars": {"n": n, "question": f"what is {n}?"}}) + "\n"
            )
    return store


def measure(store: Store, concurrency: int, cache: bool) -> dict[str, float]:
    bundle = open_bundle("bench", store)
    options = EvalOptions(concurrency=concurrency, cache=cache, timeout=30, retries=2)
    plan = runner.prepare(bundle, options, store_root=store.root, env={"OPENAI_API_KEY": "sk-bench"})
    writer = runner.start(plan, RunStore(store.root / "runs"))
    generation = plan.target.model  # type: ignore[attr-defined]
    assert plan.grader is not None
    grader = plan.grader
    cpu0, wall0 = time.process_time(), time.perf_counter()
    meta = asyncio.run(runner.execute(plan, writer))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    summary = meta["summary"]
    assert summary["errors"] == 0 and summary["passed"] == summary["cases"], summary
    return {
        "wall": wall,
        "cpu": cpu,
        "cases": summary["cases"],
        "gen": generation.calls,
        "judge": grader.calls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    code = SERVER.format(root=str(ROOT), latency=args.latency)
    server = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    url = server.stdout.readline().strip()
    folder = Path(tempfile.mkdtemp(prefix="promptver-bench-judge-"))
    try:
        store = make_project(folder, f"{url}/v1", args.cases, "Answers the question")
        minimum = args.cases * 2 * args.latency / args.concurrency
        print(
            f"{args.cases} judged cases (2 requests each), {args.latency * 1000:.0f} ms a request, "
            f"concurrency {args.concurrency}, cache off, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
        )
        for _ in range(args.runs):
            r = measure(store, args.concurrency, cache=False)
            print(
                f"  wall {r['wall']:.2f}s  minimum {minimum:.2f}s  ratio {r['wall'] / minimum:.2f}x  "
                f"CPU/case {r['cpu'] / r['cases'] * 1000:.2f}ms  requests: {r['gen']} generation, "
                f"{r['judge']} judge",
                flush=True,
            )
        warm = measure(store, args.concurrency, cache=True)  # fills the cache
        make_project(folder, f"{url}/v1", args.cases, "Answers the question in one word")
        changed = measure(store, args.concurrency, cache=True)
        print(
            f"  cache warm ({warm['gen']} generation requests to fill it), then only the rubric changed: "
            f"{changed['gen']} generation requests, {changed['judge']} judge requests, wall {changed['wall']:.2f}s"
        )
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
