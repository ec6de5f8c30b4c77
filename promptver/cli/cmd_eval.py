"""``promptver eval``, ``promptver eval compare``, ``promptver runs``, ``promptver run show``."""

from __future__ import annotations

import sys
import time
from typing import Any, NoReturn

import click

from promptver.errors import PromptverError

FORMATS = ("text", "json", "markdown", "junit")


class _DefaultGroup(click.Group):
    """``eval compare A B``, ``eval history NAME``, ``eval run NAME`` are subcommands;
    anything else is ``eval NAME[@VERSION]`` (``eval run``). A bundle named like a
    subcommand is evaluated with ``eval run NAME`` or ``eval NAME@VERSION`` (a subcommand
    name never holds an ``@``)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "[OPTIONS] NAME[@VERSION] | COMMAND [ARGS]...")

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The run options (what `promptver eval NAME` takes), then the subcommands."""
        run = self.commands["run"]
        with click.Context(run, info_name="run", parent=ctx) as run_ctx:
            rows = [
                row
                for p in run.get_params(run_ctx)
                if isinstance(p, click.Option) and (row := p.get_help_record(run_ctx))
            ]
        with formatter.section("Options of `promptver eval NAME[@VERSION]`"):
            formatter.write_dl(rows)
        self.format_commands(ctx, formatter)


class _DefaultCommand(click.Command):
    """The implicit ``eval run``: its usage line reads ``promptver eval [OPTIONS] ...``."""

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        path = ctx.parent.command_path if ctx.parent is not None else ctx.command_path
        formatter.write_usage(path, " ".join(self.collect_usage_pieces(ctx)))


