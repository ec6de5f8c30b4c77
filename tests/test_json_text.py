"""`--json` output (cli/common.py `json_text`): msgspec writes what json's indented encoder
writes, for any data; what it would write otherwise goes to json."""

from __future__ import annotations

import enum
import json
import math
from pathlib import Path
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from promptver.cli.common import _JSON_CONTROLS, json_text


class Colour(enum.Enum):
    RED = "red"


class Name(str):
    pass


def _careful(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str).translate(_JSON_CONTROLS)


TEXT = st.text(st.characters())  # lone surrogates, C0, DEL, C1, bidi controls included
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**80), 2**80)
    | st.floats()  # NaN, infinities, 1e-05, 1e+16
    | st.floats(1e-4, 1e16)
    | TEXT
    | st.sampled_from([Path("a/b"), Colour.RED, Name("n"), b"bytes", frozenset({1})])
)
KEYS = TEXT | st.integers() | st.none() | st.booleans() | st.floats(allow_nan=False)
VALUES = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(TEXT, inner, max_size=4)
        | st.dictionaries(KEYS, inner, max_size=3)
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(VALUES)
@example({"score": 1e16, "rate": 1e-05, "zero": -0.0, "nan": math.nan})
@example({"note": "\x1b[2J\x7f\x85\u202e\ud800"})
@example({2: "a", None: "b", True: "c", 1.5: "d"})
@example([[]] * 3 + [{}])
def test_json_text_is_the_careful_json(data: Any) -> None:
    assert json_text(data) == _careful(data)


def test_a_cycle_is_refused_as_json_refuses_it() -> None:
    loop: list[Any] = []
    loop.append(loop)
    try:
        json_text(loop)
    except ValueError as exc:
        assert "Circular reference" in str(exc)
    else:
        raise AssertionError("a cycle was written")


def test_the_text_holds_no_raw_control_character() -> None:
    text = json_text({"a": "\x00\x1b\x7f\x9b\u200e\u2066", "b": [1.5, 2, None]})
    assert json.loads(text) == {"a": "\x00\x1b\x7f\x9b\u200e\u2066", "b": [1.5, 2, None]}
    assert all(ord(c) >= 0x20 or c == "\n" for c in text) and "\x7f" not in text and "\x9b" not in text
