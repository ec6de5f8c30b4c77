"""Fuzzing every parser of outside input (issue 11, "Beyond the list").

Parsers: ``bundle.toml``, eval JSONL, manifests, audit log lines, ``promptver.lock``, app
configs (``[tool.promptver]`` in pyproject.toml, ``promptver.toml``), ``.pvb`` archives,
version refs and ranges. Whatever the input, either it is accepted, or there is one error
(a `PromptverError`, with a location when the input is a file); through the CLI: exit 0 or
1, no traceback, and nothing in the store changed when the command refused.

Outside text shown back (issue 24): every command that prints a message, a case id, a
template line or a note, run on Hypothesis text, prints no raw control character and no
traceback, and every Markdown output (diff, changelog, ci-report, the eval report) parsed
by markdown-it-py holds no link, image, mention or HTML that the data could have put there.

Inputs are valid files mutated byte by byte (most of the interesting cases sit near valid
input) and free-form text. The number of examples comes from a Hypothesis profile:
``ci`` (the default, bounded so the whole file adds well under a minute) or ``long``::

    HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest -q tests/test_fuzz.py --hypothesis-show-statistics
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from promptver.app.archive import archive_bytes, read_archive
from promptver.app.lockfile import parse_lock
from promptver.app.pins import parse_config
from promptver.app.pins import parse_spec as parse_pin
from promptver.bundle.check import check_jsonl, check_tree
from promptver.bundle.scaffold import BUNDLE_TOML, scaffold
from promptver.errors import PromptverError
from promptver.evals.execution.bundle import parse_cases
from promptver.evals.source import split_ref
from promptver.semver import Version
from promptver.store.events import parse_event
from promptver.store.manifest import Manifest
from promptver.store.store import Store
from promptver.store.tree import MemoryTree, WorkTree
from promptver.versions.ranges import Range
from tests.conftest import tree_state
from tests.markdown_check import CONTROL, assert_inert
from tests.test_safetext import HOSTILE

_COMMON = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
settings.register_profile("ci", max_examples=20, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("long", max_examples=1000, **_COMMON)  # type: ignore[arg-type]
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
if os.environ.get("HYPOTHESIS_PROFILE") not in (None, "ci", "long"):
    PROFILE = settings.get_profile("ci")
# Pure parsers cost microseconds: they get more examples than commands run through the CLI.
PARSER = settings(PROFILE, max_examples=PROFILE.max_examples * 10)
COMMAND = settings(PROFILE)

# --- inputs ------------------------------------------------------------------------------

NOISE = [
    b"",
    b"\x00",
    b"\xff",
    b"\xef\xbb\xbf",
    b"\xc3",
    b"\n",
    b"\r",
    b'"',
    b"'",
    b"[",
    b"]",
    b"{",
    b"}",
    b"=",
    b",",
    b"\\",
    b"\xe2\x80\xa8",
    b"\xc2\x85",
    b"0",
    b"-",
    b".",
    b"@",
    b"NaN",
    b"1e999",
    b"[[",
    b"#",
    b"\t",
    b" ",
    b"a",
    b"true",
    b"null",
    b"\\u0000",
    b"\\ud800",
    b'"""',
]


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` with a few bytes inserted, deleted or replaced, or cut short."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "cut"]))
        piece = draw(st.sampled_from(NOISE) | st.binary(max_size=3))
        if action == "insert":
            data[at:at] = piece
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif action == "replace":
            data[at : at + len(piece)] = piece
        else:
            del data[at:]
    return bytes(data)


def files(seed: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(mutated(seed), mutated(seed), st.binary(max_size=80))


def texts(seed: str) -> st.SearchStrategy[str]:
    return files(seed.encode()).map(lambda b: b.decode("utf-8", "replace")) | st.text(max_size=60)


def _refused(call: Callable[[], Any], *, located: bool = True) -> PromptverError | None:
    """Run a parser: None when it accepts; its error when it refuses with a PromptverError."""
    try:
        call()
    except PromptverError as exc:
        assert str(exc).strip(), "an error needs a message"
        if located:
            assert exc.location, f"no location in {exc!r}"
        return exc
    return None


# --- bundle.toml and the whole bundle ---------------------------------------------------

BOT_TOML = BUNDLE_TOML.format(name="bot").encode() if "{name}" in BUNDLE_TOML else BUNDLE_TOML.encode()
EVALS = b'{"id": "greeting", "vars": {"question": "Say hello."}, "expected": "hello", "tags": ["smoke"]}\n'


@PARSER
@given(files(BOT_TOML))
@example(b"\xef\xbb\xbf" + BOT_TOML)
@example(BOT_TOML + b"\nx = " + b"[" * 100_000)
@example(BOT_TOML.replace(b'name = "bot"', b'name = "bot"\nextra = ' + b"{a=" * 50_000))
def test_bundle_toml(data: bytes) -> None:
    tree = MemoryTree(
        {
            "bundle.toml": data,
            "prompts/system.j2": b"You are terse.",
            "prompts/answer.j2": b"Q: {{ question }}",
            "evals/golden.jsonl": EVALS,
        }
    )
    spec, problems = check_tree(tree, "bot")
    assert spec is not None or problems
    for problem in problems:
        assert problem.file, problem


# --- eval sets ------------------------------------------------------------------------------


@PARSER
@given(files(EVALS * 2))
@example(b"[" * 5000 + b"\n")
@example(b'{"id": "a", "vars": ' + b"[" * 5000 + b"]" * 5000 + b"}\n")
@example(b'{"id": "a", "vars": {"x": ' + b"[" * 5000 + b"]" * 5000 + b"}}\n")  # msgspec's RecursionError
def test_eval_jsonl(data: bytes) -> None:
    problems = check_jsonl(MemoryTree({"e.jsonl": data}), "e.jsonl", {"answer"})
    assert all(p.file == "e.jsonl" and p.line for p in problems if "more problems" not in p.message)
    error = _refused(lambda: parse_cases(data, "e.jsonl"))
    assert (error is None) == (not problems) or any("template" in p.message for p in problems)


# --- manifests ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A store holding bot 0.1.0 and 0.2.0 (read only by the parser tests)."""
    from promptver.versions.bump import bump

    root = tmp_path_factory.mktemp("fuzz-store")
    store, _ = Store.init(root)
    scaffold(root / "bundles" / "bot", "bot")
    bump(store, "bot", "minor")
    (root / "bundles/bot/prompts/answer.j2").write_text("Question: {{ question }}?\n")
    bump(store, "bot", "minor")
    return store


def test_fixture_store_has_versions(stored: Store) -> None:
    assert [str(m.version) for m in stored.versions("bot")] == ["0.1.0", "0.2.0"]


def _manifest_seed(store: Store) -> bytes:
    return store.manifest_path("bot", "0.1.0").read_bytes()


@PARSER
@given(st.data())
def test_manifest(stored: Store, data: st.DataObject) -> None:
    raw = data.draw(files(_manifest_seed(stored)))
    error = _refused(lambda: Manifest.loads(raw, "versions/0.1.0.json"))
    if error is None:
        assert raw.strip()


def test_manifest_nested_too_deeply_or_out_of_range(stored: Store) -> None:
    assert _refused(lambda: Manifest.loads(b"[" * 100_000, "m.json")) is not None
    seed = _manifest_seed(stored)
    for size in (b"1e999", b"-1", b"true", b"1.5"):  # found by the long profile: 1e999 crashed
        raw = seed.replace(b'"size": ', b'"size": ' + size + b', "x": ', 1)
        assert b"1e999" not in seed and raw != seed
        assert _refused(lambda raw=raw: Manifest.loads(raw, "m.json")) is not None


# --- audit log lines ------------------------------------------------------------------------

EVENT = (
    b'{"actor": "Tess <t@example.com>", "bump": "minor", "event": "bump", "prev": null, "seq": 1, '
    b'"time": "2026-11-26T15:20:00Z", "version": "0.1.0"}'
)


@PARSER
@given(files(EVENT))
@example(b"[1, 2]")
@example(b"null")
@example(b"[" * 100_000)
def test_log_line(line: bytes) -> None:
    _refused(lambda: parse_event(line, "log.jsonl:1"))


def test_log_line_with_half_a_surrogate_pair(project: Path, pv) -> None:
    """Found by the long profile: `audit --json` crashed printing the string it gave."""
    assert pv("bump", "minor", "bot").code == 0
    log = project / ".promptver/bundles/bot/log.jsonl"
    log.write_bytes(log.read_bytes() + b'{"event": "bump", "actor": "\\ud800Tess", "seq": 2}\n')
    for args in (("audit", "bot", "--json"), ("audit", "bot")):
        result = pv(*args)
        assert result.code == 1 and "half of a surrogate pair" in result.err, result


def _nested(
    leaves: st.SearchStrategy[Any], keys: st.SearchStrategy[str], depth: int
) -> st.SearchStrategy[Any]:
    """JSON values at most ``depth`` containers deep (st.recursive's argument check warns
    spuriously now and then, and warnings are errors here)."""
    if depth == 0:
        return leaves
    inner = _nested(leaves, keys, depth - 1)
    return leaves | st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3)


json_values = _nested(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    st.text(max_size=6),
    2,
)
FIELDS = [
    "event",
    "alias",
    "action",
    "from",
    "to",
    "version",
    "approvals",
    "reason",
    "new",
    "decision",
    "note",
    "score",
    "pass_rate",
    "target",
    "run",
    "dataset",
    "message",
    "parent",
    "forced",
    "source",
    "time",
    "actor",
    "digest",
    "seq",
    "prev",
    "manifest_sha256",
]


@st.composite
def events(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["bump", "alias", "review", "import", "eval", "other"]))
    event = {"event": kind}
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=8, unique=True)):
        event[name] = draw(json_values)
    return json.dumps(event).encode()


@COMMAND
@given(st.one_of(events(), files(EVENT)))
def test_log_line_through_verify_and_audit(project: Path, pv, line: bytes) -> None:
    log = project / ".promptver/bundles/bot/log.jsonl"
    if not log.exists():
        assert pv("bump", "minor", "bot").code == 0
    original = log.read_bytes().splitlines(keepends=True)[:1]
    log.write_bytes(b"".join(original) + line.replace(b"\n", b" ") + b"\n")
    before = tree_state(project / ".promptver")
    for args in (
        ("verify",),
        ("audit", "bot"),
        ("audit", "bot", "--json"),
        ("log", "bot"),
        ("show", "bot@0.1.0"),
    ):
        result = pv(*args)
        assert result.code in (0, 1), (args, result)
        assert "Traceback" not in result.err
    result = pv("approve", "bot@0.1.0", "--by", "Rita Reviewer <rita@example.com>")
    assert result.code in (0, 1) and "Traceback" not in result.err
    if result.code == 1:
        assert tree_state(project / ".promptver") == before
    log.write_bytes(b"".join(original))


@st.composite
def chained_moves_and_reviews(draw: st.DrawFn) -> dict[str, Any]:
    """A review or alias move whose fields hold any JSON (a list where a digest goes, a
    dict for an alias...), to be written with its chain right: every check then reads it."""
    kind = draw(st.sampled_from(["review", "alias"]))
    event: dict[str, Any] = {
        "event": kind,
        "actor": "Mallory <m@example.com>",
        "time": "2026-12-06T10:00:00Z",
    }
    shaped = {
        "new": st.fixed_dictionaries({"version": json_values, "digest": json_values}) | json_values,
        "old": json_values,
        "to_digest": json_values,
        "from_digest": json_values,
        "approval_ids": st.lists(json_values, max_size=3) | json_values,
    }
    for name in draw(st.lists(st.sampled_from([*FIELDS, *shaped]), max_size=8, unique=True)):
        if name not in ("event", "seq", "prev"):
            event[name] = draw(shaped.get(name, json_values))
    return event


@COMMAND
@given(chained_moves_and_reviews())
@example(
    {
        "event": "review",
        "decision": "approved",
        "actor": "R <r@x>",
        "new": {"version": "0.1.0", "digest": [1]},
    }
)
@example({"event": "alias", "action": "promote", "alias": "production", "to": "0.1.0", "to_digest": [1]})
@example({"event": "alias", "action": "promote", "alias": "production", "to": "0.1.0", "approval_ids": [[1]]})
@example({"event": "other", "alias": [1]})  # an unhashable alias in the checkpointed prefix
def test_a_chained_hostile_event_through_the_log_commands(project: Path, pv, event: dict[str, Any]) -> None:
    """Its hash chain right, a hostile review or move reaches the moves' re-check, the
    decisions and the audit trail: each command answers, none with a traceback."""
    import hashlib

    log = project / ".promptver/bundles/bot/log.jsonl"
    if not log.exists():
        assert pv("bump", "minor", "bot").code == 0
    original = log.read_bytes().splitlines(keepends=True)[:1]
    line = json.dumps({**event, "seq": 2, "prev": hashlib.sha256(original[0].rstrip(b"\n")).hexdigest()})
    log.write_bytes(b"".join(original) + line.encode() + b"\n")
    for args in (
        ("verify",),
        ("verify", "--full"),
        ("audit", "bot"),
        ("audit", "bot", "--alias", "production"),
        ("show", "bot@0.1.0"),
        ("alias", "ls", "bot"),
        ("promote", "bot@0.1.0", "--to", "production", "--dry-run"),
        ("approve", "bot@0.1.0", "--by", "Rita Reviewer <rita@example.com>"),
    ):
        result = pv(*args)
        assert result.code in (0, 1), (args, result)
        assert "Traceback" not in result.err, (args, result.err)
    for args in (("alias", "set", "bot", "staging", "0.1.0"), ("verify",), ("show", "bot@staging")):
        result = pv(*args)  # a move after it: re-checked with it in the checkpointed prefix
        assert result.code in (0, 1) and "Traceback" not in result.err, (args, result.err)
    shutil.rmtree(project / ".promptver/cache/checkpoints", ignore_errors=True)
    log.write_bytes(b"".join(original))


# --- lock files and app configs -------------------------------------------------------------

LOCK = b"""# generated by promptver
lock-version = 1

[bundles.bot]
spec = "^0.1"
version = "0.2.0"
digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
alias = "production"
"""


@PARSER
@given(files(LOCK))
@example(b"lock-version = 1\nbundles = " + b"[" * 100_000)
def test_lock_file(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    _refused(lambda: parse_lock(text, Path("promptver.lock")))


PYPROJECT = b"""[project]
name = "app"

[tool.promptver]
store = "../prompts/.promptver"

[tool.promptver.bundles]
bot = "^0.1"
support-bot = "production"
triage = "~1.2.3 || >=2.0.0-rc.1 <3"
"""
PROMPTVER_TOML = b"""store = ".promptver"

[bundles]
bot = "1.x"
other = ">=1.0.0 <2.0.0"
"""


CONFIGS = st.one_of(
    files(PYPROJECT).map(lambda b: ("pyproject.toml", b)),
    files(PROMPTVER_TOML).map(lambda b: ("promptver.toml", b)),
)


@PARSER
@given(CONFIGS)
@example(("promptver.toml", b"bundles = " + b"[" * 100_000))
@example(("pyproject.toml", b"[tool.promptver]\nbundles = " + b"{a=" * 50_000))
@example(("promptver.toml", b'store = "\\u0000.promptver"\n'))  # found by the long profile
def test_app_config(config: tuple[str, bytes]) -> None:
    name, raw = config
    text = raw.decode("utf-8", "replace")
    _refused(lambda: parse_config(text, Path("/app") / name))


# --- version refs and ranges ---------------------------------------------------------------

REFS = [
    "1.2.3",
    "1.2.3-rc.1+build.5",
    "^1.2",
    "~1.2.3",
    "1.x",
    "1.2 - 2.0",
    ">=1 <2 || 3",
    "latest",
    "production",
    "*",
    "bot@0.1.0",
    "bot@latest",
    "bot@^0.1",
]


@PARSER
@given(st.one_of(st.sampled_from(REFS).flatmap(lambda r: texts(r)), st.text(max_size=30)))
def test_versions_ranges_and_refs(text: str) -> None:
    _refused(lambda: Version.parse(text), located=False)
    _refused(lambda: Range.parse(text), located=False)
    _refused(lambda: parse_pin(text, "promptver.toml:3"))
    _refused(lambda: split_ref(text), located=False)


@PARSER
@given(st.one_of(st.sampled_from(REFS).flatmap(lambda r: texts(r)), st.text(max_size=30)))
def test_store_resolve(stored: Store, text: str) -> None:
    _refused(lambda: stored.resolve("bot", text), located=False)


@COMMAND
@given(st.one_of(st.sampled_from(REFS).flatmap(lambda r: texts(r)), st.text(max_size=20)))
def test_refs_through_the_cli(project: Path, pv, text: str) -> None:
    if not (project / ".promptver/bundles/bot/versions").exists():
        assert pv("bump", "minor", "bot").code == 0
    if text.startswith("-") or "\x00" in text:
        return  # an option, or not passable as an argument at all
    before = tree_state(project / ".promptver")
    for args in (
        ("show", f"bot@{text}"),
        ("log", text),
        ("diff", f"bot@{text}"),
        ("checkout", f"bot@{text}"),
    ):
        result = pv(*args)
        assert result.code in (0, 1, 2), (args, result)  # 2: click's usage errors
        assert "Traceback" not in result.err
    assert tree_state(project / ".promptver") == before


# --- .pvb archives --------------------------------------------------------------------------


def _tar_gz(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@st.composite
def archives(draw: st.DrawFn, valid: bytes, manifest: bytes, member: str) -> bytes:
    kind = draw(st.sampled_from(["mutated", "members", "manifest"]))
    if kind == "mutated":
        return draw(mutated(valid))
    if kind == "manifest":  # a well-formed archive around a fuzzed manifest
        return _tar_gz([("manifest.json", draw(files(manifest))), (member, b"x")])
    names = st.sampled_from(
        [
            "manifest.json",
            member,
            "files/../x",
            "/etc/x",
            "files/a//b",
            "files/./a",
            "files/bundle.toml",
            "other",
        ]
    ) | st.text(max_size=12)
    return _tar_gz(draw(st.lists(st.tuples(names, st.binary(max_size=20)), max_size=4)))


@COMMAND
@given(st.data())
def test_archive(stored: Store, tmp_path: Path, data: st.DataObject) -> None:
    manifest = stored.manifest("bot", "0.1.0")
    valid = archive_bytes(stored, manifest)
    member = "files/" + manifest.files[0].path
    raw = data.draw(archives(valid, manifest.dumps(), member))
    path = tmp_path / "fuzz.pvb"
    path.write_bytes(raw)
    _refused(lambda: read_archive(path))


@COMMAND
@given(st.data())
def test_archive_import_through_the_cli(project: Path, pv, data: st.DataObject) -> None:
    store = Store.find(project)
    if not (project / ".promptver/bundles/bot/versions").exists():
        assert pv("bump", "minor", "bot").code == 0
    manifest = store.manifest("bot", "0.1.0")
    valid = archive_bytes(store, manifest)
    raw = data.draw(archives(valid, manifest.dumps(), "files/" + manifest.files[0].path))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "in.pvb"
        path.write_bytes(raw)
        before = tree_state(project / ".promptver")
        for args in (("show", str(path)), ("import", str(path))):
            result = pv(*args)
            assert result.code in (0, 1), (args, result)
            assert "Traceback" not in result.err
            if result.code == 1:
                assert tree_state(project / ".promptver") == before, args


# --- bundle files through check and bump ------------------------------------------------------


@COMMAND
@given(st.sampled_from(["bundle.toml", "evals/golden.jsonl", "prompts/answer.j2"]), st.data())
def test_bundle_files_through_check_and_bump(project: Path, pv, name: str, data: st.DataObject) -> None:
    path = project / "bundles/bot" / name
    original = path.read_bytes()
    path.write_bytes(data.draw(files(original)))
    try:
        before = tree_state(project / ".promptver")
        for args in (("check", "bot"), ("status", "bot"), ("bump", "patch", "bot")):
            result = pv(*args)
            assert result.code in (0, 1), (args, result)
            assert "Traceback" not in result.err
        if result.code == 1:
            assert tree_state(project / ".promptver") == before
        assert (
            not any((project / ".promptver/tmp").iterdir()) if (project / ".promptver/tmp").exists() else True
        )
    finally:
        path.write_bytes(original)


@pytest.mark.parametrize(
    "source",
    ["{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "{% if x %}" * 3000 + "{% endif %}" * 3000],
)
def test_template_nested_too_deeply_is_a_problem(source: str) -> None:
    tree = MemoryTree(
        {
            "bundle.toml": BOT_TOML,
            "prompts/system.j2": b"S",
            "prompts/answer.j2": source.encode(),
            "evals/golden.jsonl": EVALS,
            "judges/judge.md": b"Grade it.",  # the scaffolded bundle.toml names its judge prompt
        }
    )
    problems = check_tree(tree, "bot")[1]
    assert [p.file for p in problems] == ["prompts/answer.j2"] and "nested too deeply" in problems[0].message


def test_worktree_of_the_fixture_is_valid(project: Path) -> None:
    assert check_tree(WorkTree(project / "bundles/bot"), "bot")[1] == []


# --- outside text shown by commands and in Markdown (issue 24, items 2 and 3) ---------------

# Text with the characters that matter here, plus any text at all.
HOSTILE_TEXT = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=40),
    st.lists(
        st.sampled_from(
            [
                "`",
                "``",
                "@acme/team",
                "![i](https://e.example/i.png)",
                "[l](https://e.example)",
                "<b>",
                "</details>",
                "|",
                "\n",
                "\x1b[2J",
                "\x1b]8;;https://e.example\x07",
                "\x9b",
                "\u202e",
                "[/]",
                "[link=https://e.example]",
                "&lt;",
                "~~~",
                "```",
                " ",
                "x",
            ]
        ),
        max_size=8,
    ).map("".join),
)


