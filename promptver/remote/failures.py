"""What went wrong on an object store, read from obstore's error, as one `RemoteError`.

obstore raises a few typed errors (``PermissionDeniedError``, ``UnauthenticatedError``,
``FileNotFoundError``) and a ``GenericError`` for the rest, whose text carries the server's
answer: the HTTP status, the S3 error ``<Code>``, or the transport's ``HttpError { kind: ... }``
(``Connect``, ``Timeout``, ...). The order of the checks below matters: the server's own
code says most, then the transport's kind, then the status. The text is never searched for
bare words like "timeout" (every error's debug dump names ``retry_timeout``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# S3 codes that mean "who you are did not check out" (vs. "you may not do this")
CREDENTIAL_CODES = {
    "SignatureDoesNotMatch": "the secret key does not match the access key",
    "InvalidAccessKeyId": "the server does not know the access key",
    "InvalidToken": "the session token is not valid",
    "ExpiredToken": "the session token has expired",
    "TokenRefreshRequired": "the session token has expired",
    "InvalidClientTokenId": "the server does not know the access key",
    "AuthorizationHeaderMalformed": "the request's signature names the wrong region or key",
    "AuthFailure": "the credentials were not accepted",
    "AuthenticationFailed": "the credentials were not accepted",  # Azure
}
PERMISSION_CODES = {"AccessDenied", "AllAccessDisabled", "AuthorizationFailure", "Forbidden"}
BUCKET_CODES = {"NoSuchBucket", "ContainerNotFound"}

_CODE = re.compile(r"<Code>([A-Za-z]+)</Code>")
_STATUS = re.compile(r"status code: (\d{3})")
_HTTP_KIND = re.compile(r"HttpError \{\s*kind: (\w+)")
_OS_KIND = re.compile(
    r"kind: (ConnectionRefused|ConnectionReset|ConnectionAborted|NetworkUnreachable"
    r"|HostUnreachable|AddrNotAvailable|TimedOut)"
)


@dataclass(frozen=True)
class Failure:
    """One object-store failure: ``kind`` is credentials, no-credentials, permission,
    bucket, network, timeout or other; ``detail`` says more in a few words."""

    kind: str
    detail: str = ""
    code: str = ""


def classify(text: str, *, permission: bool = False, unauthenticated: bool = False) -> Failure:
    """Read one obstore error's text (``permission``/``unauthenticated``: its typed class)."""
    code_found = _CODE.search(text)
    code = code_found.group(1) if code_found else ""
    if code in BUCKET_CODES:
        return Failure("bucket", code=code)
    if code in CREDENTIAL_CODES:
        return Failure("credentials", CREDENTIAL_CODES[code], code)
    if code in PERMISSION_CODES:
        return Failure("permission", code=code)
    if "/latest/api/token" in text or "169.254.169.254" in text or "instance metadata" in text.lower():
        return Failure("no-credentials")
    kind_found = _HTTP_KIND.search(text)
    kind = kind_found.group(1) if kind_found else ""
    if kind == "Timeout" or "operation timed out" in text.lower():
        return Failure("timeout")
    if kind == "Connect" or "tcp connect error" in text or "dns error" in text:
        return Failure("network", _network_detail(text))
    status_found = _STATUS.search(text)
    status = int(status_found.group(1)) if status_found else 0
    if unauthenticated or status == 401:
        return Failure("credentials", "the credentials were not accepted", code or str(status or ""))
    if permission or status == 403:
        return Failure("permission", code=code or "403 Forbidden")
    if kind in ("Request", "Body", "Decode") and _OS_KIND.search(text):
        return Failure("network", _network_detail(text))
    return Failure("other", code=code or (str(status) if status else ""))


def _network_detail(text: str) -> str:
    if "dns error" in text or "failed to lookup address" in text:
        return "the host name does not resolve"
    found = _OS_KIND.search(text)
    if found is None:
        return "the connection failed"
    return {
        "ConnectionRefused": "connection refused: nothing listens on that port",
        "ConnectionReset": "the connection was reset",
        "ConnectionAborted": "the connection was aborted",
        "NetworkUnreachable": "the network is unreachable",
        "HostUnreachable": "the host is unreachable",
        "AddrNotAvailable": "the address is not available",
        "TimedOut": "the connection timed out",
    }[found.group(1)]
