"""The two batch APIs on the test server, answering as its chat endpoints would.

OpenAI: ``POST /v1/files`` (multipart, ``purpose=batch``), ``POST /v1/batches``,
``GET /v1/batches/{id}``, ``GET /v1/batches`` (the list), ``GET /v1/files/{id}/content``. Anthropic: ``POST
/v1/messages/batches``, ``GET /v1/messages/batches/{id}``, ``GET
/v1/messages/batches/{id}/results``. A batch is ``in_progress`` for ``delay`` seconds after
its creation, then ends: each request is answered by the server's rules (or echoed), except
requests whose last user message matches ``fail`` (OpenAI: a line of the error file with
status 400; Anthropic: an ``errored`` result) or ``expire`` (OpenAI: ``batch_expired`` in
the error file; Anthropic: ``expired``). A batch over ``max_requests`` or ``max_bytes`` is
refused with 400, as the providers do. ``created`` counts batch creations.
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from promptver.testing.answers import answer_payload, last_user_text


def _rfc3339(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class BatchAPI:
    delay: float = 0.5
    fail: str | None = None
    expire: str | None = None
    max_requests: int = 50_000
    max_bytes: int = 200 * 1000 * 1000
    create_stall: float = 0.0  # seconds between creating a batch and answering (a lost answer)
    created: int = 0
    files: dict[str, bytes] = field(default_factory=dict)
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._finishing = threading.Lock()
        self._ids = itertools.count(1)

    def handles(self, path: str) -> bool:
        return re.search(r"/(files|batches)(/|$|\?)", path) is not None

    # -- dispatch --------------------------------------------------------------------------
    def post(self, handler: Any, server: Any, raw: bytes) -> None:
        path = handler.path.split("?")[0]
        if path.endswith("/files"):
            self._upload(handler, raw)
        elif path.endswith("/messages/batches"):
            self._create(handler, server, "anthropic", raw)
        elif path.endswith("/batches"):
            self._create(handler, server, "openai", raw)
        else:
            handler._send(404, b'{"error": "not found"}')

    def get(self, handler: Any) -> None:
        path = handler.path.split("?")[0]
        found = re.search(r"/files/([\w-]+)/content\Z", path)
        if found:
            data = self.files.get(found[1])
            handler._send(200 if data is not None else 404, data if data is not None else b"{}")
            return
        found = re.search(r"/messages/batches/([\w-]+)/results\Z", path)
        if found and found[1] in self.batches:
            batch = self.batches[found[1]]
            handler._send(
                200 if batch["done"] else 404, batch.get("results", b"") if batch["done"] else b"{}"
            )
            return
        found = re.search(r"/batches/([\w-]+)\Z", path)
        if found and found[1] in self.batches:
            handler._send(200, json.dumps(self._view(handler, self.batches[found[1]])).encode())
            return
        if path.endswith("/v1/batches"):  # OpenAI's batch list, newest first
            mine = [b for b in self.batches.values() if b["kind"] == "openai"]
            listed = [self._view(handler, b) for b in sorted(mine, key=lambda b: -b["created"])]
            handler._send(200, json.dumps({"object": "list", "data": listed, "has_more": False}).encode())
            return
        handler._send(404, b'{"error": {"message": "no such batch"}}')

    # -- OpenAI file upload ----------------------------------------------------------------
    def _upload(self, handler: Any, raw: bytes) -> None:
        kind = handler.headers.get("Content-Type", "")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {kind}\r\n\r\n".encode() + raw
        )
        fields: dict[str, bytes] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            fields[str(name)] = payload if isinstance(payload, bytes) else b""
        if fields.get("purpose") != b"batch" or "file" not in fields:
            handler._send(400, b'{"error": {"message": "purpose=batch and a file are required"}}')
            return
        with self._lock:
            file_id = f"file-{next(self._ids)}"
            self.files[file_id] = fields["file"]
        body = {"id": file_id, "object": "file", "bytes": len(fields["file"]), "purpose": "batch"}
        handler._send(200, json.dumps(body).encode())

    # -- batches ---------------------------------------------------------------------------
    def _create(self, handler: Any, server: Any, kind: str, raw: bytes) -> None:
        try:
            body = json.loads(raw)
        except ValueError:
            handler._send(400, b'{"error": {"message": "not JSON"}}')
            return
        if kind == "openai":
            data = self.files.get(str(body.get("input_file_id")))
            if (
                data is None
                or body.get("endpoint") != "/v1/chat/completions"
                or body.get("completion_window") != "24h"
            ):
                handler._send(400, b'{"error": {"message": "bad batch request"}}')
                return
            lines = [json.loads(line) for line in data.splitlines() if line.strip()]
            requests = [(line["custom_id"], line["body"]) for line in lines]
            size = len(data)
        else:
            requests = [(r["custom_id"], r["params"]) for r in body.get("requests", [])]
            size = len(raw)
        if len(requests) > self.max_requests or size > self.max_bytes:
            handler._send(400, b'{"error": {"message": "the batch is over the limits"}}')
            return
        ids = [custom for custom, _ in requests]
        if len(set(ids)) != len(ids):
            handler._send(400, b'{"error": {"message": "custom_id must be unique in a batch"}}')
            return
        with self._lock:
            self.created += 1
            batch_id = f"{'batch' if kind == 'openai' else 'msgbatch'}_{next(self._ids):04}"
            batch = {
                "id": batch_id,
                "kind": kind,
                "created": time.time(),
                "requests": requests,
                "done": False,
                "server": server,
                "metadata": body.get("metadata") if kind == "openai" else None,
            }
            self.batches[batch_id] = batch
        if self.create_stall:
            time.sleep(self.create_stall)
        handler._send(200, json.dumps(self._view(handler, batch)).encode())

    def _finish(self, batch: dict[str, Any]) -> None:
        """Answer every request of a batch whose time has come (once)."""
        server, kind = batch["server"], batch["kind"]
        out, errors, results = [], [], []
        counts = {"succeeded": 0, "errored": 0, "expired": 0}
        for custom, body in batch["requests"]:
            text = last_user_text(body)
            model = str(body.get("model", ""))
            if self.fail and re.search(self.fail, text):
                counts["errored"] += 1
                message = {"type": "invalid_request_error", "message": "injected failure"}
                if kind == "openai":
                    response = {"status_code": 400, "request_id": "req", "body": {"error": message}}
                    errors.append(
                        {"id": f"r-{custom[:8]}", "custom_id": custom, "response": response, "error": None}
                    )
                else:
                    error = {"type": "error", "error": message}
                    results.append({"custom_id": custom, "result": {"type": "errored", "error": error}})
                continue
            if self.expire and re.search(self.expire, text):
                counts["expired"] += 1
                if kind == "openai":
                    error = {
                        "code": "batch_expired",
                        "message": "This request could not be executed before expiry",
                    }
                    errors.append(
                        {"id": f"r-{custom[:8]}", "custom_id": custom, "response": None, "error": error}
                    )
                else:
                    results.append({"custom_id": custom, "result": {"type": "expired"}})
                continue
            rule = server._pick(text, model)
            reply = rule.reply if rule is not None and rule.reply is not None else f"echo: {text}"
            payload = answer_payload(kind, model, text, reply, True)
            counts["succeeded"] += 1
            if kind == "openai":
                payload["system_fingerprint"] = "fp_fake"
                response = {"status_code": 200, "request_id": "req", "body": payload}
                out.append(
                    {"id": f"r-{custom[:8]}", "custom_id": custom, "response": response, "error": None}
                )
            else:
                results.append({"custom_id": custom, "result": {"type": "succeeded", "message": payload}})

        def jsonl(items: list[dict[str, Any]]) -> bytes:
            return b"".join(json.dumps(i).encode() + b"\n" for i in items)

        with self._lock:
            if kind == "openai":
                batch["output_file_id"] = f"file-{next(self._ids)}"
                self.files[batch["output_file_id"]] = jsonl(out)
                if errors:
                    batch["error_file_id"] = f"file-{next(self._ids)}"
                    self.files[batch["error_file_id"]] = jsonl(errors)
            else:
                batch["results"] = jsonl(results)
            batch["counts"] = counts
            batch["done"] = True

    def _view(self, handler: Any, batch: dict[str, Any]) -> dict[str, Any]:
        with self._finishing:  # two polls at once end a batch once
            if not batch["done"] and time.time() >= batch["created"] + self.delay:
                self._finish(batch)
        total = len(batch["requests"])
        counts = batch.get("counts") or {"succeeded": 0, "errored": 0, "expired": 0}
        if batch["kind"] == "openai":
            return {
                "id": batch["id"],
                "object": "batch",
                "endpoint": "/v1/chat/completions",
                "completion_window": "24h",
                "metadata": batch.get("metadata"),
                "status": "completed" if batch["done"] else "in_progress",
                "created_at": int(batch["created"]),
                "output_file_id": batch.get("output_file_id"),
                "error_file_id": batch.get("error_file_id"),
                "request_counts": {
                    "total": total,
                    "completed": counts["succeeded"],
                    "failed": counts["errored"] + counts["expired"],
                },
            }
        host = handler.headers.get("Host", "127.0.0.1")
        return {
            "id": batch["id"],
            "type": "message_batch",
            "processing_status": "ended" if batch["done"] else "in_progress",
            "request_counts": {
                "processing": 0 if batch["done"] else total,
                "succeeded": counts["succeeded"],
                "errored": counts["errored"],
                "canceled": 0,
                "expired": counts["expired"],
            },
            "created_at": _rfc3339(batch["created"]),
            "ended_at": _rfc3339(time.time()) if batch["done"] else None,
            "results_url": f"http://{host}/v1/messages/batches/{batch['id']}/results"
            if batch["done"]
            else None,
        }
