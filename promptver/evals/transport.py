"""The eval run's HTTP client: one aiohttp ``ClientSession`` shared by every provider of a run.

aiohttp keeps a pool of keep-alive connections (``TCPConnector(limit=concurrency)``) and
spends well under a millisecond of CPU per request, so a run at concurrency 50 stays
latency-bound (docs/architecture.md has the figures against httpx). Proxies come from the
environment (``HTTPS_PROXY``, ``NO_PROXY``..., ``trust_env``) and TLS uses aiohttp's default
context (the system's certificate store, hostname checks on).

The session is made on first use, inside the running event loop (aiohttp binds a session to
its loop), and made again if a closed one is asked for (``asyncio.run`` per run). aiohttp is
imported only here, so ``import promptver`` never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import aiohttp


class Transport:
    """Lazily opened ``aiohttp.ClientSession`` with at most ``limit`` connections."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            import aiohttp

            connector = aiohttp.TCPConnector(limit=self.limit)
            # No aiohttp timeout: the provider puts one total deadline (asyncio.timeout)
            # around each attempt, connecting and reading the body included.
            self._session = aiohttp.ClientSession(
                connector=connector,
                trust_env=True,
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

