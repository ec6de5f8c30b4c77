"""promptver.semver against semver.org 2.0.0's own examples, and the bump rules."""

from __future__ import annotations

import itertools
import random

import pytest

from promptver.errors import VersionSyntaxError
from promptver.semver import Version

# Spec item 11: "Example: 1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-alpha.beta < 1.0.0-beta <
# 1.0.0-beta.2 < 1.0.0-beta.11 < 1.0.0-rc.1 < 1.0.0." and "1.0.0 < 2.0.0 < 2.1.0 < 2.1.1".
PRECEDENCE_CHAIN = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "2.0.0",
    "2.1.0",
    "2.1.1",
]


def test_precedence_chain() -> None:
    versions = [Version.parse(v) for v in PRECEDENCE_CHAIN]
    for lower, higher in itertools.pairwise(versions):
        assert lower < higher
        assert higher > lower
        assert lower != higher
    shuffled = versions[:]
    random.Random(7).shuffle(shuffled)
    assert [str(v) for v in sorted(shuffled)] == PRECEDENCE_CHAIN


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("1.9.0", "1.10.0"),  # item 2: numeric, not lexical
        ("1.10.0", "1.11.0"),
        ("0.9.9", "1.0.0"),
        ("1.0.0-2", "1.0.0-10"),  # numeric identifiers compare numerically
        ("1.0.0-999", "1.0.0-a"),  # numeric identifiers sort below alphanumeric ones
        ("1.0.0-Z", "1.0.0-a"),  # alphanumeric identifiers compare in ASCII order
        ("1.0.0-0", "1.0.0-0.0"),  # a longer set of identifiers wins when the prefix ties
        ("1.0.0-rc.1", "1.0.0"),
    ],
)
def test_precedence_pairs(lower: str, higher: str) -> None:
    assert Version.parse(lower) < Version.parse(higher)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("1.0.0-alpha+001", "1.0.0-alpha"),
        ("1.0.0+20130313144700", "1.0.0"),
        ("1.0.0-beta+exp.sha.5114f85", "1.0.0-beta+other"),
        ("1.0.0+21AF26D3----117B344092BD", "1.0.0+1"),
    ],
)
def test_build_metadata_is_ignored_in_precedence(a: str, b: str) -> None:
    va, vb = Version.parse(a), Version.parse(b)
    assert va == vb
    assert not va < vb and not vb < va
    assert hash(va) == hash(vb)
    assert str(va) == a  # but it is kept


VALID = [
    "0.0.4",
    "1.2.3",
    "10.20.30",
    "1.1.2-prerelease+meta",
    "1.1.2+meta",
    "1.1.2+meta-valid",
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-0.3.7",
    "1.0.0-x.7.z.92",
    "1.0.0-x-y-z.--",
    "1.0.0-alpha.beta.1",
    "1.0.0-alpha0.valid",
    "1.0.0-alpha.0valid",
    "1.0.0-alpha-a.b-c-somethinglong+build.1-aef.1-its-okay",
    "1.0.0-rc.1+build.1",
    "10.2.3-DEV-SNAPSHOT",
    "1.2.3-SNAPSHOT-123",
    "2.0.0+build.1848",
    "2.0.1-alpha.1227",
    "1.0.0-alpha+beta",
    "1.2.3----RC-SNAPSHOT.12.9.1--.12+788",
    "1.0.0+0.build.1-rc.10000aaa-kk-0.1",
    "1.0.0-0A.is.legal",
    "99999999999999999999999.999999999999999999.99999999999999999",
]


@pytest.mark.parametrize("text", VALID)
def test_valid(text: str) -> None:
    version = Version.parse(text)
    assert str(version) == text
    assert Version.is_valid(text)


INVALID = [
    "",
    "1",
    "1.2",
    "1.2.3.4",
    "01.2.3",
    "1.02.3",
    "1.2.03",
    "1.2.3-",
    "1.2.3+",
    "1.2.3-0123",
    "1.2.3-0123.0123",
    "1.1.2+.123",
    "+invalid",
    "-invalid",
    "alpha",
    "1.0.0-alpha_beta",
    "1.0.0-alpha..",
    "1.0.0-alpha..1",
    "1.2.3.DEV",
    "1.2-SNAPSHOT",
    "-1.0.3-gamma+b7718",
    "9.8.7+meta+meta",
    "9.8.7-whatever+meta+meta",
    "v1.2.3",
    "1.2.3 - 1.2.4",
]


