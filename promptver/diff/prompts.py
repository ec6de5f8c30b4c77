"""System prompt, named templates and partials (other Jinja2 files) of two bundle sides."""

from __future__ import annotations

from dataclasses import dataclass

from promptver.diff import text as textdiff
from promptver.diff.model import (
    Change,
    ComponentDiff,
    SideInfo,
    Status,
    TextDiff,
    TokenCounts,
    Variables,
)
from promptver.diff.source import Context, Snapshot, clean_path

TEMPLATE_SUFFIXES = (".j2", ".jinja", ".jinja2")
RENAME_SIMILARITY = 0.6


@dataclass(frozen=True)
class _Target:
    """What a text component is: ``kind`` (system/templates), its name and rule prefix."""

    kind: str
    name: str
    rules: str  # "system" | "template"
    label: str  # "template 'answer'", "system prompt", "partial prompts/_f.j2"
    field: str  # Change.path root: "prompts.system", "templates.answer", a file path


def named_templates(snap: Snapshot) -> dict[str, str]:
    table = snap.table("prompts", "templates")
    out = {}
    for name, value in table.items():
        path = clean_path(value)
        if path is not None:
            out[str(name)] = path
    return out


def system_path(snap: Snapshot) -> str | None:
    return clean_path(snap.table("prompts").get("system"))


def diff_prompts(old: Snapshot, new: Snapshot, ctx: Context) -> list[ComponentDiff]:
    out: list[ComponentDiff] = []
    old_sys, new_sys = system_path(old), system_path(new)
    old_t, new_t = named_templates(old), named_templates(new)
    ctx.claimed.update(p for p in (old_sys, new_sys) if p)
    ctx.claimed.update(old_t.values())
    ctx.claimed.update(new_t.values())
    partials = _partials(old, new, ctx)
    # An unchanged template whose included files changed may have a new interface.
    recheck = bool(partials)
    if old_sys or new_sys:
        target = _Target("system", "system", "system", "system prompt", "prompts.system")
        comp = _text_component(target, old, new, old_sys, new_sys, ctx, recheck=recheck)
        if comp:
            out.append(comp)
    for name in sorted(old_t.keys() & new_t.keys()):
        target = _Target("templates", name, "template", f"template {name!r}", f"templates.{name}")
        comp = _text_component(target, old, new, old_t[name], new_t[name], ctx, recheck=recheck)
        if comp:
            out.append(comp)
    removed = {n: old_t[n] for n in old_t.keys() - new_t.keys() if old.has(old_t[n])}
    added = {n: new_t[n] for n in new_t.keys() - old_t.keys()}
    for old_name, new_name, score in _renames(old, new, removed, added):
        del removed[old_name], added[new_name]
        out.append(_renamed(old, new, old_name, new_name, old_t[old_name], new_t[new_name], score, ctx))
    for name in sorted(removed.keys() | added.keys()):
        target = _Target("templates", name, "template", f"template {name!r}", f"templates.{name}")
        comp = _text_component(target, old, new, removed.get(name), added.get(name), ctx)
        if comp:
            out.append(comp)
    return out + partials


def _partials(old: Snapshot, new: Snapshot, ctx: Context) -> list[ComponentDiff]:
    paths = {
        p
        for snap in (old, new)
        for p in snap.tree.entries
        if p.endswith(TEMPLATE_SUFFIXES) and p not in ctx.claimed
    }
    out = []
    for path in sorted(paths):
        ctx.claimed.add(path)
        target = _Target("templates", path, "template", f"partial {path}", path)
        comp = _text_component(
            target,
            old,
            new,
            path if old.has(path) else None,
            path if new.has(path) else None,
            ctx,
            partial=True,
        )
        if comp:
            out.append(comp)
    return out


def _renames(
    old: Snapshot, new: Snapshot, removed: dict[str, str], added: dict[str, str]
) -> list[tuple[str, str, float]]:
    """Pairs (old name, new name, similarity) whose contents are similar enough."""
    scores = []
    for old_name, old_path in removed.items():
        old_text = old.text(old_path)
        for new_name, new_path in added.items():
            if old.digest_of(old_path) == new.digest_of(new_path):
                scores.append((1.0, old_name, new_name))
                continue
            new_text = new.text(new_path)
            if old_text is None or new_text is None:
                continue
            score = textdiff.similarity(old_text, new_text)
            if score >= RENAME_SIMILARITY:
                scores.append((score, old_name, new_name))
    pairs, used_old, used_new = [], set(), set()
    for score, old_name, new_name in sorted(scores, key=lambda s: (-s[0], s[1], s[2])):
        if old_name in used_old or new_name in used_new:
            continue
        used_old.add(old_name)
        used_new.add(new_name)
        pairs.append((old_name, new_name, score))
    return pairs


