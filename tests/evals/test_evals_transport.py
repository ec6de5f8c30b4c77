"""The lean HTTP/1.1 transport against raw 127.0.0.1 servers: framing, reuse, failures."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable

import httpx
import pytest

from promptver.evals.transport import LeanTransport, direct_transport, make_client

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


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


async def test_chunked_gzip_and_close_delimited_bodies() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            if not await answer(reader, writer):
                return

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        request = await read_request(reader)
        if b"/chunked" in request:
            data = gzip.compress(b'{"hello": "chunked world"}')
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n")
            for start in range(0, len(data), 7):
                part = data[start : start + 7]
                writer.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            return True
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
        await writer.drain()
        writer.close()
        return False

    server, url = await serve(handler)
    async with make_client(url, 5.0, False) as client:
        response = await client.post(f"{url}/chunked", content=b"{}")
        assert response.json() == {"hello": "chunked world"}
        response = await client.post(f"{url}/close", content=b"x")
        assert response.text == "until the end"
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
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
        writer.close()

    server, url = await serve(handler)
    async with make_client(url, 5.0, False) as client:
        for _ in range(2):
            assert (await client.post(url, content=b"a")).text == "ok"
        assert connections == 1
        await asyncio.sleep(0.05)
        assert (await client.post(url, content=b"b")).text == "ok"
        assert connections == 2
    server.close()
    await server.wait_closed()


async def test_protocol_errors_are_httpx_errors() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"SMTP ready\r\n\r\n")
        await writer.drain()
        writer.close()

    server, url = await serve(handler)
    async with make_client(url, 5.0, False) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(url, content=b"{}")
        with pytest.raises(httpx.ConnectError):
            await client.post("http://127.0.0.1:9/", content=b"{}")
    server.close()
    await server.wait_closed()


async def test_silent_server_times_out() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await reader.read()  # say nothing until the client gives up and hangs up

    server, url = await serve(handler)
    async with make_client(url, 0.2, False) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(url, content=b"{}")
    server.close()
    await server.wait_closed()


async def test_truncated_body_is_a_read_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
        await writer.drain()
        writer.close()

    server, url = await serve(handler)
    async with make_client(url, 5.0, False) as client:
        with pytest.raises(httpx.ReadError):
            await client.post(url, content=b"{}")
    server.close()
    await server.wait_closed()


def test_proxies_use_httpx_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    assert direct_transport("https://api.openai.com/v1", None) is None
    assert isinstance(direct_transport("https://internal.example/v1", None), LeanTransport)
    assert isinstance(direct_transport("http://127.0.0.1:8000/v1", None), LeanTransport)
