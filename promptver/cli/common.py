"""Helpers shared by the CLI commands: the store, references, JSON and terminal output."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from promptver.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

    from promptver.store.store import Store

F = TypeVar("F", bound=Callable[..., Any])


def get_store(ctx: click.Context | None = None) -> Store:
    from promptver.store.store import Store

    ctx = ctx or click.get_current_context()
    root = ctx.find_root()
    override = (root.obj or {}).get("store_path")
    return lazy_remote(Store.find(override=override))


def lazy_remote(store: Store) -> Store:
    """A store as every command opens it: no alias is resolved through a forged move, and
    every read fetches (verified) an object that a pull named but did not download yet,
    from the default remote, so no command fails on a pulled version that ``diff`` reads."""
    store.alias_check = _alias_check(store)
    if store.config.get("remote"):
        from promptver.remote.cache import attach_lazy_fetch

        attach_lazy_fetch(store)
    return store


def _alias_check(store: Store) -> Callable[[str, str, dict[str, Any]], str | None]:
    """`governance.checks.alias_guard`, imported when an alias is first resolved."""
    guard: Callable[[str, str, dict[str, Any]], str | None] | None = None

    def check(name: str, alias: str, head: dict[str, Any]) -> str | None:
        nonlocal guard
        if guard is None:
            from promptver.governance.checks import alias_guard

            guard = alias_guard(store)
        return guard(name, alias, head)

    return check


def split_ref(text: str) -> tuple[str, str | None]:
    """``name@version`` -> (name, version); ``name`` -> (name, None)."""
    name, sep, ref = text.partition("@")
    if not name:
        raise ConfigError(f"{text!r} names no bundle", hint="use NAME or NAME@VERSION")
    if sep and not ref:
        raise ConfigError(f"{text!r} has an empty version after '@'", hint="use NAME@VERSION or NAME@latest")
    return name, (ref if sep else None)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(func)


# JSON escapes C0 itself; DEL, C1 and the bidirectional controls get \\u escapes here, so
# the output holds no raw control character and is still the same JSON.
_JSON_CONTROLS = {code: f"\\u{code:04x}" for code in (*range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F)}
_JSON_CONTROLS.update({code: f"\\u{code:04x}" for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))})


def print_json(data: Any) -> None:
    """``data`` as JSON indented by two spaces (``json.dumps(data, indent=2,
    ensure_ascii=False, default=str)``), with no raw control character."""
    out = _json_out(data)
    buffer = getattr(sys.stdout, "buffer", None) if isinstance(out, bytes) else None
    if buffer is None:  # text, or a stream of text only (a StringIO)
        click.echo(out.decode() if isinstance(out, bytes) else out)
        return
    sys.stdout.flush()
    buffer.write(out)
    buffer.write(b"\n")
    buffer.flush()


def json_text(data: Any) -> str:
    """What `print_json` prints."""
    out = _json_out(data)
    return out.decode() if isinstance(out, bytes) else out


def _json_out(data: Any) -> str | bytes:
    """msgspec writes the same text ten times faster (json's indented encoder is pure
    Python: 1.8 s for an audit trail of 100,000 events) for data made only of what it
    writes as json does (`_msgspec_writes_as_json`); anything else, and what msgspec
    refuses (a lone surrogate, a type it does not know, a cycle), goes to json. Encoded
    first: data that msgspec encodes is finite, so the walk ends. ASCII text without DEL
    holds no control character (JSON escapes C0 in strings) and stays bytes (written
    without a decode and an encode)."""
    import msgspec

    try:
        encoded = msgspec.json.encode(data)
    except (msgspec.EncodeError, UnicodeEncodeError, TypeError, RecursionError):
        encoded = None
    if encoded is not None and _msgspec_writes_as_json(data):
        formatted = msgspec.json.format(encoded, indent=2)
        if formatted.isascii() and b"\x7f" not in formatted:
            return formatted
        return formatted.decode().translate(_JSON_CONTROLS)
    return json.dumps(data, indent=2, ensure_ascii=False, default=str).translate(_JSON_CONTROLS)


_AS_JSON_LEAVES = frozenset((str, int, bool, type(None)))


def _msgspec_writes_as_json(value: Any) -> bool:
    """Whether ``value`` is made of dicts with string keys, lists, tuples, strings,
    integers, booleans, null and finite floats from 1e-4 to 1e16 (json writes the others
    with an exponent, ``1e-05``, ``1e+16``, or as ``NaN``; msgspec as ``0.00001``, ``1e16``,
    ``null``), all of their exact types (json writes an enum or a str subclass its own way)."""
    stack = [value]
    pop, push = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind in _AS_JSON_LEAVES:
            continue
        if kind is dict:
            if not all(type(key) is str for key in item):
                return False
            push(item.values())
        elif kind is list or kind is tuple:
            push(item)
        elif kind is not float or not (item == 0 or 1e-4 <= abs(item) < 1e16):
            return False
    return True


class SafeStream:
    """stdout or stderr for the length of a command: every text written shows control
    characters as escapes (`promptver.safetext.visible`), so text from data (a message, a
    case id, model output, a name) never moves the cursor, clears the screen, sets the
    title or opens a link. The one place text reaches the terminal; bytes (``.buffer``)
    and rich's own colours (`console`, written to the stream underneath) pass as they are."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def write(self, text: str) -> int:
        from promptver.safetext import visible

        self.inner.write(visible(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@contextmanager
def safe_streams() -> Iterator[None]:
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = SafeStream(sys.stdout), SafeStream(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def _raw(stream: Any) -> Any:
    return stream.inner if isinstance(stream, SafeStream) else stream


PIPE_WIDTH = 10_000  # a pipe or file has no width: tables keep their whole rows
PIPE_TEXT_WIDTH = 160  # what a layout that fills the width (side-by-side diff) gets there


def console(stderr: bool = False) -> Console:
    """A rich console; colours follow the terminal and NO_COLOR. Strings are never markup
    and control characters in what it prints are shown as escapes (`SafeConsole`). Into a
    pipe or a file (`alias ls | cat`), rows are neither cut to 80 columns nor padded with
    trailing spaces."""
    stream = _raw(sys.stderr if stderr else sys.stdout)
    if _isatty(stream):
        return _safe_console_class()(file=stream)
    return _piped_console_class()(file=stream, width=PIPE_WIDTH)


def to_terminal() -> bool:
    """Whether standard output is a terminal (not a pipe or a file)."""
    return _isatty(_raw(sys.stdout))


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or odd stream
        return False


@functools.cache
def _safe_console_class() -> type[Console]:
    from rich.console import Console
    from rich.segment import Segment

    from promptver.safetext import has_control, visible

    class SafeConsole(Console):
        """Markup off; strings escaped before layout, any other text (a ``Text`` built
        from data) after it."""

        def __init__(self, **options: Any) -> None:
            super().__init__(highlight=False, soft_wrap=False, markup=False, **options)

        def render_str(self, text: str, **options: Any) -> Any:
            options["markup"] = False
            return super().render_str(visible(text), **options)

        def render(self, renderable: Any, options: Any = None) -> Any:
            for segment in super().render(renderable, options):
                if segment.control or not has_control(segment.text):
                    yield segment
                else:
                    yield Segment(visible(segment.text), segment.style)

    return SafeConsole


@functools.cache
def _piped_console_class() -> type[Console]:
    class PipedConsole(_safe_console_class()):  # type: ignore[misc]
        """Renders each print whole, then writes it with the lines' trailing spaces cut."""

        def print(self, *objects: Any, **kwargs: Any) -> None:
            with self.capture() as captured:
                super().print(*objects, **kwargs)
            lines = captured.get().split("\n")
            self.file.write("\n".join(line.rstrip() for line in lines))
            self.file.flush()

    return PipedConsole


def interactive() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


@contextmanager
def progress(label: str, total: int | None = None) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on a terminal; silent in CI and pipes. Yields ``update(done, total)``."""
    if not interactive():
        yield lambda done, total: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``1 bundle``, ``2 bundles`` (``many`` for irregular plurals)."""
    return f"{count} {noun if count == 1 else many or noun + 's'}"


def rel(path: Path) -> str:
    """A path relative to the working directory when it is below it, else absolute."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if relative.startswith("..") else relative


def parse_targets(args: tuple[str, ...]) -> tuple[str, str | None, str, str | None]:
    """(old name, old ref, new name, new ref); a ref of None is the working copy.

    NAME: latest vs working copy; NAME A: A vs working copy; NAME A B: A vs B;
    NAME@A: A vs working copy; NAME@A OTHER@B (or OTHER: its working copy).
    """
    if not args:
        raise ConfigError("name a bundle to diff", hint="promptver diff NAME [A [B]]")
    first_name, first_ref = split_ref(args[0])
    if first_ref is not None:
        if len(args) == 1:
            return first_name, first_ref, first_name, None
        if len(args) == 2:
            other, other_ref = split_ref(args[1])
            return first_name, first_ref, other, other_ref
        raise ConfigError("too many arguments after NAME@A", hint="use NAME@A OTHER@B, or NAME A B")
    if len(args) > 3:
        raise ConfigError("too many arguments", hint="promptver diff NAME [A [B]]")
    for extra in args[1:]:
        if "@" in extra:
            raise ConfigError(
                f"{extra!r}: with NAME A B the versions take no '@'",
                hint="use NAME A B, or NAME@A OTHER@B",
            )
    old_ref = args[1] if len(args) > 1 else "latest"
    new_ref = args[2] if len(args) > 2 else None
    return first_name, old_ref, first_name, new_ref
