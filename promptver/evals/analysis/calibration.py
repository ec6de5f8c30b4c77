"""Judge calibration: how often a judge agrees with people, with confidence intervals.

A labels file of the bundle (JSONL, one line per labelled output)::

    {"id": "refund-1", "output": "You can return it within 30 days.", "pass": true, "note": "..."}

names an eval case (``id``, whose ``llm-judge`` assertion and rendered input are used), an
output and a person's verdict. `calibrate` asks the judge about every labelled output and
counts, with the human verdict as the truth:

    TPR (sensitivity) = judge passes / outputs people passed
    TNR (specificity) = judge fails  / outputs people failed

each with its 95% Wilson score interval (Wilson 1927; the interval recommended for a
binomial proportion by Newcombe 1998 and Brown, Cai & DasGupta 2001). Labels the judge
could not answer (a `JudgeError`) are listed and left out of both rates.

A calibration is stored like a run (``calibrations/<bundle>/<id>/run.json`` and
``cases.jsonl``) and, for a stored version, recorded in the bundle's audit log (event
``calibration`` with the two files' sha256); only recorded, unedited calibrations count
for an alias policy's ``judge`` requirement.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptver.errors import ConfigError
from promptver.evals.execution.bundle import BundleView, Case, Dataset

EVENT = "calibration"
FOLDER = "calibrations"
Z95 = 1.959963984540054  # the 0.975 quantile of the standard normal
_KEYS = {"id", "output", "pass", "note"}


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a binomial proportion (None for no trials)."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Label:
    id: str
    output: str
    human: bool
    note: str
    line: int


def read_labels(data: bytes, location: str) -> list[Label]:
    """Parse a labels file; the first bad line is a `ConfigError` at ``file:line:col``."""
    labels = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{location}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{location}:{number}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}:{exc.colno}: not JSON: {exc.msg}") from None
        if not isinstance(item, dict):
            raise ConfigError(
                f"{where}:1: a label is a JSON object", hint='{"id": ..., "output": ..., "pass": ...}'
            )
        unknown = sorted(set(item) - _KEYS)
        if unknown:
            raise ConfigError(f"{where}:1: unknown key {unknown[0]!r}", hint="keys: id, output, pass, note")
        if not isinstance(item.get("id"), str) or not item["id"]:
            raise ConfigError(f"{where}:1: 'id' must be the id of an eval case")
        if not isinstance(item.get("output"), str):
            raise ConfigError(f"{where}:1: 'output' must be the labelled output (a string)")
        if not isinstance(item.get("pass"), bool):
            raise ConfigError(f"{where}:1: 'pass' must be true or false (the person's verdict)")
        note = item.get("note", "")
        if not isinstance(note, str):
            raise ConfigError(f"{where}:1: 'note' must be a string")
        labels.append(Label(item["id"], item["output"], item["pass"], note, number))
    if not labels:
        raise ConfigError(f"{location}: no labels", hint='one JSON object a line: {"id", "output", "pass"}')
    return labels


def rates(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Confusion counts, TPR and TNR with Wilson intervals, agreement (errors left out)."""
    judged = [r for r in records if r.get("judge_pass") is not None]
    tp = sum(1 for r in judged if r["human"] and r["judge_pass"])
    fn = sum(1 for r in judged if r["human"] and not r["judge_pass"])
    tn = sum(1 for r in judged if not r["human"] and not r["judge_pass"])
    fp = sum(1 for r in judged if not r["human"] and r["judge_pass"])

    def rate(k: int, n: int) -> dict[str, Any]:
        interval = wilson(k, n)
        return {
            "value": k / n if n else None,
            "low": interval[0] if interval else None,
            "high": interval[1] if interval else None,
            "of": n,
        }

    return {
        "labels": len(records),
        "judged": len(judged),
        "errors": len(records) - len(judged),
        "tp": tp,
        "fn": fn,
        "tn": tn,
        "fp": fp,
        "tpr": rate(tp, tp + fn),
        "tnr": rate(tn, tn + fp),
        "agreement": (tp + tn) / len(judged) if judged else None,
    }


def _judge_spec(dataset: Dataset, case: Case, where: str) -> dict[str, Any]:
    for spec in dataset.asserts + case.asserts:
        if spec.get("type") == "llm-judge":
            return spec
    raise ConfigError(f"{where}: case {case.id!r} has no llm-judge assertion to calibrate")


def _input(bundle: BundleView, dataset: Dataset, case: Case) -> str:
    name = case.template or dataset.template
    if name is None:
        return ""
    return bundle.messages(name, **case.vars)[-1]["content"]


