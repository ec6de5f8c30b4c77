"""Issue 11: the store keeps its promises under hostile input, full disks and tampering.

Each test names the numbered problem of the issue it guards."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import promptver
from promptver.app.archive import describe_archive, export, import_archive, read_archive
from promptver.errors import ConflictError, IntegrityError, WriteError
from promptver.store.digests import sha256_bytes, tree_digest
from promptver.store.manifest import Manifest
from promptver.store.store import Store
from promptver.versions.checkout import checkout
from tests.faults import disk_fills_after

ROOT = Path(__file__).resolve().parent.parent
BOT = Path("bundles/bot")
REVIEWER = "Rui Reviewer <rui@example.com>"  # not the author: `new` protects production


def _objects(store: Store) -> set[str]:
    root = store.root / "objects"
    return {p.parent.name + p.name for p in root.glob("*/*")}


def _tmp(store: Store) -> list[str]:
    return sorted(p.name for p in (store.root / "tmp").iterdir())


# ---- 1. checkout never writes through a symlink ----------------------------------------------


def _move_templates(project: Path) -> None:
    """A version whose templates live in tpl/, so prompts/ is free for a link."""
    spec = project / BOT / "bundle.toml"
    spec.write_text(spec.read_text().replace("prompts/", "tpl/"))
    os.rename(project / BOT / "prompts", project / BOT / "tpl")


def test_1_checkout_refuses_to_write_through_a_folder_symlink(project: Path, pv, tmp_path: Path) -> None:
    assert pv("bump", "minor", "bot", "-m", "first").code == 0  # 0.1.0 has prompts/*.j2
    _move_templates(project)
    assert pv("bump", "minor", "bot", "-m", "moved").code == 0  # 0.2.0 has tpl/*.j2
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, project / BOT / "prompts")

    status = pv("status", "bot")
    assert "prompts: symlink leads outside the bundle" in status.out
    check = pv("check", "bot")
    assert check.code == 1 and "prompts: symlink leads outside the bundle" in check.out

    result = pv("checkout", "bot@0.1.0")
    assert result.code == 1
    assert "symlink" in result.err and "Traceback" not in result.err
    assert list(elsewhere.iterdir()) == []  # nothing written outside
    assert (project / BOT / "prompts").is_symlink()

    forced = pv("checkout", "bot@0.1.0", "--force")
    assert forced.code == 0, forced.err
    assert list(elsewhere.iterdir()) == []  # the link was replaced, never followed
    assert not (project / BOT / "prompts").is_symlink()
    assert (project / BOT / "prompts" / "system.j2").is_file()


def test_1_folder_symlink_inside_the_bundle_is_reported(project: Path, pv) -> None:
    os.symlink(project / BOT / "prompts", project / BOT / "more")
    status = pv("status", "bot", "--json")
    problems = json.loads(status.out)[0]["problems"]
    assert any(p["file"] == "more" and "symlink to a folder" in p["message"] for p in problems)
    assert "more: is a symlink to a folder" in pv("check", "bot").out


def test_1_checkout_to_a_folder_with_a_nested_link(project: Path, pv, tmp_path: Path) -> None:
    assert pv("bump", "minor", "bot").code == 0
    store = Store.find(project)
    target = tmp_path / "out"
    target.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, target / "prompts")
    with pytest.raises(ConflictError, match="not empty"):
        checkout(store, store.latest("bot"), to=target)
    checkout(store, store.latest("bot"), to=target, force=True)  # wrote through the link on main
    assert list(elsewhere.iterdir()) == []
    assert (target / "prompts" / "answer.j2").is_file()


# ---- 2. canonical, unique paths; all-or-nothing import --------------------------------------


def _manifest_json(files: dict[str, bytes], name: str = "evil") -> dict:
    return {
        "format": 1,
        "bundle": name,
        "version": "1.0.0",
        "digest": tree_digest((p, sha256_bytes(d)) for p, d in files.items()),
        "created": "2026-01-01T00:00:00Z",
        "author": "x",
        "files": [
            {"path": p, "digest": "sha256:" + sha256_bytes(d), "size": len(d)} for p, d in files.items()
        ],
    }


def _pvb(members: list[tuple[str, bytes]]) -> bytes:
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


SPEC = b'[bundle]\nname = "evil"\n'


@pytest.mark.parametrize("alias", ["./bundle.toml", "x//bundle.toml", "x/./bundle.toml", "bundle.toml/"])
def test_2_manifests_refuse_non_canonical_paths(alias: str) -> None:
    files = {"bundle.toml": SPEC, alias: b"other"}
    with pytest.raises(IntegrityError, match="not canonical"):
        Manifest.loads(json.dumps(_manifest_json(files)).encode(), "m.json")


def test_2_manifests_refuse_duplicate_paths() -> None:
    raw = _manifest_json({"bundle.toml": SPEC})
    raw["files"] = raw["files"] * 2
    raw["digest"] = tree_digest([(f["path"], f["digest"][7:]) for f in raw["files"]])
    with pytest.raises(IntegrityError, match="twice"):
        Manifest.loads(json.dumps(raw).encode(), "m.json")


def test_2_archive_with_two_spellings_of_one_file_is_refused_and_imports_nothing(tmp_path: Path) -> None:
    files = {"bundle.toml": SPEC, "./bundle.toml": b'[bundle]\nname = "other"\n'}
    members = [("manifest.json", json.dumps(_manifest_json(files)).encode())]
    members += [("files/" + p, d) for p, d in files.items()]
    bad = tmp_path / "two.pvb"
    bad.write_bytes(_pvb(members))
    with pytest.raises(IntegrityError, match="not canonical"):
        read_archive(bad)
    with pytest.raises(IntegrityError):
        promptver.load(str(bad))
    other, _ = Store.init(tmp_path / "other")
    with pytest.raises(IntegrityError):
        import_archive(other, bad)
    assert _objects(other) == set() and other.bundle_names() == [] and _tmp(other) == []


def test_2_import_failing_at_its_last_step_leaves_nothing(
    project: Path, pv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert pv("bump", "minor", "bot").code == 0
    store = Store.find(project)
    exported = export(store, store.latest("bot"), tmp_path / "bot.pvb")
    other, _ = Store.init(tmp_path / "other")

    def broken(*args: object, **kwargs: object) -> None:
        raise WriteError("cannot write log.jsonl: No space left on device")

    monkeypatch.setattr(Store, "append_event", broken)
    with pytest.raises(WriteError):
        import_archive(other, exported)
    assert _objects(other) == set()  # no orphan objects
    assert other.version_names("bot") == [] and _tmp(other) == []


# ---- 3. decompression bombs -----------------------------------------------------------------


def test_3_a_member_larger_than_listed_is_refused_before_it_is_read(tmp_path: Path) -> None:
    files = {"bundle.toml": SPEC}
    header = tarfile.TarInfo("files/bundle.toml")
    header.size = 1 << 30  # 1 GiB claimed; the bytes are never read
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        tar = tarfile.open(fileobj=gz, mode="w")
        manifest = json.dumps(_manifest_json(files)).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
        gz.write(header.tobuf())
        gz.write(b"\0" * 4096)
    bomb = tmp_path / "bomb.pvb"
    bomb.write_bytes(raw.getvalue())
    with pytest.raises(IntegrityError, match="1073741824 bytes, the manifest says"):
        read_archive(bomb)


def test_3_archives_above_the_limits_are_refused_with_a_clear_message(
    project: Path, pv, tmp_path: Path
) -> None:
    files = {"bundle.toml": SPEC}
    raw = _manifest_json(files)
    raw["files"].append({"path": "big.bin", "digest": "sha256:" + "0" * 64, "size": 1 << 30})
    raw["digest"] = tree_digest([(f["path"], f["digest"][7:]) for f in raw["files"]])
    bomb = tmp_path / "bomb.pvb"
    bomb.write_bytes(_pvb([("manifest.json", json.dumps(raw).encode())]))
    for command in (["show", str(bomb)], ["import", str(bomb)]):
        result = pv(*command)
        assert result.code == 1
        assert "is refused" in result.err and "1024 MiB" in result.err and "Traceback" not in result.err
    assert Store.find(project).version_names("evil") == []


def test_3_the_decompressed_stream_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from promptver.app import archive

    monkeypatch.setattr(archive, "MAX_TOTAL_BYTES", 1 << 20)
    data = b"\0" * (3 << 20)  # an honest manifest... for a file above the (lowered) limit
    bad = tmp_path / "big.pvb"
    files = {"big.bin": data}
    bad.write_bytes(
        _pvb([("manifest.json", json.dumps(_manifest_json(files)).encode()), ("files/big.bin", data)])
    )
    with pytest.raises(IntegrityError, match="is refused"):
        describe_archive(bad)


def test_3_show_streams_members(project: Path, pv, tmp_path: Path) -> None:
    """``show`` of a 32 MiB export stays far below 32 MiB of memory: members are streamed."""
    (project / BOT / "data.bin").write_bytes(b"\0" * (32 << 20))
    assert pv("bump", "minor", "bot").code == 0
    store = Store.find(project)
    exported = export(store, store.latest("bot"), tmp_path / "bot.pvb")
    tracemalloc.start()
    try:
        details = describe_archive(exported)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert details["size"] > 32 << 20
    assert peak < 8 << 20, f"peak {peak} bytes"


# ---- 4. full disks: complete and durable, or rolled back -------------------------------------


def test_4_short_writes_still_give_whole_log_lines(
    project: Path, pv, monkeypatch: pytest.MonkeyPatch
) -> None:
    with disk_fills_after(monkeypatch, 1 << 40, short=7):
        assert pv("bump", "minor", "bot").code == 0
        assert pv("approve", "bot@0.1.0", "--by", REVIEWER).code == 0
    store = Store.find(project)
    assert [e["event"] for e in store.events("bot")] == ["bump", "review"]
    assert pv("verify").code == 0


def test_4_a_full_disk_during_an_append_leaves_the_log_as_it_was(
    project: Path, pv, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert pv("bump", "minor", "bot").code == 0
    log = project / ".promptver" / "bundles" / "bot" / "log.jsonl"
    before = log.read_bytes()
    with disk_fills_after(monkeypatch, 40):  # a torn line on main
        result = pv("approve", "bot@0.1.0", "--by", REVIEWER)
    assert result.code == 1
    assert result.err.count("\n") == 1 and "No space left on device" in result.err
    assert log.read_bytes() == before
    assert (
        pv("approve", "bot@0.1.0", "--by", REVIEWER).code == 0
    )  # the next event is not glued to a torn line
    assert pv("verify").code == 0


def test_4_alias_set_on_a_full_disk_fails_in_one_line(
    project: Path, pv, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert pv("bump", "minor", "bot").code == 0
    meta = project / ".promptver" / "bundles" / "bot"
    before = (meta / "log.jsonl").read_bytes()
    for budget in (0, 50, 400):  # the event fails, or aliases.json after it
        with disk_fills_after(monkeypatch, budget):
            result = pv("alias", "set", "bot", "staging", "0.1.0")
        assert result.code == 1, result
        assert "No space left on device" in result.err and "Traceback" not in result.err
        assert (meta / "log.jsonl").read_bytes() == before
        assert not (meta / "aliases.json").exists()
        assert _tmp(Store.find(project)) == []
    assert pv("verify").code == 0


@pytest.mark.parametrize("command", ["bump", "approve", "alias", "import", "checkout", "export"])
def test_4_every_write_is_complete_or_rolled_back(
    project: Path, pv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """Sweep the point where the disk fills over the whole command: each run either
    succeeds or fails with one line and leaves the store exactly as it was."""
    assert pv("bump", "minor", "bot").code == 0
    store = Store.find(project)
    exported = export(store, store.latest("bot"), tmp_path / "bot.pvb")
    (project / BOT / "prompts" / "extra.j2").write_text("more {{ question }}\n" * 200)
    other_root = tmp_path / "other"
    other, _ = Store.init(other_root)
    args = {
        "bump": ["bump", "minor", "bot"],
        "approve": ["approve", "bot@0.1.0", "--by", REVIEWER],
        "alias": ["alias", "set", "bot", "staging", "0.1.0"],
        "import": ["--store", str(other.root), "import", str(exported)],
        "checkout": ["checkout", "bot@0.1.0", "--to", str(tmp_path / "co")],
        "export": ["export", "bot@0.1.0", "-o", str(tmp_path / "out.pvb")],
    }[command]
    target = other if command == "import" else store

    def snapshot() -> tuple[set[str], bytes, list[str], list[str]]:
        log = target.root / "bundles" / "bot" / "log.jsonl"
        manifests = sorted(p.name for p in target.root.glob("bundles/*/versions/*.json"))
        return _objects(target), log.read_bytes() if log.exists() else b"", manifests, _tmp(target)

    succeeded = False
    for budget in [0, 1, 100, 500, 2000, 5000, 20000]:
        before = snapshot()
        with disk_fills_after(monkeypatch, budget):
            result = pv(*args)
        if result.code == 0:
            succeeded = True
            break
        assert result.code == 1, result
        assert "No space left on device" in result.err and "Traceback" not in result.err, result.err
        assert result.err.count("\n") == 1, result.err
        assert snapshot() == before, f"budget {budget}"
        if command == "export":
            assert not (tmp_path / "out.pvb").exists()
    assert succeeded or command in ("bump", "import")
    assert _tmp(target) == []
    assert pv("--store", str(target.root), "verify").code == 0


@pytest.fixture
def tiny_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"SKIPPED LOUDLY: cannot mount a 3 MB tmpfs here ({done.stderr.strip()})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_4_a_real_full_disk(tiny_disk: Path) -> None:
    """On a real 3 MB file system: a bump that does not fit fails in one line, leaves
    nothing in tmp/ and the store verifies; an approve then still appends a whole line."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PROMPTVER_USER": "t"}
    del_home = {k: v for k, v in env.items() if k != "PROMPTVER_HOME"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "promptver", *args],
            cwd=tiny_disk,
            env=del_home,
            capture_output=True,
            text=True,
        )

    assert run("init").returncode == 0 and run("new", "bot").returncode == 0
    assert run("bump", "minor", "bot").returncode == 0
    (tiny_disk / "bundles" / "bot" / "big.bin").write_bytes(os.urandom(1_600_000))  # fits once, not twice
    result = run("bump", "minor", "bot")
    assert result.returncode == 1, result
    assert "No space left on device" in result.stderr and "Traceback" not in result.stderr
    assert list((tiny_disk / ".promptver" / "tmp").iterdir()) == []
    log = tiny_disk / ".promptver" / "bundles" / "bot" / "log.jsonl"
    approve = run("approve", "bot@0.1.0", "--by", REVIEWER)
    assert approve.returncode == 0, approve.stderr
    assert log.read_bytes().endswith(b"\n")
    assert run("verify").returncode == 0


