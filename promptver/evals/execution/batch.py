"""``--batch``: a run's model calls through the provider's batch API, at half the price.

OpenAI (the Batch API): the requests go as a JSONL file, one line per request
``{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}``, uploaded with
``POST /v1/files`` (``purpose=batch``); ``POST /v1/batches`` (``input_file_id``,
``endpoint``, ``completion_window: "24h"``) starts it; ``GET /v1/batches/{id}`` is polled
until ``status`` is ``completed`` (or ``failed``, ``expired``, ``cancelled``); answers are
lines of the ``output_file_id`` file and failures lines of the ``error_file_id`` file, both
read with ``GET /v1/files/{id}/content``. At most 50,000 requests and 200 MB a batch.

Anthropic (Message Batches): ``POST /v1/messages/batches`` with
``{"requests": [{"custom_id", "params"}]}``; ``GET /v1/messages/batches/{id}`` is polled
until ``processing_status`` is ``ended``; ``results_url`` is a JSONL file of
``{"custom_id", "result": {"type": "succeeded" | "errored" | "canceled" | "expired"}}``.
At most 100,000 requests and 256 MB a batch.

A request's ``custom_id`` is its call-cache key (64 hex characters; Anthropic allows
``[a-zA-Z0-9_-]{1,64}``), so identical requests go once. Requests over a batch's limits
are split into several batches. Every batch id is written to the run's ``batches.json``
before the run waits on it: a killed run (even SIGKILL) resumes by polling the batches it
stored and submits nothing twice. Before a batch is created its *intent* (a random token, put in the
OpenAI batch's metadata) is written there too: a run killed while the provider was
accepting a batch, or whose create request timed out, finds that batch in the batch list
on resume instead of sending it again. Anthropic's batches carry no metadata, so there the
window left is the few milliseconds between the provider's answer and the write.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptver.errors import PromptverError
from promptver.evals.execution.providers import Completion, answer_facts
from promptver.store.atomic import atomic_write

BATCH_DISCOUNT = 0.5  # both providers bill batch requests at half the interactive price
STATE_FILE = "batches.json"
OPENAI_DONE = {"completed", "failed", "expired", "cancelled"}


@dataclass(frozen=True)
class Limits:
    requests: int
    bytes: int


LIMITS = {"openai": Limits(50_000, 200 * 1000 * 1000), "anthropic": Limits(100_000, 256 * 1000 * 1000)}


class BatchError(PromptverError):
    """A batch could not be submitted or read."""


@dataclass
class Pending:
    """One request to send: its key (custom_id) and its body."""

    key: str
    body: dict[str, Any]


def split(requests: list[Pending], limits: Limits, line: Callable[[Pending], bytes]) -> list[list[Pending]]:
    """Requests cut into batches of at most ``limits.requests`` lines and ``limits.bytes``
    bytes (as the provider counts the file or the request body), in order."""
    chunks: list[list[Pending]] = []
    current: list[Pending] = []
    size = 0
    for request in requests:
        length = len(line(request)) + 1
        if length > limits.bytes:
            raise BatchError(
                f"request {request.key[:12]} alone is over the batch size limit ({limits.bytes} bytes)"
            )
        if current and (len(current) >= limits.requests or size + length > limits.bytes):
            chunks.append(current)
            current, size = [], 0
        current.append(request)
        size += length
    if current:
        chunks.append(current)
    return chunks


class State:
    """The run's batches (``batches.json`` in the run folder), rewritten atomically."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / STATE_FILE
        self.batches: list[dict[str, Any]] = []
        try:
            data = json.loads(self.path.read_text("utf-8"))
            if isinstance(data, dict) and isinstance(data.get("batches"), list):
                self.batches = [
                    b
                    for b in data["batches"]
                    if isinstance(b, dict)
                    and (isinstance(b.get("id"), str) or isinstance(b.get("intent"), str))
                ]
        except (OSError, ValueError):
            pass

    def submitted(self) -> set[str]:
        return {key for b in self.batches for key in b.get("keys", [])}

    def add(self, entry: dict[str, Any]) -> None:
        self.batches.append(entry)
        self.save()

    def save(self) -> None:
        atomic_write(self.path, json.dumps({"batches": self.batches}, indent=1).encode() + b"\n")


