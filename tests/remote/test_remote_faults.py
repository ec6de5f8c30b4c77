"""Faults: a server stopped mid-push, stalled responses, a corrupted object, missing
credentials, a missing bucket; and random interleavings of two clients (nothing is lost)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptver.errors import ConflictError
from promptver.governance.promotion import set_alias
from promptver.remote.config import RemoteConfig
from promptver.remote.sync import Remote, pull, push
from promptver.remote.transport import RemoteError, open_transport
from promptver.store.store import Store
from promptver.versions.bump import bump

from .conftest import BUCKET, clone, edit, make_project
from .seaweed import READER_KEY, READER_SECRET, SeaweedServer
from .test_remote_core import cli


def s3_remote(store: Store, url: str, endpoint: str | None = None) -> Remote:
    return Remote(store, RemoteConfig("origin", url, endpoint or os.environ["AWS_ENDPOINT_URL"]))


def test_missing_credentials_is_one_clear_message(tmp_path: Path, s3_url: str, pv, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    a = make_project(tmp_path / "a")
    cli(pv, a, "remote", "add", "origin", s3_url, "--endpoint", os.environ["AWS_ENDPOINT_URL"])
    cli(pv, a, "bump", "minor", "bot")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result = cli(pv, a, "push")
    assert result.code == 1
    assert (
        result.err.startswith("Error: no credentials found for s3://") and "AWS_ACCESS_KEY_ID" in result.err
    )
    assert "Traceback" not in result.err
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "wrong")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    refused = cli(pv, a, "push")
    assert refused.code == 1 and "rejected the credentials" in refused.err, refused.err
    assert "InvalidAccessKeyId" in refused.err and "AWS_ACCESS_KEY_ID" in refused.err


@pytest.mark.parametrize("operation", ["push", "list", "get", "put"])
def test_wrong_secret_is_credentials_rejected_not_a_timeout(  # type: ignore[no-untyped-def]
    tmp_path: Path, s3_url: str, pv, monkeypatch, operation: str
) -> None:
    """The server answers 403 SignatureDoesNotMatch at once: that is what the user reads."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    if operation == "push":
        a = make_project(tmp_path / "a")
        cli(pv, a, "remote", "add", "origin", s3_url, "--endpoint", os.environ["AWS_ENDPOINT_URL"])
        cli(pv, a, "bump", "minor", "bot")
        started = time.monotonic()
        result = cli(pv, a, "push")
        assert result.code == 1 and "Traceback" not in result.err
        message = result.err
        assert time.monotonic() - started < 10
    else:
        transport = open_transport(RemoteConfig("origin", s3_url, os.environ["AWS_ENDPOINT_URL"]))
        with pytest.raises(RemoteError) as caught:
            if operation == "list":
                transport.list("versions")
            elif operation == "get":
                transport.get("log/events")
            else:
                transport.put_create("objects/x", b"x")
        message = f"Error: {caught.value}"
    assert "rejected the credentials: the secret key does not match the access key" in message, message
    assert "SignatureDoesNotMatch" in message and "AWS_SECRET_ACCESS_KEY to the secret issued with" in message
    assert "did not answer" not in message


def test_an_identity_without_write_is_permission_denied(  # type: ignore[no-untyped-def]
    tmp_path: Path, s3_url: str, pv, monkeypatch
) -> None:
    a = make_project(tmp_path / "a")
    cli(pv, a, "remote", "add", "origin", s3_url, "--endpoint", os.environ["AWS_ENDPOINT_URL"])
    cli(pv, a, "bump", "minor", "bot")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", READER_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", READER_SECRET)
    result = cli(pv, a, "push")
    assert result.code == 1 and "denied permission to write" in result.err, result.err
    assert "AccessDenied" in result.err and "give this identity read, write and list" in result.err


def test_a_closed_port_is_network_not_a_timeout(tmp_path: Path, s3_url: str, pv) -> None:  # type: ignore[no-untyped-def]
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    a = make_project(tmp_path / "a")
    cli(pv, a, "remote", "add", "origin", s3_url, "--endpoint", f"http://127.0.0.1:{port}")
    cli(pv, a, "bump", "minor", "bot")
    started = time.monotonic()
    result = cli(pv, a, "push")
    assert result.code == 1, result.err
    assert f"cannot reach remote {s3_url} at http://127.0.0.1:{port}: connection refused" in result.err
    assert "did not answer" not in result.err and "server is running" in result.err
    assert time.monotonic() - started < 15