@pytest.mark.parametrize("text", INVALID)
def test_invalid(text: str) -> None:
    assert not Version.is_valid(text)
    with pytest.raises(VersionSyntaxError) as info:
        Version.parse(text)
    assert info.value.hint


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(VersionSyntaxError):
        Version.parse(123)  # type: ignore[arg-type]


def test_fields() -> None:
    v = Version.parse("1.2.3-rc.10+sha.abc")
    assert (v.major, v.minor, v.patch) == (1, 2, 3)
    assert v.prerelease == ("rc", 10)
    assert v.build == ("sha", "abc")
    assert v.core == (1, 2, 3)
    assert v.is_prerelease
    assert not Version.parse("1.2.3").is_prerelease


@pytest.mark.parametrize(
    ("start", "kind", "pre", "expected"),
    [
        ("1.2.3", "major", None, "2.0.0"),
        ("1.2.3", "minor", None, "1.3.0"),
        ("1.2.3", "patch", None, "1.2.4"),
        ("0.0.0", "patch", None, "0.0.1"),
        ("1.2.3+build", "patch", None, "1.2.4"),  # build metadata is not carried over
        ("1.2.3", "minor", "rc", "1.3.0-rc.1"),
        ("1.2.3", "major", "beta", "2.0.0-beta.1"),
        ("1.2.3", "patch", "alpha", "1.2.4-alpha.1"),
        # a prerelease bumped at the level it anticipates is released
        ("1.3.0-rc.2", "minor", None, "1.3.0"),
        ("2.0.0-rc.1", "major", None, "2.0.0"),
        ("1.2.4-rc.1", "patch", None, "1.2.4"),
        # ... but not when it anticipates a smaller bump
        ("1.2.4-rc.1", "minor", None, "1.3.0"),
        ("1.3.0-rc.1", "major", None, "2.0.0"),
        ("1.2.4-rc.1", "major", None, "2.0.0"),
        # prerelease counts up, or starts one on the next patch
        ("1.3.0-rc.1", "prerelease", None, "1.3.0-rc.2"),
        ("1.3.0-rc.1", "prerelease", "rc", "1.3.0-rc.2"),
        ("1.3.0-rc.9", "prerelease", None, "1.3.0-rc.10"),
        ("1.2.3", "prerelease", None, "1.2.4-rc.1"),
        ("1.2.3", "prerelease", "beta", "1.2.4-beta.1"),
        ("1.3.0-beta.3", "prerelease", "rc", "1.3.0-rc.1"),
        ("1.3.0-rc", "prerelease", None, "1.3.0-rc.1"),
        # release drops the prerelease
        ("1.3.0-rc.2", "release", None, "1.3.0"),
        ("2.0.0-alpha.1+b", "release", None, "2.0.0"),
    ],
)
def test_bump(start: str, kind: str, pre: str | None, expected: str) -> None:
    bumped = Version.parse(start).bump(kind, pre)
    assert str(bumped) == expected
    assert bumped > Version.parse(start)


@pytest.mark.parametrize(
    ("start", "kind", "pre", "message"),
    [
        ("1.3.0-rc.2", "prerelease", "beta", "would sort before"),
        ("1.2.3", "release", None, "not a prerelease"),
        ("1.2.3", "huge", None, "unknown bump"),
        ("1.2.3", "minor", "rc..1", "not a valid prerelease identifier"),
        ("1.2.3", "minor", "01", "not a valid prerelease identifier"),
        ("1.2.3", "minor", "rc_1", "not a valid prerelease identifier"),
        ("1.2.3", "minor", "", "not a valid prerelease identifier"),
    ],
)
def test_bump_refused(start: str, kind: str, pre: str | None, message: str) -> None:
    with pytest.raises(VersionSyntaxError, match=message) as info:
        Version.parse(start).bump(kind, pre)
    assert info.value.hint


def test_ordering_against_other_types() -> None:
    v = Version.parse("1.0.0")
    assert v != "1.0.0"
    with pytest.raises(TypeError):
        _ = v < "1.0.0"  # type: ignore[operator]
