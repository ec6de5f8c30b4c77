"""Template variables from the Jinja2 syntax tree, split into required and optional.

A variable is *optional* when every use of it is guarded: ``x is defined`` /
``x is undefined`` tests, the body of ``{% if x is defined %}`` (or the ``else`` of
``{% if x is not defined %}``), or ``x | default(...)``, or after a top-level
``{% set x = x | default(...) %}`` that comes before any use. Any other use makes it required
(templates render with ``StrictUndefined``). Scoping (loop variables, ``set``, macro
arguments) follows ``jinja2.meta.find_undeclared_variables``; ``include``, ``extends``
and imports ``with context`` add the variables of the template they name.
"""

from __future__ import annotations

from collections.abc import Callable

from jinja2 import Environment, nodes
from jinja2.meta import find_undeclared_variables

from promptver.bundle.interface import Variables

_GUARD_TESTS = frozenset({"defined", "undefined"})
_DEFAULT_FILTERS = frozenset({"default", "d"})
_MAX_DEPTH = 20


class TemplateParseError(Exception):
    """A template does not parse; ``str()`` is ``file:line: message``."""


def environment() -> Environment:
    """A parse-only environment configured like `promptver.bundle.templates.environment`."""
    return Environment(keep_trailing_newline=True)


def parse(env: Environment, source: str, path: str) -> nodes.Template:
    from jinja2 import TemplateSyntaxError

    try:
        return env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateParseError(f"{path}:{exc.lineno}: {exc.message}") from None
    except RecursionError:
        raise TemplateParseError(f"{path}: expressions or blocks nested too deeply") from None


def analyze(
    source: str,
    path: str,
    load: Callable[[str], str | None],
    env: Environment | None = None,
) -> Variables:
    """Variables of a template; ``load(path)`` returns another file's text or None.

    Raises TemplateParseError when this template itself does not parse. Included
    templates that are missing or invalid contribute nothing (``check`` reports them).
    """
    env = env or environment()
    required: set[str] = set()
    optional: set[str] = set()
    _collect(env, parse(env, source, path), path, load, required, optional, {path}, 0)
    return Variables(frozenset(required), frozenset(optional - required))


def _collect(
    env: Environment,
    ast: nodes.Template,
    path: str,
    load: Callable[[str], str | None],
    required: set[str],
    optional: set[str],
    seen: set[str],
    depth: int,
) -> None:
    undeclared = find_undeclared_variables(ast)
    unguarded: set[str] = set()
    _walk(ast, frozenset(), unguarded)
    unguarded -= _defaulted_first(ast)
    required |= undeclared & unguarded
    optional |= undeclared - unguarded
    if depth >= _MAX_DEPTH:
        return
    for node in ast.find_all((nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport)):
        if isinstance(node, nodes.Import | nodes.FromImport) and not node.with_context:
            continue
        target = getattr(node, "template", None)
        if not isinstance(target, nodes.Const) or not isinstance(target.value, str):
            continue  # a computed template name: nothing to follow
        name = _resolve(target.value, path, load)
        if name is None or name in seen:
            continue
        seen.add(name)
        text = load(name)
        if text is None:
            continue
        try:
            child = parse(env, text, name)
        except TemplateParseError:
            continue
        _collect(env, child, name, load, required, optional, seen, depth + 1)


def _defaulted_first(ast: nodes.Template) -> set[str]:
    """Names given a default before any use: ``{% set x = x | default(...) %}`` at the top
    level (a Dotprompt import writes it for an optional input); later uses read the set value."""
    found: set[str] = set()
    read: set[str] = set()
    for node in ast.body:
        if (
            isinstance(node, nodes.Assign)
            and isinstance(node.target, nodes.Name)
            and isinstance(node.node, nodes.Filter)
            and node.node.name in _DEFAULT_FILTERS
            and isinstance(node.node.node, nodes.Name)
            and node.node.node.name == node.target.name
            and node.target.name not in read
        ):
            found.add(node.target.name)
        read |= {n.name for n in node.find_all(nodes.Name) if n.ctx == "load"}
    return found


def _resolve(name: str, current: str, load: Callable[[str], str | None]) -> str | None:
    """Bundle-relative first (as the loader does), then relative to the including file."""
    candidates = [name.lstrip("/")]
    if "/" in current:
        candidates.append(current.rsplit("/", 1)[0] + "/" + name)
    for candidate in candidates:
        if load(candidate) is not None:
            return candidate
    return None


def _guarded_name(test: nodes.Node) -> tuple[str, bool] | None:
    """``x is defined`` -> (x, True); ``x is not defined`` / ``x is undefined`` -> (x, False)."""
    negate = False
    if isinstance(test, nodes.Not):
        negate, test = True, test.node
    if isinstance(test, nodes.Test) and test.name in _GUARD_TESTS and isinstance(test.node, nodes.Name):
        positive = (test.name == "defined") != negate
        return test.node.name, positive
    return None


def _walk(node: nodes.Node, guarded: frozenset[str], unguarded: set[str]) -> None:
    if isinstance(node, nodes.Name):
        if node.ctx == "load" and node.name not in guarded:
            unguarded.add(node.name)
        return
    if (
        isinstance(node, nodes.Test | nodes.Filter)
        and node.name in (_GUARD_TESTS if isinstance(node, nodes.Test) else _DEFAULT_FILTERS)
        and isinstance(node.node, nodes.Name)
    ):
        # the guarded name itself is an optional use; the arguments are ordinary uses
        for child in (*node.args, *[kw.value for kw in node.kwargs]):
            _walk(child, guarded, unguarded)
        return
    if isinstance(node, nodes.If):
        _walk(node.test, guarded, unguarded)
        guard = _guarded_name(node.test)
        body_guard = else_guard = guarded
        if guard is not None:
            name, positive = guard
            if positive:
                body_guard = guarded | {name}
            else:
                else_guard = guarded | {name}
        for stmt in node.body:
            _walk(stmt, body_guard, unguarded)
        for elif_node in node.elif_:
            _walk(elif_node, else_guard, unguarded)
        for stmt in node.else_:
            _walk(stmt, else_guard, unguarded)
        return
    for sub in node.iter_child_nodes():
        _walk(sub, guarded, unguarded)
