"""`promptver judge calibrate`: how often a dataset's judge agrees with human labels."""

from __future__ import annotations

from typing import Any

import click

from promptver.cli.common import console, get_store, json_option, print_json


@click.group()
def judge() -> None:
    """LLM judges: calibration against human labels (docs/evals.md)."""


@judge.command("calibrate")
@click.argument("ref", metavar="NAME@VERSION")
@click.option("--labels", "labels", required=True, metavar="FILE", help="Labels file of the bundle (JSONL).")
@click.option("--dataset", help="Eval dataset whose judge is calibrated (default: the only one).")
@click.option("--concurrency", type=int, default=8, show_default=True, help="Judge requests at once.")
@click.option("--no-cache", is_flag=True, help="Ask the judge again even for identical requests.")
@json_option
def calibrate(
    ref: str, labels: str, dataset: str | None, concurrency: int, no_cache: bool, as_json: bool
) -> None:
    """Run the judge of NAME@VERSION's dataset on every labelled output of FILE and report
    its true-positive and true-negative rates (95% Wilson intervals) and disagreements.
    A calibration of a stored version is recorded in the audit log."""
    from promptver.errors import ConfigError
    from promptver.evals.analysis.calibration import calibrate as run_calibration
    from promptver.evals.source import cwd_on_path, open_bundle

    if concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")
    store = get_store()
    cwd_on_path()
    bundle = open_bundle(ref, store)
    result = run_calibration(
        bundle, labels, dataset=dataset, store_root=store.root, concurrency=concurrency, cache=not no_cache
    )
    if as_json:
        print_json(result)
        return
    _render(result)


def _render(result: dict[str, Any]) -> None:
    from rich.text import Text

    from promptver.evals.analysis.calibration import describe

    out = console()
    s = result["summary"]
    judge = result["judge"]
    out.print(Text(f"calibration {result['id']}: {judge['model']} with {judge['prompt']}", style="bold"))
    out.print(Text(describe(result)))
    out.print(
        Text(
            f"{s['labels']} labels: {s['tp']} pass/pass, {s['tn']} fail/fail, {s['fp']} judge pass but "
            f"human fail, {s['fn']} judge fail but human pass, {s['errors']} errors"
            + (f"; agreement {s['agreement']:.2f}" if s["agreement"] is not None else "")
        )
    )
    for record in result["records"]:
        case = _plain(record["id"])
        if record.get("error"):
            out.print(Text(f"  error  {case} (line {record['line']}): {_plain(record['error'])}"))
        elif not record.get("agree"):
            human = "pass" if record["human"] else "fail"
            said = "pass" if record["judge_pass"] else "fail"
            note = f" (note: {_plain(record['note'])})" if record.get("note") else ""
            why = f": {_plain(record['reason'])}" if record.get("reason") else ""
            line = f"  differ {case} (line {record['line']}): human {human}, judge {said}{why}{note}"
            out.print(Text(line))


def _plain(text: str) -> str:
    """A label's or the judge's text on one terminal line: no control characters."""
    return "".join(c if c.isprintable() else " " for c in str(text))
