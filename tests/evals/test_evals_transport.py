"""The run's aiohttp session against raw 127.0.0.1 servers: framing, reuse, failures, proxies.

Each test speaks HTTP/1.1 by hand on an asyncio server, so what the provider sees is exactly
what a real server could send: chunked and gzip bodies, idle connections closed, garbage,
silence, truncated bodies, and a forward proxy taken from the environment.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from promptver.bundle.spec import ModelRef
from promptver.evals.execution.providers import ProviderError, RetryPolicy, make_provider
from promptver.evals.execution.transport import Transport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
USER = [{"role": "user", "content": "ping"}]
ONCE = RetryPolicy(max_retries=0)
COMPLETION = json.dumps({"choices": [{"message": {"content": "pong"}}]}).encode()


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "NETRC"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


async def serve(handler: Handler) -> tuple[asyncio.Server, str]:
    async def closing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(closing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + await reader.readexactly(length)


def provider(url: str, **options: object):  # type: ignore[no-untyped-def]
    ref = ModelRef("local", "m", base_url=url)
    settings = {"retry": ONCE, "timeout": 5.0, "env": {}, **options}
    return make_provider(ref, **settings)  # type: ignore[arg-type]


def ok(body: bytes = COMPLETION, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


async def test_chunked_gzip_and_close_delimited_bodies() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            request = await read_request(reader)
            if b"chunked" in request:
                data = gzip.compress(COMPLETION)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n"
                )
                for start in range(0, len(data), 7):
                    part = data[start : start + 7]
                    writer.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                writer.write(b"0\r\n\r\n")
                await writer.drain()
                continue
            writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + COMPLETION)
            await writer.drain()
            return

    server, url = await serve(handler)
    client = provider(url)
    assert (await client.complete([{"role": "user", "content": "chunked"}], {})).text == "pong"
    assert (await client.complete(USER, {})).text == "pong"
    await client.aclose()
    server.close()
    await server.wait_closed()


async def test_keep_alive_reuse_and_reconnect_after_idle_close() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        for _ in range(2):  # serve two requests, then close the idle connection
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            writer.write(ok())
            await writer.drain()

    server, url = await serve(handler)
    client = provider(url)
    for _ in range(2):
        assert (await client.complete(USER, {})).text == "pong"
    assert connections == 1
    await asyncio.sleep(0.05)
    done = await client.complete(USER, {})
    assert done.text == "pong" and done.attempts == 1
    assert connections == 2
    await client.aclose()
    server.close()
    await server.wait_closed()


async def test_one_session_for_a_run_limits_connections() -> None:
    """Two providers on one Transport(limit=2): never more than 2 connections, all reused."""
    connections = 0
    open_now = peak = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections, open_now, peak
        connections += 1
        open_now += 1
        peak = max(peak, open_now)
        try:
            while True:
                try:
                    await read_request(reader)
                except asyncio.IncompleteReadError:
                    return
                await asyncio.sleep(0.02)
                writer.write(ok())
                await writer.drain()
        finally:
            open_now -= 1

    server, url = await serve(handler)
    transport = Transport(limit=2)
    first, second = provider(url, transport=transport), provider(url, transport=transport)
    results = await asyncio.gather(*(p.complete(USER, {}) for p in [first, second] * 5))
    assert [r.text for r in results] == ["pong"] * 10
    await first.aclose()  # the run owns the session: a provider does not close it
    assert not transport.session().closed
    assert (await second.complete(USER, {})).text == "pong"
    assert peak <= 2 and connections <= 2
    await transport.aclose()
    server.close()
    await server.wait_closed()


async def test_garbage_and_refused_connections_are_retried_then_reported() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"SMTP ready\r\n\r\n")
        await writer.drain()

    server, url = await serve(handler)
    fast = RetryPolicy(max_retries=1, base_delay=0.01, max_delay=0.02)
    client = provider(url, retry=fast)
    with pytest.raises(ProviderError, match=r"after 2 attempts") as info:
        await client.complete(USER, {})
    assert info.value.attempts == 2
    await client.aclose()
    refused = provider("http://127.0.0.1:9", retry=fast)
    with pytest.raises(ProviderError, match=r"ClientConnectorError.*after 2 attempts"):
        await refused.complete(USER, {})
    await refused.aclose()
    server.close()
    await server.wait_closed()


async def test_silent_server_hits_the_deadline() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await reader.read()  # say nothing until the client gives up and hangs up

    server, url = await serve(handler)
    client = provider(url, timeout=0.2)
    with pytest.raises(ProviderError, match="timed out after 0.2s"):
        await client.complete(USER, {})
    await client.aclose()
    server.close()
    await server.wait_closed()


async def test_truncated_body_is_retried_on_a_fresh_connection() -> None:
    calls = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        await read_request(reader)
        calls += 1
        if calls == 1:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
        else:
            writer.write(ok())
        await writer.drain()

    server, url = await serve(handler)
    client = provider(url, retry=RetryPolicy(max_retries=1, base_delay=0.01, max_delay=0.02))
    done = await client.complete(USER, {})
    assert done.text == "pong" and done.attempts == 2 and calls == 2
    await client.aclose()
    server.close()
    await server.wait_closed()


async def test_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY is honoured (trust_env): the request goes to the proxy in absolute form,
    and the model's host is never contacted (nor even resolved)."""
    seen: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.write(ok(extra=b"Connection: close\r\n"))
        await writer.drain()

    server, proxy_url = await serve(proxy)
    monkeypatch.setenv("HTTP_PROXY", proxy_url.replace("//", "//me:pw@"))
    client = provider("http://model.invalid/v1")
    assert (await client.complete(USER, {})).text == "pong"
    await client.aclose()
    assert seen[0].startswith(b"POST http://model.invalid/v1/chat/completions HTTP/1.1\r\n")
    assert b"\r\nProxy-Authorization: Basic bWU6cHc=\r\n" in seen[0]  # me:pw
    direct: list[bytes] = []

    async def model(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        direct.append(await read_request(reader))
        writer.write(ok(extra=b"Connection: close\r\n"))
        await writer.drain()

    target, url = await serve(model)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client = provider(url)
    assert (await client.complete(USER, {})).text == "pong"
    await client.aclose()
    assert len(seen) == 1 and direct[0].startswith(b"POST /chat/completions HTTP/1.1\r\n")
    for running in (server, target):
        running.close()
        await running.wait_closed()


async def test_https_goes_through_a_connect_tunnel_with_proxy_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()

    server, proxy_url = await serve(proxy)
    monkeypatch.setenv("HTTPS_PROXY", proxy_url.replace("//", "//me:pw@"))
    client = provider(
        "https://model.invalid/v1",
        env={"LOCAL_API_KEY": "sk-tunnelled", "PROMPTVER_ALLOWED_HOSTS": "model.invalid"},
    )
    with pytest.raises(ProviderError, match="407") as info:
        await client.complete(USER, {})
    await client.aclose()
    assert seen[0].startswith(b"CONNECT model.invalid:443 HTTP/1.1\r\n")
    assert b"\r\nProxy-Authorization: Basic bWU6cHc=\r\n" in seen[0]
    assert b"sk-tunnelled" not in seen[0] and "sk-tunnelled" not in str(info.value)
    server.close()
    await server.wait_closed()


async def test_session_is_remade_after_close_and_per_event_loop() -> None:
    transport = Transport(limit=1)
    first = transport.session()
    assert transport.session() is first and first.connector is not None
    assert first.connector.limit == 1
    await transport.aclose()
    assert first.closed and transport.session() is not first
    await transport.aclose()


async def test_a_netrc_default_entry_does_not_break_keyed_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiohttp's trust_env would add .netrc credentials as Basic auth and then refuse the
    request for also having an Authorization header; the run reads only proxies from the
    environment, so the Bearer key goes out alone."""
    netrc = tmp_path / "netrc"
    netrc.write_text("default login someone password secret\n")
    monkeypatch.setenv("NETRC", str(netrc))
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.write(ok())
        await writer.drain()

    server, url = await serve(handler)
    client = provider(url, env={"LOCAL_API_KEY": "sk-local-key", "PROMPTVER_ALLOWED_HOSTS": "127.0.0.1"})
    assert (await client.complete(USER, {})).text == "pong"
    await client.aclose()
    assert b"\r\nAuthorization: Bearer sk-local-key\r\n" in seen[0]
    server.close()
    await server.wait_closed()
