"""Reading and writing keys on a remote: get, create-only put, compare-and-swap put.

Two implementations of one small interface:

- `ObjectStoreTransport` over obstore (S3 and S3-compatible servers, GCS, Azure), whose
  conditional puts are the concurrency primitive: ``mode="create"`` for immutable keys and
  ``mode={"e_tag": ...}`` for the log and alias pointers. obstore is imported here, only
  when a remote is opened.
- `FolderTransport` for ``file://`` (a shared folder): create-only by hard link, and
  compare-and-swap under an exclusive lock of the key's lock file, since obstore's local
  store has no conditional update.

Every failure becomes one `RemoteError` that names the remote and says what to do.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from promptver.errors import PromptverError

from .config import RemoteConfig

DEFAULT_TIMEOUT = 30.0  # seconds for one request; a stalled server fails after this
ENV_TIMEOUT = "PROMPTVER_REMOTE_TIMEOUT"


class RemoteError(PromptverError):
    """The remote could not be reached, refused us, or holds something unexpected."""


class CasFailed(Exception):
    """A compare-and-swap lost: the key changed (or appeared) since it was read."""


class Transport(Protocol):
    url: str

    def get(self, key: str) -> tuple[bytes, str] | None:
        """The key's bytes and ETag, or None when it does not exist."""

    def get_if_changed(self, key: str, etag: str | None) -> tuple[bytes, str] | bool | None:
        """Like `get`, but False when the key still has ``etag`` (one small request)."""

    def get_ranges(self, key: str, ranges: list[tuple[int, int]]) -> list[bytes]:
        """Byte ranges ``[start, end)`` of one key."""

    def exists(self, key: str) -> bool: ...

    def put_create(self, key: str, data: bytes) -> bool:
        """Write a key that must not exist; False (and nothing written) when it does."""

    def put_cas(self, key: str, data: bytes, etag: str | None) -> str:
        """Replace a key only if it still has ``etag`` (None: only if absent); the new ETag.
        Raises `CasFailed` when another writer got there first."""

    def list(self, prefix: str) -> list[str]:
        """Keys under a prefix (relative to the remote's root)."""


def open_transport(remote: RemoteConfig) -> Transport:
    if remote.scheme == "file":
        return FolderTransport(Path(remote.url[len("file://") :]), remote.url)
    return ObjectStoreTransport(remote)


def timeout_for(remote: RemoteConfig) -> float:
    env = os.environ.get(ENV_TIMEOUT)
    if env:
        try:
            return float(env)
        except ValueError:
            pass
    return remote.timeout or DEFAULT_TIMEOUT


# ---- obstore ----------------------------------------------------------------------------------


