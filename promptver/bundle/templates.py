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
    except RecursionError:
        return Problem(
            "template syntax error: expressions or blocks nested too deeply",
            file=path,
            hint="split the template into smaller pieces",
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
    """Render a template; a missing variable raises an error naming it and the template, and
    any other failure in the template (``1/0``, a bad operand, endless recursion) is a
    TemplateRenderError naming the template file and line, never a bare Python exception."""
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
    except RecursionError:
        raise TemplateRenderError(
            f"template {label!r} ({path}): endless recursion (a macro or include that never stops)",
            hint="give the recursion a condition that ends it",
        ) from None
    except Exception as exc:  # anything the template's expressions raise
        where = _template_line(exc, env) or path
        raise TemplateRenderError(
            f"template {label!r}: {type(exc).__name__}: {exc}",
            location=where,
            hint="fix the expression at that line, or the values passed to it",
        ) from None


def _template_line(exc: BaseException, env: jinja2.Environment) -> str | None:
    """``file:line`` of the innermost template frame of a rendering error. Jinja2 rewrites
    the traceback so that frames of compiled templates carry the template's name and line."""
    loader = env.loader
    found = None
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if isinstance(loader, TreeLoader) and not unsafe_path_reason(filename) and loader.tree.has(filename):
            found = f"{filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found


def _references(ast: nodes.Template) -> list[tuple[str, int]]:
    """``(target, line)`` of every template a parsed template loads by a constant name."""
    out = []
    for node in ast.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        if isinstance(node, nodes.Include) and node.ignore_missing:
            continue
        target: Any = getattr(node, "template", None)
        consts = target.items if isinstance(target, nodes.List | nodes.Tuple) else [target]
        names = [c.value for c in consts if isinstance(c, nodes.Const) and isinstance(c.value, str)]
        if isinstance(target, nodes.List | nodes.Tuple):
            names = names[:1]  # a list is "the first that exists": the first must
        out += [(name, node.lineno) for name in names]
    return out


def reference_problems(env: jinja2.Environment, tree: Tree, path: str) -> list[Problem]:
    """Templates that ``path`` (and what it loads) includes, imports or extends must exist in
    the bundle, parse, and never load themselves again (an endless include)."""
    problems: list[Problem] = []
    done: set[str] = set()

    def visit(current: str, stack: list[str]) -> None:
        done.add(current)
        try:
            ast = env.parse(tree.read_text(current), name=current, filename=current)
        except (jinja2.TemplateSyntaxError, UnicodeDecodeError, RecursionError):
            return  # the file's own syntax problem is reported where it is listed
        for target, line in _references(ast):
            name = normalize(target) if not unsafe_path_reason(target) else target
            if unsafe_path_reason(target) or not tree.has(name):
                problems.append(
                    Problem(
                        f"loads template {target!r}, which is not in the bundle",
                        file=current,
                        line=line,
                        hint="add the file or fix the name (paths are relative to the bundle folder)",
                    )
                )
            elif name in stack or name == current:
                cycle = " -> ".join([*stack[stack.index(name) :], current, name]) if name in stack else name
                problems.append(
                    Problem(
                        f"template loads itself ({cycle}): rendering would never end",
                        file=current,
                        line=line,
                        hint="remove the include cycle",
                    )
                )
            elif name not in done:
                try:
                    source = tree.read_text(name)
                except UnicodeDecodeError:
                    problems.append(Problem("template is not UTF-8 text", file=name))
                    continue
                if problem := syntax_problem(env, name, source):
                    problems.append(problem)
                    continue
                visit(name, [*stack, current])

    visit(path, [])
    return problems


def _missing_name(exc: jinja2.UndefinedError) -> str | None:
    import re

    match = re.match(r"'([^']+)' is undefined", exc.message or "")
    return match.group(1) if match else None
