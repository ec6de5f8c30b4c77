"""An application's pins: which bundles it uses and which versions it accepts.

They live in ``[tool.promptver]`` of the application's ``pyproject.toml`` or at the top
level of a ``promptver.toml``::

    [tool.promptver]
    store = "../prompts/.promptver"      # optional; default: found by walking up
    [tool.promptver.bundles]
    support-bot = "^1.2"
    ticket-triage = "production"         # an alias: `promptver lock` records its version

Reading uses ``tomllib`` (this module is on the ``promptver.load`` path); editing
(``set_pin``/``remove_pin``) goes through ``tomlkit``, imported only then, so that every
byte of the file outside the edited pin stays as the user wrote it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from promptver.errors import ConfigError, NotFoundError, did_you_mean
from promptver.versions.ranges import Range

PROMPTVER_TOML = "promptver.toml"
PYPROJECT_TOML = "pyproject.toml"
LOCK_NAME = "promptver.lock"
_KEYS = ("store", "bundles")


# Plain classes rather than dataclasses: this module is on the start-up path of
# ``promptver.load``, where each dataclass definition costs about a millisecond.


class Pin:
    """One pinned bundle: its name and the version range the application accepts, or the
    alias it follows (then ``range`` is None and ``alias`` is the spec)."""

    __slots__ = ("alias", "location", "name", "range", "spec")

    def __init__(
        self, name: str, spec: str, range: Range | None, location: str, alias: str | None = None
    ) -> None:
        self.name = name
        self.spec = spec
        self.range = range
        self.location = location
        self.alias = alias

    def __repr__(self) -> str:
        return f"Pin({self.name!r}, {self.spec!r})"


class AppConfig:
    """An application's promptver settings, read from one file."""

    __slots__ = ("path", "pins", "store")

    def __init__(self, path: Path, store: Path | None = None, pins: dict[str, Pin] | None = None) -> None:
        self.path = path
        self.store = store
        self.pins: dict[str, Pin] = pins if pins is not None else {}

    def __repr__(self) -> str:
        return f"AppConfig({str(self.path)!r}, pins={list(self.pins)})"

    @property
    def root(self) -> Path:
        """The folder of the config file: relative paths and the lock file live here."""
        return self.path.parent

    @property
    def lock_path(self) -> Path:
        return self.root / LOCK_NAME

    @property
    def is_pyproject(self) -> bool:
        return self.path.name == PYPROJECT_TOML

    def pin(self, name: str) -> Pin:
        try:
            return self.pins[name]
        except KeyError:
            hint = did_you_mean(name, list(self.pins))
            known = ", ".join(self.pins) or "none"
            raise NotFoundError(
                f"bundle {name!r} is not pinned in {self.path} (pinned: {known})",
                hint=hint or f"pin it first: promptver pin {name}@^1.0",
            ) from None


def find_config(start: Path | None = None) -> Path:
    """The nearest ``promptver.toml``, or ``pyproject.toml`` with ``[tool.promptver]``,
    walking up from ``start`` (default: the working directory)."""
    found = _search(start)
    if found is not None:
        return found
    here = Path(start or Path.cwd()).resolve()
    raise ConfigError(
        f"no promptver app config found in {here} or any folder above it "
        f"(looked for {PROMPTVER_TOML}, and {PYPROJECT_TOML} with a [tool.promptver] table)",
        hint="pin a bundle to create one (promptver pin NAME@SPEC), or pass config=PATH",
    )


def config_to_edit(start: Path | None = None) -> Path:
    """The file ``promptver pin`` edits: the nearest app config, else the nearest
    ``pyproject.toml``, else a new ``promptver.toml`` in ``start``."""
    found = _search(start)
    if found is not None:
        return found
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PYPROJECT_TOML).is_file():
            return folder / PYPROJECT_TOML
    return here / PROMPTVER_TOML


def _search(start: Path | None) -> Path | None:
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        own = folder / PROMPTVER_TOML
        if own.is_file():
            return own
        pyproject = folder / PYPROJECT_TOML
        if pyproject.is_file() and _has_tool_table(pyproject):
            return pyproject
    return None


