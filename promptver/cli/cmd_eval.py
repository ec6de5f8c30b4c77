"""``promptver eval``, ``promptver eval compare``, ``promptver runs``, ``promptver run show``."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from promptver.errors import PromptverError

FORMATS = ("text", "json", "markdown", "junit")


class _DefaultGroup(click.Group):
    """``eval compare A B`` is a subcommand; anything else is ``eval NAME[@VERSION]``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


class _DefaultCommand(click.Command):
    """The implicit ``eval run``: its usage line reads ``promptver eval [OPTIONS] ...``."""

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        path = ctx.parent.command_path if ctx.parent is not None else ctx.command_path
        formatter.write_usage(path, " ".join(self.collect_usage_pieces(ctx)))


def _store(ctx: click.Context, required: bool = True) -> Any:
    from promptver.evals.source import find_store

    store = find_store((ctx.find_root().obj or {}).get("store_path"))
    if store is None and required:
        raise PromptverError(
            "no .promptver/ store here or in any parent folder",
            hint="run `promptver init` at your project root or pass --store",
        )
    return store


def _fmt(fmt: str | None, as_json: bool) -> str:
    return "json" if as_json else (fmt or "text")


def _gate_options(function: Any) -> Any:
    for option in reversed(
        [
            click.option(
                "--fail-under",
                type=float,
                metavar="SCORE",
                help="Exit 1 when the score (0..1) is under SCORE.",
            ),
            click.option(
                "--max-regressions",
                type=int,
                metavar="N",
                help="With a comparison: exit 1 when more than N cases regressed.",
            ),
            click.option(
                "--max-score-drop",
                type=float,
                metavar="D",
                help="With a comparison: exit 1 when the score dropped by more than D.",
            ),
            click.option("--format", "fmt", type=click.Choice(FORMATS), help="Report format."),
            click.option("--json", "as_json", is_flag=True, help="Same as --format json."),
        ]
    ):
        function = option(function)
    return function


@click.group("eval", cls=_DefaultGroup, invoke_without_command=False)
def eval_group() -> None:
    """Run a version's eval set and score it: promptver eval NAME[@VERSION] [options].

    NAME alone evaluates the working copy (kept only with --save); NAME@VERSION evaluates a
    stored version and stores the run. `promptver eval compare A B` compares two runs.
    """


