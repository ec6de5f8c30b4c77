"""A lean HTTP/1.1 transport for httpx: one keep-alive connection on asyncio streams.

httpx's default transport (httpcore over anyio) spends about 1 ms of CPU per request,
which makes an eval runner at concurrency 50 CPU-bound rather than latency-bound. The
providers give each concurrent request slot its own client and connection, so this
transport needs no pool: it keeps one connection, writes the request in one call and
parses the response itself (Content-Length, chunked, or until close). httpx still builds
requests, decodes content encodings and exposes streams. When a proxy is configured for
the URL, `direct_transport` returns None and httpx's own transport is used.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import httpx

_MAX_HEADER = 64 * 1024


def direct_transport(url: str, verify: ssl.SSLContext | None) -> LeanTransport | None:
    """A lean transport for ``url``, or None when a proxy applies to it."""
    parsed = httpx.URL(url)
    proxies = urllib.request.getproxies()
    if (proxies.get(parsed.scheme) or proxies.get("all")) and not urllib.request.proxy_bypass(
        parsed.host
    ):
        return None
    return LeanTransport(verify)


class LeanTransport(httpx.AsyncBaseTransport):
    def __init__(self, verify: ssl.SSLContext | None) -> None:
        self._tls = verify
        self._origin: tuple[str, str, int] | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._busy = False

    async def aclose(self) -> None:
        self._drop()

    def _drop(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def _connect(self, request: httpx.Request) -> None:
        url = request.url
        port = url.port or (443 if url.scheme == "https" else 80)
        origin = (url.scheme, url.host, port)
        if self._writer is not None and (origin != self._origin or self._writer.is_closing()):
            self._drop()
        if self._writer is None:
            tls = self._tls if url.scheme == "https" else None
            try:
                async with asyncio.timeout(_timeout(request, "connect")):
                    self._reader, self._writer = await asyncio.open_connection(
                        url.host, port, ssl=tls, server_hostname=url.host if tls else None,
                        limit=_MAX_HEADER,
                    )
            except TimeoutError as exc:
                raise httpx.ConnectTimeout("connect timed out", request=request) from exc
            except OSError as exc:
                raise httpx.ConnectError(str(exc) or type(exc).__name__, request=request) from exc
            self._origin = origin

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._busy:
            raise RuntimeError("LeanTransport carries one request at a time")
        body = await request.aread()
        head = _request_head(request, len(body))
        for attempt in (0, 1):
            reused = self._writer is not None
            await self._connect(request)
            assert self._reader is not None and self._writer is not None
            try:
                self._writer.write(head + body)
                async with asyncio.timeout(_timeout(request, "read")):
                    await self._writer.drain()
                    status, headers = await _read_head(self._reader)
            except TimeoutError as exc:
                self._drop()
                raise httpx.ReadTimeout("read timed out", request=request) from exc
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                self._drop()
                if reused and attempt == 0:
                    continue  # the server closed an idle keep-alive connection: reconnect once
                if isinstance(exc, ValueError):
                    raise httpx.RemoteProtocolError(str(exc), request=request) from exc
                raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
            break
        self._busy = True
        stream = _BodyStream(self, request, status, headers)
        return httpx.Response(status, headers=headers, stream=stream, request=request,
                              extensions={"http_version": b"HTTP/1.1"})


def _timeout(request: httpx.Request, kind: str) -> float | None:
    value = (request.extensions.get("timeout") or {}).get(kind)
    return float(value) if value is not None else None


def _request_head(request: httpx.Request, length: int) -> bytes:
    target = request.url.raw_path.decode("ascii")
    lines = [f"{request.method} {target} HTTP/1.1"]
    has_length = False
    for key, value in request.headers.raw:
        name = key.decode("latin-1")
        if name.lower() == "transfer-encoding":
            continue  # the body is already read: always send a Content-Length
        if name.lower() == "content-length":
            has_length = True
            value = str(length).encode()
        lines.append(f"{name}: {value.decode('latin-1')}")
    if not has_length and (length or request.method in ("POST", "PUT", "PATCH")):
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, list[tuple[bytes, bytes]]]:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError as exc:
        raise ValueError("response headers are too large") from exc
    lines = raw[:-4].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP/1.1 status line: {lines[0][:60]!r}")
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise ValueError(f"bad header line: {line[:60]!r}")
        headers.append((name.strip(), value.strip()))
    return int(parts[1]), headers


class _BodyStream(httpx.AsyncByteStream):
    """The response body; the connection is reusable once it is read to the end."""

    def __init__(self, transport: LeanTransport, request: httpx.Request, status: int,
                 headers: list[tuple[bytes, bytes]]) -> None:
        self.transport = transport
        self.request = request
        self.status = status
        values = {k.lower(): v.lower() for k, v in headers}
        self.chunked = b"chunked" in values.get(b"transfer-encoding", b"")
        length = values.get(b"content-length")
        self.length = int(length) if length is not None and not self.chunked else None
        self.keep = values.get(b"connection") != b"close"
        self.done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        reader = self.transport._reader
        assert reader is not None
        read_timeout = _timeout(self.request, "read")
        try:
            if self.status in (204, 304) or 100 <= self.status < 200 or self.length == 0:
                pass
            elif self.chunked:
                async for chunk in _chunks(reader, read_timeout):
                    yield chunk
            elif self.length is not None:
                remaining = self.length
                while remaining:
                    async with asyncio.timeout(read_timeout):
                        data = await reader.read(min(remaining, 65536))
                    if not data:
                        raise asyncio.IncompleteReadError(b"", remaining)
                    remaining -= len(data)
                    yield data
            else:
                self.keep = False
                while True:
                    async with asyncio.timeout(read_timeout):
                        data = await reader.read(65536)
                    if not data:
                        break
                    yield data
            self.done = True
        except TimeoutError as exc:
            self.keep = False
            raise httpx.ReadTimeout("read timed out", request=self.request) from exc
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            self.keep = False
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=self.request) from exc

    async def aclose(self) -> None:
        if not (self.done and self.keep):
            self.transport._drop()
        self.transport._busy = False


async def _chunks(reader: asyncio.StreamReader, read_timeout: float | None
                  ) -> AsyncIterator[bytes]:
    while True:
        async with asyncio.timeout(read_timeout):
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers
                return
            data = await reader.readexactly(size)
            await reader.readexactly(2)
        yield data


def make_client(base_url: str, timeout: float, verify: Any) -> httpx.AsyncClient:
    """A single-connection client for one request slot of a provider."""
    tls = verify if isinstance(verify, ssl.SSLContext) else None
    transport = direct_transport(base_url, tls)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    if transport is None:
        return httpx.AsyncClient(timeout=httpx.Timeout(timeout), verify=verify, limits=limits)
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout), transport=transport)