def _renamed(
    old: Snapshot,
    new: Snapshot,
    old_name: str,
    new_name: str,
    old_path: str,
    new_path: str,
    score: float,
    ctx: Context,
) -> ComponentDiff:
    target = _Target("templates", new_name, "template", f"template {new_name!r}", f"templates.{new_name}")
    detail, changes = _compare(target, old, new, old_path, new_path, ctx, rename_score=score)
    rename = Change(
        component="templates",
        kind="renamed",
        path=f"templates.{new_name}",
        old=old_name,
        new=new_name,
        impact=ctx.impact("template.renamed"),
        reason=f"template {old_name!r} renamed to {new_name!r} ({score:.0%} similar)",
        rule="template.renamed",
    )
    return ComponentDiff("templates", new_name, "renamed", (rename, *changes), detail)


def _text_component(
    target: _Target,
    old: Snapshot,
    new: Snapshot,
    old_path: str | None,
    new_path: str | None,
    ctx: Context,
    partial: bool = False,
    recheck: bool = False,
) -> ComponentDiff | None:
    old_exists, new_exists = old.has(old_path), new.has(new_path)
    if not old_exists and not new_exists:
        return None
    same_content = old.digest_of(old_path) == new.digest_of(new_path)
    if same_content and old_path == new_path:
        return _interface_only(target, old, new, old_path, new_path, ctx) if recheck else None
    rules = target.rules
    status: Status
    if same_content:  # same name and content, the file moved
        change = Change(
            target.kind,
            "renamed",
            target.field,
            old_path,
            new_path,
            ctx.impact(f"{rules}.moved" if rules == "template" else "system.text"),
            f"{target.label} moved from {old_path} to {new_path}",
            f"{rules}.moved" if rules == "template" else "system.text",
        )
        return ComponentDiff(target.kind, target.name, "changed", (change,))
    detail, changes = _compare(target, old, new, old_path, new_path, ctx)
    if not (old_exists and new_exists):
        status = "removed" if old_exists else "added"
        rule = "template.text" if partial else f"{rules}.{status}"
        lead = Change(
            target.kind,
            status,
            target.field,
            old_path if old_exists else None,
            new_path if new_exists else None,
            ctx.impact(rule),
            f"{target.label} {status}",
            rule,
        )
        changes = [lead]  # a new template's variables are its interface, not a change
    else:
        status = "changed"
        if partial:  # a partial is not an interface: the templates including it report it
            changes = [c for c in changes if not c.rule.startswith("template.variable")]
    return ComponentDiff(target.kind, target.name, status, tuple(changes), detail)


def _interface_only(
    target: _Target,
    old: Snapshot,
    new: Snapshot,
    old_path: str | None,
    new_path: str | None,
    ctx: Context,
) -> ComponentDiff | None:
    """Same text, but files it includes changed: report variable changes only."""
    old_info = _side(old, old_path, old.text(old_path))
    new_info = _side(new, new_path, new.text(new_path))
    added, removed, changes = _variable_changes(target, old_info, new_info, ctx)
    if not changes:
        return None
    detail = TextDiff(
        old=old_info,
        new=new_info,
        hunks=(),
        added_lines=0,
        removed_lines=0,
        variables_added=added,
        variables_removed=removed,
    )
    return ComponentDiff(target.kind, target.name, "changed", tuple(changes), detail)


def _compare(
    target: _Target,
    old: Snapshot,
    new: Snapshot,
    old_path: str | None,
    new_path: str | None,
    ctx: Context,
    rename_score: float | None = None,
) -> tuple[TextDiff, list[Change]]:
    """The text detail of a file pair and the changes it implies."""
    old_text = old.text(old_path) if old.has(old_path) else None
    new_text = new.text(new_path) if new.has(new_path) else None
    old_info = _side(old, old_path, old_text)
    new_info = _side(new, new_path, new_text)
    hunks: tuple = ()
    added_lines = removed_lines = 0
    if not old_info.binary and not new_info.binary:
        hunks, added_lines, removed_lines = textdiff.hunks(old_text or "", new_text or "")
    tokens = _tokens(old_text, new_text, old_info, new_info, ctx)
    var_added, var_removed, var_changes = _variable_changes(target, old_info, new_info, ctx)
    detail = TextDiff(
        old=old_info,
        new=new_info,
        hunks=hunks,
        added_lines=added_lines,
        removed_lines=removed_lines,
        tokens=tokens,
        variables_added=var_added,
        variables_removed=var_removed,
        similarity=rename_score,
    )
    changes: list[Change] = []
    if old_info.path is None or new_info.path is None:
        return detail, changes
    if old.digest_of(old_path) != new.digest_of(new_path):
        changes.append(_text_change(target, old_info, new_info, old_text, new_text, detail, ctx))
    if new_info.error and not old_info.error:
        changes.append(
            Change(
                target.kind,
                "changed",
                target.field,
                None,
                new_info.error,
                ctx.impact("template.invalid"),
                f"{target.label} no longer parses: {new_info.error}",
                "template.invalid",
            )
        )
    changes += var_changes
    return detail, changes


