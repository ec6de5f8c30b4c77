"""Generated templates: Jinja2 exported to Handlebars renders the same text in dotpromptz,
and Handlebars imported to Jinja2 renders the same text as dotpromptz does."""

from __future__ import annotations

import asyncio
from typing import Any

import jinja2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2.sandbox import ImmutableSandboxedEnvironment

from promptver.interop.dotprompt import body_source
from promptver.interop.handlebars import translate
from promptver.interop.jinja_subset import to_handlebars

dotpromptz = pytest.importorskip("dotpromptz")

VARS: dict[str, Any] = {"name": "Ada", "flag": True, "off": False, "items": ["x", "y"], "empty": []}
TEXT = st.text(alphabet=" \n\tab:-", max_size=6)


def _env() -> jinja2.Environment:
    return ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def _dash() -> st.SearchStrategy[str]:
    return st.sampled_from(["", "-"])


@st.composite
def jinja_templates(draw: st.DrawFn, depth: int = 0, in_loop: bool = False) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["text", "var", "for", "if"] if depth < 2 else ["text", "var"]))
        if kind == "text":
            parts.append(draw(TEXT))
        elif kind == "var":
            left, right = draw(_dash()), draw(_dash())
            names = ["name", "it", "loop.index0"] if in_loop else ["name"]
            parts.append("{{" + left + " " + draw(st.sampled_from(names)) + " " + right + "}}")
        elif kind == "for":
            body = draw(jinja_templates(depth + 1, True))
            a, b, c, d = (draw(_dash()) for _ in range(4))
            items = draw(st.sampled_from(["items", "empty"]))
            parts.append(
                "{%" + a + " for it in " + items + " " + b + "%}" + body + "{%" + c + " endfor " + d + "%}"
            )
        else:
            body, other = draw(jinja_templates(depth + 1, in_loop)), draw(jinja_templates(depth + 1, in_loop))
            cond = draw(st.sampled_from(["flag", "off", "not flag", "name == 'Ada'", "name != 'Ada'"]))
            a, b, c = (draw(_dash()) for _ in range(3))
            parts.append(
                "{%"
                + a
                + " if "
                + cond
                + " %}"
                + body
                + "{% else "
                + b
                + "%}"
                + other
                + "{% endif "
                + c
                + "%}"
            )
        parts.append(draw(TEXT))
    return "".join(parts)


def _dotprompt(source: str) -> str:
    async def render() -> Any:
        return await dotpromptz.Dotprompt().render(source, dotpromptz.DataArgument(input=VARS))

    messages = asyncio.run(render()).messages
    return "".join(p.text for m in messages for p in m.content)


def _jinja(source: str) -> str:
    return _env().from_string(source).render(VARS)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jinja_templates())
def test_exported_handlebars_renders_like_jinja2(template: str) -> None:
    expected = _jinja(template)
    if not expected.strip():
        return  # Dotprompt drops a message that is only whitespace
    source = body_source(['{{role "user"}}', to_handlebars(_env(), template, "t.j2")])
    assert _dotprompt("---\nmodel: a/b\n---\n" + source) == expected, source


HB_TEXT = st.text(alphabet=" \n\tab", max_size=5)


@st.composite
def handlebars_templates(draw: st.DrawFn, depth: int = 0, in_each: bool = False) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(
            st.sampled_from(["text", "var", "each", "if", "comment"] if depth < 2 else ["text", "var"])
        )
        left, right = draw(st.sampled_from(["", "~"])), draw(st.sampled_from(["", "~"]))
        if kind == "text":
            parts.append(draw(HB_TEXT))
        elif kind == "var":
            names = ["@root.name", "this", "@index"] if in_each else ["@root.name", "name"]
            parts.append("{{" + left + draw(st.sampled_from(names)) + right + "}}")
        elif kind == "comment":
            parts.append("{{" + left + "! note " + right + "}}")
        elif kind == "each":
            body = draw(handlebars_templates(depth + 1, True))
            items = "@root.items" if in_each else "items"
            parts.append("{{" + left + "#each " + items + right + "}}" + body + "{{/each}}")
        else:
            body, other = (
                draw(handlebars_templates(depth + 1, in_each)),
                draw(handlebars_templates(depth + 1, in_each)),
            )
            root = "@root." if in_each else ""
            helper = draw(
                st.sampled_from(
                    [
                        f"#if {root}flag",
                        f"#unless {root}flag",
                        f"#if {root}off",
                        f'#ifEquals {root}name "Ada"',
                    ]
                )
            )
            close = helper.split()[0][1:]
            parts.append(
                "{{" + helper + right + "}}" + body + "{{" + left + "else}}" + other + "{{/" + close + "}}"
            )
        parts.append(draw(HB_TEXT))
    return "".join(parts)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(handlebars_templates())
def test_imported_jinja2_renders_like_dotpromptz(template: str) -> None:
    source = "---\nmodel: a/b\n---\n" + template
    expected = _dotprompt(source)
    translation = translate(template.strip(), "t.prompt", dotprompt=True)
    assert translation.findings == []
    jinja_source = "".join(s.source for s in translation.segments)
    rendered = _env().from_string(jinja_source).render(VARS)
    if not rendered.strip():
        assert expected == ""  # Dotprompt drops a message that is only whitespace
    else:
        assert rendered == expected, jinja_source
