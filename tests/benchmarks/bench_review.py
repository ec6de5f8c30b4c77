"""Time from start to the first painted review screen, headless.

    python tests/benchmarks/bench_review.py [--project PATH] [--cases N]

Each measurement runs in a fresh interpreter so imports count: the clock starts before
``promptver`` is imported and stops when the review is loaded, the first changed
component is mounted (its diff aligned, for a text) and a frame has been rendered.

Scenarios:
- every example bundle of the project (default: this repository, whose ``.promptver``
  holds the shipped example history), its two latest versions;
- a bundle whose eval dataset has N cases (default 100,000): 10% changed, 1% added,
  1% removed, latest version against the working copy, opened on the dataset.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def child(project: str, name: str, old: str, new: str | None, select: str | None) -> None:
    """Runs in the measured interpreter; prints one JSON line."""
    start = time.perf_counter()
    import asyncio

    sys.path.insert(0, str(ROOT))
    os.chdir(project)
    from promptver.store.store import Store
    from promptver.tui.app import ReviewApp
    from promptver.tui.loader import load_review
    from promptver.tui.widgets.diff_view import DiffView
    from promptver.tui.widgets.navigator import Navigator

    imported = time.perf_counter() - start
    store = Store.find(Path(project))
    marks: dict[str, float] = {}
    shown: list[str] = []

    class Timed(ReviewApp):
        def on_mount(self) -> None:
            super().on_mount()
            # runs after the first refresh: the header and the loading indicator are painted
            self.call_after_refresh(self._mark)

        def _mark(self) -> None:
            marks.setdefault("first_frame", time.perf_counter() - start)

    app = Timed(lambda progress: load_review(store, name, old, new, progress=progress))

    async def run() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            while app.review is None:
                await pilot.pause(0.005)
            if select is not None:
                navigator = app.query_one(Navigator)
                keys = navigator.visible_keys()
                if select in keys:
                    navigator.highlighted = keys.index(select)
            while not list(app.query("#body > *")) or app.query("#body LoadingIndicator"):
                await pilot.pause(0.005)
            while any(view.diff is None for view in app.query(DiffView)):
                await pilot.pause(0.005)
            await pilot.pause()
            marks["review_painted"] = time.perf_counter() - start
            shown.append(app.query_one(Navigator).current_key or "")
            await pilot.press("n")  # and it answers a key
            await pilot.pause()
            marks["first_key"] = time.perf_counter() - start

    asyncio.run(run())
    components = len(app.review.components) if app.review else 0
    print(json.dumps({"imports": imported, **marks, "components": components, "shown": shown[0]}))


def measure(project: Path, name: str, old: str, new: str | None, select: str | None) -> dict:
    args = [sys.executable, __file__, "--child", str(project), name, old, new or "-"]
    args.append(select or "-")
    done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(label: str, figures: dict) -> None:
    print(
        f"{label:<44} imports {figures['imports']:.2f}s  first frame "
        f"{figures['first_frame']:.2f}s  review painted {figures['review_painted']:.2f}s  "
        f"first key {figures['first_key']:.2f}s  ({figures['shown']})"
    )


def examples(project: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from promptver.store.store import Store

    try:
        store = Store.find(project)
    except Exception as exc:  # no store: say so, the other scenario still runs
        print(f"no example store in {project}: {exc}")
        return
    for name in store.bundle_names():
        versions = [m.version for m in store.versions(name)]
        if len(versions) < 2:
            continue
        for old, new in {(versions[-2], versions[-1]), (versions[0], versions[-1])}:
            report(f"{name} {old} -> {new}", measure(project, name, old, new, None))


def big_dataset(cases: int) -> None:
    sys.path.insert(0, str(ROOT))
    from promptver.bundle.scaffold import scaffold
    from promptver.store.store import Store

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        Store.init(root)
        bundle = root / "bundles" / "big"
        scaffold(bundle, "big")
        golden = bundle / "evals" / "golden.jsonl"

        def write(version: int) -> None:
            with golden.open("w") as out:
                for i in range(cases):
                    if version and i % 100 == 0:
                        continue  # removed
                    question = f"question {i}" + ("?" if version and i % 10 == 1 else "")
                    case = {"id": f"case-{i:06d}", "vars": {"question": question}, "expected": f"answer {i}"}
                    out.write(json.dumps(case) + "\n")
                if version:
                    for i in range(cases // 100):
                        case = {"id": f"new-{i:06d}", "vars": {"question": "q"}, "expected": "a"}
                        out.write(json.dumps(case) + "\n")

        write(0)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PROMPTVER_USER": "bench"}
        bump = [sys.executable, "-m", "promptver", "bump", "patch", "big", "-m", "base"]
        subprocess.run(bump, cwd=root, env=env, check=True, capture_output=True)
        write(1)
        size = golden.stat().st_size / 1e6
        label = f"big: {cases:,}-case dataset ({size:.0f} MB) vs working"
        report(label, measure(root, "big", "latest", None, "evals:golden"))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, project, name, old, new, select = sys.argv
        child(project, name, old, None if new == "-" else new, None if select == "-" else select)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=ROOT)
    parser.add_argument("--cases", type=int, default=100_000)
    args = parser.parse_args()
    examples(args.project)
    big_dataset(args.cases)


if __name__ == "__main__":
    main()