class ObjectStoreTransport:
    def __init__(self, remote: RemoteConfig):
        import datetime

        from obstore.store import AzureStore, GCSStore, S3Store

        self.url = remote.url
        self.remote = remote
        timeout = timeout_for(remote)
        scheme, _, rest = remote.url.partition("://")
        bucket, _, prefix = rest.partition("/")
        self.bucket = bucket
        client: Any = {
            "timeout": f"{timeout}s",
            "connect_timeout": f"{min(timeout, 10.0)}s",
        }
        retry: Any = {
            "max_retries": 2,
            "retry_timeout": datetime.timedelta(seconds=timeout * 2),
            "backoff": {
                "init_backoff": datetime.timedelta(milliseconds=100),
                "base": 2,
                "max_backoff": datetime.timedelta(seconds=2),
            },
        }
        endpoint = remote.endpoint
        if endpoint and endpoint.startswith("http://"):
            client["allow_http"] = True
        self.store: Any
        try:
            if scheme == "s3":
                kwargs: dict[str, Any] = {}
                if endpoint:
                    kwargs["endpoint"] = endpoint
                if remote.region:
                    kwargs["region"] = remote.region
                elif not os.environ.get("AWS_REGION") and not os.environ.get("AWS_DEFAULT_REGION"):
                    kwargs["region"] = "us-east-1"
                self.store = S3Store(
                    bucket, prefix=prefix or None, client_options=client, retry_config=retry, **kwargs
                )
            elif scheme == "gs":
                self.store = GCSStore(
                    bucket, prefix=prefix or None, client_options=client, retry_config=retry
                )
            else:
                self.store = AzureStore(
                    bucket, prefix=prefix or None, client_options=client, retry_config=retry
                )
        except Exception as exc:  # obstore validates its configuration eagerly
            raise RemoteError(
                f"cannot open remote {self.url}: {_first_line(exc)}",
                hint="check the remote's settings in .promptver/config.toml"
                " and the credentials in the environment",
            ) from None

    def _error(self, exc: Exception, key: str, action: str = "read") -> RemoteError:
        """Say what happened (see `failures`): credentials, permission, bucket, network, timeout."""
        import obstore.exceptions as oe

        from .failures import classify

        found = classify(
            str(exc),
            permission=isinstance(exc, oe.PermissionDeniedError),
            unauthenticated=isinstance(exc, oe.UnauthenticatedError),
        )
        where = self.remote.endpoint or self.url
        if found.kind == "bucket":
            return RemoteError(
                f"bucket {self.bucket!r} does not exist on {where}",
                hint="create the bucket, or fix the URL with `promptver remote remove`/`remote add`",
            )
        if found.kind == "no-credentials":
            return RemoteError(
                f"no credentials found for {self.url} (none in the environment, no instance role)",
                hint=_credentials_hint(self.remote.scheme),
            )
        if found.kind == "credentials":
            return RemoteError(
                f"remote {self.url} rejected the credentials: {found.detail} ({found.code})",
                hint=_rejected_hint(self.remote.scheme, found.code),
            )
        if found.kind == "permission":
            return RemoteError(
                f"remote {self.url} denied permission to {action} {key} ({found.code})",
                hint="the credentials are valid but lack a right: give this identity read, write and"
                f" list on bucket {self.bucket!r}, or use one that has them",
            )
        if found.kind == "network":
            return RemoteError(
                f"cannot reach remote {self.url} at {where}: {found.detail}",
                hint="check that the server is running and the endpoint is right"
                " (`promptver remote list`), then run the command again (it resumes)",
            )
        if found.kind == "timeout":
            return RemoteError(
                f"remote {self.url} did not answer in {timeout_for(self.remote):g}s ({key})",
                hint=f"check the network and the endpoint; {ENV_TIMEOUT} sets the deadline in seconds",
            )
        answer = f" ({found.code})" if found.code else ""
        return RemoteError(
            f"remote {self.url} failed on {key}{answer}: {_first_line(exc)}",
            hint="check the endpoint and the network, then run the command again (it resumes)",
        )

    def _check_bucket(self, exc: FileNotFoundError, key: str) -> None:
        """A missing key is an answer; a missing bucket is an error."""
        if "NoSuchBucket" in str(exc):
            raise self._error(exc, key) from None

    def get(self, key: str) -> tuple[bytes, str] | None:
        found = self.get_if_changed(key, None)
        return found if isinstance(found, tuple) else None

    def get_if_changed(self, key: str, etag: str | None) -> tuple[bytes, str] | bool | None:
        import obstore
        import obstore.exceptions as oe

        try:
            options: Any = {"if_none_match": etag} if etag else {}
            result = obstore.get(self.store, key, options=options)
            return bytes(result.bytes()), str(result.meta.get("e_tag"))
        except oe.NotModifiedError:
            return False
        except FileNotFoundError as exc:
            self._check_bucket(exc, key)
            return None
        except Exception as exc:
            raise self._error(exc, key) from None

    def get_ranges(self, key: str, ranges: list[tuple[int, int]]) -> list[bytes]:
        import obstore

        if not ranges:
            return []
        try:
            found = obstore.get_ranges(
                self.store, key, starts=[r[0] for r in ranges], ends=[r[1] for r in ranges]
            )
        except Exception as exc:
            raise self._error(exc, key) from None
        return [bytes(b) for b in found]

    def exists(self, key: str) -> bool:
        import obstore

        try:
            obstore.head(self.store, key)
            return True
        except FileNotFoundError as exc:
            self._check_bucket(exc, key)
            return False
        except Exception as exc:
            raise self._error(exc, key) from None

    def put_create(self, key: str, data: bytes) -> bool:
        import obstore
        import obstore.exceptions as oe

        try:
            obstore.put(self.store, key, data, mode="create")
            return True
        except oe.AlreadyExistsError:
            return False
        except oe.PreconditionError:  # some servers answer 412 to If-None-Match: *
            return False
        except Exception as exc:
            raise self._error(exc, key, "write") from None

    def put_cas(self, key: str, data: bytes, etag: str | None) -> str:
        import obstore
        import obstore.exceptions as oe

        try:
            mode: Any = "create" if etag is None else {"e_tag": etag}
            result = obstore.put(self.store, key, data, mode=mode)
            return str(result.get("e_tag"))
        except (oe.AlreadyExistsError, oe.PreconditionError):
            raise CasFailed(key) from None
        except FileNotFoundError as exc:  # the key vanished since it was read
            self._check_bucket(exc, key)
            raise CasFailed(key) from None
        except Exception as exc:
            raise self._error(exc, key, "write") from None

    def list(self, prefix: str) -> list[str]:
        import obstore

        try:
            found: list[str] = []
            for batch in obstore.list(self.store, prefix=prefix.rstrip("/") + "/"):
                found.extend(str(meta["path"]) for meta in batch)
            return found
        except Exception as exc:
            raise self._error(exc, prefix, "list") from None