@eval_group.command("run", hidden=True, cls=_DefaultCommand)
@click.argument("ref", metavar="NAME[@VERSION]")
@click.option("--dataset", help="Eval dataset (default: the bundle's only one).")
@click.option(
    "--target",
    help="'model' (the bundle's model, default), 'rag' ([rag] retrieval, then the model), "
    "'retrieval' (BM25 over [rag], offline), 'retrieval:configured' or python:pkg.mod:fn.",
)
@click.option("--concurrency", type=int, default=8, show_default=True)
@click.option("--rate-limit", type=float, metavar="RPM", help="At most RPM requests a minute.")
@click.option("--filter", "tags", multiple=True, metavar="TAG", help="Only cases with TAG.")
@click.option("--limit", type=int, help="Only the first N cases.")
@click.option("--repeat", type=int, default=1, show_default=True, help="Run every case N times.")
@click.option("--no-cache", is_flag=True, help="Send every request, even identical ones.")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds per request.")
@click.option("--retries", type=int, default=4, show_default=True)
@click.option(
    "--compare",
    "compare_to",
    metavar="VERSION|RUN",
    help="Compare with the latest run of VERSION, or with a run id.",
)
@click.option("--save", is_flag=True, help="Store a working-copy run too.")
@click.option("--resume", metavar="RUN", help="Continue an interrupted run.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@_gate_options
@click.pass_context
def eval_run(
    ctx: click.Context,
    ref: str,
    dataset: str | None,
    target: str | None,
    concurrency: int,
    rate_limit: float | None,
    tags: tuple[str, ...],
    limit: int | None,
    repeat: int,
    no_cache: bool,
    timeout: float,
    retries: int,
    compare_to: str | None,
    save: bool,
    resume: str | None,
    quiet: bool,
    fail_under: float | None,
    max_regressions: int | None,
    max_score_drop: float | None,
    fmt: str | None,
    as_json: bool,
) -> None:
    """Evaluate NAME[@VERSION]."""
    from promptver import evals
    from promptver.evals import RunInterrupted
    from promptver.evals.source import cwd_on_path, find_run, open_bundle, split_ref

    store = _store(ctx, required=False)
    store_root = store.root if store is not None else None
    cwd_on_path()
    bundle = open_bundle(ref, store)
    options = evals.EvalOptions(
        dataset=dataset,
        target=target,
        concurrency=concurrency,
        rate_limit=rate_limit,
        tags=list(tags),
        limit=limit,
        repeat=repeat,
        cache=not no_cache,
        timeout=timeout,
        retries=retries,
    )
    saved = save or split_ref(ref)[1] is not None or resume is not None
    progress = _Progress(enabled=not quiet)
    try:
        with progress:
            run = evals.evaluate(
                bundle, options, store_root=store_root, save=saved, resume=resume, on_record=progress.update
            )
    except RunInterrupted as exc:
        click.echo(f"Interrupted: {exc}", err=True)
        sys.exit(130)
    comparison = None
    if compare_to:
        base = find_run(_store(ctx), compare_to, bundle=bundle.name, dataset=run.meta["dataset"]["name"])
        comparison = evals.compare_runs(base, run)
    gate = evals.Gate(fail_under, max_regressions, max_score_drop)
    _finish(run.meta, run.records, comparison, gate, _fmt(fmt, as_json))


@eval_group.command("compare")
@click.argument("base", metavar="A")
@click.argument("head", metavar="B")
@click.option("--dataset", help="Dataset, when A or B is NAME@VERSION.")
@_gate_options
@click.pass_context
def eval_compare(
    ctx: click.Context,
    base: str,
    head: str,
    dataset: str | None,
    fail_under: float | None,
    max_regressions: int | None,
    max_score_drop: float | None,
    fmt: str | None,
    as_json: bool,
) -> None:
    """Compare two runs: A and B are run ids or NAME@VERSION (its latest run)."""
    from promptver import evals
    from promptver.evals.source import find_run

    store = _store(ctx)
    old = find_run(store, base, dataset=dataset)
    new = find_run(store, head, bundle=old.meta["bundle"], dataset=dataset)
    comparison = evals.compare_runs(old, new)
    gate = evals.Gate(fail_under, max_regressions, max_score_drop)
    _finish(new.meta, new.records, comparison, gate, _fmt(fmt, as_json))


def _finish(
    meta: dict[str, Any], records: list[dict[str, Any]], comparison: Any, gate: Any, fmt: str
) -> None:
    from promptver.evals import report

    failures = gate.failures(meta.get("summary") or {}, comparison)
    click.echo(report.render(fmt, meta, records, comparison, failures))
    if failures:
        sys.exit(1)


@click.command("runs")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.pass_context
def runs(ctx: click.Context, name: str, as_json: bool) -> None:
    """List the stored eval runs of bundle NAME, newest first."""
    import json

    from promptver.evals.storage import RunStore

    metas = RunStore(_store(ctx).root / "runs").list(name)
    if as_json:
        click.echo(json.dumps(metas, indent=2, ensure_ascii=False))
        return
    if not metas:
        click.echo(f"no runs of {name}")
        return
    for meta in metas:
        s = meta.get("summary") or {}
        click.echo(
            f"{meta['id']}  {meta.get('version') or 'working copy':<14} "
            f"{meta['dataset']['name']:<10} {meta.get('status', ''):<11} "
            f"cases {s.get('cases', 0):>4}  pass {s.get('pass_rate', 0.0) * 100:5.1f}%  "
            f"score {s.get('score', 0.0):.3f}  {meta['target']}"
        )


@click.group("run")
def run_group() -> None:
    """Inspect one stored eval run."""


@run_group.command("show")
@click.argument("run_id", metavar="ID")
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="Report format.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.pass_context
def run_show(ctx: click.Context, run_id: str, fmt: str | None, as_json: bool) -> None:
    """Show run ID: summary and failing cases (every record with --json)."""
    from promptver.evals import report
    from promptver.evals.storage import RunStore

    run = RunStore(_store(ctx).root / "runs").load(run_id)
    click.echo(report.render(_fmt(fmt, as_json), run.meta, run.records))


class _Progress:
    """A rich progress bar (pass/fail counts, ETA) on a terminal; sparse plain lines else."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        from promptver.cli.common import interactive

        self.tty = interactive()
        self.passed = self.failed = 0
        self.bar: Any = None
        self.task: Any = None
        self.last = 0.0
        self.start = time.monotonic()

    def __enter__(self) -> _Progress:
        if self.enabled and self.tty:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("eval"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("[green]{task.fields[passed]} pass[/] [red]{task.fields[failed]} fail"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def update(self, record: dict[str, Any], done: int, total: int) -> None:
        if record.get("pass"):
            self.passed += 1
        else:
            self.failed += 1
        if not self.enabled:
            return
        if self.bar is not None:
            if self.task is None:
                self.task = self.bar.add_task("eval", total=total, completed=done - 1, passed=0, failed=0)
            self.bar.update(self.task, completed=done, passed=self.passed, failed=self.failed)
            return
        now = time.monotonic()
        if done == total or now - self.last >= 5.0:
            self.last = now
            click.echo(f"eval: {done}/{total} cases, {self.passed} pass, {self.failed} fail", err=True)