# ---- 5. tmp/ leftovers and gc ----------------------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_5_a_writer_removes_dead_leftovers_and_keeps_live_ones(project: Path, pv) -> None:
    store = Store.find(project)
    dead = store.tmp_dir / f"obj-1.{_dead_pid()}.abcd.tmp"
    dead.write_bytes(b"x" * 1000)
    live = store.tmp_dir / f"obj-1.{os.getppid()}.abcd.tmp"  # a running process
    live.write_bytes(b"y" * 10)
    report = json.loads(pv("verify", "--json").out)
    assert report["leftovers"] == 2 and report["leftover_bytes"] == 1010
    assert pv("bump", "minor", "bot").code == 0
    assert not dead.exists() and live.exists()


def test_5_a_reused_pid_does_not_keep_a_leftover_alive() -> None:
    from promptver.store.gc import is_dead

    live = os.getppid()
    assert is_dead(f".x.{live}.abcd.tmp", mtime=0)  # written before that process started
    assert not is_dead(f".x.{live}.abcd.tmp", mtime=time.time())
    assert not is_dead(f".x.{os.getpid()}.abcd.tmp", mtime=0)  # ours
    assert is_dead(f".x.{_dead_pid()}.abcd.tmp", mtime=time.time())
    assert not is_dead("no-pid-here", mtime=time.time()) and is_dead("no-pid-here", mtime=0)