def _credentials_hint(scheme: str) -> str:
    if scheme == "s3":
        return (
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE / an instance role)"
            " for an identity allowed to read and write the bucket"
        )
    if scheme == "gs":
        return "set GOOGLE_APPLICATION_CREDENTIALS to a service account key allowed to use the bucket"
    return "set AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY (or a service principal)"


def _rejected_hint(scheme: str, code: str) -> str:
    """What to fix when the server read the credentials and refused them."""
    if scheme != "s3":
        return _credentials_hint(scheme)
    if code == "SignatureDoesNotMatch":
        return (
            "set AWS_SECRET_ACCESS_KEY to the secret issued with AWS_ACCESS_KEY_ID"
            " (a wrong --region or a clock more than 15 minutes off also breaks signatures)"
        )
    if code in ("InvalidAccessKeyId", "InvalidClientTokenId"):
        return "set AWS_ACCESS_KEY_ID to a key this server knows, and AWS_SECRET_ACCESS_KEY to its secret"
    if code in ("ExpiredToken", "TokenRefreshRequired", "InvalidToken"):
        return "get new temporary credentials: AWS_SESSION_TOKEN is expired or not valid (e.g. aws sso login)"
    return _credentials_hint(scheme)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# ---- shared folder ----------------------------------------------------------------------------


class FolderTransport:
    """A remote in a folder (local disk or a network share). ETags are content hashes."""

    def __init__(self, root: Path, url: str):
        self.root = root
        self.url = url

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if any(p in ("", ".", "..") for p in parts):
            raise RemoteError(f"unsafe key {key!r} for remote {self.url}")
        return self.root.joinpath(*parts)

    def _check_root(self) -> None:
        if not self.root.is_dir():
            raise RemoteError(
                f"the folder of remote {self.url} does not exist",
                hint=f"create it (mkdir -p {self.root}) or mount the share, then try again",
            )

    def get(self, key: str) -> tuple[bytes, str] | None:
        self._check_root()
        try:
            data = self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise RemoteError(f"cannot read {key} from {self.url}: {exc.strerror}") from None
        return data, _etag(data)

    def get_if_changed(self, key: str, etag: str | None) -> tuple[bytes, str] | bool | None:
        found = self.get(key)
        if found is not None and etag is not None and found[1] == etag:
            return False
        return found

    def get_ranges(self, key: str, ranges: list[tuple[int, int]]) -> list[bytes]:
        self._check_root()
        out = []
        try:
            with open(self._path(key), "rb") as handle:
                for start, end in ranges:
                    handle.seek(start)
                    out.append(handle.read(end - start))
        except OSError as exc:
            raise RemoteError(f"cannot read {key} from {self.url}: {exc.strerror}") from None
        return out

    def exists(self, key: str) -> bool:
        self._check_root()
        return self._path(key).is_file()

    def put_create(self, key: str, data: bytes) -> bool:
        self._check_root()
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
        try:
            with open(tmp, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(tmp, path)  # never overwrites
            except FileExistsError:
                return False
        finally:
            tmp.unlink(missing_ok=True)
        return True

    def put_cas(self, key: str, data: bytes, etag: str | None) -> str:
        self._check_root()
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with _flock(path.parent / f".{path.name}.lock"):
            try:
                current: str | None = _etag(path.read_bytes())
            except FileNotFoundError:
                current = None
            if current != etag:
                raise CasFailed(key)
            tmp = path.parent / f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
            try:
                with open(tmp, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
        return _etag(data)

    def list(self, prefix: str) -> list[str]:
        self._check_root()
        base = self._path(prefix.rstrip("/"))
        if not base.is_dir():
            return []
        found = []
        for folder, _dirs, files in os.walk(base):
            for name in files:
                if not name.startswith("."):
                    found.append(Path(folder, name).relative_to(self.root).as_posix())
        return sorted(found)


def _etag(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


@contextmanager
def _flock(path: Path) -> Iterator[None]:
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
