"""App config: reading pins, and pin/unpin edits that leave every other byte alone."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from promptver.app.pins import (
    config_to_edit,
    find_config,
    load_config,
    remove_pin,
    set_pin,
)
from promptver.errors import ConfigError, NotFoundError, VersionSyntaxError
from promptver.semver import Version

FIXTURE = Path(__file__).parent / "fixtures" / "pins" / "pyproject.toml"


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """A copy of the realistic, heavily commented pyproject.toml in its own project."""
    target = tmp_path / "app" / "pyproject.toml"
    target.parent.mkdir()
    shutil.copyfile(FIXTURE, target)
    return target


def original() -> str:
    return FIXTURE.read_bytes().decode("utf-8")


def read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


# ---- reading ---------------------------------------------------------------------------


def test_reads_pins_and_store(app: Path) -> None:
    config = load_config(app)
    assert config.path == app.resolve()
    assert config.is_pyproject
    assert config.store == (app.parent.parent / "prompts" / ".promptver").resolve()
    assert list(config.pins) == ["support-bot", "ticket-triage", "legacy.faq"]
    bot = config.pins["support-bot"]
    assert bot.spec == "^1.2"
    assert bot.range.satisfies(Version(1, 9, 0))
    assert bot.location == f"{app.resolve()}:43:1"
    assert config.pins["ticket-triage"].range.exact == Version(2, 0, 1)
    assert config.lock_path == app.resolve().parent / "promptver.lock"


def test_reads_promptver_toml(tmp_path: Path) -> None:
    path = tmp_path / "promptver.toml"
    path.write_text('bundles = { a = "1.x" }\n', encoding="utf-8")
    config = load_config(path)
    assert config.store is None
    assert config.pins["a"].spec == "1.x"
    assert not config.is_pyproject


def test_pyproject_without_section_has_no_pins(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "x"\n', encoding="utf-8")
    assert load_config(path).pins == {}


def test_find_walks_up(app: Path) -> None:
    deep = app.parent / "src" / "pkg"
    deep.mkdir(parents=True)
    assert find_config(deep) == app.resolve()
    assert load_config(None, start=deep).path == app.resolve()
    assert load_config(app.parent).path == app.resolve()  # a folder: search from there


def test_promptver_toml_wins_in_the_same_folder(app: Path) -> None:
    own = app.parent / "promptver.toml"
    own.write_text("[bundles]\n", encoding="utf-8")
    assert find_config(app.parent) == own.resolve()


def test_pyproject_without_section_is_skipped(app: Path) -> None:
    inner = app.parent / "service"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[project]\nname = "svc"\n', encoding="utf-8")
    assert find_config(inner) == app.resolve()


def test_odd_pyproject_is_not_an_app_config(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('tool = "promptver"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="no promptver app config"):
        find_config(tmp_path)


def test_no_config_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        find_config(tmp_path)
    assert str(tmp_path.resolve()) in info.value.message
    assert "promptver.toml" in info.value.message and "[tool.promptver]" in info.value.message
    assert info.value.hint and "promptver pin" in info.value.hint


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("body", "error", "message", "line"),
    [
        ('[tool.promptver.bundles]\nbot = "^1.2.3.4"\n', VersionSyntaxError, "not a valid", 2),
        ('[tool.promptver.bundles]\nbot = "latest"\n', VersionSyntaxError, "not a valid", 2),
        ("[tool.promptver.bundles]\nbot = 1\n", ConfigError, "must be a version range", 2),
        ('[tool.promptver]\nstores = "x"\n', ConfigError, "did you mean 'store'", 2),
        ("[tool.promptver]\nstore = 3\n", ConfigError, "must be a path", 2),
        ('[tool.promptver]\nbundles = "x"\n', ConfigError, "must be a table", 2),
        ('[tool.promptver.bundles]\n"bad name" = "1"\n', ConfigError, "not a bundle name", 2),
        ("[tool.promptver.bundles\nbot = 1\n", ConfigError, "not valid TOML", 1),
    ],
)
def test_bad_config(tmp_path: Path, body: str, error: type[Exception], message: str, line: int) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(error) as info:
        load_config(path)
    assert message in str(info.value)
    assert f"line {line}" in str(info.value) or f":{line}:" in str(info.value)


# ---- editing: the whole file is compared -----------------------------------------------


def test_change_touches_only_the_pinned_value(app: Path) -> None:
    change = set_pin(app, "support-bot", "^1.3")
    assert (change.old, change.new, change.created) == ("^1.2", "^1.3", False)
    expected = original().replace(
        'support-bot   = "^1.2"     # reviewed by ana',
        'support-bot   = "^1.3"     # reviewed by ana',
    )
    assert read(app) == expected


def test_change_keeps_literal_quotes(app: Path) -> None:
    set_pin(app, "ticket-triage", "2.0.2")
    assert read(app) == original().replace("ticket-triage = '2.0.1'", "ticket-triage = '2.0.2'")


def test_change_of_quoted_key(app: Path) -> None:
    set_pin(app, "legacy.faq", ">=0.4 <0.6")
    expected = original().replace('"legacy.faq"  = "~0.4"', '"legacy.faq"  = ">=0.4 <0.6"')
    assert read(app) == expected


def test_add_goes_after_the_last_pin(app: Path) -> None:
    change = set_pin(app, "new-bot", "~1.0")
    assert change.old is None
    expected = original().replace('"legacy.faq"  = "~0.4"\n', '"legacy.faq"  = "~0.4"\nnew-bot = "~1.0"\n')
    assert read(app) == expected
    assert load_config(app).pins["new-bot"].spec == "~1.0"


def test_unpin_removes_only_that_line(app: Path) -> None:
    change = remove_pin(app, "ticket-triage")
    assert (change.old, change.new) == ("2.0.1", None)
    assert read(app) == original().replace("ticket-triage = '2.0.1'\n", "")


def test_pin_then_back_is_byte_identical(app: Path) -> None:
    set_pin(app, "support-bot", "^2")
    set_pin(app, "support-bot", "^1.2")
    set_pin(app, "extra", "1.0.0")
    remove_pin(app, "extra")
    assert read(app) == original()


def test_same_pin_does_not_rewrite(app: Path) -> None:
    before = app.stat().st_mtime_ns
    os.utime(app, ns=(before - 10**9, before - 10**9))
    set_pin(app, "support-bot", "^1.2")
    assert app.stat().st_mtime_ns == before - 10**9
    assert read(app) == original()


def test_crlf_file_keeps_its_line_endings(app: Path) -> None:
    crlf = original().replace("\n", "\r\n")
    app.write_bytes(crlf.encode("utf-8"))
    set_pin(app, "support-bot", "^1.3")
    expected = crlf.replace('"^1.2"     # reviewed', '"^1.3"     # reviewed')
    assert app.read_bytes().decode("utf-8") == expected


def test_file_mode_is_kept(app: Path) -> None:
    app.chmod(0o640)
    set_pin(app, "support-bot", "^1.3")
    assert stat.S_IMODE(app.stat().st_mode) == 0o640


def test_pyproject_without_section_gets_one_table_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    body = '# top\n[project]\nname = "x"  # name\n\n[tool.ruff]\nline-length = 100\n'
    path.write_text(body, encoding="utf-8")
    set_pin(path, "support-bot", "^1.2")
    text = read(path)
    assert text.startswith(body)
    assert text[len(body) :] == '\n[tool.promptver.bundles]\nsupport-bot = "^1.2"\n'
    assert load_config(path).pins["support-bot"].spec == "^1.2"


def test_pyproject_without_tool_table(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    body = '[project]\nname = "x"\n'
    path.write_text(body, encoding="utf-8")
    set_pin(path, "bot", "1.x")
    assert read(path) == body + '\n[tool.promptver.bundles]\nbot = "1.x"\n'


def test_section_with_store_only(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    body = '[tool.promptver]\nstore = "s"  # where\n'
    path.write_text(body, encoding="utf-8")
    set_pin(path, "bot", "^1")
    assert read(path) == body + '\n[tool.promptver.bundles]\nbot = "^1"\n'
    assert load_config(path).pins["bot"].spec == "^1"


def test_inline_bundles_table(tmp_path: Path) -> None:
    path = tmp_path / "promptver.toml"
    path.write_text('# mine\nbundles = { a = "1" }\n', encoding="utf-8")
    set_pin(path, "a", "2")
    assert read(path) == '# mine\nbundles = { a = "2" }\n'


def test_new_promptver_toml(tmp_path: Path) -> None:
    path = config_to_edit(tmp_path)
    assert path == tmp_path.resolve() / "promptver.toml"
    change = set_pin(path, "bot", "^1.0")
    assert change.created
    assert read(path) == '[bundles]\nbot = "^1.0"\n'
    assert find_config(tmp_path) == path


def test_config_to_edit_prefers_the_nearest_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    sub = tmp_path / "src"
    sub.mkdir()
    assert config_to_edit(sub) == tmp_path.resolve() / "pyproject.toml"


def test_invalid_spec_leaves_the_file_alone(app: Path) -> None:
    with pytest.raises(VersionSyntaxError):
        set_pin(app, "support-bot", "^1.2.x.y")
    with pytest.raises(ConfigError, match="not a bundle name"):
        set_pin(app, "../evil", "1.0.0")
    assert read(app) == original()


def test_unpin_unknown(app: Path) -> None:
    with pytest.raises(NotFoundError) as info:
        remove_pin(app, "suport-bot")
    assert info.value.hint == "did you mean 'support-bot'?"
    assert read(app) == original()


def test_edit_refuses_a_broken_file(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.promptver.bundles]\nbot = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        set_pin(path, "bot", "1.0.0")
    assert read(path) == "[tool.promptver.bundles]\nbot = \n"


@pytest.mark.parametrize("existing", [False, True])
def test_crlf_pyproject_gets_crlf_for_what_pin_adds(tmp_path: Path, existing: bool) -> None:
    """A new table (or a new pin in an existing one) appended to a CRLF file uses CRLF too."""
    path = tmp_path / "pyproject.toml"
    body = '[project]\r\nname = "x"\r\n'
    if existing:
        body += '\r\n[tool.promptver.bundles]\r\nold = "^1.0"\r\n'
    path.write_bytes(body.encode("utf-8"))
    set_pin(path, "bot", "1.x")
    data = path.read_bytes()
    assert data.startswith(body.encode("utf-8"))
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert load_config(path).pins["bot"].spec == "1.x"
    remove_pin(path, "bot")
    if existing:
        assert path.read_bytes() == body.encode("utf-8")