def test_5_gc_removes_leftovers_and_unreferenced_objects_only(project: Path, pv) -> None:
    assert pv("bump", "minor", "bot").code == 0
    store = Store.find(project)
    referenced = _objects(store)
    orphan = store.put_bytes(b"nobody names me")
    leftover = store.tmp_dir / f".aliases.json.{_dead_pid()}.beef.tmp"
    leftover.write_bytes(b"z" * 300)

    dry = json.loads(pv("gc", "--json").out)
    assert dry["dry_run"] is True
    assert [o["digest"] for o in dry["objects"]] == ["sha256:" + orphan]
    assert [Path(t["path"]).name for t in dry["tmp_files"]] == [leftover.name]
    assert store.has_object(orphan) and leftover.exists()  # a dry run deletes nothing

    text = pv("gc").out
    assert "would remove 1 temporary file and 1 unreferenced object" in text
    assert pv("gc", "--yes").code == 0
    assert not store.has_object(orphan) and not leftover.exists()
    assert _objects(store) == referenced
    assert pv("verify").code == 0
    assert pv("checkout", "bot@0.1.0", "--to", str(project / "co")).code == 0


def test_5_gc_refuses_to_guess_when_a_manifest_is_unreadable(project: Path, pv) -> None:
    assert pv("bump", "minor", "bot").code == 0
    store = Store.find(project)
    path = store.manifest_path("bot", "0.1.0")
    os.chmod(path, 0o644)
    path.write_text("{broken")
    before = _objects(store)
    result = pv("gc", "--yes")
    assert result.code == 1 and "gc removes nothing" in result.err
    assert _objects(store) == before