def _side(snap: Snapshot, path: str | None, text: str | None) -> SideInfo:
    if path is None or not snap.has(path):
        return SideInfo(path=None)
    size = snap.size_of(path)
    if text is None:
        return SideInfo(path=path, size=size, binary=True)
    if len(text) > textdiff.ANALYSIS_CHARS:
        return SideInfo(path=path, size=size)  # too large to parse: compared as text only
    from promptver.bundle.variables import TemplateParseError, analyze

    def load(name: str) -> str | None:
        return snap.text(name) if snap.has(name) else None

    try:
        variables: Variables | None = analyze(text, path, load)
        error = None
    except TemplateParseError as exc:
        variables, error = None, str(exc)
    return SideInfo(path=path, size=size, error=error, variables=variables)


def _text_change(
    target: _Target,
    old_info: SideInfo,
    new_info: SideInfo,
    old_text: str | None,
    new_text: str | None,
    detail: TextDiff,
    ctx: Context,
) -> Change:
    rules = target.rules
    if old_info.binary or new_info.binary:
        rule = f"{rules}.text"
        reason = f"{target.label}: binary content changed ({old_info.size} -> {new_info.size} bytes)"
    elif textdiff.normalized(old_text or "") == textdiff.normalized(new_text or ""):
        rule = f"{rules}.whitespace"
        reason = f"{target.label}: whitespace or comments only"
    else:
        rule = f"{rules}.text"
        reason = f"{target.label}: text changed (+{detail.added_lines} -{detail.removed_lines} lines"
        tokens = detail.tokens
        if tokens is not None and tokens.delta is not None:
            approx = "~" if tokens.approximate else ""
            reason += f", tokens {approx}{tokens.old} -> {approx}{tokens.new} ({tokens.delta:+d})"
        reason += ")"
    return Change(target.kind, "changed", target.field, None, None, ctx.impact(rule), reason, rule)


def _tokens(
    old_text: str | None,
    new_text: str | None,
    old_info: SideInfo,
    new_info: SideInfo,
    ctx: Context,
) -> TokenCounts | None:
    if (old_text is None and new_text is None) or ctx.tokenizer is None:
        return None
    limit = textdiff.ANALYSIS_CHARS
    if len(old_text or "") > limit or len(new_text or "") > limit:
        note = f"not counted: longer than {limit:,} characters"
        return TokenCounts(None, None, "", False, note)
    tokenizer = ctx.tokenizer()
    if tokenizer.encoding is None:
        return TokenCounts(None, None, tokenizer.wanted or "", True, tokenizer.note)
    return TokenCounts(
        old=tokenizer.count(old_text) if old_text is not None else None,
        new=tokenizer.count(new_text) if new_text is not None else None,
        encoding=tokenizer.encoding,
        approximate=tokenizer.approximate,
        note=tokenizer.note,
    )


def _variable_changes(
    target: _Target, old_info: SideInfo, new_info: SideInfo, ctx: Context
) -> tuple[tuple[str, ...], tuple[str, ...], list[Change]]:
    before, after = old_info.variables, new_info.variables
    if before is None or after is None:
        return (), (), []
    added = tuple(sorted(after.all - before.all))
    removed = tuple(sorted(before.all - after.all))
    changes: list[Change] = []

    def change(var: str, kind: str, required: bool, reason: str, old: object, new: object) -> None:
        rule = "template.variable_required" if required else "template.variable_optional"
        changes.append(
            Change(
                target.kind,
                kind,
                f"{target.field}.variables.{var}",
                old,
                new,
                ctx.impact(rule),
                f"{target.label}: {reason}",
                rule,
            )
        )

    for var in added:
        req = var in after.required
        change(
            var,
            "added",
            req,
            f"{'required' if req else 'optional'} variable {var!r} added",
            None,
            "required" if req else "optional",
        )
    for var in removed:
        req = var in before.required
        change(
            var,
            "removed",
            req,
            f"{'required' if req else 'optional'} variable {var!r} removed",
            "required" if req else "optional",
            None,
        )
    for var in sorted(before.all & after.all):
        was, now = var in before.required, var in after.required
        if was != now:
            change(
                var,
                "changed",
                now,
                f"variable {var!r} is now {'required' if now else 'optional'}",
                "required" if was else "optional",
                "required" if now else "optional",
            )
    return added, removed, changes