def _has_tool_table(path: Path) -> bool:
    # A cheap textual test first: most pyproject.toml files never mention promptver.
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if "promptver" not in text:
        return False
    tool = _parse(text, path).get("tool")
    return isinstance(tool, dict) and "promptver" in tool


def resolve_config_path(config: str | os.PathLike[str] | None, start: Path | None = None) -> Path:
    """``config`` as given (a file, or a folder to search from), or the nearest one."""
    if config is None:
        return find_config(start)
    path = Path(config).expanduser()
    if path.is_dir():
        return find_config(path)
    if not path.is_file():
        raise ConfigError(
            f"app config {path} does not exist",
            hint="pass a pyproject.toml or promptver.toml, or a folder holding one",
        )
    return path.resolve()


def load_config(config: str | os.PathLike[str] | None = None, start: Path | None = None) -> AppConfig:
    """Read and validate the app config (``config``: a file or folder; default: nearest)."""
    path = resolve_config_path(config, start)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> AppConfig:
    data = _parse(text, path)
    if path.name == PYPROJECT_TOML:
        tool = data.get("tool")
        section = tool.get("promptver") if isinstance(tool, dict) else None
        prefix = "tool.promptver."
        if section is None:
            return AppConfig(path.resolve())
    else:
        section, prefix = data, ""
    if not isinstance(section, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'the file'} must be a table", location=str(path))
    for key in section:
        if key not in _KEYS:
            raise ConfigError(
                f"unknown setting {prefix}{key}",
                location=_locate(text, path, key),
                hint=did_you_mean(key, _KEYS) or f"the settings are: {', '.join(_KEYS)}",
            )
    store = section.get("store")
    if store is not None and (not isinstance(store, str) or not store.strip() or "\x00" in store):
        raise ConfigError(
            f"{prefix}store must be a path (a string)",
            location=_locate(text, path, "store"),
        )
    bundles = section.get("bundles", {})
    if not isinstance(bundles, dict):
        raise ConfigError(
            f'{prefix}bundles must be a table of NAME = "SPEC"',
            location=_locate(text, path, "bundles"),
        )
    pins: dict[str, Pin] = {}
    for name, spec in bundles.items():
        location = _locate(text, path, name)
        check_name(name, location)
        if not isinstance(spec, str):
            raise ConfigError(
                f"the pin of {name!r} must be a version range or alias string, not {type(spec).__name__}",
                location=location,
                hint=f'write it as {name} = "^1.2" or {name} = "production"',
            )
        range, alias = parse_spec(spec, location)
        pins[name] = Pin(name, spec, range, location, alias)
    root = path.resolve().parent
    return AppConfig(
        path.resolve(),
        store=(root / Path(store).expanduser()).resolve() if store else None,
        pins=pins,
    )


def check_name(name: str, location: str | None = None) -> None:
    if not _is_name(name):
        raise ConfigError(
            f"{name!r} is not a bundle name",
            location=location,
            hint="bundle names use letters, digits, '-', '_' and '.'",
        )


def _is_name(name: str) -> bool:
    # letters, digits, '.', '_', '-', starting with a letter or digit (as the store requires)
    return (
        0 < len(name) <= 100
        and name.isascii()
        and name[0].isalnum()
        and all(c.isalnum() or c in "._-" for c in name)
    )


def parse_spec(spec: str, location: str | None = None) -> tuple[Range | None, str | None]:
    """A pin value as ``(range, None)`` or ``(None, alias)``.

    A value that parses as an npm range is a range (so ``x``, an x-range, and ``v1`` are
    ranges); otherwise a valid alias name is an alias; anything else is the range error,
    with a hint that mentions aliases.
    """
    from promptver.errors import VersionSyntaxError

    try:
        return Range.parse(spec), None
    except VersionSyntaxError as exc:
        # Only a value that is not a range pays for the alias check (and its import).
        from promptver.governance.aliases import is_alias_ref

        if is_alias_ref(spec):
            return None, spec
        if spec == "latest":
            hint = "'latest' is not a pin: use '*' for any release, or ^X.Y to follow a major line"
        else:
            alias = "or an alias name such as production (lowercase letters, digits, '-', '_')"
            hint = f"{exc.hint}; {alias}" if exc.hint else alias
        raise VersionSyntaxError(exc.message, location=location, hint=hint) from None


