"""The eval run's HTTP client: one aiohttp ``ClientSession`` shared by every provider of a run.

aiohttp keeps a pool of keep-alive connections (``TCPConnector(limit=concurrency)``) and
spends well under a millisecond of CPU per request, so a run at concurrency 50 stays
latency-bound (docs/architecture.md has the figures against httpx). TLS uses aiohttp's
default context (the system's certificate store, hostname checks on).

Proxies come from the environment (``HTTP_PROXY``, ``HTTPS_PROXY``, ``NO_PROXY``, with
credentials in the URL or in ``.netrc`` for the proxy host), read by aiohttp's own helper,
the one ``trust_env=True`` uses. But it is read once per origin for the whole run, not per
request: with ``trust_env=True`` aiohttp makes two thread-pool hops per request (the proxy
lookup and a ``.netrc`` read for the server's host), which cost about 0.35 ms of CPU each
time, and a ``default`` entry in ``~/.netrc`` makes every request with an ``Authorization``
header fail ("Cannot combine AUTHORIZATION header with AUTH argument").

The session is made on first use, inside the running event loop (aiohttp binds a session to
its loop), and made again if a closed one is asked for (``asyncio.run`` per run). aiohttp is
imported only here and in the providers' functions, so ``import promptver`` never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import aiohttp


class Transport:
    """Lazily opened ``aiohttp.ClientSession`` with at most ``limit`` connections."""

    def __init__(self, limit: int) -> None:
        # Imported while the run is planned (a few hundred ms on a busy machine), so the
        # first requests do not wait for it.
        import aiohttp  # noqa: F401

        self.limit = max(1, limit)
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, tuple[dict[str, Any], dict[str, str]]] = {}

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            import aiohttp

            connector = aiohttp.TCPConnector(limit=self.limit)
            # No aiohttp timeout: the provider puts one total deadline (asyncio.timeout)
            # around each attempt, connecting and reading the body included.
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return self._session

    def post(self, url: str, headers: dict[str, str], data: bytes) -> Any:
        """``session.post`` (an async context manager) through the proxy for ``url``, if any."""
        options, extra = self._proxy(url)
        if extra:
            headers = {**headers, **extra}
        return self.session().post(url, headers=headers, data=data, allow_redirects=False, **options)

    def request(self, method: str, url: str, headers: dict[str, str], data: Any = None) -> Any:
        """Any method (the batch APIs' GETs and file uploads), through the same proxy."""
        options, extra = self._proxy(url)
        if extra:
            headers = {**headers, **extra}
        return self.session().request(method, url, headers=headers, data=data, **options)

    def _proxy(self, url: str) -> tuple[dict[str, Any], dict[str, str]]:
        """Request options and headers for the environment's proxy for ``url``, looked up
        once per scheme and host (both empty when no proxy applies)."""
        from yarl import URL

        parsed = URL(url)
        origin = f"{parsed.scheme}://{parsed.host}"
        if origin not in self._proxies:
            from aiohttp.helpers import get_env_proxy_for_url

            options: dict[str, Any] = {}
            extra: dict[str, str] = {}
            try:
                proxy, auth = get_env_proxy_for_url(parsed)
            except LookupError:
                pass
            else:
                options["proxy"] = proxy
                # Credentials go as a header (aiohttp 3.14 deprecates proxy_auth): a plain
                # HTTP request carries it itself, an HTTPS one in its CONNECT to the proxy.
                if auth is not None and parsed.scheme == "https":
                    options["proxy_headers"] = {"Proxy-Authorization": auth.encode()}
                elif auth is not None:
                    extra["Proxy-Authorization"] = auth.encode()
            self._proxies[origin] = (options, extra)
        return self._proxies[origin]

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
