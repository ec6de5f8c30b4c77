"""The one reader of eval sets (JSONL): `check`, `bump`, `diff` and `eval` all read through it,
so a file one of them accepts the others read the same way.

The rules, stricter than "whatever ``json.loads`` takes":

- lines end at ``\\n`` only (a trailing ``\\r`` is JSON whitespace); U+2028, U+0085 and the
  other Unicode line breaks are ordinary characters inside a string, never line ends;
- the bytes are UTF-8: a BOM, invalid UTF-8 (even inside a string that nothing reads) or a
  ``\\u`` escape of half a surrogate pair is refused with ``file:line:col``;
- JSON proper: ``NaN`` and ``Infinity`` are refused;
- a case is an object with a non-empty string ``id``, unique in the file; ``vars`` an
  object; ``template`` a string (a known template name when the names are given);
  ``assert`` a list of objects; ``expected_sources`` a list of strings; ``tags`` a list
  of strings or numbers (read as strings).

A valid file (the usual case) is checked in one typed msgspec pass (`fast_valid`); only a
file that fails it is read line by line to locate each problem.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from promptver.errors import ConfigError, Problem
from promptver.store import jsontext

BOM = b"\xef\xbb\xbf"
FAST_SLICE = 1 << 20
# A \u escape in the surrogate range: a pair is fine, half of one is not text.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
# Bump when the rules change: validation results cached under the old rules must not count.
RULES = "2"


@dataclass(frozen=True)
class Case:
    """One line of an eval dataset."""

    id: str
    vars: dict[str, Any]
    expected: Any = None
    expected_sources: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    template: str | None = None
    asserts: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "vars": self.vars,
            "expected": self.expected,
            "expected_sources": self.expected_sources,
            "tags": self.tags,
            "template": self.template,
            "assert": self.asserts,
        }


class LineError(ValueError):
    """Why one line is not a case; ``column`` is 1-based, in characters (None: the whole
    line, for a case that is valid JSON but breaks a rule)."""

    def __init__(self, message: str, column: int | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column
        self.hint = hint


def lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """``(line number, bytes)`` of every non-blank line; lines end at ``\\n`` only."""
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if raw.strip():
            yield number, raw


def _constant(name: str) -> Any:
    raise LineError(f"not valid JSON ({name} is not a JSON number)", 1)


def parse_line(raw: bytes, number: int = 2) -> Any:
    """One line's JSON value, or LineError. ``number`` 1 refuses a leading BOM."""
    if number == 1 and raw.startswith(BOM):
        raise LineError(
            "the file starts with a UTF-8 byte order mark (BOM)",
            1,
            hint="save the file as UTF-8 without a BOM",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        column = len(raw[: exc.start].decode("utf-8", "replace")) + 1
        raise LineError(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x})",
            column,
            hint="save the file as UTF-8",
        ) from None
    try:
        value = json.loads(text, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        hint = "each line must be one JSON object"
        raise LineError(f"not valid JSON ({exc.msg})", exc.colno, hint) from None
    except RecursionError:
        raise LineError("not valid JSON (nested too deeply)", 1) from None
    if _SURROGATE_ESCAPE.search(raw):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise LineError(
                "a \\u escape is half of a surrogate pair, which is not text",
                1,
                hint="escape characters above U+FFFF as a pair, or write them as UTF-8",
            ) from None
    return value


_SCALARS = (str, int, float)  # bool is an int


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def check_case(value: Any, templates: set[str] | None = None) -> dict[str, Any]:
    """The case object, or LineError saying which rule it breaks (duplicates aside)."""
    if not isinstance(value, dict):
        raise LineError("a case must be a JSON object", 1, hint="each line must be one JSON object")
    case_id = value.get("id")
    if not isinstance(case_id, str) or not case_id:
        raise LineError(
            'missing "id" (a non-empty string)', hint='give every case a stable id, e.g. "refund-window"'
        )
    if "vars" in value and not isinstance(value["vars"], dict):
        raise LineError(f'case {case_id!r}: "vars" must be an object')
    template = value.get("template")
    if template is not None:
        if not isinstance(template, str):
            raise LineError(f'case {case_id!r}: "template" must be a string')
        if templates is not None and template not in templates:
            raise LineError(f"case {case_id!r}: unknown template {template!r}")
    asserts = value.get("assert")
    if asserts is not None and not (isinstance(asserts, list) and all(isinstance(a, dict) for a in asserts)):
        raise LineError(f'case {case_id!r}: "assert" must be a list of objects')
    sources = value.get("expected_sources")
    if sources is not None and not _strings(sources):
        raise LineError(f'case {case_id!r}: "expected_sources" must be a list of strings')
    tags = value.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, _SCALARS) for t in tags)):
        raise LineError(f'case {case_id!r}: "tags" must be a list of strings (or numbers)')
    return value


def to_case(value: dict[str, Any]) -> Case:
    return Case(
        id=value["id"],
        vars=value.get("vars", {}),
        expected=value.get("expected"),
        expected_sources=list(value.get("expected_sources") or []),
        tags=[str(t) for t in value.get("tags") or []],
        template=value.get("template"),
        asserts=list(value.get("assert") or []),
    )


