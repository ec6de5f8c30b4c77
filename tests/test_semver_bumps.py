"""semver.org 2.0.0 examples and npm-style bump semantics of promptver.semver."""

import itertools

import pytest

from promptver.errors import VersionSyntaxError
from promptver.semver import Version


def test_spec_precedence_chain() -> None:
    chain = [
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
    versions = [Version.parse(v) for v in chain]
    assert sorted(reversed(versions)) == versions
    assert all(a < b for a, b in itertools.pairwise(versions))


def test_build_metadata_is_ignored_in_precedence_but_kept() -> None:
    a, b = Version.parse("1.0.0+20130313144700"), Version.parse("1.0.0+exp.sha.5114f85")
    assert a == b and str(b) == "1.0.0+exp.sha.5114f85"
    assert Version.parse("1.0.0-beta+exp.sha.5114f85") < Version.parse("1.0.0")


@pytest.mark.parametrize(
    "text",
    [
        "1.2",
        "01.2.3",
        "1.2.3-",
        "1.02.3",
        "1.2.3-01",
        "v1.2.3",
        "1.2.3+",
        "1.2.3-a..b",
        " ",
        "1.2.3.4",
        "-1.2.3",
    ],
)
def test_invalid_versions_are_refused(text: str) -> None:
    with pytest.raises(VersionSyntaxError):
        Version.parse(text)


@pytest.mark.parametrize(
    "text",
    [
        "0.0.4",
        "1.2.3",
        "10.20.30",
        "1.1.2-prerelease+meta",
        "1.0.0-alpha-a.b-c",
        "1.0.0-0A.is.legal",
        "1.0.0-x-y-z.--",
        "99999999999999999999999.999.0",
    ],
)
def test_valid_versions_round_trip(text: str) -> None:
    assert str(Version.parse(text)) == text


@pytest.mark.parametrize(
    ("start", "kind", "pre", "expected"),
    [
        ("1.2.3", "major", None, "2.0.0"),
        ("1.2.3", "minor", None, "1.3.0"),
        ("1.2.3", "patch", None, "1.2.4"),
        ("1.2.3", "minor", "rc", "1.3.0-rc.1"),
        ("1.3.0-rc.1", "prerelease", None, "1.3.0-rc.2"),
        ("1.3.0-rc.2", "release", None, "1.3.0"),
        ("1.3.0-rc.2", "minor", None, "1.3.0"),
        ("1.3.1-rc.2", "minor", None, "1.4.0"),
        ("2.0.0-rc.1", "major", None, "2.0.0"),
        ("1.2.3", "prerelease", None, "1.2.4-rc.1"),
        ("1.3.0-beta.2", "prerelease", "rc", "1.3.0-rc.1"),
        ("1.2.3-rc.1", "patch", None, "1.2.3"),
    ],
)
def test_bumps(start: str, kind: str, pre: str | None, expected: str) -> None:
    assert str(Version.parse(start).bump(kind, pre)) == expected


def test_bump_refusals() -> None:
    with pytest.raises(VersionSyntaxError, match="not a prerelease"):
        Version.parse("1.2.3").bump("release")
    with pytest.raises(VersionSyntaxError, match="sort before"):
        Version.parse("1.3.0-rc.2").bump("prerelease", "beta")
    with pytest.raises(VersionSyntaxError, match="not a valid prerelease"):
        Version.parse("1.2.3").bump("minor", "r c")
