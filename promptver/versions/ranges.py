"""Version ranges with npm's semantics (node-semver), for pins such as ``^1.2``.

Grammar, as npm documents it (https://github.com/npm/node-semver#ranges):

- a *comparator* is an operator (``<``, ``<=``, ``>``, ``>=``, ``=`` or none) and a version;
- comparators separated by whitespace form a *set*: a version must satisfy all of them;
- sets separated by ``||`` form a *range*: a version must satisfy one set;
- sugar, desugared to plain comparators here: x-ranges (``1.x``, ``1.2.*``, ``*``, and
  partial versions such as ``1`` or ``1.2``), tilde (``~1.2.3``, ``~>1.2``), caret
  (``^1.2.3``, ``^0.2.3``, ``^0.0.3``), hyphen ranges (``1.2.3 - 2.3.4``).

The prerelease rule: a version with a prerelease tag satisfies a set only if some
comparator of that set carries a prerelease on the same ``major.minor.patch``
(``>1.2.3-alpha.3`` admits ``1.2.3-alpha.7`` but not ``3.4.5-alpha.9``). Upper bounds
produced by desugaring end in ``-0`` (``^1.2.3`` is ``>=1.2.3 <2.0.0-0``) so that no
prerelease of the next major sneaks in. npm's ``includePrerelease`` and loose mode are not
supported.
"""

from __future__ import annotations

from collections.abc import Iterable

from promptver.errors import VersionSyntaxError
from promptver.semver import Version

__all__ = ["Comparator", "Range", "max_satisfying"]

_HINT = "use npm range syntax, e.g. 1.2.3, ^1.2, ~1.2.3, >=1.0.0 <2.0.0, 1.x, 1.2.3 - 2.0.0 or ^1.0 || ^2.0"

_OPERATORS = ("~>", "~", "^", ">=", "<=", ">", "<", "=")
_WILDCARDS = ("x", "X", "*")

# The lowest version there is: "<0.0.0-0" admits nothing.
_FLOOR = Version(0, 0, 0, (0,))

# Plain classes with __slots__ rather than dataclasses: this module is on the start-up path
# of ``promptver.load`` and a frozen dataclass costs about a millisecond to define.


class Comparator:
    """One plain comparison: ``op`` is one of ``<``, ``<=``, ``>``, ``>=``, ``=``."""

    __slots__ = ("op", "version")

    def __init__(self, op: str, version: Version) -> None:
        self.op = op
        self.version = version

    def test(self, version: Version) -> bool:
        op, bound = self.op, self.version
        if op == "=":
            return version == bound
        if op == "<":
            return version < bound
        if op == "<=":
            return version <= bound
        if op == ">":
            return version > bound
        return version >= bound

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Comparator):
            return NotImplemented
        return self.op == other.op and self.version == other.version

    def __hash__(self) -> int:
        return hash((self.op, self.version))

    def __str__(self) -> str:
        bound = Version(*self.version.core, self.version.prerelease)
        return f"{'' if self.op == '=' else self.op}{bound}"

    def __repr__(self) -> str:
        return f"Comparator({self.op!r}, {str(self.version)!r})"


class _Partial:
    """A version in a range, where trailing parts may be missing or wildcards (None)."""

    __slots__ = ("major", "minor", "patch", "pre")

    def __init__(
        self, major: int | None, minor: int | None, patch: int | None, pre: tuple[str | int, ...]
    ) -> None:
        self.major, self.minor, self.patch, self.pre = major, minor, patch, pre

    @property
    def full(self) -> Version:
        assert self.major is not None and self.minor is not None and self.patch is not None
        return Version(self.major, self.minor, self.patch, self.pre)


# A comparator set; the empty tuple admits every release (npm's "*").
ComparatorSet = tuple[Comparator, ...]


class Range:
    """A parsed npm range: ``sets`` are alternatives, each a conjunction of comparators."""

    __slots__ = ("raw", "sets")

    def __init__(self, raw: str, sets: tuple[ComparatorSet, ...]) -> None:
        self.raw = raw
        self.sets = sets

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Range):
            return NotImplemented
        return self.sets == other.sets

    def __hash__(self) -> int:
        return hash(self.sets)

    def __repr__(self) -> str:
        return f"Range({self.raw!r})"

    @classmethod
    def parse(cls, text: str) -> Range:
        if not isinstance(text, str):
            raise VersionSyntaxError(
                f"a version range must be a string, not {type(text).__name__}", hint=_HINT
            )
        raw = " ".join(text.split())
        sets = [_parse_set(alt.strip(), raw) for alt in raw.split("||")]
        return cls(raw, _simplify_union(sets))

    def satisfies(self, version: Version) -> bool:
        return any(_test_set(comparators, version) for comparators in self.sets)

    def __contains__(self, version: object) -> bool:
        return isinstance(version, Version) and self.satisfies(version)

    @property
    def exact(self) -> Version | None:
        """The one version this range names, if it is a plain ``1.2.3`` or ``=1.2.3``."""
        if len(self.sets) == 1 and len(self.sets[0]) == 1 and self.sets[0][0].op == "=":
            return self.sets[0][0].version
        return None

    def format(self) -> str:
        """The desugared form, as npm prints it: ``^1.2`` -> ``>=1.2.0 <2.0.0-0``."""
        return " || ".join(" ".join(map(str, s)) if s else "*" for s in self.sets)

    def __str__(self) -> str:
        return self.raw or "*"