async def _judge_labels(
    bundle: BundleView,
    dataset: Dataset,
    labels: list[Label],
    location: str,
    grader: Any,
    concurrency: int,
) -> list[dict[str, Any]]:
    from promptver.evals.execution.assertions import Context, interpolate
    from promptver.evals.execution.judges import JudgeError, judge_assertion

    cases = {case.id: case for case in dataset.cases}
    jobs = []
    for label in labels:
        case = cases.get(label.id)
        where = f"{location}:{label.line}:1"
        if case is None:
            raise ConfigError(f"{where}: no case {label.id!r} in dataset {dataset.name!r}")
        spec = _judge_spec(dataset, case, where)
        jobs.append((label, case, spec, _input(bundle, dataset, case)))
    gate = asyncio.Semaphore(concurrency)

    async def one(label: Label, case: Case, spec: dict[str, Any], question: str) -> dict[str, Any]:
        ctx = Context(
            case=case,
            bundle=bundle,
            prompt=question,
            judge=grader.as_completion,
            grader=grader,
            judge_prompt=dataset.judge_prompt,
        )
        record: dict[str, Any] = {
            "id": label.id,
            "line": label.line,
            "output": label.output,
            "human": label.human,
            "note": label.note,
            "judge_pass": None,
        }
        async with gate:
            try:
                passed, score, reason, info = await judge_assertion(
                    spec, str(interpolate(spec.get("value"), case)), label.output, ctx
                )
            except JudgeError as exc:
                record["error"] = str(exc)
                return record
        record.update(judge_pass=passed, score=score, reason=reason, judge=info["digest"])
        record["agree"] = passed == label.human
        return record

    return list(await asyncio.gather(*(one(*job) for job in jobs)))


def calibrate(
    bundle: BundleView,
    labels_path: str,
    *,
    dataset: str | None = None,
    store_root: Path | None,
    concurrency: int = 8,
    cache: bool = True,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run the dataset's judge on every labelled output; store (and, for a stored version,
    record) the calibration; return its metadata with ``records``."""
    from promptver.evals.execution.cache import RequestCache
    from promptver.evals.execution.judges import digest, load_prompt
    from promptver.evals.execution.providers import RetryPolicy, make_provider
    from promptver.evals.execution.redact import redact_json
    from promptver.evals.execution.targets import CachedModel
    from promptver.evals.execution.transport import Transport

    data = bundle.read_bytes(labels_path)
    location = f"{bundle.label}/{labels_path}"
    labels = read_labels(data, location)
    chosen = bundle.dataset(dataset)
    if chosen.grader is None:
        raise ConfigError(
            f"{bundle.label}/bundle.toml [evals.{chosen.name}]: no grader to calibrate",
            hint='add grader = { provider = "...", name = "..." } to the dataset',
        )
    prompts = {
        load_prompt(
            bundle, _judge_spec(chosen, c, location).get("judge_prompt") or chosen.judge_prompt, location
        )
        for c in chosen.cases
        if c.id in {label.id for label in labels}
    }
    if len(prompts) > 1:
        raise ConfigError(
            f"{location}: the labelled cases are judged with different judge prompts",
            hint="calibrate one judge at a time: keep one judge prompt's cases in a labels file",
        )
    ref = chosen.grader

    async def go() -> list[dict[str, Any]]:
        transport = Transport(concurrency)
        provider = make_provider(
            ref, retry=RetryPolicy(), max_connections=concurrency, env=env, transport=transport
        )
        requests = RequestCache(store_root / "cache" / "evals") if store_root and cache else None
        grader = CachedModel(ref, provider, dict(ref.params), requests)
        try:
            return await _judge_labels(bundle, chosen, labels, location, grader, concurrency)
        finally:
            await provider.aclose()
            await transport.aclose()

    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    records = asyncio.run(go())
    prompt = next(iter(prompts)) if prompts else load_prompt(bundle, chosen.judge_prompt, location)
    from promptver.evals.runs.storage import new_run_id

    meta: dict[str, Any] = {
        "id": new_run_id(),
        "kind": EVENT,
        "bundle": bundle.name,
        "version": bundle.version,
        "digest": bundle.digest,
        "dataset": {"name": chosen.name, "path": chosen.path, "digest": chosen.digest},
        "labels": {"path": labels_path, "sha256": hashlib.sha256(data).hexdigest(), "count": len(labels)},
        "judge": digest(ref.provider, ref.name, dict(ref.params), prompt),
        "started": started,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "status": "complete",
        "summary": rates(records),
    }
    if store_root is not None:
        meta = _store(store_root, meta, records)
    return {**redact_json(meta), "records": [redact_json(r) for r in records]}


def _store(store_root: Path, meta: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
    from promptver.evals.runs.records import eval_event
    from promptver.evals.runs.storage import RunStore
    from promptver.store.events import utc_now
    from promptver.store.store import Store
    from promptver.versions.provenance import identity

    writer = RunStore(store_root / FOLDER).create(meta)
    for record in records:
        writer.append(record)
    writer.close()
    writer.save_meta()
    if meta.get("version"):
        store = Store(store_root)
        event = eval_event(writer.meta, writer.folder, identity(store.project_root), utc_now())
        if event is not None:
            event = {
                **{k: event[k] for k in ("time", "actor", "bundle", "version", "digest", "run")},
                "event": EVENT,
                "judge": meta["judge"]["digest"],
                "labels_sha256": meta["labels"]["sha256"],
                "judged": meta["summary"]["judged"],
                "tpr": meta["summary"]["tpr"]["value"],
                "tnr": meta["summary"]["tnr"]["value"],
                "run_sha256": event["run_sha256"],
                "cases_sha256": event["cases_sha256"],
            }
            store.append_event(meta["bundle"], event)
    return writer.meta


def recorded(store_root: Path, name: str) -> list[dict[str, Any]]:
    """The recorded, unedited calibrations of a bundle, newest first."""
    from promptver.evals.runs.summaries import read_run_metas
    from promptver.store.events import log_events
    from promptver.store.store import Store, check_name

    events = {str(e.get("run")): e for e in log_events(Store(store_root), name, EVENT) if e.get("run")}
    return [
        meta
        for meta in read_run_metas(store_root / FOLDER / check_name(name), name)
        if (event := events.get(str(meta.get("id")))) is not None
        and calibration_problem(store_root, name, event) is None
    ]


def calibration_problem(store_root: Path, name: str, event: dict[str, Any]) -> str | None:
    """Why a recorded calibration's files no longer match its event (None: they match)."""
    from promptver.evals.runs.records import _hashes

    run_id = str(event.get("run"))
    folder = store_root / FOLDER / name / run_id
    hashes = _hashes(folder) if "/" not in run_id and not run_id.startswith(".") else None
    if hashes is None:
        return f"{name}: judge calibration {run_id} recorded in the audit log is missing ({folder})"
    if hashes["run.json"] != event.get("run_sha256") or hashes["cases.jsonl"] != event.get("cases_sha256"):
        return f"{name}: judge calibration {run_id} was edited after it was recorded"
    return None


