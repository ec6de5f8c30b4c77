"""The runner's side of ``--batch``: collect the run's model requests, send them through
the provider's batch API (`promptver.evals.execution.batch`), and hand the answers to the target, so
the cases then score as usual (assertions, llm-judge grading interactively, records).

Requests the call cache already answers are not sent; identical requests go once. A
request the batch could not answer (errored, expired, canceled) is recorded as that case's
error.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from promptver.evals.execution.batch import BatchClient, Pending, State, run_batches
from promptver.evals.execution.bundle import BundleView, Case, Dataset
from promptver.evals.execution.targets import ModelTarget


async def prefetch(
    target: ModelTarget,
    bundle: BundleView,
    dataset: Dataset,
    options: Any,
    on_batch: Callable[[dict[str, Any]], None] | None,
    place: tuple[Path, str],
    jobs: list[tuple[Case, int]],
) -> list[dict[str, Any]]:
    """Answer ``jobs`` through the batch API into ``target`` (``place``: the run's folder
    and id, where the batch ids are kept for a resume); returns what was sent, for the
    run's record. ``options``: the run's `EvalOptions` (batch_poll, batch_size)."""
    folder, run_id = place
    model = target.model
    requests: dict[str, Pending] = {}
    for case, repeat in jobs:
        name = case.template or dataset.template
        try:
            assert name is not None
            messages = bundle.messages(name, **case.vars)
        except Exception:  # a case that cannot render records its own error later
            continue
        key = model.key(messages, repeat)
        if key in requests or (model.cache is not None and model.cache.get(key) is not None):
            continue
        _url, _headers, body = model.provider._request(messages, model.params)  # type: ignore[attr-defined]
        requests[key] = Pending(key, body)
    client = BatchClient(model.provider, options.batch_poll)
    state = State(folder)
    results = await run_batches(
        client, list(requests.values()), state, run_id, on_batch, options.batch_size
    )
    model.batch = results
    # what the run sent, for its record (and `runs`): ids and counts, no request bodies
    return [
        {"id": b["id"], "requests": len(b.get("keys", [])), "status": b.get("status")} for b in state.batches
    ]
