"""The bump hook: ``bump auto`` takes the diff's suggestion, and an explicit level lower
than the suggestion is refused unless forced. Its summary is stored in the manifest.

Plugged into ``promptver.versions.bump.bump(analyzer=analyze_bump)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from promptver.errors import PolicyError

if TYPE_CHECKING:
    from promptver.diff.model import BundleDiff, Change, Impact
    from promptver.store.tree import Tree
    from promptver.versions.bump import Toward

CHECKED_LEVELS = ("major", "minor", "patch")
MAX_LISTED = 8


def analyze_bump(
    base: Tree | None, tree: Tree, level: str, force: bool, toward: Toward | None = None
) -> tuple[str, dict[str, Any]]:
    """The level to bump by and the semantic summary for the manifest. A ``prerelease`` or
    ``release`` bump (``toward``) is checked like the major/minor/patch it leads to."""
    if base is None:
        used = "minor" if level == "auto" else level
        return used, {
            "schema_version": 1,
            "from_version": None,
            "from_digest": None,
            "suggested_bump": None,
            "initial": True,
            "changes": [],
        }
    from promptver.diff.model import Impact

    manifest = getattr(base, "manifest", None)
    version = manifest.version if manifest is not None else None
    diff = _diff(base, tree)
    # Files changed but nothing a component owns (a comment in bundle.toml): a patch.
    suggested = diff.suggested or Impact.PATCH
    summary = diff.summary().to_json()
    if diff.notes:
        summary["notes"] = list(diff.notes)
    if level == "auto":
        return suggested.value, summary
    if level in CHECKED_LEVELS and Impact(level) < suggested:
        if not force:
            raise refusal(level, suggested, diff.reasons(suggested), version)
        summary["forced"] = {"requested": level, "suggested": suggested.value}
    if toward is not None:
        _check_toward(
            toward,
            diff if toward.anchor_tree.digest == base.digest else _diff(toward.anchor_tree, tree),
            level,
            force,
            summary,
        )
    return level, summary


def _diff(base: Tree, tree: Tree) -> BundleDiff:
    from promptver.diff.engine import diff_trees
    from promptver.diff.model import Side

    manifest = getattr(base, "manifest", None)
    bundle = manifest.bundle if manifest is not None else ""
    version = manifest.version if manifest is not None else None
    return diff_trees(
        base,
        tree,
        Side(bundle, version, base.digest, f"{bundle}@{version}"),
        Side(bundle, None, tree.digest, f"{bundle} (working copy)"),
        tokens=False,  # the bump decision does not depend on token counts: keep bumps fast
        chunks=False,  # nor on chunk counts
    )


def _check_toward(toward: Toward, diff: BundleDiff, level: str, force: bool, summary: dict[str, Any]) -> None:
    """``bump prerelease`` (0.1.1-rc.1) and ``bump release`` (0.1.1) lead to a patch, minor
    or major release of the line's last release: the changes since that release must not
    ask for more, as for an explicit major/minor/patch."""
    from promptver.diff.model import Impact

    suggested = diff.suggested or Impact.PATCH
    if Impact(toward.level) >= suggested:
        return
    if force:
        summary["forced"] = {"requested": level, "suggested": suggested.value}
        return
    since = toward.anchor.version
    if not toward.version.is_prerelease:
        better = f"`bump {suggested.value}` ({toward.base.bump(suggested.value)})"
    else:
        better = (
            f"`bump {suggested.value} --pre {toward.pre}` ({toward.base.bump(suggested.value, toward.pre)})"
        )
    reasons = diff.reasons(suggested)
    lines = [
        f"a {level} bump to {toward.version} is refused: it is a {toward.level} release of {since},"
        f" and the changes since {since} make it {suggested.value}:"
    ]
    lines += [f"  - {c.reason}" for c in reasons[:MAX_LISTED]]
    if len(reasons) > MAX_LISTED:
        lines.append(f"  ... and {len(reasons) - MAX_LISTED} more")
    raise PolicyError(
        "\n".join(lines), hint=f"make it {better}, or pass --force to override (recorded in the manifest)"
    )


def prefetch_bump(base: Tree, may_differ: Callable[[str], bool]) -> list[str]:
    """What a bump should read ahead: the stored eval sets of ``base`` whose working file
    ``may_differ``. The bump reads them in a second thread while it hashes the working copy;
    its eval-set check then walks each against the new file once
    (`promptver.store.linewalk`), for itself, the diff and the store."""
    from promptver.diff.source import Snapshot, clean_path

    snap = Snapshot.of(base)
    paths = []
    for table in snap.table("evals").values():
        path = clean_path(table.get("path")) if isinstance(table, dict) else None
        if path is not None and snap.has(path) and may_differ(path):
            paths.append(path)
    return paths


def refusal(level: str, suggested: Impact, reasons: list[Change], since: str | None) -> PolicyError:
    lines = [f"a {level} bump is refused: the changes since {since} make it {suggested.value}:"]
    lines += [f"  - {c.reason}" for c in reasons[:MAX_LISTED]]
    if len(reasons) > MAX_LISTED:
        lines.append(f"  ... and {len(reasons) - MAX_LISTED} more")
    return PolicyError(
        "\n".join(lines),
        hint=f"bump {suggested.value} (or `bump auto`), or pass --force to override "
        "(recorded in the manifest)",
    )


def explain(summary: dict[str, Any] | None, level: str | None, limit: int = MAX_LISTED) -> list[str]:
    """Lines saying why a bump has its level (for the bump command's output)."""
    if not isinstance(summary, dict) or summary.get("initial"):
        return []
    changes = summary.get("changes") or []
    suggested = summary.get("suggested_bump")
    forced = summary.get("forced")
    if isinstance(forced, dict):
        head = f"forced {forced.get('requested')} although the changes suggest {forced.get('suggested')}:"
    elif suggested:
        head = f"bump {level} (the changes suggest {suggested}):"
    else:
        return [f"bump {level}: no semantic changes"]
    order = {"major": 0, "minor": 1, "patch": 2}
    ranked = sorted(changes, key=lambda c: order.get(str(c.get("impact")), 3))
    lines = [head]
    lines += [f"  {c.get('impact', ''):<5}  {c.get('reason', '')}" for c in ranked[:limit]]
    if len(ranked) > limit:
        lines.append(f"  ... and {len(ranked) - limit} more")
    return lines
