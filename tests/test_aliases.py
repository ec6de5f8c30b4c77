"""Aliases: set, remove, list, resolve everywhere, rollback, and verify of their pointers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptver.governance.aliases import aliases_path, resolve_ref
from promptver.store.store import Store
from tests.alias_support import events, new_version
from tests.conftest import tree_state


@pytest.fixture
def three(project: Path, store: Store) -> list[str]:
    """bot 0.1.0, 0.2.0, 0.3.0."""
    return [new_version(store, project).version for _ in range(3)]


def test_set_list_resolve_and_remove(project: Path, store: Store, pv, three: list[str]) -> None:
    result = pv("alias", "set", "bot", "staging", "0.2.0", "-m", "QA round 1")
    assert result.code == 0, result.err
    assert (
        result.out.strip() == "bot staging: (none) -> 0.2.0 (set by Tess Tester <tess@example.com>, event 4)"
    )
    pointer = json.loads(aliases_path(store, "bot").read_text())["staging"]
    assert pointer["version"] == "0.2.0" and pointer["seq"] == 4
    assert pointer["digest"] == store.manifest("bot", "0.2.0").digest
    move = events(store, "alias")[-1]
    assert {k: move[k] for k in ("action", "alias", "from", "to", "actor", "reason")} == {
        "action": "set",
        "alias": "staging",
        "from": None,
        "to": "0.2.0",
        "actor": "Tess Tester <tess@example.com>",
        "reason": "QA round 1",
    }
    # an alias works wherever a version reference does
    shown = json.loads(pv("show", "bot@staging", "--json").out)
    assert shown["version"] == "0.2.0" and shown["deployment"]["moved"]["reason"] == "QA round 1"
    assert pv("checkout", "bot@staging", "--to", "out").code == 0
    assert (project / "out/bundle.toml").is_file()
    manifest, via = resolve_ref(store, "bot", "staging")
    assert (manifest.version, via) == ("0.2.0", "staging")
    assert resolve_ref(store, "bot", "0.2.0")[1] is None and resolve_ref(store, "bot", "latest")[1] is None
    # set from another alias, then list
    assert pv("alias", "set", "bot", "canary", "staging").code == 0
    listed = json.loads(pv("alias", "ls", "bot", "--json").out)
    assert [(r["alias"], r["version"], r["protected"]) for r in listed] == [
        ("canary", "0.2.0", False),
        ("staging", "0.2.0", False),
    ]
    assert "staging" in pv("alias", "ls").out
    result = pv("alias", "rm", "bot", "canary", "--json")
    assert result.code == 0 and json.loads(result.out)["to"] is None
    assert "canary" not in json.loads(aliases_path(store, "bot").read_text())
    result = pv("show", "bot@canary")
    assert result.code == 1 and "has no version or alias 'canary'" in result.err
    assert pv("verify").code == 0


@pytest.mark.parametrize(
    "alias", ["Production", "latest", "1.0.0", "prod env", "_x", "x" * 64, "prød", "a/b"]
)
def test_illegal_alias_names_change_nothing(
    project: Path, store: Store, pv, three: list[str], alias: str
) -> None:
    before = tree_state(store.root)
    result = pv("alias", "set", "bot", alias, "0.1.0")
    assert result.code == 1 and "is not a valid alias name" in result.err and "Traceback" not in result.err
    assert "lowercase letters" in result.err
    for args in (
        ("promote", "bot@0.1.0", "--to", alias),
        ("rollback", "bot", alias),
        ("alias", "rm", "bot", alias),
    ):
        result = pv(*args)
        assert result.code == 1 and "is not a valid alias name" in result.err
    assert tree_state(store.root) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("alias", "set", "bot", "staging", "9.9.9"), "bot has no version '9.9.9'"),
        (("alias", "set", "bto", "staging", "0.1.0"), "did you mean 'bot'?"),
        (("promote", "bot@9.9.9", "--to", "staging"), "bot has no version '9.9.9'"),
        (("alias", "set", "bot", "staging", "0.3.0"), "staging already points at bot@0.3.0"),
        (("alias", "rm", "bot", "prod"), "bot has no alias 'prod'"),
        (("rollback", "bot", "prod"), "bot has no alias 'prod'"),
        (("rollback", "bot", "staging"), "has no earlier version to roll back to"),
        (("rollback", "bot", "staging", "--to", "0.1.0"), "has no earlier version"),
        (("approve", "bot@9.9.9"), "bot has no version '9.9.9'"),
        (("approve", "bot@0.1.0", "--by", " "), "--by is empty"),
    ],
)
def test_bad_moves_exit_1_and_change_nothing(
    project: Path, store: Store, pv, three: list[str], args: tuple[str, ...], message: str
) -> None:
    assert pv("alias", "set", "bot", "staging", "0.3.0").code == 0
    before = tree_state(store.root)
    result = pv(*args)
    assert result.code == 1 and message in result.err, result.err
    assert result.err.startswith("Error: ") and "Traceback" not in result.err
    assert tree_state(store.root) == before


def test_rollback_walks_back_through_the_history(project: Path, store: Store, pv, three: list[str]) -> None:
    for version in ("0.1.0", "0.2.0", "0.3.0"):
        assert pv("alias", "set", "bot", "staging", version).code == 0
    result = pv("rollback", "bot", "staging", "-m", "0.3.0 breaks refunds")
    assert result.code == 0 and "0.3.0 -> 0.2.0 (rollback" in result.out
    assert store.resolve("bot", "staging").version == "0.2.0"
    assert pv("rollback", "bot", "staging").code == 0  # back again, not forth
    assert store.resolve("bot", "staging").version == "0.1.0"
    result = pv("rollback", "bot", "staging")
    assert result.code == 1 and "only held 0.1.0" in result.err
    # --to an earlier version skips the ones between; --to a version never held is refused
    for version in ("0.2.0", "0.3.0"):
        assert pv("alias", "set", "bot", "staging", version).code == 0
    result = pv("rollback", "bot", "staging", "--to", "0.1.0")
    assert result.code == 0 and store.resolve("bot", "staging").version == "0.1.0"
    assert pv("alias", "set", "bot", "staging", "0.2.0").code == 0
    result = pv("rollback", "bot", "staging", "--to", "0.3.0")
    assert result.code == 1 and "did not hold 0.3.0 before" in result.err and "promote" in result.err
    # a removal can be rolled back too
    assert pv("alias", "rm", "bot", "staging").code == 0
    assert pv("rollback", "bot", "staging").code == 0
    assert store.resolve("bot", "staging").version == "0.2.0"
    moves = [(e["action"], e["from"], e["to"]) for e in events(store, "alias")]
    assert moves[-2:] == [("remove", "0.2.0", None), ("rollback", None, "0.2.0")]
    assert pv("verify").code == 0


def test_verify_checks_pointers_against_the_last_move(
    project: Path, store: Store, pv, three: list[str]
) -> None:
    assert pv("alias", "set", "bot", "staging", "0.1.0").code == 0
    assert pv("alias", "set", "bot", "staging", "0.2.0").code == 0
    path = aliases_path(store, "bot")
    good = path.read_bytes()
    data = json.loads(good)
    data["staging"]["version"] = "0.3.0"
    data["prod"] = {"version": "0.1.0"}
    path.write_text(json.dumps(data))
    result = pv("verify")
    assert result.code == 1
    assert "alias staging points at 0.3.0 but the last move (event 5) set it to 0.2.0" in result.out
    assert "alias prod has no move in the audit log" in result.out
    # an interrupted move: event written, pointer not; the next move repairs the file
    path.write_bytes(good)
    store.append_event(
        "bot",
        {
            "event": "alias",
            "action": "set",
            "alias": "staging",
            "from": "0.2.0",
            "to": "0.3.0",
            "to_digest": store.manifest("bot", "0.3.0").digest,
            "actor": "x",
            "time": "2026-11-26T12:00:00Z",
        },
    )
    result = pv("verify")
    assert result.code == 1 and "set it to 0.3.0" in result.out
    assert pv("alias", "set", "bot", "canary", "0.1.0").code == 0
    assert json.loads(path.read_text())["staging"]["version"] == "0.3.0"
    assert pv("verify").code == 0


def test_verify_names_an_edited_alias_event(project: Path, store: Store, pv, three: list[str]) -> None:
    for version in ("0.1.0", "0.2.0", "0.3.0"):
        assert pv("alias", "set", "bot", "staging", version).code == 0
    log = store.log_path("bot")
    lines = log.read_bytes().splitlines(keepends=True)
    edited = json.loads(lines[4])
    edited["actor"] = "Mallory"
    lines[4] = json.dumps(edited, sort_keys=True).encode() + b"\n"
    log.write_bytes(b"".join(lines))
    result = pv("verify")
    assert result.code == 1 and "log.jsonl:6: audit chain broken at event 6" in result.out
    # a removed event is named too
    del lines[4]
    log.write_bytes(b"".join(lines))
    result = pv("verify")
    assert result.code == 1 and "log.jsonl:5: audit chain broken at event 5" in result.out


def test_move_to_a_version_whose_digest_changed_is_refused(
    project: Path, store: Store, pv, three: list[str]
) -> None:
    assert pv("alias", "set", "bot", "staging", "0.1.0").code == 0
    assert pv("alias", "set", "bot", "staging", "0.2.0").code == 0
    log = store.log_path("bot")
    text = log.read_text().replace(store.manifest("bot", "0.1.0").digest, "sha256:" + "0" * 64)
    log.write_text(text)
    before = tree_state(store.root)
    result = pv("rollback", "bot", "staging")
    assert result.code == 1 and "the audit log recorded" in result.err
    assert tree_state(store.root) == before
    assert "recorded digest sha256:00000000... is not the version's" in pv("verify").out


def test_moves_follow_a_stack_model(tmp_path: Path) -> None:
    """Random sequences of set / remove / rollback / rollback --to against a plain stack:
    same pointer, same refusals, and verify agrees after every sequence."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from hypothesis.configuration import set_hypothesis_home_dir

    from promptver.bundle.scaffold import scaffold
    from promptver.errors import PromptverError
    from promptver.governance.aliases import rollback
    from promptver.governance.promotion import remove_alias, set_alias
    from promptver.governance.verify import verify_store

    ops = st.lists(
        st.one_of(
            st.tuples(st.just("set"), st.sampled_from(["0.1.0", "0.2.0", "0.3.0"])),
            st.tuples(st.just("rm"), st.none()),
            st.tuples(st.just("back"), st.none()),
            st.tuples(st.just("back-to"), st.sampled_from(["0.1.0", "0.2.0", "0.3.0"])),
        ),
        max_size=8,
    )
    counter = iter(range(10**6))
    set_hypothesis_home_dir(tmp_path / ".hypothesis")  # not the worktree: pytest would trip on it

    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(ops)
    def run(sequence: list[tuple[str, str | None]]) -> None:
        root = tmp_path / str(next(counter))
        store, _ = Store.init(root)
        scaffold(root / "bundles/bot", "bot")
        for _ in range(3):
            new_version(store, root)
        model: list[str | None] = []
        for op, version in sequence:
            current = model[-1] if model else None
            earlier = [v for v in model[:-1] if v is not None]
            try:
                if op == "set":
                    set_alias(store, "bot", "env", version or "")
                elif op == "rm":
                    remove_alias(store, "bot", "env")
                elif op == "back":
                    rollback(store, "bot", "env")
                else:
                    rollback(store, "bot", "env", to=version)
                ok = True
            except PromptverError:
                ok = False
            if op == "set":
                expected_ok = version != current
                if expected_ok:
                    while model and model[-1] is None:
                        model.pop()
                    model.append(version)
            elif op == "rm":
                expected_ok = current is not None
                if expected_ok:
                    model.append(None)
            else:
                target = earlier[-1] if op == "back" and earlier else version if version in earlier else None
                expected_ok = target is not None
                if expected_ok:
                    while model[-1] != target:
                        model.pop()
            assert ok == expected_ok, (op, version, model)
            assert store.alias_target("bot", "env") == (model[-1] if model else None)
        assert verify_store(store).ok

    try:
        run()
    finally:
        set_hypothesis_home_dir(None)


def test_aliases_work_in_load_export_and_diff(project: Path, store: Store, pv, three: list[str]) -> None:
    import promptver

    assert pv("alias", "set", "bot", "live", "0.1.0").code == 0
    assert pv("alias", "set", "bot", "staging", "0.3.0").code == 0
    promptver.clear_cache()
    bot = promptver.load("bot@live", store=store.root)
    assert bot.version == "0.1.0" and bot.digest == store.manifest("bot", "0.1.0").digest
    result = pv("export", "bot@staging", "-o", "staging.pvb", "--json")
    assert result.code == 0 and json.loads(result.out)["version"] == "0.3.0"
    result = pv("diff", "bot", "live", "staging", "--json")
    assert result.code == 0, result.err
    diff = json.loads(result.out)
    assert (diff["old"]["version"], diff["new"]["version"]) == ("0.1.0", "0.3.0") and not diff["identical"]
    promptver.clear_cache()