# ---- 8. file names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("z1\nzz", "control character (U+000A)"),
        ("back\\slash.j2", "backslash"),
        ("trailing.j2 ", "leading or trailing spaces"),
        (" leading.j2", "leading or trailing spaces"),
        ("tab\there", "control character (U+0009)"),
        ("sep\u2028line", "control character (U+2028)"),
    ],
)
def test_8_check_refuses_ambiguous_names(project: Path, pv, name: str, reason: str) -> None:
    (project / BOT / name).write_text("x")
    result = pv("check", "bot")
    assert result.code == 1
    assert reason in result.out and "cannot be versioned" in result.out
    bump = pv("bump", "minor", "bot")
    assert bump.code == 1 and reason in bump.err


def test_8_non_utf8_names_give_a_problem_not_a_traceback(project: Path, pv) -> None:
    os.close(os.open(os.fsencode(project / BOT) + b"/bad\xff.j2", os.O_CREAT | os.O_WRONLY, 0o644))
    status = pv("status", "bot")
    assert status.code == 0 and "bad\\udcff.j2: file name is not valid UTF-8" in status.out
    bump = pv("bump", "minor", "bot")
    assert bump.code == 1 and "not valid UTF-8" in bump.err and "Traceback" not in bump.err
    assert pv("check", "bot").code == 1