Progress = Callable[[dict[str, Any]], None]


class BatchClient:
    """The batch endpoints of one provider, over the provider's HTTP session and key."""

    def __init__(self, provider: Any, poll: float) -> None:
        self.provider = provider
        self.kind = provider.kind  # "openai" or "anthropic"
        self.poll = poll
        self.limits = LIMITS[self.kind]

    # -- HTTP ------------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        if self.kind == "openai":
            headers: dict[str, str] = self.provider.auth_headers()
            return headers
        from promptver.evals.execution.providers import ANTHROPIC_VERSION

        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if self.provider._key:
            headers["x-api-key"] = self.provider._key
        return headers

    async def _http(
        self, method: str, url: str, *, body: Any = None, form: Any = None, retry: bool = True
    ) -> bytes:
        """One request with the provider's retries (only on answers that say nothing was
        done: 429, 503, 529, when ``retry`` is off, as for creating a batch)."""
        import aiohttp

        from promptver.evals.execution.providers import RETRY_STATUS, parse_retry_after

        self._check_url(url)
        headers = self._headers()
        attempt = 0
        while True:
            data: Any = form
            if body is not None:
                data = json.dumps(body).encode()
                headers = {**headers, "Content-Type": "application/json"}
            wait: float | None = None
            try:
                async with asyncio.timeout(self.provider.timeout):
                    async with self.provider._transport.request(method, url, headers, data) as response:
                        content = await response.read()
                        status = response.status
                        wait = parse_retry_after(response.headers.get("retry-after"))
            except (TimeoutError, aiohttp.ClientError) as exc:
                if not retry or attempt >= self.provider.retry.max_retries:
                    raise BatchError(
                        f"{self.provider.label}: {method} {_path(url)} failed: {exc or type(exc).__name__}",
                        hint=None
                        if retry
                        else "the provider may have taken the batch: see its batch list before a re-run",
                    ) from exc
                status, content = 0, b""
            if 200 <= status < 300:
                return content
            if status:
                retryable = status in RETRY_STATUS if retry else status in (429, 503, 529)
                if not retryable or attempt >= self.provider.retry.max_retries:
                    from promptver.evals.execution.providers import _error_detail

                    detail = _error_detail(content.decode("utf-8", "replace"), self.provider._key)
                    raise BatchError(f"{self.provider.label}: {method} {_path(url)}: HTTP {status}{detail}")
            await asyncio.sleep(self.provider.retry.backoff(attempt) if wait is None else wait)
            attempt += 1

    def _check_url(self, url: str) -> None:
        """The key goes only to the provider's own origin (a results URL comes from the
        provider's answer: it is checked like any outside data)."""
        from yarl import URL

        mine, theirs = URL(self.provider.base_url), URL(url)
        if (mine.scheme, mine.host, mine.port) != (theirs.scheme, theirs.host, theirs.port):
            raise BatchError(
                f"{self.provider.label}: the batch points to {theirs.scheme}://{theirs.host}, "
                f"not to the provider's {mine.scheme}://{mine.host}; the API key is not sent there"
            )

    async def _json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        content = await self._http(method, url, **kwargs)
        try:
            data = json.loads(content)
        except ValueError as exc:
            raise BatchError(f"{self.provider.label}: {method} {_path(url)}: malformed JSON") from exc
        if not isinstance(data, dict):
            raise BatchError(f"{self.provider.label}: {method} {_path(url)}: unexpected answer")
        return data

    # -- requests --------------------------------------------------------------------------
    def line(self, request: Pending) -> bytes:
        if self.kind == "openai":
            item: dict[str, Any] = {
                "custom_id": request.key,
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": request.body,
            }
        else:
            item = {"custom_id": request.key, "params": request.body}
        return json.dumps(item, ensure_ascii=False).encode()

    def _root(self) -> str:
        """The API root: OpenAI's base URL ends in /v1; Anthropic's is the host."""
        return self.provider.base_url.rstrip("/")

    async def find(self, intent: str) -> str | None:
        """The id of the batch a killed run submitted under ``intent`` (OpenAI: the batch
        list, newest first, matched on its metadata); None when there is none, or no way
        to know (Anthropic's batches carry no metadata)."""
        if self.kind != "openai":
            return None
        listing = await self._json("GET", f"{self._root()}/batches?limit=100")
        for batch in listing.get("data") or []:
            metadata = batch.get("metadata") if isinstance(batch, dict) else None
            if isinstance(metadata, dict) and metadata.get("promptver_intent") == intent:
                return _field(batch, "id", "the batch list")
        return None

    async def create(self, chunk: list[Pending], run_id: str, intent: str = "") -> str:
        """Submit one batch; returns its id."""
        if self.kind == "openai":
            import aiohttp

            form = aiohttp.FormData()
            form.add_field("purpose", "batch")
            form.add_field(
                "file",
                b"\n".join(self.line(r) for r in chunk) + b"\n",
                filename=f"promptver-{run_id}.jsonl",
                content_type="application/jsonl",
            )
            uploaded = await self._json("POST", f"{self._root()}/files", form=form)
            file_id = _field(uploaded, "id", "the file upload")
            body = {
                "input_file_id": file_id,
                "endpoint": "/v1/chat/completions",
                "completion_window": "24h",
                "metadata": {"promptver_run": run_id, "promptver_intent": intent},
            }
            batch = await self._json("POST", f"{self._root()}/batches", body=body, retry=False)
        else:
            requests = [json.loads(self.line(r)) for r in chunk]
            url = f"{self._root()}/v1/messages/batches"
            batch = await self._json("POST", url, body={"requests": requests}, retry=False)
        return _field(batch, "id", "the batch")

    async def status(self, batch_id: str) -> dict[str, Any]:
        if self.kind == "openai":
            return await self._json("GET", f"{self._root()}/batches/{_safe(batch_id)}")
        return await self._json("GET", f"{self._root()}/v1/messages/batches/{_safe(batch_id)}")

    def done(self, batch: dict[str, Any]) -> bool:
        if self.kind == "openai":
            return batch.get("status") in OPENAI_DONE
        return batch.get("processing_status") == "ended"

    async def results(self, batch: dict[str, Any]) -> dict[str, Completion | str]:
        """custom_id -> the answer, or the reason it has none."""
        found: dict[str, Completion | str] = {}
        if self.kind == "openai":
            for name in ("output_file_id", "error_file_id"):
                file_id = batch.get(name)
                if isinstance(file_id, str) and file_id:
                    content = await self._http("GET", f"{self._root()}/files/{_safe(file_id)}/content")
                    for item in _jsonl(content):
                        self._openai_result(item, found)
        else:
            url = batch.get("results_url")
            if not isinstance(url, str) or not url:
                raise BatchError(
                    f"{self.provider.label}: batch {batch.get('id')} ended without a results_url"
                )
            for item in _jsonl(await self._http("GET", url)):
                self._anthropic_result(item, found)
        return found

    def _openai_result(self, item: dict[str, Any], found: dict[str, Completion | str]) -> None:
        key = item.get("custom_id")
        if not isinstance(key, str):
            return
        response = item.get("response") if isinstance(item.get("response"), dict) else None
        error = item.get("error")
        if response is not None and response.get("status_code") == 200 and not error:
            try:
                text, usage = self.provider._parse(response.get("body"))
            except (KeyError, IndexError, TypeError, ValueError):
                found[key] = "unexpected answer shape in the batch output"
                return
            body = response.get("body") or {}
            found[key] = Completion(text, usage, 0.0, 1, answer_facts(body))
            return
        message = None
        if isinstance(error, dict):
            message = error.get("message") or error.get("code")
        elif response is not None:
            body = response.get("body")
            inner = body.get("error") if isinstance(body, dict) else None
            message = f"HTTP {response.get('status_code')}: " + str(
                (inner.get("message") if isinstance(inner, dict) else None) or "error"
            )
        found[key] = str(message or "failed in the batch")

    def _anthropic_result(self, item: dict[str, Any], found: dict[str, Completion | str]) -> None:
        key = item.get("custom_id")
        result = item.get("result")
        if not isinstance(key, str) or not isinstance(result, dict):
            return
        kind = result.get("type")
        if kind == "succeeded":
            message = result.get("message")
            try:
                text, usage = self.provider._parse(message)
            except (KeyError, IndexError, TypeError, ValueError):
                found[key] = "unexpected answer shape in the batch results"
                return
            found[key] = Completion(text, usage, 0.0, 1, answer_facts(message))
        elif kind == "errored":
            error = result.get("error")
            inner = error.get("error") if isinstance(error, dict) else None
            detail = inner.get("message") if isinstance(inner, dict) else None
            found[key] = f"errored in the batch: {detail or 'no detail'}"
        else:
            found[key] = f"{kind} before it ran (the batch ended first)"


