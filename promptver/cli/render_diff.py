"""The terminal view of a diff (rich). Colours follow the terminal and NO_COLOR."""

from __future__ import annotations

from typing import TYPE_CHECKING

from promptver.cli.common import console
from promptver.diff.model import (
    BundleDiff,
    ComponentDiff,
    EvalDiff,
    FilesDiff,
    Line,
    TextDiff,
)
from promptver.diff.render import component_stat, headline, security_lines, stat_lines

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

IMPACT_STYLE = {"major": "bold red", "minor": "yellow", "patch": "green", "-": "dim"}
MAX_CASES = 50


def render(diff: BundleDiff, *, stat: bool = False, side_by_side: bool = False) -> None:
    out = console()
    suggested = diff.suggested
    style = IMPACT_STYLE[suggested.value] if suggested else "bold"
    out.print(headline(diff), style=style, markup=False, soft_wrap=True)
    for line in security_lines(diff):
        out.print(line, style="bold red", markup=False, soft_wrap=True)
    print_notes(diff)
    if not diff.components:
        return
    if stat:
        _stat(out, diff)
        return
    for comp in diff.components:
        out.print()
        _component(out, comp, side_by_side)


def print_notes(diff: BundleDiff) -> None:
    """Notes (e.g. why token counts are approximate) go to stderr, in every format, so
    that what stdout carries (a PR comment, JSON) is only the diff."""
    err = console(stderr=True)
    for note in diff.notes:
        err.print(f"note: {note}", style="dim", markup=False, soft_wrap=True)


def _stat(out: Console, diff: BundleDiff) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, show_header=False)
    table.add_column("component", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("impact", no_wrap=True)
    table.add_column("figure")
    for title, status, impact, figure in stat_lines(diff):
        table.add_row(title, status, Text(impact, style=IMPACT_STYLE[impact]), figure)
    out.print(table)


def _component(out: Console, comp: ComponentDiff, side_by_side: bool) -> None:
    from rich.text import Text

    impact = comp.impact.value if comp.impact else "-"
    head = Text()
    head.append(comp.title, style="bold")
    head.append(f"  {comp.status}  ")
    head.append(impact, style=IMPACT_STYLE[impact])
    head.append(f"  ({component_stat(comp)})", style="dim")
    out.print(head, soft_wrap=True)
    for change in comp.changes:
        line = Text("  ")
        line.append(f"{change.impact.value:<5}", style=IMPACT_STYLE[change.impact.value])
        line.append(f"  {change.reason}")
        out.print(line, soft_wrap=True)
    detail = comp.detail
    if isinstance(detail, TextDiff):
        _text(out, detail, side_by_side)
    elif isinstance(detail, EvalDiff):
        _evals(out, detail)
    elif isinstance(detail, FilesDiff) and comp.kind != "files":
        pass  # corpus: each document already has its own change line


def _text(out: Console, detail: TextDiff, side_by_side: bool) -> None:
    from rich.text import Text

    for side, info in (("old", detail.old), ("new", detail.new)):
        if info.error:
            out.print(Text(f"  invalid ({side}): {info.error}", style="red"))
    if detail.old.binary or detail.new.binary:
        out.print(f"  binary: {detail.old.size} -> {detail.new.size} bytes", markup=False)
        return
    tokens = detail.tokens
    if tokens is not None and tokens.old is not None and tokens.new is not None:
        approx = "~" if tokens.approximate else ""
        out.print(
            f"  tokens ({tokens.encoding}{', approximate' if tokens.approximate else ''}): "
            f"{approx}{tokens.old} -> {approx}{tokens.new} ({tokens.delta:+d})",
            style="dim",
            markup=False,
        )
    if side_by_side:
        _side_by_side(out, detail)
        return
    for hunk in detail.hunks:
        out.print(Text(hunk.header, style="cyan"))
        for mark, line in hunk.unified():
            text = Text(mark, style={"-": "red", "+": "green"}.get(mark, ""))
            text.append_text(_line_text(line, mark))
            out.print(text, soft_wrap=True)


def _line_text(line: Line, mark: str) -> Text:
    from rich.text import Text

    base = {"-": "red", "+": "green"}.get(mark, "")
    hot = {"-": "bold red reverse", "+": "bold green reverse"}.get(mark, "")
    text = Text()
    if line.segments:
        for segment in line.segments:
            text.append(segment.text, style=hot if segment.changed else base)
    else:
        text.append(line.text, style=base)
    if line.truncated:
        text.append(f" … ({line.truncated:,} more characters)", style="dim")
    return text


def _side_by_side(out: Console, detail: TextDiff) -> None:
    from rich.table import Table
    from rich.text import Text

    for hunk in detail.hunks:
        from promptver.cli.common import PIPE_TEXT_WIDTH

        width = None if out.is_terminal else min(out.width, PIPE_TEXT_WIDTH)
        table = Table(box=None, pad_edge=False, show_header=False, expand=True, width=width)
        table.add_column("old no", justify="right", style="dim", no_wrap=True)
        table.add_column("old mark", no_wrap=True)
        table.add_column("old", ratio=1, overflow="fold")
        table.add_column("new no", justify="right", style="dim", no_wrap=True)
        table.add_column("new mark", no_wrap=True)
        table.add_column("new", ratio=1, overflow="fold")
        out.print(Text(hunk.header, style="cyan"))
        for row in hunk.rows:
            # The marks say what changed without colour (NO_COLOR, a pipe): - removed or
            # changed on the old side, + added or changed on the new side.
            old_mark = "-" if row.old and row.kind != "equal" else " "
            new_mark = "+" if row.new and row.kind != "equal" else " "
            table.add_row(
                str(row.old.number) if row.old else "",
                Text(old_mark, style="red"),
                _line_text(row.old, old_mark) if row.old else Text(""),
                str(row.new.number) if row.new else "",
                Text(new_mark, style="green"),
                _line_text(row.new, new_mark) if row.new else Text(""),
            )
        out.print(table)


def _evals(out: Console, detail: EvalDiff) -> None:
    from rich.text import Text

    style = {"added": "green", "removed": "red", "changed": "yellow"}
    for case in detail.cases[:MAX_CASES]:
        line = Text("    ")
        line.append(f"{case.kind:<8}", style=style.get(case.kind, ""))
        line.append(case.id)
        if case.fields:
            shown = ", ".join(f.path or "(root)" for f in case.fields[:6])
            more = f" +{len(case.fields) - 6}" if len(case.fields) > 6 else ""
            line.append(f"  {shown}{more}", style="dim")
        out.print(line, soft_wrap=True)
    if len(detail.cases) > MAX_CASES:
        out.print(
            f"    ... {len(detail.cases) - MAX_CASES:,} more cases (--format json lists all)",
            style="dim",
            markup=False,
        )
    for problem in detail.problems[:MAX_CASES]:
        out.print(Text(f"    problem: {problem}", style="red"))
