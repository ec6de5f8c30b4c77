"""Checks that a Markdown output carries nothing live that outside text could have put there.

The document is parsed by markdown-it-py (CommonMark, with GFM tables and strikethrough),
the parser rich uses: no link, no image, no HTML but the tags promptver writes itself
(``<details>``, ``<summary>``, ``<sub>``, the ci-report marker comment), no ``@mention``
outside a code span or code block, and every raw HTML block free of ``@mention`` too.
"""

from __future__ import annotations

import re
from typing import Any

from markdown_it import MarkdownIt

# Tags and comments promptver writes around its own sections.
OWN_HTML = re.compile(
    r"<(?:/?details|/?summary|/?sub|!-- promptver-ci-report --)>",
)
TAG = re.compile(r"<[^>\n]*>")
MENTION = re.compile(r"(?<![A-Za-z0-9_])@[A-Za-z0-9]")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

_PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def _walk(tokens: list[Any]) -> Any:
    for token in tokens:
        yield token
        if token.children:
            yield from _walk(token.children)


def live_parts(markdown: str) -> list[str]:
    """What a renderer would make live: links, images, foreign HTML, mentions, raw
    control characters. Empty for an inert document."""
    found: list[str] = []
    if CONTROL.search(markdown):
        found.append(f"control character {CONTROL.search(markdown)!r}")
    for token in _walk(_PARSER.parse(markdown)):
        if token.type in ("link_open", "image"):
            found.append(f"{token.type}: {token.attrs}")
        elif token.type in ("html_inline", "html_block"):
            for tag in TAG.findall(token.content):
                if not OWN_HTML.fullmatch(tag):
                    found.append(f"html: {tag!r}")
            if token.type == "html_block" and MENTION.search(token.content):
                found.append(f"mention in html: {token.content!r}")
        elif token.type == "text" and MENTION.search(token.content):
            found.append(f"mention: {token.content!r}")
    return found


def code_spans(markdown: str) -> list[str]:
    """The content of every inline code span, as rendered."""
    return [t.content for t in _walk(_PARSER.parse(markdown)) if t.type == "code_inline"]


def assert_inert(markdown: str) -> None:
    live = live_parts(markdown)
    assert not live, f"live Markdown from data: {live}\n---\n{markdown}"