def _field(data: dict[str, Any], name: str, what: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise BatchError(f"no {name} in the answer to {what}")
    return value


def _safe(identifier: str) -> str:
    """An id from the provider, used in a URL path: letters, digits, '-', '_' only."""
    if not identifier or not all(c.isalnum() or c in "-_" for c in identifier) or len(identifier) > 200:
        raise BatchError(f"unexpected batch or file id {identifier[:40]!r}")
    return identifier


def _path(url: str) -> str:
    from yarl import URL

    return URL(url).path


def _jsonl(content: bytes) -> Iterable[dict[str, Any]]:
    for line in content.splitlines():
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            yield item


async def run_batches(
    client: BatchClient,
    requests: list[Pending],
    state: State,
    run_id: str,
    progress: Progress | None = None,
    max_requests: int | None = None,
) -> dict[str, Completion | str]:
    """Submit what was not submitted yet, wait for every batch of the run, read results."""
    limits = client.limits
    if max_requests is not None:
        limits = Limits(min(limits.requests, max_requests), limits.bytes)
    for unsure in [b for b in state.batches if b.get("id") is None and b.get("provider") == client.kind]:
        # a batch being created when the run was killed (or whose answer timed out)
        adopted = await client.find(str(unsure["intent"]))
        if adopted is not None:
            unsure["id"] = adopted
        else:
            state.batches.remove(unsure)  # never accepted (or unknowable): its requests go again
        state.save()
    known = state.submitted()
    todo = [r for r in requests if r.key not in known]
    for chunk in split(todo, limits, client.line):
        # the intent is written before the batch is created, its id as soon as it is known:
        # a killed run finds its batches (OpenAI: by the intent in the batch's metadata)
        entry = {
            "id": None,
            "intent": secrets.token_hex(8),
            "provider": client.kind,
            "keys": [r.key for r in chunk],
            "submitted": _now(),
        }
        state.add(entry)
        entry["id"] = await client.create(chunk, run_id, entry["intent"])
        state.save()
    results: dict[str, Completion | str] = {}
    for entry in state.batches:
        if entry.get("provider") != client.kind:
            continue
        while True:
            batch = await client.status(entry["id"])
            if progress is not None:
                progress(
                    {
                        "id": entry["id"],
                        "status": batch.get("status") or batch.get("processing_status"),
                        "counts": batch.get("request_counts"),
                    }
                )
            if client.done(batch):
                break
            await asyncio.sleep(client.poll)
        found = await client.results(batch)
        status = batch.get("status") or batch.get("processing_status")
        for key in entry.get("keys", []):  # a failed or expired batch: every request says so
            results[key] = found.get(key, f"no answer in batch {entry['id']} ({status})")
        entry["status"] = status
        state.save()
    return results


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
