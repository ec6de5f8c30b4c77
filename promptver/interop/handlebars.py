"""Handlebars (and Mustache) templates -> Jinja2 with the same variables and the same text.

What translates exactly: text (with Handlebars' standalone-line and ``~`` whitespace rules
applied, so Jinja2's output has the same whitespace), ``{{x}}``/``{{{x}}}``, paths
(``a.b``, ``this``, ``../x``, ``@root.x``, ``@index``, ``@first``, ``@last``, ``@key``),
``#if``/``#unless``/``else``/``else if``, ``#each`` (block params ``as |x|`` too),
``#with``, ``ifEquals``/``unlessEquals``, comments and partials (``{{> name}}`` -> an
include). Dotprompt's ``{{role "..."}}`` splits the result into messages.

What does not (other helpers, subexpressions, hash arguments, ``{{history}}``,
``{{media}}``, ``{{section}}``, raw blocks, decorators...) is kept in the Jinja2 source as
a comment and reported as a `Finding` with its line: never silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from promptver.interop.common import Finding

_OPEN = re.compile(r"(\\?)\{\{(~?)")


@dataclass
class _Token:
    kind: str  # text | comment | output | raw | open | close | else | partial
    text: str  # for text: the content; for tags: the tag's inner source
    line: int
    source: str = ""  # the whole tag as written, for findings
    strip_left: bool = False  # {{~
    strip_right: bool = False  # ~}}
    inverse: bool = False  # {{^x}} section

    @property
    def standalone_kind(self) -> bool:
        return self.kind in ("comment", "open", "close", "else", "partial")


@dataclass
class Segment:
    """A run of the template up to a ``{{role}}`` marker: its role and its Jinja2 source."""

    role: str
    source: str
    line: int


@dataclass
class Translation:
    segments: list[Segment]
    findings: list[Finding] = field(default_factory=list)
    partials: list[str] = field(default_factory=list)  # partial names used


def tokenize(source: str, file: str, first_line: int = 1) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    text = ""
    text_line = first_line

    def line_at(index: int) -> int:
        return first_line + source.count("\n", 0, index)

    while True:
        match = _OPEN.search(source, pos)
        if match is None:
            text += source[pos:]
            break
        if match.group(1):  # \{{ : a literal {{
            text += source[pos : match.start()] + "{{"
            pos = match.start() + 3
            continue
        text += source[pos : match.start()]
        if text:
            tokens.append(_Token("text", text, text_line))
        start = match.start()
        line = line_at(start)
        strip_left = bool(match.group(2))
        body_start = match.end()
        if source.startswith("{{{{", start):
            # a raw block: {{{{helper}}}} literal text {{{{/helper}}}}, one construct
            head_end = source.find("}}}}", start)
            head_end = len(source) if head_end < 0 else head_end + 4
            helper = source[start + 4 : head_end - 4].strip().split(" ")[0]
            close = source.find("{{{{/" + helper + "}}}}", head_end)
            end = head_end if close < 0 else close + len(helper) + 9
            tokens.append(_Token("raw", source[start:end], line, source[start:head_end]))
            pos, text, text_line = end, "", line_at(end)
            continue
        if source.startswith("!--", body_start):
            closer_match = re.compile(r"--~?\}\}").search(source, body_start + 3)
            end = closer_match.end() if closer_match else len(source)
            tag = source[start:end]
            tokens.append(
                _Token(
                    "comment",
                    source[body_start + 3 : end - (5 if tag.endswith("~}}") else 4)],
                    line,
                    tag,
                    strip_left,
                    tag.endswith("~}}"),
                )
            )
            pos, text, text_line = end, "", line_at(end)
            continue
        triple = source.startswith("{", body_start)
        closer = "}}}" if triple else "}}"
        end = source.find(closer, body_start)
        if end < 0:
            from promptver.errors import ConfigError

            raise ConfigError(
                "a Handlebars tag is not closed", location=f"{file}:{line}", hint="add the closing }}"
            )
        inner = source[body_start + (1 if triple else 0) : end]
        strip_right = inner.endswith("~")
        if strip_right:
            inner = inner[:-1]
        tag = source[start : end + len(closer)]
        inner = inner.strip()
        kind = "output"
        inverse = False
        if triple:
            kind = "raw_output"
        elif inner.startswith("!"):
            kind, inner = "comment", inner[1:]
        elif inner.startswith("#"):
            kind, inner = "open", inner[1:].strip()
        elif inner.startswith("^") and inner[1:].strip():
            kind, inner, inverse = "open", inner[1:].strip(), True
        elif inner.startswith("/"):
            kind, inner = "close", inner[1:].strip()
        elif inner == "else" or inner == "^" or inner.startswith("else "):
            kind, inner = "else", inner[4:].strip() if inner.startswith("else") else ""
        elif inner.startswith(">"):
            kind, inner = "partial", inner[1:].strip()
        elif inner.startswith("&"):
            kind, inner = "raw_output", inner[1:].strip()
        tokens.append(_Token(kind, inner, line, tag, strip_left, strip_right, inverse))
        pos, text, text_line = end + len(closer), "", line_at(end + len(closer))
    if text:
        tokens.append(_Token("text", text, text_line))
    return tokens


def apply_whitespace(tokens: list[_Token]) -> list[str]:
    """The text each token contributes after the whitespace rules (one entry per token;
    tags give ""), as the dotpromptz renderer applies them: first ``~`` strips the
    neighbouring text, then a block, partial, comment or ``else`` tag alone on its line
    takes that line's indentation and line ending with it. (Handlebars.js decides
    standalone lines on the text before ``~`` and does not count a line that only has
    spaces after the tag followed by another tag; dotpromptz is the reference here.)"""
    out = [t.text if t.kind == "text" else "" for t in tokens]
    for i, token in enumerate(tokens):
        if token.kind == "text":
            continue
        if token.strip_left and i > 0 and tokens[i - 1].kind == "text":
            out[i - 1] = out[i - 1].rstrip()
        if token.strip_right and i + 1 < len(tokens) and tokens[i + 1].kind == "text":
            out[i + 1] = out[i + 1].lstrip()
    planned: list[tuple[int, int]] = []
    for i, token in enumerate(tokens):
        if not token.standalone_kind or not _starts_line(tokens, out, i):
            continue
        if i + 1 >= len(tokens):
            planned.append((i, 0))
        elif tokens[i + 1].kind == "text":
            end = re.match(r"[ \t]*(?:\r?\n|\Z)", out[i + 1])
            if end is not None:
                planned.append((i, end.end()))
    for i, line_end in planned:
        for cursor in range(i - 1, -1, -1):  # the indentation before the tag
            if tokens[cursor].kind != "text":
                break
            newline = out[cursor].rfind("\n")
            if newline >= 0:
                out[cursor] = out[cursor][: newline + 1]
                break
            out[cursor] = ""
        if line_end:
            out[i + 1] = out[i + 1][line_end:]
    return out


def _starts_line(tokens: list[_Token], out: list[str], index: int) -> bool:
    """Only spaces or tabs between this tag and the previous newline (or the start)."""
    for cursor in range(index - 1, -1, -1):
        if tokens[cursor].kind != "text":
            return False
        text = out[cursor]
        newline = text.rfind("\n")
        if newline >= 0:
            return not text[newline + 1 :].strip(" \t")
        if text.strip(" \t"):
            return False
    return True


def jinja_text(text: str) -> str:
    """Literal text for a Jinja2 template: delimiters escaped."""
    out = []
    for i, ch in enumerate(text):
        if ch == "{" and i + 1 < len(text) and text[i + 1] in "{%#":
            out.append("{{ '{' }}")
        else:
            out.append(ch)
    return "".join(out)


def _comment(text: str) -> str:
    return "{# " + text.replace("#}", "# }") + " #}"


_PATH = re.compile(
    r"^(?:@?[A-Za-z_$][\w$-]*|\.\.|\.|this|\[[^\]]*\])(?:[./](?:[A-Za-z_$][\w$-]*|\.\.|\[[^\]]*\]|\d+))*\Z"
)
# A partial is a file beside the template (``_NAME.prompt``) and a bundle path
# (``prompts/partials/NAME.j2``): segments of letters, digits, ``_ . -``, none of them
# ``.`` or ``..``.
_PARTIAL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_][A-Za-z0-9_.-]*)*")
_STRING = re.compile(r"^(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')\Z")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?\Z")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass
class _Scope:
    """A context level: the Jinja2 expression for ``this`` (None: the root) and loop data."""

    this: str | None
    loop: bool = False
    key: str | None = None  # the Jinja2 name of @key in an {{#each}} over an object
    params: dict[str, str] = field(default_factory=dict)  # block params -> Jinja2 names


class _Untranslatable(Exception):
    pass


_Stack = list[tuple[str, _Token, str]]  # open blocks: (helper, its tag, the Jinja2 that closes it)
_Emit = Callable[[str], None]
_Report = Callable[..., None]


class Translator:
    def __init__(self, file: str, dotprompt: bool):
        self.file = file
        self.dotprompt = dotprompt
        self.findings: list[Finding] = []
        self.partials: list[str] = []
        self.scopes: list[_Scope] = [_Scope(None)]
        self.names_used = 0
        self.key_lines: set[int] = set()  # lines of {{#each}} blocks whose body reads @key

    # -- expressions ----------------------------------------------------------------------
    def split_args(self, inner: str) -> list[str]:
        parts = re.findall(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|\([^)]*\)|[^\s]+", inner)
        return parts

    def expr(self, arg: str) -> str:
        if _STRING.match(arg):
            return repr(arg[1:-1].encode().decode("unicode_escape"))
        if _NUMBER.match(arg):
            return arg
        if arg in ("true", "false"):
            return arg
        if arg in ("null", "undefined"):
            return "none"
        if arg.startswith("(") or "=" in arg:
            raise _Untranslatable("a subexpression or hash argument")
        if not _PATH.match(arg):
            raise _Untranslatable(f"the expression {arg!r}")
        return self.path(arg)

    def path(self, arg: str) -> str:
        segments = [
            s
            for s in re.findall(
                r"\[[^\]]*\]|[^./]+|\.\.", arg.replace("./", "", 1) if arg.startswith("./") else arg
            )
        ]
        depth = len(self.scopes) - 1
        if arg.startswith("@root"):
            depth = 0
            segments = segments[1:]
            base: str | None = None
        else:
            while segments and segments[0] == "..":
                segments = segments[1:]
                depth = max(depth - 1, 0)
                while depth > 0 and not self.scopes[depth].this:
                    depth -= 1
            scope = self.scopes[depth]
            if segments and segments[0].startswith("@"):
                data = segments[0][1:]
                loop_scope = next((s for s in reversed(self.scopes[: depth + 1]) if s.loop), None)
                if loop_scope is None:
                    raise _Untranslatable(f"@{data} outside {{{{#each}}}}")
                mapping = {"index": "loop.index0", "first": "loop.first", "last": "loop.last"}
                if data == "key" and loop_scope.key:
                    return loop_scope.key
                if data not in mapping:
                    raise _Untranslatable(f"the data variable @{data}")
                return mapping[data]
            if segments and any(segments[0] in s.params for s in self.scopes[: depth + 1]):
                owner = next(s for s in reversed(self.scopes[: depth + 1]) if segments[0] in s.params)
                base = owner.params[segments[0]]
                segments = segments[1:]
            else:
                base = scope.this
            if segments and segments[0] == "this":
                segments = segments[1:]
        expr = base
        for seg in segments:
            name = seg[1:-1] if seg.startswith("[") else seg
            if expr is None:
                if not _IDENT.match(name):
                    raise _Untranslatable(f"the top-level name {name!r}")
                expr = name
            elif _IDENT.match(name):
                expr = f"{expr}.{name}"
            elif name.isdigit():
                expr = f"{expr}[{name}]"
            else:
                expr = f"{expr}[{name!r}]"
        if expr is None:
            raise _Untranslatable("{{this}} at the top level")
        return expr

    # -- the template ---------------------------------------------------------------------
    def translate(self, tokens: list[_Token]) -> list[Segment]:
        texts = apply_whitespace(tokens)
        segments: list[Segment] = [Segment("user", "", tokens[0].line if tokens else 1)]
        stack: _Stack = []

        def emit(text: str) -> None:
            segments[-1].source += text

        def untranslated(token: _Token, what: str, message: str = "kept as a comment") -> None:
            self.findings.append(Finding(token.source or what, self.file, token.line, f"{what}: {message}"))
            emit(_comment(f"untranslated Handlebars: {token.source}"))

        for token, text in zip(tokens, texts, strict=True):
            try:
                if token.kind == "text":
                    emit(jinja_text(text))
                elif token.kind == "comment":
                    if token.text.strip():
                        emit(_comment(token.text.strip()))
                elif token.kind == "raw":
                    self.findings.append(
                        Finding(token.source, self.file, token.line, "a raw block: kept as a comment")
                    )
                    emit(_comment(f"untranslated Handlebars: {token.text}"))
                elif token.kind in ("output", "raw_output"):
                    self.output(token, segments, stack, untranslated, emit)
                elif token.kind == "partial":
                    args = self.split_args(token.text)
                    name = args[0].strip("\"'") if args else ""
                    if len(args) == 1 and len(self.scopes) == 1 and not _PARTIAL_NAME.fullmatch(name):
                        # `../x`, `/etc/x`, `[a b]`: no file outside the folder is read for it
                        untranslated(token, "a partial name that is not a plain relative name")
                    elif len(args) != 1 or len(self.scopes) > 1 or not _PATH.match(name):
                        what = "a partial with arguments" if len(args) != 1 else "a partial inside a block"
                        if len(args) == 1 and len(self.scopes) == 1:
                            what = "a dynamic partial name"
                        untranslated(token, what, "its names would resolve differently; kept as a comment")
                    else:
                        self.partials.append(name)
                        emit('{% include "' + partial_path(name) + '" %}')
                elif token.kind == "open":
                    self.open(token, stack, untranslated, emit)
                elif token.kind == "else":
                    self.else_(token, stack, untranslated, emit)
                elif token.kind == "close":
                    self.close(token, stack, untranslated, emit)
            except _Untranslatable as exc:
                untranslated(token, str(exc))
        for helper, token, closing in reversed(stack):
            self.findings.append(
                Finding(
                    token.source,
                    self.file,
                    token.line,
                    f"{{{{#{helper}}}}} is never closed; closed at the end",
                )
            )
            emit(closing)
        return segments

    def output(
        self, token: _Token, segments: list[Segment], stack: _Stack, untranslated: _Report, emit: _Emit
    ) -> None:
        args = self.split_args(token.text)
        if not args:
            raise _Untranslatable("an empty tag")
        head = args[0]
        if self.dotprompt and head == "role" and len(args) == 2 and _STRING.match(args[1]):
            if stack:
                raise _Untranslatable("{{role}} inside a block")
            role = args[1][1:-1]
            segments.append(Segment(role, "", token.line))
            return
        if len(args) == 1:
            if self.dotprompt and head in ("history", "section"):
                raise _Untranslatable(f"the Dotprompt helper {{{{{head}}}}}")
            emit("{{ " + self.expr(head) + " }}")
            return
        if head == "json" and len(args) == 2:
            emit("{{ " + self.expr(args[1]) + " | tojson }}")
            self.findings.append(
                Finding(
                    token.source,
                    self.file,
                    token.line,
                    "json: translated to Jinja2's tojson, which also escapes <, >, & and '",
                )
            )
            return
        raise _Untranslatable(f"the helper {head!r}")

    def open(self, token: _Token, stack: _Stack, untranslated: _Report, emit: _Emit) -> None:
        text = token.text
        params: list[str] = []
        block_params = re.search(r"\s+as\s+\|([^|]*)\|\s*\Z", text)
        if block_params:
            params = block_params.group(1).split()
            text = text[: block_params.start()]
        args = self.split_args(text)
        helper = args[0] if args else ""
        if token.inverse:
            emit("{% if not " + self.expr(helper) + " %}")
            stack.append((helper, token, "{% endif %}"))
            self.scopes.append(self.scopes[-1])
            return
        try:
            if helper in ("if", "unless") and len(args) == 2:
                cond = self.expr(args[1])
                emit("{% if " + ("not " if helper == "unless" else "") + cond + " %}")
                stack.append((helper, token, "{% endif %}"))
                self.scopes.append(self.scopes[-1])
            elif helper in ("ifEquals", "unlessEquals") and len(args) == 3:
                op = "==" if helper == "ifEquals" else "!="
                emit("{% if " + f"{self.expr(args[1])} {op} {self.expr(args[2])}" + " %}")
                stack.append((helper, token, "{% endif %}"))
                self.scopes.append(self.scopes[-1])
            elif helper == "each" and len(args) == 2:
                items = self.expr(args[1])
                if params:
                    item = params[0]
                else:
                    self.names_used += 1
                    item = "item" if self.names_used == 1 else f"item{self.names_used}"
                key = (params[1] if len(params) > 1 else None) or (
                    f"{item}_key" if _uses_key(token, self) else None
                )
                if key:
                    emit("{% for " + f"{key}, {item} in {items}.items()" + " %}")
                else:
                    emit("{% for " + f"{item} in {items}" + " %}")
                stack.append((helper, token, "{% endfor %}"))
                scope = _Scope(None if params else item, loop=True, key=key)
                if params:
                    scope.this = item
                    scope.params = {params[0]: item}
                    if len(params) > 1:
                        scope.params[params[1]] = key or "loop.index0"
                self.scopes.append(scope)
            elif helper == "with" and len(args) == 2:
                value = self.expr(args[1])
                emit("{% if " + value + " %}")
                stack.append((helper, token, "{% endif %}"))
                scope = _Scope(value, params={params[0]: value} if params else {})
                self.scopes.append(scope)
            else:
                raise _Untranslatable(
                    f"the block helper {helper!r}"
                    if helper not in ("if", "unless", "each", "with")
                    else f"{{{{#{helper}}}}} with these arguments"
                )
        except _Untranslatable as exc:
            untranslated(token, str(exc), "kept as a comment; its content is translated as if outside it")
            stack.append((helper, token, ""))
            self.scopes.append(self.scopes[-1])

    def else_(self, token: _Token, stack: _Stack, untranslated: _Report, emit: _Emit) -> None:
        if not stack:
            raise _Untranslatable("{{else}} outside a block")
        helper, _opener, closing = stack[-1]
        if not closing:
            untranslated(token, "the {{else}} of an untranslated block")
            return
        if token.text:
            args = self.split_args(token.text)
            if (
                args[0] in ("if", "unless")
                and len(args) == 2
                and helper in ("if", "unless", "ifEquals", "unlessEquals")
            ):
                self.scopes.pop()
                cond = self.expr(args[1])
                emit("{% elif " + ("not " if args[0] == "unless" else "") + cond + " %}")
                self.scopes.append(self.scopes[-1])
                return
            raise _Untranslatable(f"{{{{else {token.text}}}}}")
        self.scopes.pop()
        emit("{% else %}")
        self.scopes.append(self.scopes[-1])

    def close(self, token: _Token, stack: _Stack, untranslated: _Report, emit: _Emit) -> None:
        if not stack:
            raise _Untranslatable(f"{{{{/{token.text}}}}} without an opening block")
        helper, opener, closing = stack.pop()
        self.scopes.pop()
        if helper != token.text:
            self.findings.append(
                Finding(token.source, self.file, token.line, f"closes {{{{#{helper}}}}} (line {opener.line})")
            )
        if closing:
            emit(closing)
        else:
            emit(_comment(f"untranslated Handlebars: {token.source}"))


def _uses_key(token: _Token, translator: Translator) -> bool:
    return token.line in translator.key_lines


def partial_path(name: str) -> str:
    return f"prompts/partials/{name}.j2"


def translate(source: str, file: str, *, first_line: int = 1, dotprompt: bool = False) -> Translation:
    """Translate a Handlebars template into Jinja2 segments (one per ``{{role}}``)."""
    tokens = tokenize(source, file, first_line)
    translator = Translator(file, dotprompt)
    translator.key_lines = _each_blocks_using_key(tokens)
    segments = translator.translate(tokens)
    return Translation(segments, translator.findings, translator.partials)


def _each_blocks_using_key(tokens: list[_Token]) -> set[int]:
    """Lines of ``{{#each}}`` blocks whose own body reads ``@key`` (they iterate an object)."""
    found: set[int] = set()
    stack: list[_Token] = []
    for token in tokens:
        if token.kind == "open":
            stack.append(token)
        elif token.kind == "close" and stack:
            stack.pop()
        elif token.kind in ("output", "raw_output") and "@key" in token.text:
            each = next((t for t in reversed(stack) if t.text.startswith("each")), None)
            if each is not None:
                found.add(each.line)
    return found
