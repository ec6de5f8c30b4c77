"""Plain-text renderings of a diff: one ``--stat`` line per component, and Markdown that
fits a pull-request comment. (The coloured terminal view is in ``promptver.cli``.)"""

from __future__ import annotations

from promptver.diff.fields import plural, show
from promptver.diff.model import BundleDiff, ComponentDiff, EvalDiff, FilesDiff, RagDiff, TextDiff
from promptver.safetext import md_code, md_fence, md_html, md_text

MD_MAX_CASES = 20
MD_MAX_DIFF_LINES = 200


def component_stat(comp: ComponentDiff) -> str:
    """A short figure for a component: lines, cases, documents or changes."""
    detail = comp.detail
    if isinstance(detail, TextDiff):
        if detail.old.binary or detail.new.binary:
            return f"binary, {detail.old.size or 0:,} -> {detail.new.size or 0:,} bytes"
        text = f"+{detail.added_lines} -{detail.removed_lines}"
        tokens = detail.tokens
        if tokens is not None and tokens.delta is not None:
            text += f", tokens {'~' if tokens.approximate else ''}{tokens.delta:+d}"
        return text
    if isinstance(detail, EvalDiff):
        parts = [
            f"{n:,} {label}"
            for n, label in (
                (detail.changed, "changed"),
                (detail.added, "added"),
                (detail.removed, "removed"),
            )
            if n
        ]
        if detail.problems:
            parts.append(f"{len(detail.problems):,} unreadable")
        return ", ".join(parts) or plural(len(comp.changes), "change")
    if isinstance(detail, FilesDiff):
        files = plural(len(detail.files), "file")
        return f"{files}, {detail.chunks.text()}" if detail.chunks is not None else files
    if isinstance(detail, RagDiff):
        return f"{plural(len(comp.changes), 'change')}, {detail.chunks.text()}"
    return plural(len(comp.changes), "change")


def stat_lines(diff: BundleDiff) -> list[tuple[str, str, str, str]]:
    """(component title, status, impact, figure) per changed component."""
    return [
        (comp.title, comp.status, comp.impact.value if comp.impact else "-", component_stat(comp))
        for comp in diff.components
    ]


def headline(diff: BundleDiff) -> str:
    if not diff.components:
        if diff.identical:
            what = f"no changes (identical, {diff.new.digest.removeprefix('sha256:')[:12]})"
        else:
            what = "no semantic changes (files differ only in comments or formatting)"
        return f"{diff.old.label} -> {diff.new.label}: {what}"
    counts = diff.counts()
    suggested = diff.suggested
    figures = ", ".join(f"{counts[k]} {k}" for k in ("major", "minor", "patch") if counts[k])
    if is_first_version(diff):
        return (
            f"{diff.old.label} -> {diff.new.label}: everything is new; the first version will be"
            f" {first_version()} (`promptver bump minor {diff.new.bundle}`; --initial X.Y.Z picks another)"
        )
    return (
        f"{diff.old.label} -> {diff.new.label}: suggested bump "
        f"{suggested.value if suggested else 'none'} ({figures})"
    )


SECURITY_NOTE = "API keys from the environment go only to allowed hosts (docs/evals.md)"


def security_lines(diff: BundleDiff) -> list[str]:
    """One warning per change of where requests (and keys) go."""
    return [f"security-relevant: endpoint changed: {c.reason}" for c in diff.security_changes]


def security_markdown(diff: BundleDiff) -> list[str]:
    changes = diff.security_changes
    if not changes:
        return []
    lines = ["> [!WARNING]", "> **Security-relevant: an endpoint changed.** " + SECURITY_NOTE + "."]
    lines += [f"> - {md_code(c.path)}: {md_code(show(c.old))} → {md_code(show(c.new))}" for c in changes]
    return [*lines, ""]


def is_first_version(diff: BundleDiff) -> bool:
    """The old side is the empty bundle (no versions yet): what a first bump would make."""
    return diff.old.version is None and diff.old.digest == ""


def first_version() -> str:
    from promptver.versions.bump import DEFAULT_INITIAL

    return str(DEFAULT_INITIAL)


def markdown(diff: BundleDiff) -> str:
    out = [f"### promptver diff: {md_text(diff.old.label)} → {md_text(diff.new.label)}", ""]
    if not diff.components:
        out.append("No changes." if diff.identical else "No semantic changes.")
        return "\n".join(out) + "\n"
    suggested = diff.suggested
    counts = diff.counts()
    out.append(
        f"**Suggested bump: {suggested.value if suggested else 'none'}** "
        f"({counts['major']} major, {counts['minor']} minor, {counts['patch']} patch)"
    )
    out.append("")
    out += security_markdown(diff)
    out += ["| component | impact | change |", "| --- | --- | --- |"]
    for comp in diff.components:
        for change in comp.changes:
            out.append(f"| {md_text(comp.title)} | {change.impact.value} | {md_text(change.reason)} |")
    out.append("")
    for comp in diff.components:
        block = _md_detail(comp)
        if block:
            out += [
                f"<details><summary>{md_html(comp.title)}: {md_html(component_stat(comp))}</summary>",
                "",
                *block,
                "",
                "</details>",
                "",
            ]
    return "\n".join(out).rstrip() + "\n"


def _md_detail(comp: ComponentDiff) -> list[str]:
    detail = comp.detail
    if isinstance(detail, TextDiff):
        lines: list[str] = []
        for side, info in (("old", detail.old), ("new", detail.new)):
            if info.error:
                lines.append(f"- **invalid on the {side} side**: {md_text(info.error)}")
        if detail.old.binary or detail.new.binary:
            return [*lines, f"- binary file: {detail.old.size} -> {detail.new.size} bytes"]
        body = unified_text(detail, MD_MAX_DIFF_LINES)
        if not body:
            return lines
        opening, fenced, closing = md_fence(body, "diff")
        return [*lines, opening, *fenced, closing]
    if isinstance(detail, EvalDiff):
        lines = []
        for case in detail.cases[:MD_MAX_CASES]:
            fields = ", ".join(md_code(f.path) for f in case.fields[:6])
            lines.append(f"- {case.kind} {md_code(case.id)}" + (f": {fields}" if fields else ""))
        if len(detail.cases) > MD_MAX_CASES:
            lines.append(f"- ... and {len(detail.cases) - MD_MAX_CASES:,} more cases")
        lines += [f"- problem: {md_text(p)}" for p in detail.problems[:MD_MAX_CASES]]
        return lines
    if isinstance(detail, FilesDiff):
        return [
            f"- {f.kind} {md_code(f.path)} ({f.old_size} -> {f.new_size} bytes)"
            if f.kind == "changed"
            else f"- {f.kind} {md_code(f.path)}"
            for f in detail.files
        ]
    return []


def unified_text(detail: TextDiff, limit: int | None = None) -> list[str]:
    """The text detail as unified diff lines (``@@`` headers included)."""
    out: list[str] = []
    for hunk in detail.hunks:
        out.append(hunk.header)
        for mark, line in hunk.unified():
            cut = f" … ({line.truncated:,} more characters)" if line.truncated else ""
            out.append(f"{mark}{line.text}{cut}")
            if limit is not None and len(out) >= limit:
                out.append("… (diff cut)")
                return out
    return out
