"""Eval runs: a version's eval set against a target, scored, stored, compared.

    prepare()      every configuration check, no request sent        (runner.py)
    execute()      cases in parallel, each recorded as it finishes   (runner.py)
    evaluate()     both, synchronously, into a stored (or scratch) run
    compare_runs() case-by-case deltas between two runs              (compare.py)

Nothing is imported here until a name is used; aiohttp, jinja2, rapidfuzz and tiktoken load
when a run needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptver.evals.analysis.compare import Comparison, Gate, compare_runs
    from promptver.evals.evaluation import RunInterrupted, evaluate, runs_folder
    from promptver.evals.runner import EvalOptions
    from promptver.evals.runs.storage import RunStore, StoredRun

__all__ = [
    "Comparison",
    "EvalOptions",
    "Gate",
    "RunInterrupted",
    "RunStore",
    "StoredRun",
    "compare_runs",
    "evaluate",
    "runs_folder",
]

# Where each name lives: imported on first use, so a command that only reads stored runs
# (`show NAME@ALIAS`, a promotion's evidence) does not load asyncio, ssl and the runner.
_HOME = {
    "Comparison": "promptver.evals.analysis.compare",
    "Gate": "promptver.evals.analysis.compare",
    "compare_runs": "promptver.evals.analysis.compare",
    "RunInterrupted": "promptver.evals.evaluation",
    "evaluate": "promptver.evals.evaluation",
    "runs_folder": "promptver.evals.evaluation",
    "EvalOptions": "promptver.evals.runner",
    "RunStore": "promptver.evals.runs.storage",
    "StoredRun": "promptver.evals.runs.storage",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