def test_missing_bucket_is_one_clear_message(tmp_path: Path, s3_url: str, pv) -> None:  # type: ignore[no-untyped-def]
    a = make_project(tmp_path / "a")
    cli(
        pv,
        a,
        "remote",
        "add",
        "origin",
        "s3://no-such-bucket/x",
        "--endpoint",
        os.environ["AWS_ENDPOINT_URL"],
    )
    cli(pv, a, "bump", "minor", "bot")
    result = cli(pv, a, "push")
    assert result.code == 1 and "bucket 'no-such-bucket' does not exist" in result.err, result.err
    assert "create the bucket" in result.err and "did not answer" not in result.err


def test_missing_shared_folder_is_one_clear_message(tmp_path: Path, pv) -> None:  # type: ignore[no-untyped-def]
    a = make_project(tmp_path / "a")
    cli(pv, a, "remote", "add", "origin", f"file://{tmp_path}/nowhere")
    cli(pv, a, "bump", "minor", "bot")
    result = cli(pv, a, "push")
    assert result.code == 1 and "does not exist" in result.err and "mkdir -p" in result.err


def test_stalled_server_hits_the_deadline(tmp_path: Path, s3_url: str, pv, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:  # accept and never answer
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("PROMPTVER_REMOTE_TIMEOUT", "1")
        a = make_project(tmp_path / "a")
        cli(
            pv,
            a,
            "remote",
            "add",
            "origin",
            s3_url,
            "--endpoint",
            f"http://127.0.0.1:{server.getsockname()[1]}",
        )
        cli(pv, a, "bump", "minor", "bot")
        started = time.monotonic()
        result = cli(pv, a, "push")
        assert result.code == 1 and "did not answer in 1s" in result.err, result.err
        assert time.monotonic() - started < 15
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


@pytest.mark.parametrize("kind", ["file", "s3"])
def test_corrupted_object_on_the_remote_is_named_on_pull(tmp_path: Path, kind: str, request, pv) -> None:  # type: ignore[no-untyped-def]
    if kind == "file":
        (tmp_path / "shared").mkdir()
        url, extra = f"file://{tmp_path}/shared", []
    else:
        url, extra = request.getfixturevalue("s3_url"), ["--endpoint", os.environ["AWS_ENDPOINT_URL"]]
    a = make_project(tmp_path / "a")
    cli(pv, a, "remote", "add", "origin", url, *extra)
    cli(pv, a, "bump", "minor", "bot")
    assert cli(pv, a, "push").code == 0
    manifest = a.resolve("bot", "0.1.0")
    victim = manifest.file_map()["bundle.toml"].digest.removeprefix("sha256:")
    from promptver.remote.objects import encode_whole, object_key

    bad = encode_whole(b"name = 'evil'\n")
    if kind == "file":
        path = tmp_path / "shared" / object_key(victim)
        path.unlink()
        path.write_bytes(bad)
    else:
        import obstore

        obstore.put(s3_remote(a, url).transport.store, object_key(victim), bad)  # type: ignore[attr-defined]
    b = make_project(tmp_path / "b", name="x")
    cli(pv, b, "remote", "add", "origin", url, *extra)
    result = cli(pv, b, "pull", "--objects")
    assert result.code == 1
    assert f"object sha256:{victim[:8]} on the remote is corrupted" in result.err and victim in result.err
    assert not b.has_object(victim)


def test_server_stopped_mid_push_then_a_rerun_completes(
    tmp_path: Path, seaweed: SeaweedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = SeaweedServer(tmp_path / "weed", seaweed.binary)
    server.start()
    try:
        server.create_bucket(BUCKET)
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        url = f"s3://{BUCKET}/midpush"
        a = make_project(tmp_path / "a")
        for i in range(6):
            (tmp_path / "a/bundles/bot/evals" / f"set{i}.jsonl").write_text(
                f'{{"id": "a{i}", "vars": {{}}}}\n' * 50
            )
        bump(a, "bot", "minor", author="ana")
        set_alias(a, "bot", "production", "0.1.0")
        calls = []

        def stop_after_first(done: int, total: int) -> None:
            calls.append(done)
            if len(calls) == 1:
                server.proc.kill()  # type: ignore[union-attr]
                server.proc.wait()  # type: ignore[union-attr]

        monkeypatch.setenv("PROMPTVER_REMOTE_TIMEOUT", "3")  # the dead server: fail fast
        with pytest.raises(RemoteError):
            push(a, s3_remote(a, url, server.endpoint), progress=stop_after_first)
        server.restart()
        # the re-run is the point, not the restart: wait until the server takes writes again
        # (its volume server re-registers); a freshly restarted server on a busy machine can
        # take seconds to answer its first requests
        server.create_bucket(BUCKET)
        monkeypatch.setenv("PROMPTVER_REMOTE_TIMEOUT", "60")
        result = push(a, s3_remote(a, url, server.endpoint))[0]
        assert result.events == 2 and result.versions == ["0.1.0"]
        b = make_project(tmp_path / "b", name="x")
        pull(b, s3_remote(b, url, server.endpoint), objects=True)
        assert b.resolve("bot", "production").digest == a.resolve("bot", "0.1.0").digest
    finally:
        server.stop(timeout=3)


# ---- random interleavings of two clients against the real server -----------------------------

OPS = st.lists(
    st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["change", "alias", "push", "pull"])),
    min_size=3,
    max_size=10,
)


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=OPS)
def test_random_interleavings_lose_nothing(tmp_path_factory, s3_url: str, ops) -> None:  # type: ignore[no-untyped-def]
    """a bumps versions and moves production; b moves staging. In any order of their
    operations (pushes refused with "pull first" included), after both sync, the remote
    holds every event either made."""
    root = tmp_path_factory.mktemp("interleave")
    url = f"{s3_url}-{root.name}"
    a = make_project(root / "a")
    bump(a, "bot", "minor", author="ana")
    push(a, s3_remote(a, url))
    clone(root / "a", root / "b")
    b = Store.find(override=root / "b" / ".promptver")
    stores = {"a": a, "b": b}
    made: list[tuple[str, str]] = []  # (kind, identifying text) of every event created
    for counter, (who, op) in enumerate(ops, start=1):
        store = stores[who]
        try:
            if op == "change" and who == "a":
                edit(root / "a", f"\nchange {counter}\n")
                made.append(("bump", bump(store, "bot", "patch", author="ana").manifest.version))
            elif op == "alias" or op == "change":
                alias = "production" if who == "a" else "staging"
                latest = store.latest("bot")
                assert latest is not None
                try:
                    event = set_alias(store, "bot", alias, latest.version, reason=f"r{counter}")
                    made.append(("alias", str(event["reason"])))
                except ConflictError:
                    pass  # already there: nothing to record
            elif op == "push":
                push(store, s3_remote(store, url))
            else:
                pull(store, s3_remote(store, url))
        except ConflictError as exc:
            assert "pull first" in exc.message, exc.message
    for _ in range(2):
        for store in (a, b):
            pull(store, s3_remote(store, url))
            push(store, s3_remote(store, url))
    check = make_project(root / "c", name="x")
    pull(check, s3_remote(check, url))
    events = check.events("bot")
    found = {("bump", e.get("version")) for e in events if e["event"] == "bump"}
    found |= {("alias", e.get("reason")) for e in events if e["event"] == "alias"}
    assert set(made) <= found
    assert (
        a.log_path("bot").read_bytes() == b.log_path("bot").read_bytes() == check.log_path("bot").read_bytes()
    )


def test_verify_remote_names_a_corrupted_object(tmp_path: Path, pv) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "shared").mkdir()
    a = make_project(tmp_path / "a")
    cli(pv, a, "remote", "add", "origin", f"file://{tmp_path}/shared")
    cli(pv, a, "bump", "minor", "bot")
    cli(pv, a, "push")
    good = cli(pv, a, "verify", "--remote")
    assert good.code == 0 and good.out.startswith("ok:") and "1 manifests" in good.out, good.out
    victim = a.resolve("bot", "0.1.0").file_map()["bundle.toml"].digest.removeprefix("sha256:")
    from promptver.remote.objects import encode_whole

    path = tmp_path / "shared" / "objects" / victim
    path.unlink()
    path.write_bytes(encode_whole(b"tampered"))
    bad = cli(pv, a, "verify", "--remote", "--json")
    assert bad.code == 1
    assert any(f"sha256:{victim[:8]}" in p for p in json.loads(bad.out)["problems"])
