"""The portable subset of Jinja2, written out as Handlebars (Dotprompt) or Nunjucks (promptfoo).

A promptver template is parsed with Jinja2 itself, so the text between tags is exactly what
Jinja2 outputs (comments gone, ``{%-``/``-%}`` whitespace control applied). The printers
then write that text literally and translate the tags:

- ``{{ name }}``, ``{{ a.b }}``, ``{{ a["b"] }}``, ``{{ a[0] }}``;
- ``{% for x in items %}...{% else %}...{% endfor %}`` with ``loop.index0``,
  ``loop.first``, ``loop.last`` (and, in Nunjucks, ``loop.index``);
- ``{% if %}/{% elif %}/{% else %}`` on a name or path, ``not``, ``==``/``!=`` a literal;
- ``{{ name | default(60) }}`` with a string or integer literal: Nunjucks has the same
  filter; in Handlebars the name must be a top-level variable, and its default goes to
  Dotprompt's ``input.default`` (used, as Jinja2's filter, when the variable is not given).

Anything else (filters, includes, macros, ``set``, arithmetic...) raises `ExportError`
naming the template, line and construct: an export is exact or it does not happen.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from jinja2 import nodes

from promptver.errors import ConfigError


class ExportError(ConfigError):
    pass


@dataclass
class _Tok:
    kind: str  # text | tag | block (block: a Handlebars block tag, subject to standalone rules)
    text: str


@dataclass
class _Ctx:
    loops: list[str] = field(default_factory=list)  # loop target names, innermost last


def parse(env: Any, source: str, path: str) -> nodes.Template:
    template: nodes.Template = env.parse(source, name=path, filename=path)
    return template


class _Printer:
    dialect = ""

    def __init__(self, path: str):
        self.where = path
        self.out: list[_Tok] = []
        self.ctx = _Ctx()
        self.depth = 0  # open if blocks

    def fail(self, node: nodes.Node, what: str) -> ExportError:
        return ExportError(
            f"{what} cannot be written as {self.dialect}",
            location=f"{self.where}:{node.lineno}",
            hint="export supports variables, attributes, for loops and if/else on names; "
            "simplify the template or use the .pvb export",
        )

    def body(self, body: list[nodes.Node]) -> None:  # statements; their tests and targets are Exprs
        for node in body:
            if isinstance(node, nodes.Output):
                literal = ""  # adjacent literal pieces are written as one ("{" + "{x" is "{{x")
                for child in node.nodes:
                    if isinstance(child, nodes.TemplateData):
                        literal += child.data
                    elif isinstance(child, nodes.Const) and isinstance(child.value, str):
                        literal += child.value
                    else:
                        if literal:
                            self.text(literal)
                            literal = ""
                        self.output(child)
                if literal:
                    self.text(literal)
            elif isinstance(node, nodes.For | nodes.If):
                self.depth += 1
                if isinstance(node, nodes.For):
                    self.for_(node)
                else:
                    self.if_(node)
                self.depth -= 1
            elif isinstance(node, nodes.Include):
                self.include(node)
            elif isinstance(node, nodes.Assign) and self.assign(node):
                pass
            else:
                raise self.fail(node, f"{{% {type(node).__name__.lower()} %}}")

    # -- hooks -----------------------------------------------------------------------------
    def text(self, data: str) -> None:
        raise NotImplementedError

    def output(self, node: nodes.Expr) -> None:
        raise NotImplementedError

    def for_(self, node: nodes.For) -> None:
        raise NotImplementedError

    def if_(self, node: nodes.If) -> None:
        raise NotImplementedError

    def include(self, node: nodes.Include) -> None:
        raise self.fail(node, "{% include %}")

    def assign(self, node: nodes.Assign) -> bool:
        """``{% set x = x | default(v) %}`` outside any block (what a Dotprompt import writes
        for an optional input): written by the dialect, True; anything else: False."""
        return False

    def top_level_default(self, node: nodes.Assign) -> tuple[str, str | int] | None:
        if self.ctx.loops or self.depth or not isinstance(node.target, nodes.Name):
            return None
        try:
            found = default_of(node.node)
        except LookupError:
            return None
        if found is None or not (isinstance(found[0], nodes.Name) and found[0].name == node.target.name):
            return None
        return node.target.name, found[1]


_DEFAULT_FORMS = 'a default filter other than | default("text") or | default(60)'


def default_of(node: nodes.Node) -> tuple[nodes.Expr, str | int] | None:
    """``x | default(v)`` (or ``d``) with a string or integer ``v`` -> (x, v); None when
    ``node`` is no default filter. Other forms (a second argument, a computed default)
    raise LookupError: Jinja2 and the target would not agree on them."""
    if not (isinstance(node, nodes.Filter) and node.name in ("default", "d") and node.node is not None):
        return None
    boolean = node.args[1:] or [kw.value for kw in node.kwargs if kw.key == "boolean"]
    extra = len(node.args) > 2 or any(kw.key != "boolean" for kw in node.kwargs)
    truthy = any(not (isinstance(b, nodes.Const) and b.value is False) for b in boolean)
    if len(node.args) < 1 or extra or truthy:
        raise LookupError
    value = node.args[0]
    if not isinstance(value, nodes.Const) or isinstance(value.value, bool):
        raise LookupError
    if not isinstance(value.value, str | int):
        raise LookupError  # a float or None prints differently in JavaScript
    return node.node, value.value


def _const(node: nodes.Node) -> Any:
    if isinstance(node, nodes.Const) and (
        node.value is None or isinstance(node.value, str | int | float | bool)
    ):
        return node.value
    raise LookupError


# ---- Handlebars ---------------------------------------------------------------------------


class HandlebarsPrinter(_Printer):
    dialect = "Handlebars"

    def __init__(self, path: str):
        super().__init__(path)
        self.partials: dict[str, str] = {}  # partial name -> the included template's path
        self.defaults: dict[str, str | int] = {}  # variable -> its `| default(...)` (input.default)

    def include(self, node: nodes.Include) -> None:
        """``{% include "x/name.j2" %}`` at the top level -> ``{{> name}}`` (a Dotprompt partial)."""
        target = node.template
        if self.ctx.loops or not (isinstance(target, nodes.Const) and isinstance(target.value, str)):
            raise self.fail(node, "{% include %} inside a loop or of a computed name")
        if node.ignore_missing or not node.with_context:
            raise self.fail(node, "{% include %} with 'ignore missing' or 'without context'")
        path = target.value
        name = re.sub(r"\.(j2|jinja2?|jinja)\Z", "", path.rsplit("/", 1)[-1])
        if not re.fullmatch(r"[A-Za-z_][\w-]*", name) or self.partials.get(name, path) != path:
            raise self.fail(
                node, f"{{% include {path!r} %}} (its partial name {name!r} is not unique or valid)"
            )
        self.partials[name] = path
        self.out.append(_Tok("block", "{{> " + name + "}}"))

    def text(self, data: str) -> None:
        self.out.append(_Tok("text", data.replace("{{", "\\{{")))

    def assign(self, node: nodes.Assign) -> bool:
        found = self.top_level_default(node)
        if found is None:
            return False
        name, value = found
        if self.defaults.setdefault(name, value) != value:
            raise self.fail(node, f"two different defaults for {name!r}")
        return True

    def path(self, node: nodes.Node) -> str:
        if isinstance(node, nodes.Name):
            if node.name == "loop":
                raise self.fail(node, "'loop' alone")
            if node.name in self.ctx.loops:
                return node.name
            return f"@root.{node.name}" if self.ctx.loops else node.name
        if isinstance(node, nodes.Getattr):
            if isinstance(node.node, nodes.Name) and node.node.name == "loop":
                if not self.ctx.loops:
                    raise self.fail(node, "'loop' outside a for loop")
                mapping = {"index0": "@index", "first": "@first", "last": "@last"}
                if node.attr not in mapping:
                    raise self.fail(node, f"loop.{node.attr}")
                return mapping[node.attr]
            return f"{self.path(node.node)}.{_hb_segment(node.attr)}"
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            key = node.arg.value
            if isinstance(key, int) and not isinstance(key, bool) and key >= 0:
                return f"{self.path(node.node)}.[{key}]"
            if isinstance(key, str):
                return f"{self.path(node.node)}.{_hb_segment(key)}"
        raise self.fail(node, f"the expression {_describe(node)}")

    def output(self, node: nodes.Expr) -> None:
        try:
            found = default_of(node)
        except LookupError:
            raise self.fail(node, _DEFAULT_FORMS) from None
        if found is not None:
            subject, value = found
            if not isinstance(subject, nodes.Name) or subject.name in (*self.ctx.loops, "loop"):
                raise self.fail(node, "| default(...) on anything but a top-level variable")
            if self.defaults.setdefault(subject.name, value) != value:
                raise self.fail(node, f"two different defaults for {subject.name!r}")
            node = subject
        self.out.append(_Tok("tag", "{{{" + self.path(node) + "}}}"))

    def for_(self, node: nodes.For) -> None:
        if node.test is not None or node.recursive or not isinstance(node.target, nodes.Name):
            raise self.fail(node, "a for loop with a filter, recursion or several targets")
        target = node.target.name
        self.out.append(_Tok("block", "{{#each " + self.path(node.iter) + f" as |{target}|" + "}}"))
        self.ctx.loops.append(target)
        self.body(node.body)
        self.ctx.loops.pop()
        if node.else_:
            self.out.append(_Tok("block", "{{else}}"))
            self.body(node.else_)
        self.out.append(_Tok("block", "{{/each}}"))

    def condition(self, test: nodes.Node) -> tuple[str, str]:
        """(helper, arguments) of a block for an if test."""
        if isinstance(test, nodes.Not):
            helper, args = self.condition(test.node)
            flipped = {"if": "unless", "unless": "if", "ifEquals": "unlessEquals", "unlessEquals": "ifEquals"}
            return flipped[helper], args
        if isinstance(test, nodes.Compare) and len(test.ops) == 1 and test.ops[0].op in ("eq", "ne"):
            left, right = test.expr, test.ops[0].expr
            try:
                value = _const(right)
                subject = left
            except LookupError:
                try:
                    value = _const(left)
                    subject = right
                except LookupError:
                    raise self.fail(test, "a comparison without a literal side") from None
            helper = "ifEquals" if test.ops[0].op == "eq" else "unlessEquals"
            return helper, f"{self.path(subject)} {json.dumps(value)}"
        return "if", self.path(test)

    def if_(self, node: nodes.If) -> None:
        helper, args = self.condition(node.test)
        self.out.append(_Tok("block", "{{#" + helper + " " + args + "}}"))
        self.body(node.body)
        closers = [helper]
        for elif_ in node.elif_:
            inner, inner_args = self.condition(elif_.test)
            self.out.append(_Tok("block", "{{else}}"))
            self.out.append(_Tok("block", "{{#" + inner + " " + inner_args + "}}"))
            self.body(elif_.body)
            closers.append(inner)
        if node.else_:
            self.out.append(_Tok("block", "{{else}}"))
            self.body(node.else_)
        for closer in reversed(closers):
            self.out.append(_Tok("block", "{{/" + closer + "}}"))

    def finish(self) -> str:
        """The source. A block tag that starts a line gets an empty comment before it, so
        that it is never "standalone" (a tag alone on its line takes the line's
        indentation and line ending with it, in Handlebars.js and dotpromptz alike, each
        with slightly different rules): the text is then exactly what Jinja2 outputs."""
        toks = self.out
        result: list[str] = []
        for i, tok in enumerate(toks):
            if tok.kind == "block" and _starts_line(toks, i):
                result.append("{{!}}")
            result.append(tok.text)
        return "".join(result)


def _starts_line(toks: list[_Tok], index: int) -> bool:
    for cursor in range(index - 1, -1, -1):
        if toks[cursor].kind != "text":
            return False
        text = toks[cursor].text
        newline = text.rfind("\n")
        if newline >= 0:
            return not text[newline + 1 :].strip(" \t\r\f\v")
        if text.strip(" \t\r\f\v"):
            return False
    return True


def _hb_segment(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_$][\w$]*", name) else "[" + name + "]"


def _describe(node: nodes.Node) -> str:
    return type(node).__name__


def to_handlebars(
    env: Any,
    source: str,
    path: str,
    partials: dict[str, str] | None = None,
    defaults: dict[str, str | int] | None = None,
) -> list[_Tok]:
    """Tokens of a template in Handlebars (join several with `handlebars_source`). The
    templates it includes are added to ``partials`` (name -> path), the ``| default(...)``
    values of its variables to ``defaults``."""
    printer = HandlebarsPrinter(path)
    printer.body(parse(env, source, path).body)
    if defaults is not None:
        for name, value in printer.defaults.items():
            if defaults.setdefault(name, value) != value:
                raise ExportError(
                    f"two different defaults for {name!r} ({defaults[name]!r}, {value!r})",
                    location=path,
                    hint="Dotprompt has one input.default per variable: use the same default",
                )
    if partials is not None:
        for name, target in printer.partials.items():
            if partials.get(name, target) != target:
                raise ExportError(
                    f"two included templates are both named {name!r} ({partials[name]}, {target})",
                    location=path,
                    hint="Dotprompt partials are named by file name: rename one",
                )
            partials[name] = target
    return printer.out


def handlebars_source(parts: list[list[_Tok] | str]) -> str:
    """Join token lists and literal tags (``{{role "user"}}``) into one Handlebars source."""
    printer = HandlebarsPrinter("")
    for part in parts:
        if isinstance(part, str):
            printer.out.append(_Tok("tag", part))
        else:
            printer.out.extend(_Tok(t.kind, t.text) for t in part)
    return printer.finish()


# ---- Nunjucks -----------------------------------------------------------------------------


class NunjucksPrinter(_Printer):
    dialect = "Nunjucks"

    def text(self, data: str) -> None:
        if any(d in data for d in ("{{", "{%", "{#")) or data.endswith("{"):
            if "{% endraw %}" in data or "{%endraw%}" in data:
                raise ExportError(f"{self.where}: text containing '{{% endraw %}}' cannot be exported")
            self.out.append(_Tok("text", "{% raw %}" + data + "{% endraw %}"))
        else:
            self.out.append(_Tok("text", data))

    def path(self, node: nodes.Node) -> str:
        if isinstance(node, nodes.Name):
            return node.name
        if isinstance(node, nodes.Getattr):
            loop = isinstance(node.node, nodes.Name) and node.node.name == "loop"
            if loop and node.attr not in ("index", "index0", "first", "last", "length"):
                raise self.fail(node, f"loop.{node.attr}")
            return f"{self.path(node.node)}.{node.attr}"
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            key = node.arg.value
            if isinstance(key, int | str) and not isinstance(key, bool):
                return f"{self.path(node.node)}[{json.dumps(key)}]"
        raise self.fail(node, f"the expression {_describe(node)}")

    def assign(self, node: nodes.Assign) -> bool:
        found = self.top_level_default(node)
        if found is None:
            return False
        name, value = found
        self.out.append(
            _Tok("tag", "{% set " + name + " = " + name + " | default(" + json.dumps(value) + ") %}")
        )
        return True

    def output(self, node: nodes.Expr) -> None:
        try:
            found = default_of(node)
        except LookupError:
            raise self.fail(node, _DEFAULT_FORMS) from None
        if found is not None:
            subject, value = found
            tag = "{{ " + self.path(subject) + " | default(" + json.dumps(value) + ") }}"
            self.out.append(_Tok("tag", tag))
            return
        self.out.append(_Tok("tag", "{{ " + self.path(node) + " }}"))

    def for_(self, node: nodes.For) -> None:
        if node.test is not None or node.recursive or not isinstance(node.target, nodes.Name):
            raise self.fail(node, "a for loop with a filter, recursion or several targets")
        self.out.append(_Tok("tag", "{% for " + node.target.name + " in " + self.path(node.iter) + " %}"))
        self.body(node.body)
        if node.else_:
            self.out.append(_Tok("tag", "{% else %}"))
            self.body(node.else_)
        self.out.append(_Tok("tag", "{% endfor %}"))

    def condition(self, test: nodes.Node) -> str:
        if isinstance(test, nodes.Not):
            return "not " + self.condition(test.node)
        if isinstance(test, nodes.Compare) and len(test.ops) == 1 and test.ops[0].op in ("eq", "ne"):
            op = "==" if test.ops[0].op == "eq" else "!="
            sides = []
            for side in (test.expr, test.ops[0].expr):
                try:
                    sides.append(json.dumps(_const(side)))
                except LookupError:
                    sides.append(self.path(side))
            return f"{sides[0]} {op} {sides[1]}"
        return self.path(test)

    def if_(self, node: nodes.If) -> None:
        self.out.append(_Tok("tag", "{% if " + self.condition(node.test) + " %}"))
        self.body(node.body)
        for elif_ in node.elif_:
            self.out.append(_Tok("tag", "{% elif " + self.condition(elif_.test) + " %}"))
            self.body(elif_.body)
        if node.else_:
            self.out.append(_Tok("tag", "{% else %}"))
            self.body(node.else_)
        self.out.append(_Tok("tag", "{% endif %}"))


def to_nunjucks(env: Any, source: str, path: str) -> str:
    printer = NunjucksPrinter(path)
    printer.body(parse(env, source, path).body)
    return "".join(t.text for t in printer.out)
