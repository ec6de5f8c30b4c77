"""Start-up cost of ``promptver.load`` and the speed of warm loads and ``messages()``.

Run: python tests/benchmarks/bench_load.py [--reps 40]

Builds a real prompts project (store with several versions, an app with a lock) in a
temporary folder, then measures:

1. whole processes, interleaved, medians:
   - ``python -c pass``                                    (bare interpreter)
   - ``python -c "import jinja2.sandbox"``                  (the floor: the template engine)
   - ``python -c "import promptver; promptver.load('support-bot').messages('answer', ...)"``
   target: at most 40 ms above the floor;
2. in process: the first (cold) load, a warm ``load()`` of an already loaded version
   (target: under 50 µs), and ``messages()`` of a typical template;
3. MLflow side by side when it is installed (``import mlflow`` + ``load_prompt``); it is
   not a dependency, so usually this prints a note and skips.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

LOAD_AND_RENDER = (
    "import promptver; "
    "promptver.load('support-bot').messages('answer', question='How long do refunds take?', "
    "context=['Refunds are accepted within 30 days.', 'Shipping takes 5 days.'])"
)


def build_project(base: Path) -> Path:
    """A store with support-bot and ticket-triage versions, and a locked app; returns it."""
    from promptver.app.lockfile import app_store
    from promptver.app.pins import load_config
    from promptver.app.resolve import apply_plan, plan_lock
    from tests.app_fixtures import make_project

    os.environ.setdefault("PROMPTVER_USER", "bench")
    project = make_project(base)
    config = load_config(project.app)
    apply_plan(plan_lock(config, app_store(config)))
    return project.app_dir


def child_env(pycache: Path | None) -> dict[str, str]:
    """The children's environment. With ``pycache``, bytecode is written and read there
    (as an installed package has it), even if PYTHONDONTWRITEBYTECODE is set here."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


ENV: dict[str, str] = {}


def time_process(code: str, cwd: Path) -> float:
    env = ENV
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, check=True)
    return time.perf_counter() - start


def whole_process(app_dir: Path, reps: int) -> dict[str, float]:
    cases = {
        "bare python": "pass",
        "import jinja2.sandbox (floor)": "import jinja2.sandbox",
        "import promptver + load + messages": LOAD_AND_RENDER,
    }
    for code in cases.values():  # warm the OS file cache; check it works
        time_process(code, app_dir)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(reps):  # interleaved, so drift in machine load hits every case alike
        for name, code in cases.items():
            samples[name].append(time_process(code, app_dir))
    return {name: statistics.median(values) * 1000 for name, values in samples.items()}


def in_process(app_dir: Path) -> dict[str, float]:
    os.chdir(app_dir)
    import promptver

    start = time.perf_counter()
    bot = promptver.load("support-bot")
    first = time.perf_counter() - start
    start = time.perf_counter()
    bot.messages("answer", question="q", context=["c"])
    first_render = time.perf_counter() - start

    def median_us(func: object, number: int, repeat: int = 7) -> float:
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            for _ in range(number):
                func()  # type: ignore[operator]
            runs.append((time.perf_counter() - start) / number)
        return statistics.median(runs) * 1e6

    context = ["Refunds are accepted within 30 days.", "Shipping takes 5 days.", "Support: 9-17 CET."]
    return {
        "first load (cold, in process), ms": first * 1000,
        "first messages() (compiles the templates), ms": first_render * 1000,
        "warm load('support-bot'), µs": median_us(lambda: promptver.load("support-bot"), 20000),
        "warm load('support-bot@1.2.1'), µs": median_us(lambda: promptver.load("support-bot@1.2.1"), 20000),
        "messages('answer', ...), µs": median_us(
            lambda: bot.messages("answer", question="How long do refunds take?", context=context), 5000
        ),
        "render('answer', ...), µs": median_us(
            lambda: bot.render("answer", question="How long do refunds take?", context=context), 5000
        ),
    }


def mlflow_comparison() -> None:
    try:
        import importlib.util

        found = importlib.util.find_spec("mlflow") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        print("mlflow: not installed, comparison skipped (it is an optional benchmark extra).")
        return
    code = (
        "import time, tempfile, os; t=time.perf_counter(); import mlflow; "
        "os.environ['MLFLOW_TRACKING_URI']='sqlite:///'+tempfile.mkdtemp()+'/m.db'; "
        "mlflow.genai.register_prompt(name='p', template='Question: {{question}}'); "
        "t2=time.perf_counter(); mlflow.genai.load_prompt('prompts:/p/1'); "
        "t3=time.perf_counter(); "
        "print(f'{(t3-t)*1000:.0f} ms import+register+load, load_prompt {(t3-t2)*1000:.1f} ms')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    print("mlflow:", result.stdout.strip() or result.stderr.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=40, help="process runs per case (default 40)")
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="measure promptver compiled from source at every start (no .pyc), as happens "
        "when PYTHONDONTWRITEBYTECODE is set and the package is not installed",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app_dir = build_project(Path(tmp))
        ENV.update(child_env(None if args.no_bytecode else Path(tmp) / "pycache"))
        bytecode = "from source, no bytecode" if args.no_bytecode else "with bytecode, as installed"
        print(f"Python {sys.version.split()[0]} on {sys.platform}; {args.reps} runs per case, medians")
        print(f"promptver imported {bytecode}\n")
        print("whole process:")
        figures = whole_process(app_dir, args.reps)
        for name, value in figures.items():
            print(f"  {name:<40} {value:7.1f} ms")
        floor = figures["import jinja2.sandbox (floor)"]
        ours = figures["import promptver + load + messages"]
        verdict = "within" if ours - floor <= 40 else "OVER"
        print(f"  promptver above the jinja2 floor: {ours - floor:+.1f} ms ({verdict} the 40 ms target)\n")
        print("in process:")
        for name, value in in_process(app_dir).items():
            print(f"  {name:<48} {value:9.1f}")
        print()
        mlflow_comparison()


if __name__ == "__main__":
    main()