def _parse(text: str, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", location=str(path)) from None
    except RecursionError:
        raise ConfigError(f"{path} is not valid TOML: nested too deeply", location=str(path)) from None


def _locate(text: str, path: Path, key: str) -> str:
    """``file:line:col`` of the first line that assigns ``key`` (tomllib has no positions)."""
    spellings = (key, f'"{key}"', f"'{key}'")
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip()
        for spelling in spellings:
            if stripped.startswith(spelling) and stripped[len(spelling) :].lstrip().startswith("="):
                return f"{path}:{number}:{len(line) - len(stripped) + 1}"
    return str(path)


# ---- editing -------------------------------------------------------------------------


class PinChange:
    """What ``set_pin``/``remove_pin`` did: ``old``/``new`` spec (None: absent)."""

    __slots__ = ("created", "name", "new", "old", "path")

    def __init__(
        self, path: Path, name: str, old: str | None, new: str | None, created: bool = False
    ) -> None:
        self.path = path
        self.name = name
        self.old = old
        self.new = new
        self.created = created

    def __repr__(self) -> str:
        return f"PinChange({self.name!r}, {self.old!r} -> {self.new!r})"


def set_pin(path: Path, name: str, spec: str, store: str | None = None) -> PinChange:
    """Add or change the pin of ``name`` in ``path`` (created as promptver.toml if absent);
    ``spec`` is a version range or an alias name. ``store`` (a path as the config should
    record it) is written as the config's ``store`` setting when it has none yet."""
    import tomlkit

    check_name(name)
    parse_spec(spec)
    created = not path.exists()
    if created and path.name != PYPROJECT_TOML:  # a new file: its layout is ours alone
        pin = f"{tomlkit.key(name).as_string()} = {tomlkit.string(spec).as_string()}\n"
        head = f"store = {tomlkit.string(store).as_string()}\n\n" if store is not None else ""
        _write(path, f"{head}[bundles]\n{pin}", "")
        return PinChange(path, name, None, spec, created)
    text = "" if created else _read_for_edit(path)
    if not created:
        parse_config(text, path)  # refuse to edit a file we could not read back
    doc = _parse_for_edit(text, path)
    bundles = _bundles_table(doc, path.name == PYPROJECT_TOML, create=True)
    assert bundles is not None
    old_item = bundles.get(name)
    old = str(old_item) if old_item is not None else None
    literal = isinstance(old_item, tomlkit.items.String) and old_item.as_string().startswith("'")
    new_item = tomlkit.string(spec, literal=literal and "'" not in spec)
    if old_item is not None and hasattr(old_item, "trivia"):
        new_item.trivia.indent = old_item.trivia.indent
        new_item.trivia.comment_ws = old_item.trivia.comment_ws
        new_item.trivia.comment = old_item.trivia.comment
        new_item.trivia.trail = old_item.trivia.trail
    added = _text_with_pin_after_last(doc, bundles, name, new_item) if old_item is None else None
    if added is not None:
        doc = _parse_for_edit(added, path)
    else:  # a changed pin keeps its place; a first pin or an inline table's is appended
        bundles[name] = new_item
    if store is not None:
        _set_store(doc, path.name == PYPROJECT_TOML, store)
    _write(path, tomlkit.dumps(doc), text)
    return PinChange(path, name, old, spec, created)


def remove_pin(path: Path, name: str) -> PinChange:
    """Remove the pin of ``name`` from ``path``; everything else stays as it was."""
    if not path.exists():
        raise ConfigError(f"app config {path} does not exist")
    text = _read_for_edit(path)
    config = parse_config(text, path)
    config.pin(name)  # NotFoundError with a hint when absent
    doc = _parse_for_edit(text, path)
    bundles = _bundles_table(doc, path.name == PYPROJECT_TOML, create=False)
    assert bundles is not None
    old = str(bundles[name])
    del bundles[name]
    _write(path, _dumps(doc), text)
    return PinChange(path, name, old, None)


def _text_with_pin_after_last(doc: Any, bundles: Any, name: str, item: Any) -> str | None:
    """The document's text with ``name = item`` on the line right after the last pin, or
    None when the table has no pin yet or is not a ``[...bundles]`` table of its own.

    The placement is ours, not tomlkit's (whose choice changed between releases, putting
    the pin after the comments that close the table): a unique marker comment on the last
    pin finds its line in tomlkit's byte-exact rendering, and the new line goes after it.
    """
    import tomlkit

    keys = list(bundles.keys())
    if not isinstance(bundles, tomlkit.items.Table) or bundles.is_super_table() or not keys:
        return None
    last = bundles[keys[-1]]
    if not hasattr(last, "trivia"):
        return None
    text = tomlkit.dumps(doc)
    marker = f"#promptver-pin-marker-{os.getpid()}-{id(last)}"
    saved = last.trivia.comment, last.trivia.comment_ws
    last.trivia.comment, last.trivia.comment_ws = marker, " "
    try:
        marked = tomlkit.dumps(doc)
    finally:
        last.trivia.comment, last.trivia.comment_ws = saved
    lines = text.splitlines(keepends=True)
    at = next((n for n, line in enumerate(marked.splitlines()) if marker in line), None)
    if at is None or at >= len(lines):
        return None
    ending = "\r\n" if lines[at].endswith("\r\n") else "\n"
    if not lines[at].endswith("\n"):
        lines[at] += ending
    line = f"{last.trivia.indent}{tomlkit.key(name).as_string()} = {item.as_string()}{ending}"
    lines.insert(at + 1, line)
    return "".join(lines)


def _dumps(doc: Any) -> str:
    import tomlkit

    return tomlkit.dumps(doc)


def _read_for_edit(path: Path) -> str:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None


def _parse_for_edit(text: str, path: Path) -> Any:
    import tomlkit
    from tomlkit.exceptions import ParseError

    try:
        return tomlkit.parse(text)
    except ParseError as exc:
        raise ConfigError(
            f"{path} is not valid TOML: {exc}", location=f"{path}:{exc.line}:{exc.col}"
        ) from None
    except RecursionError:
        raise ConfigError(f"{path} is not valid TOML: nested too deeply", location=str(path)) from None


def _bundles_table(doc: Any, pyproject: bool, *, create: bool) -> Any:
    """The ``bundles`` table of the document, created (as an implicit super table so that
    only a ``[tool.promptver.bundles]`` header appears) when asked."""
    import tomlkit

    container = doc
    path = ("tool", "promptver") if pyproject else ()
    for key in path:
        if key not in container:
            if not create:
                return None
            container[key] = tomlkit.table(is_super_table=True)
        container = container[key]
    if "bundles" not in container:
        if not create:
            return None
        container["bundles"] = tomlkit.table()
    return container["bundles"]


def _set_store(doc: Any, pyproject: bool, store: str) -> None:
    """``store = ...`` in the promptver section, unless the section already names one."""
    import tomlkit

    section = doc
    if pyproject:
        section = doc["tool"]["promptver"]  # exists: the bundles table was just set under it
    if "store" not in section:
        section["store"] = tomlkit.string(store)


def _write(path: Path, text: str, original: str) -> None:
    """Write ``text`` atomically (temporary file, fsync, rename), keeping the mode and the
    file's own line endings (tomlkit writes what it adds with LF)."""
    if original.count("\r\n") * 2 > original.count("\n"):  # mostly CRLF: every new line too
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    if text == original and path.exists():
        return
    from promptver.store.atomic import remove_quietly, tmp_name, write_failed, write_new

    tmp = path.with_name(tmp_name(f".{path.name}"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_new(tmp, text.encode("utf-8"))
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except OSError as exc:
        raise write_failed(path, exc) from None
    finally:
        remove_quietly(tmp)


def iter_pins(config: AppConfig) -> Iterator[Pin]:
    """The pins in name order (the order of lock files and reports)."""
    for name in sorted(config.pins):
        yield config.pins[name]
