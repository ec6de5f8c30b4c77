"""Eval cases from production traces: ``promptver dataset add NAME/SET --from-traces FILE``.

A span becomes a case when it was rendered from bundle NAME (``promptver.bundle.name``),
matches every ``--where`` clause, and recorded its variables (``promptver.variables``, set
by the stamp when the app captures content). The case is written to the dataset's JSONL
in the bundle's working folder, so the next bump versions the change as usual:

    {"id": "trace-<trace id[:16]>-<span id[:8]>", "template": "answer",
     "vars": {...}, "tags": ["from-traces"],
     "provenance": {"trace_id": ..., "span_id": ..., "time": ..., "version": ..., "digest": ...,
                    "status": ..., "feedback": ...}}

Variables pass through the eval records' redaction (`promptver.evals.execution.redact.redact_json`:
known API keys, key-looking words) and e-mail addresses become ``[email]``. A span whose
trace is already a case of that dataset, or whose (template, variables) equal an existing
case's, is skipped. The case has no ``expected``: what the answer should have been is for
a person to write before the next eval.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptver.bundle.evalset import lines, parse_line, read_cases
from promptver.bundle.spec import SPEC_FILE, load_spec
from promptver.errors import ConfigError, NotFoundError, did_you_mean
from promptver.evals.execution.redact import redact_json
from promptver.store.atomic import atomic_write
from promptver.store.store import Store
from promptver.traces.otlp import Span, read_spans
from promptver.traces.served import iso
from promptver.traces.spanstore import feedback
from promptver.traces.where import Clause

TAG = "from-traces"


@dataclass
class AddResult:
    dataset: str
    path: str
    added: list[str] = field(default_factory=list)  # case ids
    matched: int = 0  # spans of the bundle matching --where
    duplicates: int = 0
    without_variables: int = 0
    other_template: int = 0  # rendered a template the bundle does not have (or the system prompt)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _facts(span: Span, trace_status: str, trace_feedback: float | None, where: str) -> dict[str, Any]:
    own = feedback(span.attributes, where)
    facts: dict[str, Any] = dict(span.attributes)
    facts.update(
        name=span.name,
        trace_id=span.trace_id,
        status="error" if trace_status == "error" else span.status,
    )
    score = own if own is not None else trace_feedback
    if score is not None:
        facts["feedback.score"] = score
    return facts


def _dataset_path(store: Store, name: str, dataset: str) -> tuple[Path, set[str]]:
    folder = store.bundle_dir(name)
    spec_file = folder / SPEC_FILE
    if not spec_file.is_file():
        raise NotFoundError(
            f"no working folder for {name} ({spec_file} is missing)",
            hint=f"`promptver checkout {name}@latest` writes one",
        )
    spec = load_spec(spec_file.read_text(encoding="utf-8"), name, file=str(spec_file))
    evalset = spec.evals.get(dataset)
    if evalset is None:
        raise NotFoundError(
            f"{name} has no eval set {dataset!r} ([evals.{dataset}] in {spec_file})",
            hint=did_you_mean(dataset, list(spec.evals))
            or f"its eval sets: {', '.join(spec.evals) or 'none'}",
        )
    return folder / evalset.path, set(spec.templates)


def add_from_traces(
    store: Store, name: str, dataset: str, file: Path, clauses: list[Clause], *, dry_run: bool = False
) -> AddResult:
    path, templates = _dataset_path(store, name, dataset)
    spans = list(read_spans(file))
    label = str(file)
    status: dict[str, str] = {}
    lowest: dict[str, float] = {}
    for span in spans:  # trace-wide facts: an error anywhere, the worst feedback
        if span.status == "error":
            status[span.trace_id] = "error"
        score = feedback(span.attributes, f"{label}:{span.line}")
        if score is not None:
            lowest[span.trace_id] = min(score, lowest.get(span.trace_id, score))
    data = path.read_bytes() if path.exists() else b""
    existing = read_cases(data, str(path), templates)  # a broken file is refused, not appended to
    ids = {case.id for case in existing}
    seen_traces: dict[str, set[str]] = defaultdict(set)
    for _, raw in lines(data):
        value = parse_line(raw)
        prov = value.get("provenance") if isinstance(value, dict) else None
        if isinstance(prov, dict) and isinstance(prov.get("trace_id"), str):
            seen_traces[prov["trace_id"]].add(str(prov.get("span_id")))
    seen_inputs = {_key(case.template, case.vars) for case in existing}
    result = AddResult(dataset, str(path))
    new_lines: list[str] = []
    for span in spans:
        if span.attributes.get("promptver.bundle.name") != name:
            continue
        where = f"{label}:{span.line}"
        facts = _facts(span, status.get(span.trace_id, span.status), lowest.get(span.trace_id), where)
        if not all(clause.holds(facts) for clause in clauses):
            continue
        result.matched += 1
        template = span.attributes.get("promptver.template")
        if not isinstance(template, str) or template not in templates:
            result.other_template += 1
            continue
        variables = _variables(span.attributes.get("promptver.variables"), where)
        if variables is None:
            result.without_variables += 1
            continue
        variables = redact_json(variables, patterns=True, emails=True)
        case_id = f"trace-{span.trace_id[:16]}-{span.span_id[:8]}"
        key = _key(template, variables)
        if span.trace_id in seen_traces or case_id in ids or key in seen_inputs:
            result.duplicates += 1
            continue
        seen_traces[span.trace_id].add(span.span_id)
        ids.add(case_id)
        seen_inputs.add(key)
        case = {
            "id": case_id,
            "template": template,
            "vars": variables,
            "tags": [TAG],
            "provenance": {
                "trace_id": span.trace_id,
                "span_id": span.span_id,
                "time": iso(span.start_ns),
                "version": span.attributes.get("promptver.bundle.version"),
                "digest": span.attributes.get("promptver.bundle.digest"),
                "status": facts["status"],
                "feedback": facts.get("feedback.score"),
            },
        }
        new_lines.append(json.dumps(case, ensure_ascii=False, sort_keys=False))
        result.added.append(case_id)
    if new_lines and not dry_run:
        prefix = data if not data or data.endswith(b"\n") else data + b"\n"
        updated = prefix + ("\n".join(new_lines) + "\n").encode("utf-8")
        read_cases(updated, str(path), templates)  # what is written is a valid dataset
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, updated)
    return result


def _key(template: str | None, variables: Any) -> str:
    return json.dumps([template, variables], sort_keys=True, ensure_ascii=False)


def _variables(raw: Any, where: str) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise ConfigError(
            "promptver.variables is not a JSON object",
            location=where,
            hint="promptver's stamp records the template's variables as a JSON object; was it set by hand?",
        )
    return value