def max_satisfying(versions: Iterable[Version], spec: Range | str) -> Version | None:
    """The highest of ``versions`` inside ``spec``, or None when none is."""
    rng = spec if isinstance(spec, Range) else Range.parse(spec)
    best: Version | None = None
    for version in versions:
        if (best is None or version > best) and rng.satisfies(version):
            best = version
    return best


def _test_set(comparators: ComparatorSet, version: Version) -> bool:
    if not all(c.test(version) for c in comparators):
        return False
    if not version.prerelease:
        return True
    # npm's prerelease rule: only a comparator that itself names a prerelease of the same
    # major.minor.patch lets a prerelease in.
    return any(c.version.prerelease and c.version.core == version.core for c in comparators)


def _parse_set(text: str, raw: str) -> ComparatorSet:
    if not text:
        return ()
    words = text.split(" ")  # the range's whitespace is normalised to single spaces
    if len(words) == 3 and words[1] == "-":
        return _simplify(_hyphen(_parse_partial(words[0], raw), _parse_partial(words[2], raw)))
    comparators: list[Comparator] = []
    for token in _tokens(words, raw):
        op = next((o for o in _OPERATORS if token.startswith(o)), "")
        partial = _parse_partial(token[len(op) :], raw, token)
        if op in ("~", "~>"):
            comparators += _tilde(partial)
        elif op == "^":
            comparators += _caret(partial)
        else:
            comparators += _xrange(op, partial)
    return _simplify(comparators)


def _tokens(words: list[str], raw: str) -> list[str]:
    """Whitespace-separated comparators; an operator may stand apart (``>= 1.2``)."""
    tokens: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word in _OPERATORS:
            if i + 1 >= len(words):
                raise _error(raw, f"{word!r} is not followed by a version")
            word += words[i + 1]
            i += 1
        tokens.append(word)
        i += 1
    return tokens


def _parse_partial(text: str, raw: str, token: str | None = None) -> _Partial:
    """``1``, ``1.2``, ``1.x``, ``1.2.*``, ``*``, ``v1.2.3-rc.1+build``: npm's partial
    versions (a prerelease or build only after three parts)."""
    parts = _split_partial(text)
    if parts is None:
        shown = token if token is not None else text
        if shown == "-":
            raise _error(raw, "a hyphen range needs exactly one version on each side")
        raise _error(raw, f"{shown!r} is not a version or comparator")
    numbers, pre = parts
    major, minor, patch = [*numbers, None, None, None][:3]
    # After a wildcard, later parts do not matter (npm: 1.x.3 is 1.x).
    if major is None:
        minor = patch = None
    elif minor is None:
        patch = None
    prerelease: tuple[str | int, ...] = ()
    if pre and patch is not None:
        prerelease = tuple(int(p) if p.isdigit() else p for p in pre.split("."))
    return _Partial(major, minor, patch, prerelease)


def _split_partial(text: str) -> tuple[list[int | None], str] | None:
    body = text[1:] if text.startswith("v") else text
    body, plus, build = body.partition("+")
    main, dash, pre = body.partition("-")
    pieces = main.split(".")
    if len(pieces) > 3 or ((plus or dash) and len(pieces) != 3):
        return None
    numbers: list[int | None] = []
    for piece in pieces:
        if piece in _WILDCARDS:
            numbers.append(None)
        elif piece.isascii() and piece.isdigit() and (piece == "0" or piece[0] != "0"):
            numbers.append(int(piece))
        else:
            return None
    # semver's own grammar checks the prerelease and build identifiers.
    if dash and not Version.is_valid(f"0.0.0-{pre}"):
        return None
    if plus and not Version.is_valid(f"0.0.0+{build}"):
        return None
    return numbers, pre


