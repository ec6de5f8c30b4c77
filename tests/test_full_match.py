"""Names, versions and refs are validated against the whole string (issue 24, item 7).

In Python's ``re``, ``$`` also matches just before a final newline, so ``^name$`` with
``.match`` accepts ``production\\n``: an alias that prints as ``production`` and is not it.
Every pattern ends in ``\\Z`` (or is used with ``fullmatch``); a scan of the package keeps
it that way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from promptver.errors import ConfigError
from promptver.governance.aliases import check_alias, is_alias_ref
from promptver.remote.config import REMOTE_NAME_RE
from promptver.semver import Version
from promptver.store.store import Store, check_name
from promptver.versions.bump import bump

PACKAGE = Path(__file__).resolve().parent.parent / "promptver"
RE_FUNCTIONS = {"compile", "match", "search", "fullmatch", "sub", "subn", "split", "findall", "finditer"}


def _pattern_end(node: ast.expr) -> str | None:
    """The text a pattern argument ends with, when that is a literal (``a + "...$"`` too)."""
    while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        node = node.right
    if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
        value = node.value
        return value.decode("latin-1") if isinstance(value, bytes) else value
    if isinstance(node, ast.JoinedStr) and node.values:
        return _pattern_end(node.values[-1])
    return None


def _multiline(call: ast.Call) -> bool:
    return "MULTILINE" in ast.unparse(call) or "re.M" in ast.unparse(call)


def test_no_pattern_in_the_package_ends_in_a_dollar() -> None:
    """``$`` at the end of a pattern (``re.compile``, ``re.match``, ...) is a bug waiting
    for a trailing newline; only a MULTILINE pattern means a line end by it."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not (isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Attribute)):
                continue
            if not (isinstance(node.func.value, ast.Name) and node.func.value.id == "re"):
                continue
            if node.func.attr not in RE_FUNCTIONS:
                continue
            end = _pattern_end(node.args[0])
            if end is not None and end.endswith("$") and not end.endswith("\\$") and not _multiline(node):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert found == [], "patterns ending in $ (use \\Z or fullmatch): " + ", ".join(found)


def test_the_scan_finds_a_dollar_pattern(tmp_path: Path) -> None:
    """The scan itself works: it sees the shapes the package used before."""
    tree = ast.parse('import re\nNAME = re.compile(r"^[a-z]+$")\nre.match("^(" + "|".join(x) + r")$", y)\n')
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and n.args]
    ends = [_pattern_end(c.args[0]) for c in calls if isinstance(c.func, ast.Attribute)]
    assert [e for e in ends if e and e.endswith("$")] == ["^[a-z]+$", ")$"]


@pytest.mark.parametrize("text", ["production\n", "bot\n", "0.2.0\n"])
def test_a_trailing_newline_is_not_a_name_or_version(text: str) -> None:
    with pytest.raises(ConfigError):
        check_alias(text)
    assert not is_alias_ref(text)
    if text != "production\n":
        with pytest.raises(ConfigError):
            check_name(text)
    assert not Version.is_valid(text) and not Version.is_valid("1.2.3\n")
    assert REMOTE_NAME_RE.match("origin\n") is None


def test_alias_set_refuses_a_name_with_a_newline(store: Store, project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    bump(store, "bot", "minor")
    result = pv("alias", "set", "bot", "production\n", "0.1.0")
    assert result.code != 0 and "is not a valid alias name" in result.err
    assert "Traceback" not in result.err
    assert pv("alias", "ls", "bot", "--json").out.count("production") == 0


def test_a_version_file_with_a_newline_in_its_name_is_not_a_version(store: Store) -> None:
    first = bump(store, "bot", "minor").manifest
    folder = store.manifest_path("bot", first.version).parent
    (folder / f"{first.version}\n.json").write_bytes(store.manifest_path("bot", first.version).read_bytes())
    assert [str(v) for v in store.version_names("bot")] == [first.version]
