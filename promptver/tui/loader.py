"""Everything the review needs from the store, without Textual: the ``Review`` of two
versions and the function that records the reviewer's decision."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from promptver.errors import ConfigError
from promptver.governance.approvals import Reviewed, record_review
from promptver.tui.adapter import SideMeta, build_review, dataset_names, side_of
from promptver.tui.model import Review
from promptver.tui.results import eval_results

if TYPE_CHECKING:
    from promptver.store.store import Store


def load_review(
    store: Store,
    name: str,
    old_ref: str | None = "latest",
    new_ref: str | None = None,
    new_name: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Review:
    """The review of ``name@old_ref`` against ``new_name@new_ref`` (None: working copy),
    with authors and dates from the manifests; ``progress(done, total)`` follows the bytes of
    large files read by the diff."""
    from promptver.diff.compare import side
    from promptver.diff.engine import diff_trees

    old_tree, old_side = side(store, name, old_ref)
    new_tree, new_side = side(store, new_name or name, new_ref)
    # tokens are counted later, per text, when the reviewer opens it (see build_review)
    diff = diff_trees(old_tree, new_tree, old_side, new_side, progress, tokens=False)
    old_meta = _meta(store, name, old_side.version) if old_side.digest else SideMeta(author="", created=None)
    new_meta = _meta(store, new_name or name, new_side.version)
    results = None
    if (new_name or name) == name:  # runs compare within one bundle
        results = eval_results(
            store,
            name,
            side_of(old_side, old_meta),
            side_of(new_side, new_meta),
            dataset_names(old_tree, new_tree),
        )
    review = build_review(
        diff,
        old_tree,
        new_tree,
        old_meta=old_meta,
        new_meta=new_meta,
        results=results,
        count_tokens=True,
    )
    review.decisions = decisions_on(store, new_name or name, review.new.digest)
    return review


def decisions_on(store: Store, name: str, digest: str | None) -> list[tuple[str, str]]:
    """Each reviewer's latest decision on a digest (``promptver approve`` or this UI)."""
    if not digest:
        return []
    from promptver.governance.approvals import decisions

    return [(d.actor, d.decision) for d in decisions(store.events(name), digest)]


def _meta(store: Store, name: str, version: str | None) -> SideMeta:
    if version is None:  # the working copy: whoever edits it, not whoever reviews it
        from promptver.versions.provenance import editor

        return SideMeta(author=editor(store.bundle_dir(name)), created=None)
    manifest = store.manifest(name, version)
    return SideMeta(author=manifest.author, created=manifest.created)


def recorder(store: Store, reviewer: str) -> Callable[[Review, str, str | None], Any]:
    """``record(review, decision, note)``: a review event for exactly the reviewed digests."""

    def record(review: Review, decision: str, note: str | None) -> dict[str, Any]:
        if not review.new.digest:
            raise ConfigError("this review has no digests to record")
        # the old side of a first version's review is the empty bundle: recorded as none
        old = Reviewed(review.old.version, review.old.digest) if review.old.digest else None
        new = Reviewed(review.new.version, review.new.digest)
        from promptver.governance.signing import signing_key

        key = signing_key(None, store.project_root)  # PROMPTVER_SIGNING_KEY or git's ssh key
        event = record_review(store, review.bundle, decision, reviewer, old, new, note, key=key)
        review.decisions = decisions_on(store, review.bundle, review.new.digest)
        return event

    return record