def _caret(p: _Partial) -> list[Comparator]:
    """``^``: changes that do not modify the left-most non-zero part."""
    if p.major is None:
        return []
    if p.minor is None:
        return [_ge(p.major, 0, 0), _lt(p.major + 1, 0, 0)]
    if p.patch is None:
        upper = (0, p.minor + 1, 0) if p.major == 0 else (p.major + 1, 0, 0)
        return [_ge(p.major, p.minor, 0), _lt(*upper)]
    if p.major != 0:
        upper = (p.major + 1, 0, 0)
    elif p.minor != 0:
        upper = (0, p.minor + 1, 0)
    else:
        upper = (0, 0, p.patch + 1)
    return [Comparator(">=", p.full), _lt(*upper)]


def _tilde(p: _Partial) -> list[Comparator]:
    """``~``: patch-level changes if a minor is given, minor-level changes if not."""
    if p.major is None:
        return []
    if p.minor is None:
        return [_ge(p.major, 0, 0), _lt(p.major + 1, 0, 0)]
    if p.patch is None:
        return [_ge(p.major, p.minor, 0), _lt(p.major, p.minor + 1, 0)]
    return [Comparator(">=", p.full), _lt(p.major, p.minor + 1, 0)]


def _xrange(op: str, p: _Partial) -> list[Comparator]:
    """A plain comparator, or an x-range / partial version with or without an operator."""
    if p.major is not None and p.minor is not None and p.patch is not None:
        return [Comparator(op or "=", p.full)]
    if op == "=":
        op = ""
    if p.major is None:
        # ">*" and "<*" admit nothing; "*", ">=*" and "<=*" admit everything.
        return [Comparator("<", _FLOOR)] if op in (">", "<") else []
    major, minor = p.major, p.minor
    if op == ">":  # >1 is >=2.0.0, >1.2 is >=1.3.0
        return [_ge(major + 1, 0, 0)] if minor is None else [_ge(major, minor + 1, 0)]
    if op == ">=":
        return [_ge(major, minor or 0, 0)]
    if op == "<":
        return [_lt(major, minor or 0, 0)]
    if op == "<=":  # <=1.2 admits every 1.2.x: <1.3.0-0
        return [_lt(major + 1, 0, 0)] if minor is None else [_lt(major, minor + 1, 0)]
    if minor is None:
        return [_ge(major, 0, 0), _lt(major + 1, 0, 0)]
    return [_ge(major, minor, 0), _lt(major, minor + 1, 0)]


def _hyphen(low: _Partial, high: _Partial) -> list[Comparator]:
    """``a - b``: inclusive; a partial low end is filled with zeros, a partial high end
    admits everything that starts with it (``1.2.3 - 2.3`` is ``>=1.2.3 <2.4.0-0``)."""
    comparators: list[Comparator] = []
    if low.major is not None:
        if low.patch is not None:
            comparators.append(Comparator(">=", low.full))
        else:
            comparators.append(_ge(low.major, low.minor or 0, 0))
    if high.major is not None:
        if high.minor is None:
            comparators.append(_lt(high.major + 1, 0, 0))
        elif high.patch is None:
            comparators.append(_lt(high.major, high.minor + 1, 0))
        else:
            comparators.append(Comparator("<=", high.full))
    return comparators


def _ge(major: int, minor: int, patch: int) -> Comparator:
    return Comparator(">=", Version(major, minor, patch))


def _lt(major: int, minor: int, patch: int) -> Comparator:
    """An exclusive upper bound below every prerelease of the bound (npm's ``-0``)."""
    return Comparator("<", Version(major, minor, patch, (0,)))


_NOTHING = Comparator("<", _FLOOR)


def _simplify(comparators: Iterable[Comparator]) -> ComparatorSet:
    """npm's normal form of a set: ``>=0.0.0`` is dropped (it is ``*``), duplicates go, and
    a set holding ``<0.0.0-0`` is just that (it admits nothing)."""
    seen: dict[str, Comparator] = {}
    for c in comparators:
        if c == _NOTHING:
            return (_NOTHING,)
        if c.op == ">=" and c.version == Version(0, 0, 0):
            continue
        seen.setdefault(str(c), c)
    return tuple(seen.values())


def _simplify_union(sets: list[ComparatorSet]) -> tuple[ComparatorSet, ...]:
    """npm's normal form of a union: empty alternatives go unless all are, and ``*``
    absorbs everything else."""
    if len(sets) > 1:
        sets = [s for s in sets if s != (_NOTHING,)] or sets[:1]
        if () in sets:
            return ((),)
    unique: dict[ComparatorSet, None] = dict.fromkeys(sets)
    return tuple(unique)


def _error(raw: str, detail: str) -> VersionSyntaxError:
    return VersionSyntaxError(f"{raw!r} is not a valid version range: {detail}", hint=_HINT)
