"""Jinja2 over a `Tree`: sandboxed rendering, strict variables, and a template's interface.

A template's *variables* are the names it reads from its context, found in the syntax tree
(loops, conditionals, filters and macros included) and through the templates it
``{% include %}``s, which share its context.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from promptver.errors import NotFoundError, Problem, TemplateRenderError
from promptver.store.tree import Tree, normalize, unsafe_path_reason


class TreeLoader(jinja2.BaseLoader):
    """Loads templates by bundle-relative path from a tree; nothing outside it."""

    def __init__(self, tree: Tree):
        self.tree = tree

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        if unsafe_path_reason(template) or not self.tree.has(template):
            raise jinja2.TemplateNotFound(template)
        try:
            source = self.tree.read_text(template)
        except UnicodeDecodeError:
            raise jinja2.TemplateNotFound(template) from None
        return source, normalize(template), lambda: True


def environment(tree: Tree) -> jinja2.Environment:
    """A sandboxed environment where an undefined variable is an error."""
    return ImmutableSandboxedEnvironment(
        loader=TreeLoader(tree),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        auto_reload=False,
    )


def syntax_problem(env: jinja2.Environment, path: str, source: str) -> Problem | None:
    """The syntax error of a template, located, or None when it parses."""
    try:
        env.parse(source, name=path, filename=path)
    except jinja2.TemplateSyntaxError as exc:
        return Problem(
            f"template syntax error: {exc.message}", file=path, line=exc.lineno, hint="fix the Jinja2 syntax"
        )
    return None


def variables(env: jinja2.Environment, path: str, _seen: set[str] | None = None) -> set[str]:
    """Names the template at ``path`` (and what it includes) takes from its context."""
    seen = _seen if _seen is not None else set()
    if path in seen:
        return set()
    seen.add(path)
    assert env.loader is not None
    source, _, _ = env.loader.get_source(env, path)
    ast = env.parse(source, name=path)
    found = set(meta.find_undeclared_variables(ast))
    for node in ast.find_all((nodes.Include, nodes.Import, nodes.FromImport)):
        shares_context = isinstance(node, nodes.Include) or getattr(node, "with_context", False)
        target = getattr(node, "template", None)
        if shares_context and isinstance(target, nodes.Const) and isinstance(target.value, str):
            try:
                found |= variables(env, target.value, seen)
            except jinja2.TemplateNotFound:
                pass  # reported by check
    return found


def render(env: jinja2.Environment, path: str, label: str, context: dict[str, Any]) -> str:
    """Render a template; a missing variable raises an error naming it and the template."""
    try:
        return env.get_template(path).render(context)
    except jinja2.UndefinedError as exc:
        missing = _missing_name(exc)
        name = f"variable {missing!r}" if missing else "a variable"
        raise TemplateRenderError(
            f"template {label!r} ({path}): {name} is not defined ({exc.message})",
            hint=f"pass {missing}=... when rendering" if missing else "pass every variable the template uses",
        ) from None
    except jinja2.TemplateNotFound as exc:
        raise NotFoundError(f"template {label!r}: file {exc.name!r} is not in the bundle") from None
    except jinja2.TemplateError as exc:
        raise TemplateRenderError(f"template {label!r} ({path}): {exc}") from None


def _missing_name(exc: jinja2.UndefinedError) -> str | None:
    import re

    match = re.match(r"'([^']+)' is undefined", exc.message or "")
    return match.group(1) if match else None