def _store(ctx: click.Context, required: bool = True) -> Any:
    from promptver.cli.common import lazy_remote
    from promptver.evals.source import find_store

    store = find_store((ctx.find_root().obj or {}).get("store_path"))
    if store is not None:
        store = lazy_remote(store)
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
            click.option(
                "--fail-if-worse",
                is_flag=True,
                help="With a comparison: exit 1 on a statistically significant regression.",
            ),
            click.option(
                "--alpha",
                type=click.FloatRange(0, 1, min_open=True, max_open=True),
                default=0.05,
                show_default=True,
                help="Significance level of the comparison (the interval is 1 - alpha).",
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
    stored version and stores the run. `promptver eval compare A B` compares two runs,
    `promptver eval history NAME` shows the trend. A bundle named like a subcommand
    (`compare`, `history`, `merge`, `run`) is evaluated with `promptver eval run NAME`.
    """


def _signer(store: Any, key: str | None) -> Any:
    """The signer of a recorded run's audit event (None: unsigned, or no store)."""
    if store is None:
        return None
    from promptver.governance.signing import signer, signing_key

    path = signing_key(key, store.project_root)
    return signer(path) if path is not None else None


@eval_group.command("run", cls=_DefaultCommand)
@click.argument("ref", metavar="NAME[@VERSION]")
@click.option("--dataset", help="Eval dataset (default: the bundle's only one).")
@click.option(
    "--target",
    help="'model' (the bundle's model, default), 'rag' ([rag] retrieval, then the model), "
    "'retrieval' (BM25 over [rag], offline), 'retrieval:configured' or python:pkg.mod:fn.",
)
@click.option("--concurrency", type=int, default=8, show_default=True, help="Requests in flight at once.")
@click.option(
    "--rpm", "--rate-limit", "rate_limit", type=float, metavar="RPM", help="At most RPM requests a minute."
)
@click.option("--tpm", type=float, metavar="TPM", help="At most TPM tokens a minute (estimated).")
@click.option("--filter", "tags", multiple=True, metavar="TAG", help="Only cases with TAG.")
@click.option(
    "--batch", is_flag=True, help="Send the model calls through the provider's batch API (half price)."
)
@click.option(
    "--batch-poll",
    type=float,
    default=30.0,
    show_default=True,
    metavar="S",
    help="Seconds between looks at a batch.",
)
@click.option(
    "--batch-size", type=int, metavar="N", help="At most N requests a batch (default: the provider's limit)."
)
@click.option(
    "--shard", metavar="I/N", help="Only shard I of N (by case id); merge the shards with `eval merge`."
)
@click.option("--limit", type=int, help="Only the first N cases.")
@click.option("--repeat", type=int, default=1, show_default=True, help="Run every case N times.")
@click.option("--no-cache", is_flag=True, help="Send every request, even identical ones.")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds per request.")
@click.option(
    "--retries", type=int, default=4, show_default=True, help="Retries of a failed request (429, 5xx)."
)
@click.option(
    "--compare",
    "compare_to",
    metavar="VERSION|RUN",
    help="Compare with the latest run of VERSION, or with a run id.",
)
@click.option(
    "--model",
    "models",
    multiple=True,
    metavar="[PROVIDER/]NAME",
    help="Evaluate with this model instead of the bundle's (repeat for a side-by-side matrix).",
)
@click.option("--save", is_flag=True, help="Store a working-copy run too.")
@click.option("--resume", metavar="RUN", help="Continue an interrupted run.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@click.option(
    "--key",
    default=None,
    metavar="PATH",
    help="SSH key to sign the run's audit event with (CI's key; default: PROMPTVER_SIGNING_KEY,"
    " else git's user.signingkey when gpg.format=ssh; none: unsigned).",
)
@_gate_options
@click.pass_context
def eval_run(
    ctx: click.Context,
    ref: str,
    dataset: str | None,
    target: str | None,
    concurrency: int,
    rate_limit: float | None,
    tpm: float | None,
    tags: tuple[str, ...],
    batch: bool,
    batch_poll: float,
    batch_size: int | None,
    shard: str | None,
    limit: int | None,
    repeat: int,
    no_cache: bool,
    timeout: float,
    retries: int,
    compare_to: str | None,
    models: tuple[str, ...],
    save: bool,
    resume: str | None,
    quiet: bool,
    key: str | None,
    fail_under: float | None,
    max_regressions: int | None,
    max_score_drop: float | None,
    fail_if_worse: bool,
    alpha: float,
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
    sign = _signer(store, key)
    options = evals.EvalOptions(
        dataset=dataset,
        target=target,
        concurrency=concurrency,
        rate_limit=rate_limit,
        tpm=tpm,
        tags=list(tags),
        shard=shard,
        batch=batch,
        batch_poll=batch_poll,
        batch_size=batch_size,
        limit=limit,
        repeat=repeat,
        cache=not no_cache,
        timeout=timeout,
        retries=retries,
        model=models[0] if len(models) == 1 else None,
    )
    _needs_comparison(compare_to is not None, fail_if_worse)
    if len(models) > 1:
        if compare_to or resume:
            raise click.UsageError("a model matrix (several --model) takes no --compare or --resume")
        gate = evals.Gate(fail_under, max_regressions, max_score_drop, fail_if_worse)
        shared = _shared_cache(store) if options.cache else None
        _matrix(ref, bundle, options, models, store_root, save, quiet, gate, _fmt(fmt, as_json), shared, sign)
        return
    saved = save or split_ref(ref)[1] is not None or resume is not None
    progress = _Progress(enabled=not quiet)
    shared = _shared_cache(store) if options.cache else None
    try:
        with progress:
            run = evals.evaluate(
                bundle,
                options,
                store_root=store_root,
                save=saved,
                resume=resume,
                on_record=progress.update,
                shared_cache=shared,
                on_batch=None if quiet else _batch_progress(),
                sign=sign,
            )
    except RunInterrupted as exc:
        _interrupted(exc)
    comparison = None
    if compare_to:
        from promptver.evals.runs.summaries import run_target

        base = find_run(
            _store(ctx),
            compare_to,
            bundle=bundle.name,
            dataset=run.meta["dataset"]["name"],
            target=run_target(run.meta),  # like with like: the base's run of this run's target
        )
        comparison = evals.compare_runs(base, run, alpha=alpha)
    gate = evals.Gate(fail_under, max_regressions, max_score_drop, fail_if_worse)
    _finish(run.meta, run.records, comparison, gate, _fmt(fmt, as_json))


@eval_group.command("compare")
@click.argument("base", metavar="A")
@click.argument("head", metavar="B")
@click.option("--dataset", help="Dataset, when A or B is NAME@VERSION.")
@click.option(
    "--target",
    metavar="T",
    help="Compare runs of this target (model, rag, retrieval, ...), when A or B is NAME@VERSION.",
)
@click.option("--judge", is_flag=True, help="Also judge the outputs pairwise, in both orders.")
@click.option("--rubric", metavar="TEXT", help="What the pairwise judge compares (with --judge).")
@click.option("--concurrency", type=int, default=8, show_default=True, help="Judge requests at once.")
@_gate_options
@click.pass_context
def eval_compare(
    ctx: click.Context,
    base: str,
    head: str,
    dataset: str | None,
    target: str | None,
    judge: bool,
    rubric: str | None,
    concurrency: int,
    fail_under: float | None,
    max_regressions: int | None,
    max_score_drop: float | None,
    fail_if_worse: bool,
    alpha: float,
    fmt: str | None,
    as_json: bool,
) -> None:
    """Compare two runs: A and B are run ids or NAME@VERSION (its latest run), of one
    dataset and one target."""
    from promptver import evals
    from promptver.evals.source import find_pair

    store = _store(ctx)
    old, new = find_pair(store, base, head, dataset=dataset, target=target)
    comparison = evals.compare_runs(old, new, alpha=alpha)
    gate = evals.Gate(fail_under, max_regressions, max_score_drop, fail_if_worse)
    if judge:
        _pairwise(store, old, new, rubric, concurrency, comparison, gate, _fmt(fmt, as_json))
        return
    if rubric is not None:
        raise click.UsageError("--rubric needs --judge")
    _finish(new.meta, new.records, comparison, gate, _fmt(fmt, as_json))


@eval_group.command("merge")
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN...")
@_gate_options
@click.pass_context
def eval_merge(
    ctx: click.Context,
    run_ids: tuple[str, ...],
    fail_under: float | None,
    max_regressions: int | None,
    max_score_drop: float | None,
    fail_if_worse: bool,
    alpha: float,
    fmt: str | None,
    as_json: bool,
) -> None:
    """Make one run from the shard runs of `eval NAME@V --shard i/N` (all N of them)."""
    from promptver import evals
    from promptver.evals import shards
    from promptver.evals.runs.storage import RunStore, read_run

    store = _store(ctx)
    runs_store = RunStore(store.root / "runs")
    runs = [runs_store.load(run_id, lazy=True) for run_id in dict.fromkeys(run_ids)]
    writer = shards.merge(runs, runs_store)
    run = read_run(writer.folder, lazy=True)
    if run.meta.get("version"):
        from promptver.evals.runs.records import record_run

        record_run(store, run.meta, run.path)
    _needs_comparison(False, fail_if_worse)
    gate = evals.Gate(fail_under, max_regressions, max_score_drop, fail_if_worse)
    _finish(run.meta, run.records, None, gate, _fmt(fmt, as_json))


def _pairwise(
    store: Any, old: Any, new: Any, rubric: str | None, concurrency: int, comparison: Any, gate: Any, fmt: str
) -> None:
    """The comparison plus the pairwise judge's verdicts (JSON: both, under their names)."""
    import json

    from promptver.evals.analysis import pairwise, report
    from promptver.evals.source import cwd_on_path, open_bundle

    if fmt not in ("text", "json"):
        raise click.UsageError("--judge reports as text or JSON")
    if concurrency < 1:
        raise click.UsageError("--concurrency must be at least 1")
    cwd_on_path()
    meta = new.meta
    ref = f"{meta['bundle']}@{meta['version']}" if meta.get("version") else str(meta["bundle"])
    bundle = open_bundle(ref, store)
    result = pairwise.judge_runs(
        old, new, bundle, rubric=rubric, store_root=store.root, concurrency=concurrency
    ).to_json()
    failures = gate.failures(meta.get("summary") or {}, comparison)
    text = report.render(fmt, meta, new.records, comparison, failures)
    if fmt == "json":
        click.echo(json.dumps({"comparison": json.loads(text), "pairwise": result}, indent=2))
    else:
        label = lambda m: m.get("version") or m.get("id")  # noqa: E731
        click.echo(text + "\n" + pairwise.render(result, str(label(old.meta)), str(label(new.meta))))
    if failures:
        sys.exit(1)


def _matrix(
    ref: str,
    bundle: Any,
    options: Any,
    models: tuple[str, ...],
    store_root: Any,
    save: bool,
    quiet: bool,
    gate: Any,
    fmt: str,
    shared: Any = None,
    sign: Any = None,
) -> None:
    """Run the same version against each model, store each run, show them side by side."""
    import dataclasses
    import json

    from promptver import evals
    from promptver.evals.analysis import matrix
    from promptver.evals.runner import prepare
    from promptver.evals.source import split_ref

    if fmt == "junit":
        raise click.UsageError("a model matrix has text, json and markdown reports")
    plans = [dataclasses.replace(options, model=m) for m in dict.fromkeys(models)]
    for plan_options in plans:  # every model's configuration is checked before any request
        prepare(bundle, plan_options, store_root=store_root)
    saved = save or split_ref(ref)[1] is not None
    runs = []
    for plan_options in plans:
        if not quiet:
            click.echo(f"model {plan_options.model}:", err=True)
        progress = _Progress(enabled=not quiet)
        try:
            with progress:
                run = evals.evaluate(
                    bundle,
                    plan_options,
                    store_root=store_root,
                    save=saved,
                    on_record=progress.update,
                    shared_cache=shared,
                    sign=sign,
                )
        except evals.RunInterrupted as exc:
            _interrupted(exc)
        runs.append((str(plan_options.model), run))
    result = matrix.build_matrix(runs)
    title = f"{bundle.label} on {runs[0][1].meta['dataset']['name']}: {len(runs)} models"
    failures = [
        f"{model}: {reason}"
        for model, run in runs
        for reason in gate.failures(run.meta.get("summary") or {}, None)
    ]
    if fmt == "json":
        data = {**result.to_json(), "gate": {"passed": not failures, "failures": failures}}
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    elif fmt == "markdown":
        click.echo(matrix.markdown(result, title) + "".join(f"\n\n**Gate failed:** {f}" for f in failures))
    else:
        click.echo(matrix.text(result, title) + "".join(f"\ngate failed: {f}" for f in failures))
    if failures:
        sys.exit(1)


def _interrupted(exc: Exception) -> NoReturn:
    """Ctrl-C: "Interrupted: run ID keeps its N finished cases" (the error says
    "interrupted" itself: said once), exit 130."""
    text = str(exc)
    click.echo(text[:1].upper() + text[1:], err=True)
    sys.exit(130)


def _batch_progress() -> Any:
    """A line on stderr when a batch's status or counts change."""
    seen: dict[str, str] = {}

    def show(info: dict[str, Any]) -> None:
        line = f"batch {info['id']}: {info['status']}"
        counts = info.get("counts")
        if isinstance(counts, dict):
            line += " (" + ", ".join(f"{k} {v}" for k, v in counts.items()) + ")"
        if seen.get(info["id"]) != line:
            seen[info["id"]] = line
            click.echo(line, err=True)

    return show


def _shared_cache(store: Any) -> Any:
    """The remote's call cache when the store has a remote configured, else None."""
    if store is None:
        return None
    from promptver.remote.callcache import for_store

    return for_store(store)


def _needs_comparison(comparing: bool, fail_if_worse: bool) -> None:
    if fail_if_worse and not comparing:
        raise click.UsageError("--fail-if-worse needs --compare VERSION|RUN")


def _finish(
    meta: dict[str, Any], records: list[dict[str, Any]], comparison: Any, gate: Any, fmt: str
) -> None:
    from promptver.evals.analysis import report

    failures = gate.failures(meta.get("summary") or {}, comparison)
    click.echo(report.render(fmt, meta, records, comparison, failures))
    if failures:
        sys.exit(1)


@click.command("runs")
@click.argument("name")
@click.option("--target", help="Only runs of this target: a kind (model, rag, retrieval) or a whole label.")
@click.option("--tag", help="Only runs with this tag (`promptver run tag`).")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.pass_context
def runs(ctx: click.Context, name: str, target: str | None, tag: str | None, as_json: bool) -> None:
    """List the stored eval runs of bundle NAME, newest first."""
    import json

    from promptver.evals.runs.tags import list_runs

    metas = list_runs(_store(ctx).root / "runs", name, target=target, tag=tag)
    if as_json:
        click.echo(json.dumps(metas, indent=2, ensure_ascii=False))
        return
    if not metas:
        which = "".join(f" {k} {v}" for k, v in (("with target", target), ("tagged", tag)) if v)
        click.echo(f"no runs of {name}{which}")
        return
    for meta in metas:
        s = meta.get("summary") or {}
        tags = f"  [{', '.join(meta['tags'])}]" if meta["tags"] else ""
        click.echo(
            f"{meta['id']}  {meta.get('version') or 'working copy':<14} "
            f"{meta['dataset']['name']:<10} {meta.get('status', ''):<11} "
            f"cases {s.get('cases', 0):>4}  pass {s.get('pass_rate', 0.0) * 100:5.1f}%  "
            f"score {s.get('score', 0.0):.3f}  {meta['target']}{tags}"
        )


@click.group("run")
def run_group() -> None:
    """Inspect or tag one stored eval run."""


@run_group.command("tag")
@click.argument("run_id", metavar="ID")
@click.argument("tag")
@click.option("--remove", is_flag=True, help="Take the tag off instead.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.pass_context
def run_tag(ctx: click.Context, run_id: str, tag: str, remove: bool, as_json: bool) -> None:
    """Tag run ID (e.g. baseline); `promptver runs NAME --tag TAG` lists the tagged runs."""
    import json

    from promptver.evals.runs.tags import tag_run
    from promptver.store.tree import printable

    meta, tags = tag_run(_store(ctx).root / "runs", run_id, tag, remove=remove)
    bundle = str(meta.get("bundle"))
    if as_json:
        click.echo(json.dumps({"run": run_id, "bundle": bundle, "tags": tags}, indent=2))
        return
    click.echo(f"run {run_id} ({printable(bundle)}): tags {', '.join(tags) or 'none'}")


@run_group.command("show")
@click.argument("run_id", metavar="ID")
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="Report format.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.pass_context
def run_show(ctx: click.Context, run_id: str, fmt: str | None, as_json: bool) -> None:
    """Show run ID: summary and failing cases (every record with --json)."""
    from promptver.evals.analysis import report
    from promptver.evals.runs.records import check_run
    from promptver.evals.runs.storage import RunStore

    store = _store(ctx)
    run = check_run(store, RunStore(store.root / "runs").load(run_id))
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
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            from promptver.cli.common import console

            self.bar = Progress(
                TextColumn("eval"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("[green]{task.fields[passed]} pass[/] [red]{task.fields[failed]} fail"),
                TimeRemainingColumn(),
                console=console(stderr=True),
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


def _add_subcommands() -> None:
    from promptver.cli.cmd_eval_history import history

    eval_group.add_command(history)


_add_subcommands()
