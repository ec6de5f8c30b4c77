"""push / pull / fetch against a shared folder (file://) and a real SeaweedFS (s3://)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from promptver.errors import ConflictError
from promptver.governance.aliases import alias_states
from promptver.governance.promotion import set_alias
from promptver.remote.config import RemoteConfig
from promptver.remote.sync import PULL_FIRST, Remote, pull, push
from promptver.store.store import Store
from promptver.versions.bump import bump

from .conftest import clone, edit, make_project


@pytest.fixture(params=["file", "s3"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "file":
        (tmp_path / "shared").mkdir()
        return f"file://{tmp_path}/shared"
    return str(request.getfixturevalue("s3_url"))


def endpoint_args(url: str) -> list[str]:
    import os

    return ["--endpoint", os.environ["AWS_ENDPOINT_URL"]] if url.startswith("s3://") else []


def remote_of(store: Store, url: str) -> Remote:
    import os

    endpoint = os.environ.get("AWS_ENDPOINT_URL") if url.startswith("s3://") else None
    return Remote(store, RemoteConfig("origin", url, endpoint))


def cli(pv, store: Store, *args: str):  # type: ignore[no-untyped-def]
    return pv("--store", str(store.root), *args)


def test_push_then_pull_into_a_fresh_store(tmp_path: Path, url: str, pv) -> None:  # type: ignore[no-untyped-def]
    a = make_project(tmp_path / "a")
    assert cli(pv, a, "remote", "add", "origin", url, *endpoint_args(url)).code == 0
    assert cli(pv, a, "bump", "minor", "bot", "-m", "first").code == 0
    assert cli(pv, a, "alias", "set", "bot", "production", "0.1.0").code == 0
    pushed = cli(pv, a, "push", "--json")
    assert pushed.code == 0, pushed.err
    report = json.loads(pushed.out)["bundles"][0]
    assert report["versions"] == ["0.1.0"] and report["events"] == 2 and report["objects"] >= 3
    again = cli(pv, a, "push", "--json")
    assert json.loads(again.out)["bundles"][0]["objects"] == 0  # nothing twice

    b = make_project(tmp_path / "b", name="other")
    assert cli(pv, b, "remote", "add", "origin", url, *endpoint_args(url)).code == 0
    pulled = cli(pv, b, "pull", "bot")
    assert pulled.code == 0, pulled.err
    b = Store.find(override=b.root)
    assert [m.version for m in b.versions("bot")] == ["0.1.0"]
    assert b.log_path("bot").read_bytes() == a.log_path("bot").read_bytes()
    assert alias_states(b, "bot")["production"].version == "0.1.0"
    assert json.loads((b.root / "bundles/bot/aliases.json").read_text())["production"]["version"] == "0.1.0"
    # one writer of pointers (governance.aliases.pointer_bytes): the same bytes on all three sides
    on_remote = remote_of(a, url).transport.get("bundles/bot/aliases.json")
    assert on_remote is not None
    assert on_remote[0] == (a.root / "bundles/bot/aliases.json").read_bytes()
    assert on_remote[0] == (b.root / "bundles/bot/aliases.json").read_bytes()
    manifest = b.resolve("bot", "production")
    # lazy: only the bundle.toml of versions an alias moved to (their policies are checked)
    lazy = [f for f in manifest.files if f.path != "bundle.toml"]
    assert not any(b.has_object(f.digest.removeprefix("sha256:")) for f in lazy)
    fetched = cli(pv, b, "fetch", "bot@production")
    assert (fetched.code == 0 and "fetched 3 object(s)" in fetched.out) or "fetched" in fetched.out
    assert cli(pv, b, "verify").code == 0
    tree = b.tree(manifest)
    assert tree.read_bytes("bundle.toml") == a.tree(a.resolve("bot", "0.1.0")).read_bytes("bundle.toml")


def test_pull_relinks_local_events_after_the_remotes(tmp_path: Path, url: str, pv) -> None:  # type: ignore[no-untyped-def]
    a = make_project(tmp_path / "a")
    cli(pv, a, "remote", "add", "origin", url, *endpoint_args(url))
    cli(pv, a, "bump", "minor", "bot", "-m", "first")
    assert cli(pv, a, "push").code == 0
    clone(tmp_path / "a", tmp_path / "b")
    b = Store.find(override=tmp_path / "b" / ".promptver")
    # a: a new version and production; b (not pulled yet): staging
    edit(tmp_path / "a", "\nBe brief.\n")
    cli(pv, a, "bump", "minor", "bot", "-m", "second")
    cli(pv, a, "alias", "set", "bot", "production", "0.2.0")
    assert cli(pv, a, "push").code == 0
    cli(pv, b, "alias", "set", "bot", "staging", "0.1.0", "--reason", "try it")
    refused = cli(pv, b, "push")
    assert refused.code == 1 and PULL_FIRST in refused.err and "Traceback" not in refused.err
    pulled = cli(pv, b, "pull")
    assert pulled.code == 0 and "1 local event(s) put after" in pulled.out, pulled.out + pulled.err
    events = b.events("bot")
    assert [e["event"] for e in events] == ["bump", "bump", "alias", "alias"]
    assert events[-1]["alias"] == "staging" and events[-1]["reason"] == "try it" and events[-1]["seq"] == 4
    assert cli(pv, b, "fetch").code == 0
    assert cli(pv, b, "verify").code == 0
    assert cli(pv, b, "push").code == 0
    cli(pv, a, "pull")
    assert a.log_path("bot").read_bytes() == b.log_path("bot").read_bytes()
    assert set(alias_states(a, "bot")) == {"production", "staging"}


def test_the_same_alias_moved_on_both_sides_is_a_true_conflict(tmp_path: Path, url: str, pv) -> None:  # type: ignore[no-untyped-def]
    a = make_project(tmp_path / "a")
    cli(pv, a, "remote", "add", "origin", url, *endpoint_args(url))
    cli(pv, a, "bump", "minor", "bot")
    edit(tmp_path / "a", "\nv2\n")
    cli(pv, a, "bump", "minor", "bot")
    cli(pv, a, "push")
    clone(tmp_path / "a", tmp_path / "b")
    b = Store.find(override=tmp_path / "b" / ".promptver")
    cli(pv, a, "alias", "set", "bot", "production", "0.2.0")
    cli(pv, a, "push")
    cli(pv, b, "alias", "set", "bot", "production", "0.1.0")
    before = b.log_path("bot").read_bytes()
    result = cli(pv, b, "pull")
    assert result.code == 1
    assert (
        "alias 'production' was moved both here (to 0.1.0" in result.err
        and "nothing was changed" in result.err
    )
    assert b.log_path("bot").read_bytes() == before  # nothing lost or half-done


def test_two_pushes_racing_one_wins_the_other_pulls_first(tmp_path: Path, url: str) -> None:
    a = make_project(tmp_path / "a")
    bump(a, "bot", "minor", author="ana")
    push(a, remote_of(a, url))
    clone(tmp_path / "a", tmp_path / "b")
    b = Store.find(override=tmp_path / "b" / ".promptver")
    set_alias(a, "bot", "production", "0.1.0")
    set_alias(b, "bot", "staging", "0.1.0")
    outcomes: dict[str, str] = {}
    barrier = threading.Barrier(2)

    def run(label: str, store: Store) -> None:
        remote = remote_of(store, url)
        barrier.wait()
        try:
            push(store, remote)
            outcomes[label] = "ok"
        except ConflictError as exc:
            outcomes[label] = exc.message

    threads = [threading.Thread(target=run, args=(k, s)) for k, s in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(v == "ok" for v in outcomes.values()) == [False, True], outcomes
    loser = a if outcomes["a"] != "ok" else b
    assert PULL_FIRST in outcomes["a" if loser is a else "b"]
    pull(loser, remote_of(loser, url))
    push(loser, remote_of(loser, url))
    fresh = make_project(tmp_path / "c", name="x")
    pull(fresh, remote_of(fresh, url))
    assert set(alias_states(fresh, "bot")) == {"production", "staging"}


def test_a_large_eval_set_is_chunked_and_a_small_change_costs_little(tmp_path: Path, url: str) -> None:
    a = make_project(tmp_path / "a")
    evals = tmp_path / "a" / "bundles" / "bot" / "evals" / "golden.jsonl"
    lines = [
        json.dumps({"id": f"c{i}", "vars": {"question": f"question {i} " + "lorem ipsum " * (i % 17 + 5)}})
        for i in range(20000)
    ]
    evals.write_text("\n".join(lines) + "\n")
    bump(a, "bot", "minor", author="ana")
    remote = remote_of(a, url)
    first = push(a, remote)[0].bytes
    for i in range(0, 20000, 100):  # 1% of the cases change
        lines[i] = json.dumps({"id": f"c{i}", "vars": {"question": f"changed {i}"}})
    evals.write_text("\n".join(lines) + "\n")
    bump(a, "bot", "patch", author="ana")
    second = push(a, remote)[0].bytes
    assert evals.stat().st_size > 2_000_000
    assert second < first * 0.25, (first, second)
    b = make_project(tmp_path / "b", name="x")
    result = pull(b, remote_of(b, url), objects=True)
    assert result[0].objects >= 4
    assert b.tree(b.resolve("bot", "0.1.1")).read_bytes("evals/golden.jsonl") == evals.read_bytes()


def test_push_names_as_many_versions_as_it_counts(tmp_path: Path, pv) -> None:  # type: ignore[no-untyped-def]
    """`push` once printed "7 version(s)" and listed five."""
    (tmp_path / "shared").mkdir()
    a = make_project(tmp_path / "a")
    assert cli(pv, a, "remote", "add", "origin", f"file://{tmp_path}/shared").code == 0
    for n in range(7):
        edit(tmp_path / "a", f"\nRule {n}.\n")
        assert cli(pv, a, "bump", "minor", "bot").code == 0
    out = cli(pv, a, "push").out
    assert "bot: 7 version(s) (0.3.0, 0.4.0, 0.5.0, 0.6.0, 0.7.0 and 2 earlier)" in out, out
    edit(tmp_path / "a", "\nRule 8.\n")
    assert cli(pv, a, "bump", "minor", "bot").code == 0
    assert "bot: 1 version(s) (0.8.0)" in cli(pv, a, "push").out
