"""npm range semantics, case by case.

The tables follow node-semver's documentation (README, "Ranges" and "Advanced Range
Syntax") and the categories of its test fixtures: desugaring, inclusion, exclusion,
prerelease handling, invalid ranges.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptver.errors import VersionSyntaxError
from promptver.semver import Version
from promptver.versions.ranges import Range, max_satisfying

# range -> its desugared comparators, as npm prints them (sets joined by " || ")
DESUGARED = [
    # plain comparators
    ("1.2.3", "1.2.3"),
    ("=1.2.3", "1.2.3"),
    ("v1.2.3", "1.2.3"),
    (">1.2.3", ">1.2.3"),
    (">=1.2.3", ">=1.2.3"),
    ("<1.2.3", "<1.2.3"),
    ("<=1.2.3", "<=1.2.3"),
    (">= 1.2.3", ">=1.2.3"),
    (">=   1.2.3", ">=1.2.3"),
    ("<\t2.0.0", "<2.0.0"),
    ("1.2.3+build.5", "1.2.3"),
    ("1.2.3-rc.1", "1.2.3-rc.1"),
    ("1.2.3-2.3.4", "1.2.3-2.3.4"),  # no spaces: a prerelease, not a hyphen range
    # x-ranges and partial versions
    ("*", "*"),
    ("", "*"),
    ("x", "*"),
    ("X", "*"),
    ("1", ">=1.0.0 <2.0.0-0"),
    ("1.x", ">=1.0.0 <2.0.0-0"),
    ("1.x.x", ">=1.0.0 <2.0.0-0"),
    ("1.*", ">=1.0.0 <2.0.0-0"),
    ("1.*.*", ">=1.0.0 <2.0.0-0"),
    ("1.x.3", ">=1.0.0 <2.0.0-0"),
    ("1.2", ">=1.2.0 <1.3.0-0"),
    ("1.2.x", ">=1.2.0 <1.3.0-0"),
    ("1.2.*", ">=1.2.0 <1.3.0-0"),
    ("1.2.X", ">=1.2.0 <1.3.0-0"),
    ("0.x", "<1.0.0-0"),
    ("=1.2", ">=1.2.0 <1.3.0-0"),
    ("=1.x", ">=1.0.0 <2.0.0-0"),
    (">1", ">=2.0.0"),
    (">1.x", ">=2.0.0"),
    (">1.2", ">=1.3.0"),
    (">1.2.x", ">=1.3.0"),
    (">=1", ">=1.0.0"),
    (">=1.2", ">=1.2.0"),
    (">= 1", ">=1.0.0"),
    ("<1", "<1.0.0-0"),
    ("< 1", "<1.0.0-0"),
    ("<1.2", "<1.2.0-0"),
    ("<1.2.x", "<1.2.0-0"),
    ("<=1", "<2.0.0-0"),
    ("<=1.2", "<1.3.0-0"),
    ("<=0.7.x", "<0.8.0-0"),
    (">=0.7.x", ">=0.7.0"),
    (">*", "<0.0.0-0"),
    ("<*", "<0.0.0-0"),
    (">X", "<0.0.0-0"),
    (">=*", "*"),
    ("<=*", "*"),
    (">=0.0.0", "*"),
    # tilde
    ("~1.2.3", ">=1.2.3 <1.3.0-0"),
    ("~1.2", ">=1.2.0 <1.3.0-0"),
    ("~1", ">=1.0.0 <2.0.0-0"),
    ("~0.2.3", ">=0.2.3 <0.3.0-0"),
    ("~0.2", ">=0.2.0 <0.3.0-0"),
    ("~0", "<1.0.0-0"),
    ("~0.0.1", ">=0.0.1 <0.1.0-0"),
    ("~1.2.3-beta.2", ">=1.2.3-beta.2 <1.3.0-0"),
    ("~1.x", ">=1.0.0 <2.0.0-0"),
    ("~1.2.x", ">=1.2.0 <1.3.0-0"),
    ("~*", "*"),
    ("~x", "*"),
    ("~>1.2.3", ">=1.2.3 <1.3.0-0"),
    ("~>1", ">=1.0.0 <2.0.0-0"),
    ("~> 1", ">=1.0.0 <2.0.0-0"),
    ("~ 1.0", ">=1.0.0 <1.1.0-0"),
    ("~v0.5.4-pre", ">=0.5.4-pre <0.6.0-0"),
    # caret
    ("^1.2.3", ">=1.2.3 <2.0.0-0"),
    ("^0.2.3", ">=0.2.3 <0.3.0-0"),
    ("^0.0.3", ">=0.0.3 <0.0.4-0"),
    ("^1.2.3-beta.2", ">=1.2.3-beta.2 <2.0.0-0"),
    ("^0.2.3-beta.2", ">=0.2.3-beta.2 <0.3.0-0"),
    ("^0.0.3-beta", ">=0.0.3-beta <0.0.4-0"),
    ("^1.2.x", ">=1.2.0 <2.0.0-0"),
    ("^1.2", ">=1.2.0 <2.0.0-0"),
    ("^0.2", ">=0.2.0 <0.3.0-0"),
    ("^0.2.x", ">=0.2.0 <0.3.0-0"),
    ("^0.0.x", "<0.1.0-0"),
    ("^0.0", "<0.1.0-0"),
    ("^1.x", ">=1.0.0 <2.0.0-0"),
    ("^1", ">=1.0.0 <2.0.0-0"),
    ("^0.x", "<1.0.0-0"),
    ("^0", "<1.0.0-0"),
    ("^*", "*"),
    ("^ 1.2", ">=1.2.0 <2.0.0-0"),
    ("^1.2.3+build", ">=1.2.3 <2.0.0-0"),
    ("^ 1.2 ^ 1", ">=1.2.0 <2.0.0-0 >=1.0.0"),
    # hyphen ranges
    ("1.2.3 - 2.3.4", ">=1.2.3 <=2.3.4"),
    ("1.2 - 2.3.4", ">=1.2.0 <=2.3.4"),
    ("1.2.3 - 2.3", ">=1.2.3 <2.4.0-0"),
    ("1.2.3 - 2", ">=1.2.3 <3.0.0-0"),
    ("1 - 2", ">=1.0.0 <3.0.0-0"),
    ("1.0 - 2.0", ">=1.0.0 <2.1.0-0"),
    ("x - 1.0.0", "<=1.0.0"),
    ("1.0.0 - x", ">=1.0.0"),
    ("* - *", "*"),
    ("1.2.3-pre - 2.4.3-pre", ">=1.2.3-pre <=2.4.3-pre"),
    ("1.2.3+a - 2.4.3+b", ">=1.2.3 <=2.4.3"),
    ("  1.2.3   -   2.3.4  ", ">=1.2.3 <=2.3.4"),
    # intersections and unions
    (">=1.2.7 <1.3.0", ">=1.2.7 <1.3.0"),
    (">= 1.2.7 < 1.3.0", ">=1.2.7 <1.3.0"),
    ("1.2.7 || >=1.2.9 <2.0.0", "1.2.7 || >=1.2.9 <2.0.0"),
    ("1.2.x || 2.x", ">=1.2.0 <1.3.0-0 || >=2.0.0 <3.0.0-0"),
    ("^1.0 || ^2.0", ">=1.0.0 <2.0.0-0 || >=2.0.0 <3.0.0-0"),
    ("0.1.20||1.2.4", "0.1.20 || 1.2.4"),
    ("1.2.3 - 2.3.4 || 3.x", ">=1.2.3 <=2.3.4 || >=3.0.0 <4.0.0-0"),
    (">=1.2.3 >=1.2.3", ">=1.2.3"),
    ("1.2.3 || 1.2.3", "1.2.3"),
    ("||", "*"),
    ("1.2.3 ||", "*"),
    ("<x <* || >* 2.x", "<0.0.0-0"),
    (">x 2.x || * || <x", "*"),
    (">=2 <1 || 3.x", ">=2.0.0 <1.0.0-0 || >=3.0.0 <4.0.0-0"),
]


@pytest.mark.parametrize(("text", "expected"), DESUGARED)
def test_desugaring(text: str, expected: str) -> None:
    assert Range.parse(text).format() == expected


# (range, version): the version is inside the range
INCLUDED = [
    ("1.2.3", "1.2.3"),
    ("1.2.3", "1.2.3+build.7"),
    ("=1.2.3", "1.2.3"),
    ("1.0.0 - 2.0.0", "1.2.3"),
    ("1.0.0 - 2.0.0", "2.0.0"),
    ("1.0.0 - 2.0.0", "1.0.0"),
    ("1.2 - 2.3", "2.3.99"),
    ("1.2.3 - 2", "2.99.99"),
    ("x - 1.x", "0.9.7"),
    ("1.x - x", "1.9.7"),
    ("1.2.3-pre+asdf - 2.4.3-pre+asdf", "1.2.3"),
    ("1.2.3-pre+asdf - 2.4.3-pre+asdf", "1.2.3-pre.2"),
    ("1.2.3-pre+asdf - 2.4.3-pre+asdf", "2.4.3-alpha"),
    (">=1.2.7", "1.2.7"),
    (">=1.2.7", "1.2.8"),
    (">=1.2.7", "2.5.3"),
    (">=1.2.7", "1.3.9"),
    (">=1.2.7 <1.3.0", "1.2.7"),
    (">=1.2.7 <1.3.0", "1.2.8"),
    (">=1.2.7 <1.3.0", "1.2.99"),
    ("1.2.7 || >=1.2.9 <2.0.0", "1.2.7"),
    ("1.2.7 || >=1.2.9 <2.0.0", "1.2.9"),
    ("1.2.7 || >=1.2.9 <2.0.0", "1.4.6"),
    (">1.0.0", "1.0.1"),
    ("<=2.0.0", "2.0.0"),
    ("<=2.0.0", "1.9999.9999"),
    ("<2.0.0", "1.9999.9999"),
    ("<2.0.0", "0.2.9"),
    (">=0.2.3 || <0.0.1", "0.0.0"),
    (">=0.2.3 || <0.0.1", "0.2.4"),
    ("", "1.0.0"),
    ("*", "1.2.3"),
    ("*", "0.0.0"),
    (">=*", "0.2.4"),
    ("||", "1.3.4"),
    ("x", "1.2.3"),
    ("2", "2.1.2"),
    ("2.3", "2.3.1"),
    ("2.x.x", "2.1.3"),
    ("1.2.*", "1.2.3"),
    ("1.2.x || 2.x", "2.1.3"),
    ("1.2.x || 2.x", "1.2.3"),
    ("=0.7.x", "0.7.2"),
    ("<=0.7.x", "0.7.2"),
    ("<=0.7.x", "0.6.2"),
    (">=0.7.x", "0.7.2"),
    ("<=7.x", "7.9.9"),
    (">1.2", "1.3.0"),
    ("<1.2", "1.1.1"),
    ("~0.0.1", "0.0.2"),
    ("~2.4", "2.4.0"),
    ("~2.4", "2.4.5"),
    ("~>3.2.1", "3.2.2"),
    ("~1", "1.2.3"),
    ("~1.0", "1.0.2"),
    ("~ 1.0.3", "1.0.12"),
    ("~x", "0.0.9"),
    ("~v0.5.4-pre", "0.5.5"),
    ("~v0.5.4-pre", "0.5.4"),
    ("~1.2.3-beta.2", "1.2.3-beta.4"),
    ("~1.2.3-beta.2", "1.2.9"),
    ("~1.2.1 >=1.2.3", "1.2.3"),
    ("~1.2.1 =1.2.3", "1.2.3"),
    ("~1.2.1 1.2.3 >=1.2.3", "1.2.3"),
    ("^1.2.3", "1.8.1"),
    ("^1.2.3", "1.2.3"),
    ("^1.2.3+build", "1.3.0"),
    ("^0.2.3", "0.2.9"),
    ("^0.0.3", "0.0.3"),
    ("^0.1", "0.1.2"),
    ("^1.2", "1.4.2"),
    ("^1.2 ^1", "1.4.2"),
    ("^1.2.3-beta.2", "1.2.3-beta.4"),
    ("^1.2.3-beta.2", "1.9.0"),
    ("^1.2.3-alpha", "1.2.3-pre"),
    ("^0.0.1-alpha", "0.0.1-beta"),
    ("^0.0.1-alpha", "0.0.1"),
    ("^0.0.3-beta", "0.0.3-pr.2"),
    ("^0.1.1-alpha", "0.1.1-beta"),
    ("^0.0.x", "0.0.9"),
    ("^0.x", "0.99.0"),
    ("^x", "1.2.3"),
    (">1.2.3-alpha.3", "1.2.3-alpha.7"),
    (">1.2.3-alpha.3", "3.4.5"),
    (">=1.2.3-0", "1.2.3-alpha"),
    ("1.2.3-rc.1", "1.2.3-rc.1"),
    ("<1.2.3-rc.2", "1.2.3-rc.1"),
    ("1.2.3-rc.1 || 2.x", "2.0.1"),
]

# (range, version): the version is outside the range
EXCLUDED = [
    ("1.2.3", "1.2.4"),
    ("1.0.0 - 2.0.0", "2.2.3"),
    ("1.0.0 - 2.0.0", "0.9.9"),
    ("1.2.3 - 2", "3.0.0"),
    ("1.2.3+asdf - 2.4.3+asdf", "1.2.3-pre.2"),
    ("1.2.3+asdf - 2.4.3+asdf", "2.4.3-alpha"),
    (">=1.2.7", "1.2.6"),
    (">=1.2.7", "1.1.0"),
    (">=1.2.7 <1.3.0", "1.2.6"),
    (">=1.2.7 <1.3.0", "1.3.0"),
    ("1.2.7 || >=1.2.9 <2.0.0", "1.2.8"),
    ("1.2.7 || >=1.2.9 <2.0.0", "2.0.0"),
    (">=1.0.0", "0.1.0"),
    (">1.0.0", "1.0.0"),
    ("<=2.0.0", "2.0.1"),
    ("<2.0.0", "2.0.0"),
    ("<2.0.0", "2.2.9"),
    (">=0.2.3 || <0.0.1", "0.0.3"),
    (">=0.2.3 || <0.0.1", "0.2.2"),
    ("2.x.x", "3.1.3"),
    ("2.x.x", "1.1.3"),
    ("1.2.x", "1.3.3"),
    ("1.2.x || 2.x", "3.1.3"),
    ("1.2.x || 2.x", "1.1.3"),
    ("2", "1.1.2"),
    ("2.3", "2.4.1"),
    ("=0.7.x", "0.8.2"),
    (">=0.7.x", "0.6.2"),
    ("<0.7.x", "0.7.2"),
    (">1.2", "1.2.8"),
    ("<1", "1.0.0"),
    (">=1.2", "1.1.1"),
    (">*", "1.0.0"),
    ("<*", "0.0.0"),
    ("~0.0.1", "0.1.0"),
    ("~2.4", "2.5.0"),
    ("~2.4", "2.3.9"),
    ("~>3.2.1", "3.3.2"),
    ("~>3.2.1", "3.2.0"),
    ("~1", "0.2.3"),
    ("~1", "2.0.0"),
    ("~1.0", "1.1.0"),
    ("~1.2.3", "1.3.0"),
    ("^1.2.3", "2.0.0"),
    ("^1.2.3", "1.2.2"),
    ("^1.2", "1.1.9"),
    ("^1.2.3+build", "1.2.0"),
    ("^0.2.3", "0.3.0"),
    ("^0.2.3", "0.2.2"),
    ("^0.0.3", "0.0.4"),
    ("^0.0.1", "0.0.2"),
    ("^0.0.x", "0.1.0"),
    ("^0.x", "1.0.0"),
    ("^0", "1.0.0"),
    # the prerelease rule: no comparator with a prerelease on the same major.minor.patch
    ("*", "1.0.0-rc.1"),
    ("", "1.0.0-rc.1"),
    (">=1.0.0", "1.0.1-rc.1"),
    ("^1.2.3", "1.2.3-pre"),
    ("^1.2.3", "1.2.4-beta"),
    ("^1.2", "1.2.0-pre"),
    ("^1.2.3", "2.0.0-alpha"),
    ("^1.0.0", "2.0.0-rc1"),
    ("^0.0.1", "0.0.2-alpha"),
    (">1.2", "1.3.0-beta"),
    ("<=1.2.3", "1.2.3-beta"),
    ("<1.2.3", "1.2.3-beta"),
    ("=1.2.3", "1.2.3-beta"),
    ("=0.7.x", "0.7.0-asdf"),
    (">=0.7.x", "0.7.0-asdf"),
    ("~0.0.1", "0.1.0-alpha"),
    ("~v0.5.4-beta", "0.5.4-alpha"),
    ("~1.2.3-beta.2", "1.2.4-beta.2"),
    ("^1.2.3-beta.2", "1.2.4-beta.2"),
    (">1.2.3-alpha.3", "3.4.5-alpha.9"),
    (">1.2.3-alpha.3", "1.2.3-alpha.2"),
    ("1.x", "1.5.0-rc.1"),
    ("1.2.3 - 2.3.4", "2.0.0-rc.1"),
    ("1.2.3 - 2.3", "2.4.0-0"),
    ("1.2.3-rc.1", "1.2.3-rc.2"),
]


@pytest.mark.parametrize(("text", "version"), INCLUDED)
def test_included(text: str, version: str) -> None:
    assert Range.parse(text).satisfies(Version.parse(version))
    assert Version.parse(version) in Range.parse(text)


@pytest.mark.parametrize(("text", "version"), EXCLUDED)
def test_excluded(text: str, version: str) -> None:
    assert not Range.parse(text).satisfies(Version.parse(version))
    assert Version.parse(version) not in Range.parse(text)


INVALID = [
    "1.2.3.4",
    "01.2.3",
    "1.02.3",
    ">01.02.03",
    "1.2.3-",
    "1.2.3-01",
    "1.2.3+",
    "1.2-beta",
    "~1.2.3beta",
    "a.b.c",
    "latest",
    "^",
    "~",
    ">=",
    "1.2.3 -",
    "- 1.2.3",
    "1.2.3 - 2.3.4 - 3.4.5",
    ">=1.2.3 - 2.3.4",
    "1.2.3 | 2.0.0",
    "1.2.3 && 2.0.0",
    ">=1.2.3<2.0.0",
    "^^1.2",
    "~1.2.3 junk",
    "1.x.y",
    "=>1.2.3",
]


@pytest.mark.parametrize("text", INVALID)
def test_invalid(text: str) -> None:
    with pytest.raises(VersionSyntaxError) as info:
        Range.parse(text)
    assert repr(" ".join(text.split())) in info.value.message
    assert info.value.hint and "^1.2" in info.value.hint


def test_not_a_string() -> None:
    with pytest.raises(VersionSyntaxError, match="must be a string"):
        Range.parse(1.2)  # type: ignore[arg-type]


def test_error_names_the_bad_part() -> None:
    with pytest.raises(VersionSyntaxError, match=r"'<1\.2\.3\.4' is not a version"):
        Range.parse(">=1.0.0 <1.2.3.4")
    with pytest.raises(VersionSyntaxError, match="hyphen range"):
        Range.parse("1 - 2 - 3")


def test_exact() -> None:
    assert Range.parse("2.0.1").exact == Version(2, 0, 1)
    assert Range.parse("=v2.0.1").exact == Version(2, 0, 1)
    assert Range.parse("^2.0.1").exact is None
    assert Range.parse("2.0").exact is None
    assert Range.parse("2.0.1 || 2.0.2").exact is None


def test_str_keeps_what_the_user_wrote() -> None:
    assert str(Range.parse("  ^1.2   ||  2.x ")) == "^1.2 || 2.x"
    assert str(Range.parse("")) == "*"


VERSIONS = [
    "0.0.1", "0.0.2", "0.1.0", "0.1.5", "0.2.0", "1.0.0-rc.1", "1.0.0", "1.1.0",
    "1.2.0", "1.2.3", "1.2.4-beta.1", "1.2.4", "1.3.0", "1.10.0", "2.0.0-alpha.1",
    "2.0.0-rc.1", "2.0.0", "2.0.1", "2.1.0", "3.0.0-rc.1",
]  # fmt: skip

MAX_SATISFYING = [
    ("^1.2", "1.10.0"),
    ("~1.2", "1.2.4"),
    ("~1.2.3", "1.2.4"),
    ("1.2.x", "1.2.4"),
    ("1.x", "1.10.0"),
    ("*", "2.1.0"),
    ("", "2.1.0"),
    ("^0.1", "0.1.5"),
    ("^0.0.1", "0.0.1"),
    ("^0.0", "0.0.2"),
    ("^0", "0.2.0"),
    ("2.0.0", "2.0.0"),
    ("<2", "1.10.0"),
    ("<2.0.0", "1.10.0"),
    ("<=2.0.0", "2.0.0"),
    (">=1.2.3 <1.3.0", "1.2.4"),
    ("1.2.3 - 2.0.0", "2.0.0"),
    ("1.0 - 1.2", "1.2.4"),
    ("^1.0 || ^2.0", "2.1.0"),
    ("^2.0.0-alpha", "2.1.0"),
    ("2.0.0-alpha.1 - 2.0.0-rc.5", "2.0.0-rc.1"),
    (">=2.0.0-alpha <2.0.0", "2.0.0-rc.1"),
    ("~1.2.4-beta", "1.2.4"),
    ("1.2.4-beta.1", "1.2.4-beta.1"),
    (">=3.0.0-rc.0", "3.0.0-rc.1"),
    (">=3", None),
    ("^4.0.0", None),
    ("3.x", None),
    ("1.2.5", None),
    ("<0.0.1", None),
]


@pytest.mark.parametrize(("text", "expected"), MAX_SATISFYING)
def test_max_satisfying(text: str, expected: str | None) -> None:
    versions = [Version.parse(v) for v in VERSIONS]
    random.Random(text).shuffle(versions)
    best = max_satisfying(versions, Range.parse(text))
    assert best == (Version.parse(expected) if expected else None)
    assert max_satisfying(versions, text) == best


def test_max_satisfying_of_nothing() -> None:
    assert max_satisfying([], "*") is None


def test_build_metadata_does_not_change_the_answer() -> None:
    rng = Range.parse("^1.2.3+anything")
    assert rng.satisfies(Version.parse("1.5.0+other"))
    assert rng.satisfies(Version.parse("1.2.3+x.y"))


# ---- properties ----------------------------------------------------------------------------

_numbers = st.integers(min_value=0, max_value=4).map(str)
_parts = st.one_of(_numbers, st.sampled_from(["x", "*"]))
_pre = st.sampled_from(["", "-rc.1", "-alpha", "-0", "-beta.2"])
_partial = st.one_of(
    _parts,
    st.tuples(_parts, _parts).map(".".join),
    st.tuples(_numbers, _numbers, _numbers, _pre).map(lambda t: ".".join(t[:3]) + t[3]),
)
_op = st.sampled_from(["", "=", "<", "<=", ">", ">=", "^", "~", "~>"])
_comparator = st.tuples(_op, _partial).map("".join)
_set = st.one_of(
    st.lists(_comparator, min_size=1, max_size=3).map(" ".join),
    st.tuples(_partial, _partial).map(" - ".join),
)
_range = st.lists(_set, min_size=1, max_size=3).map(" || ".join)
_version = st.tuples(_numbers, _numbers, _numbers, _pre).map(lambda t: Version.parse(".".join(t[:3]) + t[3]))


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(max_size=40))
def test_any_text_parses_or_raises_a_syntax_error(text: str) -> None:
    try:
        Range.parse(text)
    except VersionSyntaxError as exc:
        assert exc.hint


@settings(max_examples=300, deadline=None, database=None)
@given(_range, st.lists(_version, max_size=12))
def test_desugared_form_means_the_same(text: str, versions: list[Version]) -> None:
    rng = Range.parse(text)
    again = Range.parse(rng.format())
    assert again == rng
    for version in versions:
        assert again.satisfies(version) == rng.satisfies(version)


@settings(max_examples=300, deadline=None, database=None)
@given(_range, st.lists(_version, max_size=12))
def test_max_satisfying_is_the_highest_match(text: str, versions: list[Version]) -> None:
    rng = Range.parse(text)
    matching = [v for v in versions if rng.satisfies(v)]
    assert max_satisfying(versions, rng) == (max(matching) if matching else None)
