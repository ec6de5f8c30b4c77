"""What the test server answers: the text a request asks about and the answer body of each
API, shared by the interactive endpoints (`server`) and the batch APIs (`batch`)."""

from __future__ import annotations

from typing import Any


def last_user_text(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def rough_tokens(text: str) -> int:
    return max(1, len(text.split()))


def answer_payload(kind: str, model: str, prompt: str, reply: str, usage: bool) -> dict[str, Any]:
    prompt_tokens, completion_tokens = rough_tokens(prompt), rough_tokens(reply)
    if kind == "openai":
        payload: dict[str, Any] = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "model": model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}
            ],
        }
        if usage:
            payload["usage"] = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
        return payload
    payload = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": reply}],
        "stop_reason": "end_turn",
    }
    if usage:
        payload["usage"] = {"input_tokens": prompt_tokens, "output_tokens": completion_tokens}
    return payload
