"""The ``promptver`` command: assembles the subcommands and turns errors into exit codes.

Subcommands live one per module (``promptver/cli/cmd_*.py``) and are imported only when
invoked, so ``promptver status`` does not pay for the diff engine or the TUI.
"""

from __future__ import annotations

import importlib
import sys
from typing import NoReturn

import click

from promptver.about import __version__
from promptver.errors import PromptverError

# name -> "module:attribute"; keep sorted within each group of commands.
COMMANDS: dict[str, str] = {
    "init": "promptver.cli.cmd_store:init",
    "new": "promptver.cli.cmd_bundle:new",
    "check": "promptver.cli.cmd_bundle:check",
    "status": "promptver.cli.cmd_bundle:status",
    "bump": "promptver.cli.cmd_bump:bump",
    "snapshot": "promptver.cli.cmd_bump:snapshot",
    "log": "promptver.cli.cmd_history:log",
    "show": "promptver.cli.cmd_history:show",
    "checkout": "promptver.cli.cmd_history:checkout",
    "alias": "promptver.cli.cmd_alias:alias",
    "promote": "promptver.cli.cmd_alias:promote",
    "rollback": "promptver.cli.cmd_alias:rollback",
    "approve": "promptver.cli.cmd_approve:approve",
    "reject": "promptver.cli.cmd_approve:reject",
    "audit": "promptver.cli.cmd_audit:audit",
    "verify": "promptver.cli.cmd_store:verify",
    "attest": "promptver.cli.cmd_attest:attest",
    "verify-attestation": "promptver.cli.cmd_attest:verify_attestation",
    "gc": "promptver.cli.cmd_store:gc",
    "changelog": "promptver.cli.cmd_diff:changelog",
    "diff": "promptver.cli.cmd_diff:diff",
    "review": "promptver.cli.cmd_review:review",
    "eval": "promptver.cli.cmd_eval:eval_group",
    "runs": "promptver.cli.cmd_eval:runs",
    "cache": "promptver.cli.cmd_cache:cache",
    "run": "promptver.cli.cmd_eval:run_group",
    "pin": "promptver.cli.cmd_pin:pin",
    "unpin": "promptver.cli.cmd_pin:unpin",
    "lock": "promptver.cli.cmd_pin:lock",
    "outdated": "promptver.cli.cmd_pin:outdated",
    "export": "promptver.cli.cmd_export:export",
    "import": "promptver.cli.cmd_export:import_",
    "import-prompt": "promptver.cli.cmd_interop:import_prompt",
    "ci-report": "promptver.cli.cmd_ci:ci_report",
    "remote": "promptver.cli.cmd_remote:remote",
    "push": "promptver.cli.cmd_remote:push",
    "pull": "promptver.cli.cmd_remote:pull",
    "fetch": "promptver.cli.cmd_remote:fetch",
    "traces": "promptver.cli.cmd_traces:traces",
    "served": "promptver.cli.cmd_traces:served",
    "dataset": "promptver.cli.cmd_dataset:dataset",
    "judge": "promptver.cli.cmd_judge:judge",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="promptver")
@click.option(
    "--store",
    "store_path",
    envvar="PROMPTVER_HOME",
    type=click.Path(file_okay=False),
    help="Store folder (default: .promptver/ found by walking up; env PROMPTVER_HOME).",
)
@click.pass_context
def cli(ctx: click.Context, store_path: str | None) -> None:
    """Version whole AI-system configurations as one semver bundle."""
    ctx.obj = {"store_path": store_path}


def _redacted(text: str) -> str:
    """Messages of a command that read API keys (it imported the redactor) never show them."""
    redactor = sys.modules.get("promptver.evals.execution.redact")
    return redactor.redact(text) if redactor is not None else text


def _os_error(exc: OSError) -> str:
    import errno

    where = exc.filename if exc.filename is not None else ""
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        what = "read-only file system" if exc.errno == errno.EROFS else "permission denied"
        return (
            f"{what}: {where}\n  hint: promptver needs write access to the store (.promptver/) "
            "for this command; check the folder's owner and mode"
        )
    text = exc.strerror or str(exc)
    return f"{text.lower()}: {where}" if where else text


# Commands that read a bundle's audit log and end: a long log is a million small objects
# (its parsed events) that hold no reference cycle, and the cycle collector would walk
# them all two or three times (0.4 s at 100,000 events) to find no garbage. A process
# running one of them (``argv`` None: not called in-process, as the tests do) turns it
# off, and ends without freeing those objects one by one (`_end`); the process ends with
# the command. `pull` and `push` read the remote's log and the local one whole (a first pull
# of 100,000 events ended 0.2 s later for it).
LOG_READERS = frozenset(
    ("alias", "approve", "audit", "log", "promote", "pull", "push", "reject", "rollback", "show", "verify")
)


def main(argv: list[str] | None = None) -> None:
    from promptver.cli.common import safe_streams

    whole = argv is None and len(sys.argv) > 1 and sys.argv[1] in LOG_READERS
    if whole:
        import gc

        gc.disable()
    try:
        with safe_streams():
            _main(argv)
    except SystemExit as exc:
        if not whole:
            raise
        _end(exc.code)


def _end(code: object) -> NoReturn:
    """End a whole process of a `LOG_READERS` command, once its output is flushed, without
    the interpreter's shutdown: that frees each object the command kept (the parsed events
    of a 100,000-event log, 0.16 s) and runs a last cycle collection over them, work the
    operating system does at once by taking the memory back. Everything the command wrote
    is closed by then (atomic writes, locks: `with` blocks); only the standard streams
    are flushed here, and a failed write to them is an error, as at a normal exit."""
    import atexit
    import os

    atexit._run_exitfuncs()  # as at a normal exit (a tracer's flush, say)
    status = code if isinstance(code, int) else (0 if code is None else 1)
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)  # what `sys.exit("...")` prints
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            pass  # the reader went away (`| head`), as `_main` treats it
        except (OSError, ValueError) as exc:  # a full disk under `> file`: not silent
            try:
                sys.stderr.write(f"Error: cannot write the output: {exc}\n")
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
            status = status or 1
    os._exit(status)


def _main(argv: list[str] | None) -> None:
    try:
        result = cli.main(args=argv, prog_name="promptver", standalone_mode=False)
    except PromptverError as exc:
        click.echo(f"Error: {_redacted(str(exc))}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except OSError as exc:  # a read-only store, a full disk...: what failed and where, no traceback
        click.echo(f"Error: {_os_error(exc)}", err=True)
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()
