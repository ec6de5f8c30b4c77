"""promptver.safetext: outside text escaped for the terminal, Markdown and XML (issue 24,
items 2 and 3), checked by rendering with a CommonMark parser (tests/markdown_check.py)."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from promptver.safetext import md_code, md_fence, md_html, md_paragraphs, md_text, one_line, visible, xml
from tests.markdown_check import _PARSER, assert_inert, code_spans

# Each tries to get out of the place it is put: a code span, a table cell, an HTML block.
HOSTILE = [
    "a`b",
    "``x``",
    "x` @acme/security-team ![t](https://evil.example/t.png) [l](https://evil.example) `y",
    "````` @acme/security-team `````",
    "` ` `",
    "<img src=https://evil.example/t.png>",
    "<script>alert(1)</script>",
    "</summary></details><img src=x>",
    "a|b|c",
    "line\nbreak\n\n![i](https://evil.example/i.png)",
    "<https://evil.example>",
    "&lt;b&gt; &#64;acme",
    "@everyone and @acme/team",
    "x`@acme/security-team `@acme`",
    "[ref]: https://evil.example",
    "[x][ref]\n\n[ref]: https://evil.example",
    "# heading\n- item\n> quote\n===",
    "\x1b]8;;https://evil.example\x07click\x1b]8;;\x07 \x1b[2J",
    "\u202eevil\u2066",
    "~~~\n```\n",
    "\\`a\\` \\[x](y)",
    "*a* _b_ ~~c~~ $x$",
    "",
    " ",
    "`",
]


def _document(text: str) -> str:
    """``text`` in every context an output uses."""
    opening, body, closing = md_fence([text, "```", "~~~"], "diff")
    return "\n".join(
        [
            f"## title {md_text(text)}",
            "",
            f"Paragraph {md_text(text)} and {md_code(text)}.",
            "",
            f"- {md_code(text)}",
            f"- {md_text(text, start=True)}",
            "",
            "| a | b |",
            "| --- | --- |",
            f"| {md_code(text, table=True)} | {md_text(text)} |",
            "",
            f"<details><summary>{md_html(text)}</summary>",
            "",
            *md_paragraphs(text),
            "",
            opening,
            *body,
            closing,
            "",
            "</details>",
            "",
            md_text(text, start=True),
            "",
        ]
    )


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings_stay_text(text: str) -> None:
    document = _document(text)
    assert_inert(document)
    # the code spans show the text itself (control characters as escapes)
    if one_line(text).strip(" "):
        assert code_spans(document).count(one_line(text)) >= 3


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40) | st.sampled_from(HOSTILE))
def test_any_text_stays_text(text: str) -> None:
    document = _document(text)
    assert_inert(document)
    if one_line(text).strip(" "):
        assert one_line(text) in code_spans(f"- {md_code(text)}\n")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r"), max_size=40))
def test_md_text_renders_as_the_text(text: str) -> None:
    """Escaped, not changed: rendered, the text reads as the text (a mention's @ gets a
    zero-width space)."""
    tokens = _PARSER.parseInline(md_text(text, start=True))[0].children or []
    rendered = "".join(t.content for t in tokens if t.type == "text").replace("\u200b", "")
    assert rendered.strip() == one_line(text).replace("\u200b", "").strip()


def test_code_span_fence_is_longer_than_any_run() -> None:
    assert md_code("a``b") == "```a``b```"
    assert md_code("`x`") == "`` `x` ``"
    assert md_code("a|b", table=True) == "`a\\|b`"
    assert md_fence(["````"])[0] == "`````"


def test_visible_escapes_controls_but_keeps_lines() -> None:
    text = "a\x1b[31mred\x1b[0m\x07\x7f\x9b\u202e\tb\nc\r"
    assert visible(text) == "a\\x1b[31mred\\x1b[0m\\x07\\x7f\\x9b\\u202e\tb\nc\\x0d"
    assert one_line("a\nb\tc") == "a\\x0ab\\x09c"


def test_xml_is_always_well_formed() -> None:
    text = "".join(map(chr, range(0x20))) + '\ud800<&>"\ufffe'
    element = ET.Element("failure", {"message": xml(text)})
    element.text = xml(text)
    parsed = ET.fromstring(ET.tostring(element, encoding="unicode").encode("utf-8", "surrogatepass"))
    assert parsed.get("message") == xml(text) and parsed.text == xml(text)


@pytest.mark.parametrize("text", HOSTILE)
def test_model_matrix_markdown_is_inert(text: str) -> None:
    from pathlib import Path

    from promptver.evals.analysis.matrix import CaseResult, Matrix, MatrixRow, markdown
    from promptver.evals.runs.storage import StoredRun

    models = [f"openai/{text}", f"{text}|b"]
    rows = [MatrixRow(m, StoredRun(Path("."), {"id": text, "summary": {}}, []), 0) for m in models]
    cases = [CaseResult(text, {m: 1.0 for m in models}, {models[0]: True, models[1]: False}, None)]
    assert_inert(markdown(Matrix(rows, cases), f"matrix {text}"))


def test_the_control_pattern_finds_exactly_the_escaped_characters() -> None:
    """`has_control` (a pattern of ranges) and the escape table name the same characters."""
    from promptver import safetext

    table = set(safetext._TABLE)
    assert [c for c in range(0x30000) if safetext.has_control(chr(c)) != (c in table)] == []


@given(st.text(st.characters(max_codepoint=0x7F)) | st.text())
@example("plain ascii, then a DEL\x7f")
@example("tab\tinside")
@example("é then \x1b")
def test_has_control_of_any_text_is_whether_one_line_escapes_it(text: str) -> None:
    """ASCII text is checked by `str.isprintable`, other text by the pattern: both say
    whether any of its characters is one `one_line` escapes."""
    from promptver import safetext

    assert safetext.has_control(text) == any(ord(c) in safetext._TABLE for c in text)
