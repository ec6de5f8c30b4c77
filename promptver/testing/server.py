"""A real HTTP server on 127.0.0.1 that speaks two LLM APIs, for tests and benchmarks.

It answers OpenAI chat-completions (``POST .../chat/completions``) and Anthropic Messages
(``POST .../messages``) requests, OpenAI embeddings (``POST .../embeddings``: a hashed bag of
words, so texts sharing words are close) and Cohere/Jina-style rerank (``POST .../rerank``:
the share of the query's words a document holds). Answers are deterministic: the first matching ``Rule``
(matched on the last user message) decides what happens; with no rule, the answer echoes
that message. Rules can inject latency, HTTP errors (429 with ``Retry-After``, 500...),
malformed JSON bodies, stalls (for timeouts) and slowly trickled bodies or SSE streams.

It binds 127.0.0.1 only, on a random free port, in a background thread. Run it as a
process (to try evals without a key, or for benchmarks that must not count its CPU time)
with ``python -m promptver.testing.server --port 8765 --latency 0.05``; it prints its URL
on the first line. ``--rules FILE`` reads rules from a JSON list of objects with `Rule`'s
fields (``[{"match": "capital of France", "reply": "Paris"}]``).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from promptver.testing.answers import answer_payload, last_user_text, rough_tokens


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default (5) drops connections at concurrency 50
    daemon_threads = True


@dataclass
class Rule:
    """What the server does for requests whose last user message matches ``match``.

    ``match`` is a regular expression searched in the message (``""`` matches all).
    ``times`` limits how many requests the rule applies to (None: every request).
    """

    match: str = ""
    reply: str | None = None
    status: int = 200
    retry_after: str | None = None
    latency: float | None = None
    malformed: bool = False
    stall: float | None = None  # sleep this long before sending anything
    trickle: float | None = None  # seconds between body chunks (slow stream)
    usage: bool = True
    error_body: str | None = None  # body of an error response (default: a JSON error)
    echo_header: str | None = None  # append this request header's value to the error body
    redirect: str | None = None  # answer 307 with this Location
    times: int | None = None
    model: str | None = None  # only requests for this model (None: any)
    used: int = 0

    def applies(self, text: str, model: str = "") -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        if self.model is not None and self.model != model:
            return False
        return re.search(self.match, text) is not None


@dataclass
class Seen:
    """One request the server received."""

    path: str
    headers: dict[str, str]
    body: Any
    time: float


@dataclass
class FakeLLMServer:
    """The server; use as a context manager or call ``start()`` / ``stop()``."""

    latency: float = 0.0
    rules: list[Rule] = field(default_factory=list)
    requests: list[Seen] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0
    # Embeddings as lists of numbers even when base64 is asked for (as some compatible servers do)
    embeddings_as_lists: bool = False
    # An enforced rate limit with the providers' headers (tests/fakeserver_limits.py)
    limit: Any = None
    # The OpenAI and Anthropic batch APIs (tests/fakeserver_batch.py)
    batches: Any = None
    # OpenAI answers carry this system_fingerprint (None: no such field)
    fingerprint: str | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeLLMServer:
        handler = type("Handler", (_Handler,), {"server_state": self})
        self._httpd = _Server((self.host, self.port), handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- configuration ---------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base(self) -> str:
        return f"{self.url}/v1"

    def add(self, **kwargs: Any) -> Rule:
        """Add a rule (checked in insertion order) and return it."""
        rule = Rule(**kwargs)
        with self._lock:
            self.rules.append(rule)
        return rule

    def reset(self) -> None:
        with self._lock:
            self.rules.clear()
            self.requests.clear()

    def count(self, path_suffix: str = "") -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path.endswith(path_suffix))

    def _pick(self, text: str, model: str = "") -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.applies(text, model):
                    rule.used += 1
                    return rule
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_state: FakeLLMServer
    # One buffered write per response and no Nagle delay: otherwise headers and body go out
    # as two segments and the client's delayed ACK adds ~40 ms to every request.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        state = self.server_state
        with state._lock:
            state.requests.append(
                Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time())
            )
        if state.batches is not None and state.batches.handles(self.path):
            state.batches.post(self, state, raw)
            return
        if self.path.endswith("/chat/completions"):
            kind = "openai"
        elif self.path.endswith("/messages"):
            kind = "anthropic"
        elif self.path.endswith("/embeddings"):
            kind = "embeddings"
        elif self.path.endswith("/rerank"):
            kind = "rerank"
        else:
            self._send(404, b'{"error": "not found"}')
            return
        if body is None:
            self._send(400, b'{"error": "request body is not JSON"}')
            return
        if kind == "embeddings":
            inputs = body.get("input")
            text = "\n".join(inputs) if isinstance(inputs, list) else str(inputs)
        elif kind == "rerank":
            text = str(body.get("query", ""))
        else:
            text = last_user_text(body)
        limit_headers: dict[str, str] = {}
        if state.limit is not None and kind in ("openai", "anthropic"):
            allowed, limit_headers = state.limit.take(kind, rough_tokens(text))
            if not allowed:
                error = {"error": {"type": "rate_limit_error", "message": "rate limit reached"}}
                self._send(429, json.dumps(error).encode(), limit_headers)
                return
        rule = state._pick(text, str(body.get("model", "")) if isinstance(body, dict) else "")
        if rule is not None and rule.stall:
            time.sleep(rule.stall)
        delay = rule.latency if rule is not None and rule.latency is not None else state.latency
        if delay:
            time.sleep(delay)
        if rule is not None and rule.redirect:
            self._send(307, b"", {"Location": rule.redirect})
            return
        if rule is not None and rule.status != 200:
            headers = {"Retry-After": rule.retry_after} if rule.retry_after else {}
            error = {"error": {"type": "fake_error", "message": f"injected {rule.status}"}}
            body_text = rule.error_body if rule.error_body is not None else json.dumps(error)
            if rule.echo_header:  # as servers that quote the credentials they refused
                body_text += self.headers.get(rule.echo_header, "")
            self._send(rule.status, body_text.encode(), headers)
            return
        if rule is not None and rule.malformed:
            self._send(200, b'{"id": "broken", "choices": [')
            return
        if kind in ("embeddings", "rerank"):
            if kind == "embeddings" and state.embeddings_as_lists:
                body = {**body, "encoding_format": "float"}
            answer = _embeddings(body) if kind == "embeddings" else _rerank(body)
            if answer is None:
                self._send(400, b'{"error": {"message": "bad request"}}')
            else:
                self._send(200, json.dumps(answer).encode())
            return
        reply = rule.reply if rule is not None and rule.reply is not None else f"echo: {text}"
        usage = rule.usage if rule is not None else True
        model = str(body.get("model", ""))
        if body.get("stream"):
            self._stream(kind, model, reply, rule.trickle if rule else None)
            return
        payload = answer_payload(kind, model, text, reply, usage)
        if state.fingerprint is not None and kind == "openai":
            payload["system_fingerprint"] = state.fingerprint
        trickle = rule.trickle if rule is not None else None
        self._send(200, json.dumps(payload).encode(), limit_headers, trickle=trickle)

    def do_GET(self) -> None:
        state = self.server_state
        with state._lock:
            state.requests.append(
                Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, None, time.time())
            )
        if state.batches is not None and state.batches.handles(self.path):
            state.batches.get(self)
            return
        self._send(404, b'{"error": "not found"}')

    def _send(
        self,
        status: int,
        data: bytes,
        headers: dict[str, str] | None = None,
        trickle: float | None = None,
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if trickle:
                self.wfile.flush()
                for start in range(0, len(data), 8):
                    self.wfile.write(data[start : start + 8])
                    self.wfile.flush()
                    time.sleep(trickle)
            else:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _stream(self, kind: str, model: str, reply: str, trickle: float | None) -> None:
        """Server-sent events, one word per event, ``trickle`` seconds apart."""
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.flush()
            self.close_connection = True
            for word in re.findall(r"\S+\s*", reply):
                event: dict[str, Any]
                if kind == "openai":
                    event = {"choices": [{"index": 0, "delta": {"content": word}}], "model": model}
                    chunk = f"data: {json.dumps(event)}\n\n"
                else:
                    event = {"type": "content_block_delta", "delta": {"type": "text_delta", "text": word}}
                    chunk = f"event: content_block_delta\ndata: {json.dumps(event)}\n\n"
                self.wfile.write(chunk.encode())
                self.wfile.flush()
                if trickle:
                    time.sleep(trickle)
            stop = 'event: message_stop\ndata: {"type": "message_stop"}\n\n'
            end = "data: [DONE]\n\n" if kind == "openai" else stop
            self.wfile.write(end.encode())
        except (BrokenPipeError, ConnectionResetError):
            pass


EMBEDDING_SIZE = 256
_WORDS = re.compile(r"[^\W_]{3,}")


def words(text: str) -> list[str]:
    """Lower-cased words of three letters or more: what the fake models look at."""
    return _WORDS.findall(text.casefold())


# word -> its coordinate and sign, as one signed number: +-(coordinate + 1)
_SLOTS: dict[int, dict[str, int]] = {}


def _signed_slot(word: str, size: int) -> int:
    digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
    slot = int.from_bytes(digest[:4], "big") % size + 1
    return slot if digest[4] & 1 else -slot


def embed_many(texts: list[str], size: int = EMBEDDING_SIZE) -> list[list[float]]:
    result: list[list[float]] = _embed_array(texts, size).tolist()
    return result


def _embed_array(texts: list[str], size: int) -> Any:
    """Deterministic unit vectors: each word of a text adds +-1 to a hashed coordinate.

    Computed for the whole batch in numpy, with each word's coordinate looked up once: the
    server must cost little next to its ``latency``, which benchmarks count as the whole
    of a request's time (its threads share one GIL: at 8 ms of CPU a batch of 128 texts,
    eight batches in flight took three times the latency)."""
    import numpy as np

    known = _SLOTS.setdefault(size, {})
    rows: list[int] = []
    slots: list[int] = []
    for row, text in enumerate(texts):
        found = words(text)
        for word in found:
            if word not in known:
                known[word] = _signed_slot(word, size)
        slots += map(known.__getitem__, found)
        rows += [row] * len(found)
    signed = np.array(slots, dtype=np.intp)
    cells = np.array(rows, dtype=np.intp) * size + np.abs(signed) - 1
    vectors = np.bincount(cells, np.sign(signed), minlength=len(texts) * size).reshape(len(texts), size)
    norms = np.sqrt((vectors * vectors).sum(axis=1, keepdims=True))
    return np.round(vectors / np.where(norms > 0, norms, 1.0), 6)


def embed(text: str, size: int = EMBEDDING_SIZE) -> list[float]:
    return embed_many([text], size)[0]


def _embeddings(body: dict[str, Any]) -> dict[str, Any] | None:
    inputs = body.get("input")
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
        return None
    size = body.get("dimensions") or EMBEDDING_SIZE
    tokens = sum(rough_tokens(i) for i in inputs)
    array = _embed_array(inputs, size)
    if body.get("encoding_format") == "base64":  # little-endian float32, as OpenAI sends
        vectors: list[Any] = [base64.b64encode(row.astype("<f4").tobytes()).decode() for row in array]
    else:
        vectors = array.tolist()
    return {
        "object": "list",
        "model": str(body.get("model", "")),
        "data": [
            {"object": "embedding", "index": i, "embedding": vector} for i, vector in enumerate(vectors)
        ],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def rerank_score(query: str, document: str) -> float:
    wanted = set(words(query))
    return round(len(wanted & set(words(document))) / len(wanted), 6) if wanted else 0.0


def _rerank(body: dict[str, Any]) -> dict[str, Any] | None:
    query, documents = body.get("query"), body.get("documents")
    if not isinstance(query, str) or not isinstance(documents, list):
        return None
    texts = [d.get("text", "") if isinstance(d, dict) else str(d) for d in documents]
    ranked = sorted(range(len(texts)), key=lambda i: (-rerank_score(query, texts[i]), i))
    top_n = body.get("top_n") or len(texts)
    return {
        "model": str(body.get("model", "")),
        "results": [{"index": i, "relevance_score": rerank_score(query, texts[i])} for i in ranked[:top_n]],
    }


def read_rules(path: str) -> list[Rule]:
    """Rules from a JSON file: a list of objects with `Rule`'s fields."""
    from dataclasses import fields

    known = {f.name for f in fields(Rule)} - {"used"}
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"Error: cannot read rules from {path}: {exc}") from None
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise SystemExit(
            f'Error: {path} must hold a JSON list of objects, e.g. [{{"match": "x", "reply": "y"}}]'
        )
    rules = []
    for number, item in enumerate(data, start=1):
        unknown = sorted(set(item) - known)
        if unknown:
            names = ", ".join(sorted(known))
            raise SystemExit(f"Error: {path} rule {number}: unknown field {unknown[0]!r} (fields: {names})")
        try:
            rule = Rule(**item)
            re.compile(rule.match)
        except (TypeError, re.error) as exc:
            raise SystemExit(f"Error: {path} rule {number}: {exc}") from None
        rules.append(rule)
    return rules


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m promptver.testing.server",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--rules", help="JSON file: a list of rules ({match, reply, status, ...})")
    parser.add_argument("--rpm", type=float, help="enforce a request limit, with the providers' headers")
    parser.add_argument("--tpm", type=float, help="enforce a token limit")
    parser.add_argument(
        "--batch-delay", type=float, help="serve the batch APIs; a batch ends this long after it is made"
    )
    args = parser.parse_args(argv)
    rules = read_rules(args.rules) if args.rules else []
    server = FakeLLMServer(latency=args.latency, port=args.port, rules=rules)
    if args.rpm or args.tpm:
        from promptver.testing.limits import ServerLimit

        server.limit = ServerLimit(args.rpm, args.tpm)
    if args.batch_delay is not None:
        from promptver.testing.batch import BatchAPI

        server.batches = BatchAPI(delay=args.batch_delay)
    try:
        server.start()
    except OSError as exc:
        raise SystemExit(f"Error: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}") from None
    _embed_array(["warm up"], EMBEDDING_SIZE)  # numpy imported before the first request, not in it
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
        sys.exit(0)


if __name__ == "__main__":
    main()
