"""Semantic versions, exactly as semver.org 2.0.0 defines them.

Our own small value class rather than the ``semver`` package: this module sits on the
run-time path (``promptver.load``), and ``import semver`` alone costs about 30 ms there.
It is tested against the spec's own examples (tests/test_semver.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from promptver.errors import VersionSyntaxError

# The regular expression published on semver.org (named groups).
_SEMVER = re.compile(
    r"^(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?\Z"
)

LEVELS = ("major", "minor", "patch")
BUMPS = ("major", "minor", "patch", "prerelease", "release")


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str | int, ...] = ()
    build: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _SEMVER.match(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise VersionSyntaxError(
                f"{text!r} is not a semantic version",
                hint="use MAJOR.MINOR.PATCH with optional -prerelease and +build, e.g. 1.2.3 or 1.3.0-rc.1",
            )
        pre = match["pre"]
        build = match["build"]
        return cls(
            int(match["major"]),
            int(match["minor"]),
            int(match["patch"]),
            tuple(int(p) if p.isdigit() else p for p in pre.split(".")) if pre else (),
            tuple(build.split(".")) if build else (),
        )

    @classmethod
    def is_valid(cls, text: str) -> bool:
        return isinstance(text, str) and _SEMVER.match(text) is not None

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(str(p) for p in self.prerelease)
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    @property
    def core(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    def _key(self) -> tuple[object, ...]:
        # Spec item 11: a release outranks its prereleases; numeric identifiers rank below
        # alphanumeric ones and compare as numbers; a longer prerelease outranks its prefix.
        if not self.prerelease:
            return (self.core, 1, ())
        ids = tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in self.prerelease)
        return (self.core, 0, ids)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __eq__(self, other: object) -> bool:
        # Build metadata does not take part in precedence (spec item 10).
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def replace(self, **changes: object) -> Version:
        from dataclasses import replace

        return replace(self, **changes)  # type: ignore[arg-type]

    def bump(self, kind: str, pre: str | None = None) -> Version:
        """The next version, with npm's ``npm version`` semantics.

        ``major|minor|patch`` with ``pre`` give a first prerelease of that bump
        (``1.2.3 minor pre=rc -> 1.3.0-rc.1``); a prerelease bumped by the level it
        anticipates is released (``1.3.0-rc.2 minor -> 1.3.0``); ``prerelease`` counts up
        (``rc.1 -> rc.2``, or switches identifier: ``rc.2 pre=beta`` is refused since it
        would sort lower); ``release`` drops the prerelease.
        """
        if kind not in BUMPS:
            raise VersionSyntaxError(f"unknown bump {kind!r}", hint=f"use one of: {', '.join(BUMPS)}")
        if pre is not None:
            check_identifier(pre)
        if kind == "release":
            if not self.prerelease:
                raise VersionSyntaxError(
                    f"{self} is not a prerelease, so there is nothing to release",
                    hint="use major, minor or patch",
                )
            return Version(*self.core)
        if kind == "prerelease":
            return self._next_prerelease(pre or "rc")
        released = self._released(kind)
        return Version(*released.core, (pre, 1)) if pre else released

    def _released(self, level: str) -> Version:
        major, minor, patch = self.core
        if self.prerelease and (
            level == "patch"
            or (level == "minor" and patch == 0)
            or (level == "major" and minor == 0 and patch == 0)
        ):
            # 1.3.0-rc.1 is already "the next minor": releasing it is the bump.
            return Version(major, minor, patch)
        if level == "major":
            return Version(major + 1, 0, 0)
        if level == "minor":
            return Version(major, minor + 1, 0)
        return Version(major, minor, patch + 1)

    def _next_prerelease(self, pre: str) -> Version:
        if not self.prerelease:
            return Version(self.major, self.minor, self.patch + 1, (pre, 1))
        head, last = self.prerelease[:-1], self.prerelease[-1]
        if self.prerelease[0] == pre and isinstance(last, int):
            return Version(*self.core, (*head, last + 1))
        candidate = Version(*self.core, (pre, 1))
        if candidate <= self:
            raise VersionSyntaxError(
                f"{candidate} would sort before {self}",
                hint="pick a prerelease identifier that sorts later, or bump major/minor/patch",
            )
        return candidate


def check_identifier(pre: str) -> None:
    if not re.fullmatch(r"[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*", pre) or not Version.is_valid(f"0.0.0-{pre}"):
        raise VersionSyntaxError(
            f"{pre!r} is not a valid prerelease identifier",
            hint="use letters, digits and '-', e.g. rc, beta, alpha",
        )