@COMMAND
@given(HOSTILE_TEXT)
def test_commands_show_outside_text_escaped(project: Path, pv, text: str) -> None:
    """A commit message, a case id, a template line, a reviewer's note, all ``text``: every
    command that shows them prints no raw control character and no traceback, and every
    Markdown output stays inert (tests/markdown_check.py)."""
    bundle = project / "bundles/bot"
    first = json.loads(EVALS.decode().splitlines()[0])
    count = (
        len(list((project / ".promptver/bundles/bot/versions").glob("*.json")))
        if (project / ".promptver/bundles/bot/versions").exists()
        else 0
    )
    case = {**first, "id": f"{text}{count}"}
    (bundle / "evals/golden.jsonl").write_text(EVALS.decode() + json.dumps(case) + "\n")
    (bundle / "prompts/answer.j2").write_text(f"{text}\n{{{{ question }}}}\n")
    bumped = pv("bump", "patch", "bot", "--force", "-m", text or "empty")
    outputs = [bumped]
    if bumped.code == 0:
        outputs.append(pv("approve", "bot@latest", "--by", "Rev <r@example.com>", "--note", text))
    commands = [
        ("log", "bot"),
        ("show", "bot@latest"),
        ("audit", "bot"),
        ("status", "bot"),
        ("diff", "bot@0.1.0", "bot"),
        ("changelog", "bot"),
        ("diff", "bot@0.1.0", "bot@latest", "--format", "markdown"),
        ("ci-report", "bot@latest", "bot@0.1.0"),
        ("log", "bot", "--json"),
    ]
    if count == 0:
        commands = [c for c in commands if "bot@0.1.0" not in c]
    for args in commands:
        result = pv(*args)
        outputs.append(result)
        assert result.code in (0, 1), (args, result)
        if result.code == 0 and ("markdown" in args or args[0] in ("changelog", "ci-report")):
            assert_inert(result.out)
    for result in outputs:
        assert "Traceback" not in result.err, result
        assert not CONTROL.search(result.out + result.err), result


@PARSER
@given(HOSTILE_TEXT, HOSTILE_TEXT)
def test_eval_reports_stay_inert(text: str, other: str) -> None:
    """The eval report in Markdown and JUnit, with ids, reasons, outputs and names from data."""
    from xml.etree import ElementTree as ET

    from promptver.evals.analysis.report import junit, markdown

    meta = {
        "id": text,
        "bundle": other,
        "version": text,
        "dataset": {"name": other},
        "target": text,
        "digest": other,
        "status": text,
        "summary": {"cases": 2},
    }
    records = [
        {
            "id": text,
            "pass": False,
            "asserts": [{"type": "equals", "pass": False, "reason": other}],
            "output": text,
        },
        {"id": other + "2", "pass": False, "error": text, "asserts": []},
    ]
    assert_inert(markdown(meta, records, gate=[text]))
    xml = junit(meta, records, gate=[other])
    assert not CONTROL.search(xml)
    ET.fromstring(xml.split("\n", 1)[1].encode("utf-8", "surrogatepass"))