def test_8_the_issue_collision_is_gone() -> None:
    a, b = "a" * 64, "b" * 64
    glued = {f"z1\n{b}  z2": a}
    split = {"z1": a, "z2": b}
    assert tree_digest(glued.items()) != tree_digest(split.items())


def test_8_listing_is_unchanged_for_names_without_a_newline() -> None:
    """Existing versions keep their digests (the repo's own store verifies)."""
    entries = [("bundle.toml", "a" * 64), ("prompts/x y.j2", "b" * 64), ("back\\slash", "c" * 64)]
    listing = "".join(f"{h}  {p}\n" for p, h in sorted(entries))
    assert tree_digest(entries) == "sha256:" + sha256_bytes(listing.encode())
    result = subprocess.run(
        [sys.executable, "-m", "promptver", "verify"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stdout + result.stderr


_hex = st.text("0123456789abcdef", min_size=64, max_size=64)
_paths = st.text(st.characters(codec=None, exclude_categories=()), min_size=0, max_size=12)
_file_sets = st.dictionaries(_paths, _hex, max_size=5)


@settings(max_examples=400, deadline=None)
@given(_file_sets, _file_sets)
def test_8_distinct_file_sets_never_share_a_digest(first: dict[str, str], second: dict[str, str]) -> None:
    if first != second:
        assert tree_digest(first.items()) != tree_digest(second.items())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["z", "\n", "\\", "n", " ", "  ", "a" * 64, "/"]), max_size=12), _hex, _hex)
def test_8_newline_and_backslash_names_cannot_forge_lines(parts: list[str], h1: str, h2: str) -> None:
    name = "".join(parts)
    for other in ({"z": h1, "n": h2}, {name + "\n" + h2 + "  x": h1}, {"\\" + name: h1}):
        if other != {name: h1}:
            assert tree_digest({name: h1}.items()) != tree_digest(other.items())


def test_4_an_eval_case_append_on_a_full_disk_leaves_no_torn_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from promptver.evals.runs.storage import RunStore

    writer = RunStore(tmp_path / "runs").create({"id": "r1", "bundle": "bot"})
    writer.append({"id": "a", "score": 1.0})
    cases = writer.folder / "cases.jsonl"
    before = cases.read_bytes()
    with disk_fills_after(monkeypatch, 5), pytest.raises(WriteError, match="No space left"):
        writer.append({"id": "b", "score": 0.5})
    assert cases.read_bytes() == before
    writer.append({"id": "c", "score": 0.0})
    writer.close()
    assert [json.loads(line)["id"] for line in cases.read_bytes().splitlines()] == ["a", "c"]


def test_5_leftovers_of_killed_bumps_are_removed_by_the_next_writer(project: Path, pv) -> None:
    import signal
    import time as clock

    (project / BOT / "big.bin").write_bytes(os.urandom(64 << 20))
    store = Store.find(project)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-m", "promptver", "bump", "minor", "bot"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = clock.time() + 60
    while clock.time() < deadline and child.poll() is None:
        if any(p.stat().st_size > 1 << 20 for p in (store.root / "tmp").iterdir()):
            break
        clock.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait()
    if not _tmp(store):
        pytest.skip("the bump finished before it could be killed")
    report = json.loads(pv("verify", "--json").out)
    assert report["leftovers"] >= 1 and report["leftover_bytes"] > 1 << 20
    assert pv("bump", "minor", "bot").code in (0, 1)  # 1 if the killed bump had finished
    assert _tmp(store) == []
    assert pv("verify").code == 0