def read_cases(data: bytes, location: str, templates: set[str] | None = None) -> list[Case]:
    """Every case of a file; the first bad line is a ConfigError at ``location:line:col``."""
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for number, raw in lines(data):
        try:
            value = check_case(parse_line(raw, number), templates)
        except LineError as exc:
            where = f"{location}:{number}" + (f":{exc.column}" if exc.column else "")
            raise ConfigError(exc.message, location=where, hint=exc.hint) from None
        if value["id"] in seen:
            raise ConfigError(
                f"duplicate id {value['id']!r} (first on line {seen[value['id']]})",
                location=f"{location}:{number}",
                hint="ids must be unique within a dataset",
            )
        seen[value["id"]] = number
        cases.append(to_case(value))
    return cases


def problems(data: bytes, path: str, templates: set[str] | None, limit: int = 50) -> list[Problem]:
    """Every problem of a file, located (at most ``limit``, then a note)."""
    found: list[Problem] = []
    seen: dict[str, int] = {}
    for number, raw in lines(data):
        if len(found) >= limit:
            found.append(Problem(f"more problems not shown (stopped after {limit})", file=path))
            break
        try:
            value = check_case(parse_line(raw, number), templates)
        except LineError as exc:
            found.append(Problem(exc.message, file=path, line=number, column=exc.column, hint=exc.hint))
            continue
        case_id = value["id"]
        if case_id in seen:
            found.append(
                Problem(
                    f"duplicate id {case_id!r} (first on line {seen[case_id]})",
                    file=path,
                    line=number,
                    hint="ids must be unique within a dataset",
                )
            )
            continue
        seen[case_id] = number
    return found


def fast_valid(
    data: bytes,
    templates: set[str] | None,
    covers: tuple[str, set[str]] | None = None,
    ids: set[str] | None = None,
) -> bool:
    """True only for a file `read_cases` accepts whole: one typed msgspec pass in C.
    False means "look closer" (`problems`), not necessarily invalid.

    ``covers`` (a template, and the variables rendering it requires) asks one more thing
    of the same pass: every case renders that template (names no other) and its ``vars``
    hold each of those variables. A bump checks both at once this way; False then says
    only that one of the two needs a closer look."""
    import msgspec

    if data.startswith(BOM) or (b"\\" in data and _SURROGATE_ESCAPE.search(data)):  # memchr first
        return False
    if not data.isascii():
        try:
            data.decode("utf-8")  # msgspec does not check the strings it skips
        except UnicodeDecodeError:
            return False
    template_type: Any = str if templates is None else Literal[tuple(templates) or ("\x00",)]
    any_vars = msgspec.defstruct("Vars", [], gc=False)
    vars_field: tuple[Any, ...] = ("vars", any_vars | msgspec.UnsetType, msgspec.UNSET)
    if covers is not None:
        template, required = covers
        template_type = Literal[template]
        needed = msgspec.defstruct("Needed", [(name, msgspec.Raw) for name in sorted(required)], gc=False)
        vars_field = ("vars", needed) if required else ("vars", needed | msgspec.UnsetType, msgspec.UNSET)
    assert_type = msgspec.defstruct("Assert", [], gc=False)
    case_type = msgspec.defstruct(
        "Case",
        [
            ("id", str),
            vars_field,
            ("template", template_type | None, None),
            ("asserts", list[assert_type] | None, None),  # type: ignore[valid-type]
            ("tags", list[str | int | float] | None, None),
            ("expected_sources", list[str] | None, None),
        ],
        rename={"asserts": "assert"},
        gc=False,  # decoded, read and dropped: never in a cycle, so not tracked (~20% faster)
    )
    decoder = msgspec.json.Decoder(case_type)
    ids = set() if ids is None else ids
    count = len(ids)
    view = memoryview(data)
    start = 0
    # Decoded in slices of about 1 MB: msgspec holds the GIL for a whole call, and during a
    # bump this runs beside the thread that hashes and copies the files, which needs the GIL
    # for a moment between chunks (1 MiB writes). Short calls, each followed by a sleep(0)
    # that releases the GIL at once, let the two really run at the same time: without it,
    # each write waited up to the interpreter's 5 ms switch interval.
    with jsontext.collector_paused():
        while start < len(data):
            end = data.find(b"\n", min(start + FAST_SLICE, len(data) - 1))
            end = len(data) if end < 0 else end + 1
            try:
                cases = decoder.decode_lines(view[start:end])
            except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
                return False  # the line-by-line reader says where and why
            ids.update(case.id for case in cases)  # type: ignore[attr-defined]
            count += len(cases)
            start = end
            time.sleep(0)  # hand the GIL over now to a thread waiting for it, not 5 ms later
    return len(ids) == count and "" not in ids


def case_ids(data: bytes) -> list[str] | None:
    """The ``id`` of every case in ``data`` (JSON lines, blank ones skipped), in one typed
    msgspec pass; None when a line is not an object with a string id."""
    import msgspec

    decoder = msgspec.json.Decoder(msgspec.defstruct("Identified", [("id", str)], gc=False))
    try:
        with jsontext.collector_paused():
            return [case.id for case in decoder.decode_lines(data)]  # type: ignore[attr-defined]
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