@dataclass(frozen=True)
class Requirement:
    min_tpr: float = 0.9
    min_tnr: float = 0.9
    min_labels: int = 100

    def describe(self) -> str:
        return f"TPR >= {self.min_tpr:g} and TNR >= {self.min_tnr:g} on at least {self.min_labels} labels"

    def met_by(self, meta: dict[str, Any]) -> bool:
        raw = meta.get("summary")
        summary: dict[str, Any] = raw if isinstance(raw, dict) else {}
        tpr = (summary.get("tpr") or {}).get("value")
        tnr = (summary.get("tnr") or {}).get("value")
        judged = summary.get("judged")
        return (
            isinstance(judged, int)
            and judged >= self.min_labels
            and isinstance(tpr, int | float)
            and tpr >= self.min_tpr
            and isinstance(tnr, int | float)
            and tnr >= self.min_tnr
        )


def calibration_of(calibrations: list[dict[str, Any]], judge_digest: str) -> dict[str, Any] | None:
    """The newest calibration of a judge (by its digest)."""
    for meta in calibrations:
        if (meta.get("judge") or {}).get("digest") == judge_digest:
            return meta
    return None


def describe(meta: dict[str, Any] | None) -> str:
    """One line: on what a judge was calibrated and how it did."""
    if meta is None:
        return "not calibrated"
    s = meta.get("summary") or {}
    labels = meta.get("labels") or {}

    def part(name: str) -> str:
        r = s.get(name) or {}
        if r.get("value") is None:
            return f"{name.upper()} n/a"
        return f"{name.upper()} {r['value']:.2f} [{r['low']:.2f}, {r['high']:.2f}]"

    return (
        f"calibrated on {s.get('judged')} labels ({labels.get('path')} of {meta.get('bundle')}@"
        f"{meta.get('version')}, calibration {meta.get('id')}): {part('tpr')}, {part('tnr')}"
    )
