"""The three-line header: bundle, both versions with digests, authors, dates, suggested bump."""

from __future__ import annotations

from textual.content import Content

from promptver.tui.model import Review, Side
from promptver.tui.widgets.fit import WordFitted

BUMP_STYLE = {"major": "bold $error", "minor": "bold $warning", "patch": "bold $success"}


def _date(created: str | None) -> str:
    if not created:
        return ""
    return created.replace("T", " ")[:16]


def _side(mark: str, style: str, side: Side) -> Content:
    parts: list[str | tuple[str, str]] = [
        (f"{mark} ", style),
        (side.label, "bold"),
        "  ",
        (side.short_digest[:8], "$text-muted"),
    ]
    if side.author:
        parts += ["  ", side.author]
    if side.created:
        parts += ["  ", (_date(side.created), "$text-muted")]
    return Content.assemble(*parts)


def header_content(review: Review) -> Content:
    if review.first_version:
        bump: Content = Content.assemble(
            "first version ", (review.first_version, "bold"), ("  everything is new", "$text-muted")
        )
    elif review.bump:
        bump = Content.assemble(
            "suggested bump ",
            (review.bump, BUMP_STYLE.get(review.bump, "bold")),
            (f": {review.bump_reason}" if review.bump_reason else "", "$text-muted"),
        )
    else:
        bump = Content.assemble(("no change", "$text-muted"))
    title = Content.assemble(
        (review.bundle, "bold $accent"),
        "  ",
        (review.old.label, "bold"),
        " → ",
        (review.new.label, "bold"),
        "   ",
        bump,
    )
    if review.security:  # first, where it cannot be cut off
        warning = f"⚠ {len(review.security)} endpoint change(s): security-relevant, keys follow them   "
        title = Content.assemble((warning, "bold $error"), title)
    old = _side("−", "bold $error", review.old)
    new = _side("+", "bold $success", review.new)
    if review.decisions:
        marks: list[str | tuple[str, str]] = ["  "]
        for actor, decision in review.decisions:
            approved = decision == "approved"
            marks.append(("✓ " if approved else "✗ ", "$text-success" if approved else "$text-error"))
            marks.append((actor.split("<")[0].strip() or actor, ""))
            marks.append(" ")
        new = Content.assemble(new, *marks)
    return Content("\n").join([title, old, new])


class ReviewHeader(WordFitted):
    DEFAULT_CSS = """
    ReviewHeader {
        height: 3;
        background: $panel;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def show(self, review: Review) -> None:
        self.update(header_content(review))  # each line cut at a word (`WordFitted`)
