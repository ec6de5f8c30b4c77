"""Outside text made safe for where it is shown: the terminal, Markdown, HTML and XML.

A case id, a commit message, a model's answer, a name from a pulled log: all of it is data,
never instructions to a terminal or a Markdown renderer. Every output that shows such text
escapes it here, for its context:

- ``visible``: control characters (C0 but newline and tab, DEL, C1, and the bidirectional
  controls that reorder what is shown) become escapes such as ``\\x1b`` and ``\\u202e``,
  so no terminal runs them and nothing on screen pretends to be what it is not. Lone
  surrogates and the XML non-characters are escaped the same way (``xml`` needs it).
- ``md_code``: an inline code span whose fence is longer than any run of backticks in the
  text, so the text can never close it.
- ``md_text``: text outside code: the characters that start something backslash-escaped
  (no link, image, emphasis, HTML, autolink or table cell can start), a mention's ``@``
  followed by a zero-width space, newlines shown as ``\\n``.
- ``md_html``: text inside an HTML block such as ``<summary>``.
- ``md_fence``: the fence of a code block that the lines cannot close.
"""

from __future__ import annotations

import html
import re

_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_OTHER = (*range(0xD800, 0xE000), 0xFFFE, 0xFFFF)


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_TABLE: dict[int, str] = {code: _escape(code) for code in (*range(0x20), *range(0x7F, 0xA0), *_BIDI, *_OTHER)}
_MULTILINE = {k: v for k, v in _TABLE.items() if k not in (0x09, 0x0A)}
# every control character but newline and tab -> its escape (for other tools' tables)
CONTROL_ESCAPES: dict[int, str] = dict(_MULTILINE)
# the codes of `_TABLE`, as ranges (escaping its 2,000 characters one by one cost 7 ms an import)
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)


def visible(text: str, *, lines: bool = True) -> str:
    """``text`` with every control character shown as an escape. ``lines``: newline and
    tab stay (text that is meant to span lines); otherwise they are escaped too."""
    return text.translate(_MULTILINE if lines else _TABLE)


def one_line(text: str) -> str:
    """``visible`` for a value shown on one line: a name, an id, a version, a path."""
    return text.translate(_TABLE)


def has_control(text: str) -> bool:
    """Whether ``text`` holds a character `one_line` escapes."""
    if text.isascii():  # then only C0 and DEL are: what isprintable refuses, twice as fast
        return not text.isprintable()
    return _CONTROL.search(text) is not None


# ---- Markdown -------------------------------------------------------------------------

# What can start something in CommonMark/GFM text: emphasis, code, links and images
# (``[``), HTML and autolinks (``<``), entities (``&``), table cells, strikethrough, math.
# (``_`` inside a word emphasises nothing: ``max_tokens`` stays as it is.)
_SPECIAL = re.compile(r"([\\`*\[\]<&|~$]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
_AUTOLINK = re.compile(r"(?i)(:)(?=//)|(?<=www)(\.)")  # GFM's bare https:// and www. links
_MENTION = re.compile(r"(?<![A-Za-z0-9_])@(?=[A-Za-z0-9])")  # @user, @org/team
_LINE_START = re.compile(r"^(\s*)(\d*)([-+=#>.)])")  # list, heading, quote, setext underline
_BACKTICKS = re.compile(r"`+")
_ZWSP = "\u200b"


def md_text(text: str, *, start: bool = False) -> str:
    """Plain text for a Markdown line or table cell: it renders as itself and starts
    nothing (no link, image, HTML, emphasis, code, cell, mention). ``start``: the text
    begins a line or a list item, so a heading, list or quote marker is escaped too."""
    text = _SPECIAL.sub(r"\\\1", one_line(text))
    text = _AUTOLINK.sub(lambda m: "\\" + (m.group(1) or m.group(2)), text)
    if start:
        text = _LINE_START.sub(lambda m: m.group(1) + m.group(2) + "\\" + m.group(3), text, count=1)
    return _MENTION.sub("@" + _ZWSP, text)


def md_paragraphs(text: str) -> list[str]:
    """Multi-line text (a commit message) as Markdown lines: each line ``md_text``, blank
    lines kept as paragraph breaks, lines inside a paragraph joined by hard breaks."""
    out: list[str] = []
    for line in text.strip().splitlines():
        stripped = line.strip()
        if not stripped:
            if out and out[-1]:
                out.append("")
            continue
        if out and out[-1]:
            out[-1] += "\\"  # a hard line break
        out.append(md_text(stripped, start=True))
    return out


def md_code(text: str, *, table: bool = False) -> str:
    """An inline code span showing ``text`` as it is (control characters escaped). In a
    table cell (``table``) pipes are escaped as GFM requires inside code."""
    body = one_line(text)
    if table:
        body = body.replace("|", "\\|")
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    fence = "`" * (longest + 1)
    if not body.strip(" "):
        return f"{fence} {body} {fence}" if body else f"{fence} {fence}"
    if body.startswith("`") or body.endswith("`") or (body.startswith(" ") and body.endswith(" ")):
        body = f" {body} "
    return f"{fence}{body}{fence}"


def md_html(text: str) -> str:
    """Text inside an HTML block (``<summary>``...): entities, on one line, no mention."""
    return _MENTION.sub("@" + _ZWSP, html.escape(one_line(text), quote=True))


def md_fence(lines: list[str], info: str = "") -> tuple[str, list[str], str]:
    """(opening fence, lines with control characters escaped, closing fence) of a fenced
    code block the lines cannot close: more backticks than any run in them, at least 3."""
    body = [visible(line, lines=False).replace("\\x09", "\t") for line in lines]
    longest = max((len(run) for line in body for run in _BACKTICKS.findall(line)), default=0)
    fence = "`" * max(3, longest + 1)
    return fence + md_text(info), body, fence


# ---- XML ------------------------------------------------------------------------------


def xml(text: str, *, lines: bool = True) -> str:
    """Text for an XML attribute or element (ElementTree adds the entities): characters
    XML 1.0 cannot hold, and other control characters, shown as escapes. ``lines=False``
    for names (a test case's), which stay on one line."""
    return visible(text, lines=lines)
