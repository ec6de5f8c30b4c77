"""``bundle.toml``: parsed with tomllib, validated against a small declarative schema.

Validation collects every problem (field path, what was expected, did-you-mean for unknown
keys, file:line:col where the key sits) instead of stopping at the first.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from promptver.errors import BundleError, Problem, did_you_mean
from promptver.store.store import NAME_RE

SPEC_FILE = "bundle.toml"
# Alias names (docs/aliases.md): lowercase, start with a letter; "latest" is reserved.
ALIAS_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}\Z")
RESPONSE_TYPES = ("json_schema", "json_object", "text")
CHUNK_UNITS = ("tokens", "characters", "sentences", "paragraphs")


@dataclass(frozen=True)
class ModelRef:
    provider: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    base_url: str | None = None
    encoding: str | None = None
    response_format: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"provider": self.provider, "name": self.name, "params": self.params}
        for key in ("base_url", "encoding", "response_format"):
            if (value := getattr(self, key)) is not None:
                data[key] = value
        return data


@dataclass(frozen=True)
class RagConfig:
    corpus: str | None = None
    corpus_uri: str | None = None
    corpus_digest: str | None = None
    embedding_model: str | None = None
    retriever: str | None = None
    top_k: int | None = None
    reranker: str | None = None
    chunking: dict[str, Any] = field(default_factory=dict)
    context_var: str | None = None
    candidates: int | None = None
    embedding_provider: str | None = None
    embedding_base_url: str | None = None
    reranker_provider: str | None = None
    reranker_base_url: str | None = None
    hybrid: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, {})}


@dataclass(frozen=True)
class EvalSet:
    name: str
    path: str
    template: str | None = None
    assertions: tuple[dict[str, Any], ...] = ()
    description: str | None = None


@dataclass(frozen=True)
class BundleSpec:
    name: str
    model: ModelRef
    description: str = ""
    owners: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    system: str | None = None
    templates: dict[str, str] = field(default_factory=dict)
    rag: RagConfig | None = None
    evals: dict[str, EvalSet] = field(default_factory=dict)
    versioning: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def referenced_files(self) -> list[tuple[str, str]]:
        """(field path, bundle-relative file) for every file the spec points at."""
        refs: list[tuple[str, str]] = []
        if self.system:
            refs.append(("prompts.system", self.system))
        refs += [(f"prompts.templates.{n}", p) for n, p in self.templates.items()]
        refs += [(f"evals.{n}.path", e.path) for n, e in self.evals.items()]
        schema = (self.model.response_format or {}).get("schema")
        if isinstance(schema, str):
            refs.append(("model.response_format.schema", schema))
        return refs


# --- the schema -------------------------------------------------------------------------

Check = Callable[[Any], str | None]  # returns what was expected, or None when fine


def _is(kind: type | tuple[type, ...], expected: str) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            return expected
        return None if isinstance(value, kind) else expected

    return check


STRING = _is(str, "a string")
INTEGER = _is(int, "an integer")
NUMBER = _is((int, float), "a number")
BOOLEAN = _is(bool, "true or false")
TABLE = _is(dict, "a table")


def _strings(value: Any) -> str | None:
    ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    return None if ok else "an array of strings"


def _tables(value: Any) -> str | None:
    ok = isinstance(value, list) and all(isinstance(v, dict) for v in value)
    return None if ok else "an array of tables"


def _one_of(*choices: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in choices else "one of " + ", ".join(repr(c) for c in choices)

    return check


def _name(value: Any) -> str | None:
    ok = isinstance(value, str) and NAME_RE.match(value)
    return None if ok else "a name of letters, digits, '.', '_' or '-'"


def _positive(value: Any) -> str | None:
    return (
        None
        if isinstance(value, int) and not isinstance(value, bool) and value > 0
        else ("a positive integer")
    )


def _non_negative(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return None if ok else "an integer >= 0"


def _score(value: Any) -> str | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1
    return None if ok else "a number from 0 to 1"


def _eval_target(value: Any) -> str | None:
    """An alias policy's eval target(s): ``model``, ``retrieval`` or ``python:module:function``."""
    values = value if isinstance(value, list) else [value]
    ok = bool(values) and all(
        isinstance(v, str)
        and (v in ("model", "retrieval") or (v.startswith("python:") and v.count(":") == 2))
        for v in values
    )
    return None if ok else "'model', 'retrieval' or 'python:module:function' (or a list of them)"


def _schema_ref(value: Any) -> str | None:
    return None if isinstance(value, str | dict) else "a file path or an inline table"


# A table schema maps key -> (check, required) or a nested table schema (dict).
# "*" maps every key of a free-form table to a schema.
Schema = dict[str, Any]

SCHEMA: Schema = {
    "bundle": (
        {
            "name": (_name, True),
            "description": (STRING, False),
            "owners": (_strings, False),
            "tags": (_strings, False),
        },
        True,
    ),
    "model": (
        {
            "provider": (STRING, True),
            "name": (STRING, True),
            "base_url": (STRING, False),
            "encoding": (STRING, False),
            "params": (TABLE, False),
            "response_format": (
                {
                    "type": (_one_of(*RESPONSE_TYPES), True),
                    "schema": (_schema_ref, False),
                    "name": (STRING, False),
                    "strict": (BOOLEAN, False),
                },
                False,
            ),
        },
        True,
    ),
    "prompts": (
        {"system": (STRING, False), "templates": ({"*": (STRING, False)}, False)},
        False,
    ),
    "rag": (
        {
            "corpus": (STRING, False),
            "corpus_uri": (STRING, False),
            "corpus_digest": (STRING, False),
            "embedding_model": (STRING, False),
            "retriever": (STRING, False),
            "top_k": (_positive, False),
            "reranker": (STRING, False),
            # executed by --target rag and the runtime retriever (docs/bundle-format.md)
            "context_var": (STRING, False),
            "candidates": (_positive, False),
            "embedding_provider": (STRING, False),
            "embedding_base_url": (STRING, False),
            "reranker_provider": (STRING, False),
            "reranker_base_url": (STRING, False),
            "hybrid": (
                {
                    "bm25_weight": (NUMBER, False),
                    "dense_weight": (NUMBER, False),
                    "rrf_k": (_positive, False),
                },
                False,
            ),
            "chunking": (
                {
                    "unit": (_one_of(*CHUNK_UNITS), False),
                    "size": (_positive, False),
                    "overlap": (_non_negative, False),
                },
                False,
            ),
        },
        False,
    ),
    "evals": (
        {
            "*": (
                {
                    "path": (STRING, True),
                    "template": (STRING, False),
                    "assert": (_tables, False),
                    "description": (STRING, False),
                    "grader": (TABLE, False),  # the llm-judge model (docs/evals.md)
                    "judge_prompt": (STRING, False),  # the judge prompt file (docs/evals.md)
                    "pairwise_prompt": (STRING, False),  # eval compare --judge's prompt file
                    "query_var": (STRING, False),  # the retrieval target's query (docs/evals.md)
                },
                False,
            )
        },
        False,
    ),
    "versioning": (TABLE, False),
    # protected aliases: [aliases.production] (docs/aliases.md; promptver.governance.promotion)
    "aliases": (
        {
            "*": (
                {
                    "approvals": (_non_negative, False),
                    "approver_not_author": (BOOLEAN, False),
                    "approvers": (_strings, False),
                    "min_eval_score": (_score, False),
                    "eval_dataset": (STRING, False),
                    "eval": (
                        {
                            "dataset": (STRING, False),
                            "target": (_eval_target, False),
                            "min_score": (_score, True),
                            "max_error_rate": (_score, False),
                            "signed_by": (_strings, False),  # who may sign the run's eval event
                        },
                        False,
                    ),
                    # judged scores count only from a judge calibrated this well (docs/evals.md)
                    "judge": (
                        {
                            "min_tpr": (_score, False),
                            "min_tnr": (_score, False),
                            "min_labels": (_non_negative, False),
                        },
                        False,
                    ),
                    "require_signed": (BOOLEAN, False),
                },
                False,
            )
        },
        False,
    ),
}


def _validate(
    data: Mapping[str, Any],
    schema: Schema,
    prefix: str,
    out: list[tuple[str, str, str | None]],
    bad: list[tuple[Mapping[str, Any], str]] | None = None,
) -> None:
    """Append (field path, message, hint) for every violation under ``prefix``; ``bad``
    collects (table, key) of each offending value, so the rest can still be checked."""
    known = [k for k in schema if k != "*"]
    for key, value in data.items():
        path = f"{prefix}{key}"
        rule = schema.get(key, schema.get("*"))
        if rule is None:
            hint = did_you_mean(key, known) or (f"known keys here: {', '.join(known)}" if known else None)
            out.append((path, f"unknown key {path!r}", hint))
            if bad is not None:
                bad.append((data, key))
            continue
        check, _ = rule
        if isinstance(check, dict):
            if not isinstance(value, dict):
                out.append((path, f"{path} must be a table", None))
                if bad is not None:
                    bad.append((data, key))
            else:
                _validate(value, check, f"{path}.", out, bad)
        elif (expected := check(value)) is not None:
            out.append((path, f"{path} must be {expected}, got {_show(value)}", None))
            if bad is not None:
                bad.append((data, key))
    for key, (_, required) in schema.items():
        if key != "*" and required and key not in data:
            path = f"{prefix}{key}"
            out.append((path, f"missing required key {path!r}", None))


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _locate(text: str, field_path: str) -> tuple[int | None, int | None]:
    """Best-effort line and column of a dotted key in TOML source (for messages only)."""
    parts = field_path.split(".")
    table: list[str] = []
    header = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?")
    key_re = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")
    fallback: tuple[int | None, int | None] = (None, None)
    for number, line in enumerate(text.splitlines(), start=1):
        if m := header.match(line):
            table = [p.strip().strip("\"'") for p in m.group(1).split(".")]
            if table == parts:
                return number, line.index("[") + 1
            continue
        if m := key_re.match(line):
            key = [p.strip().strip("\"'") for p in m.group(1).split(".")]
            full = table + key
            column = line.index(m.group(1)[0]) + 1
            if full == parts:
                return number, column
            if parts[: len(full)] == full and fallback == (None, None):
                fallback = (number, column)  # an inline table holding the key
    return fallback


# --- parsing ----------------------------------------------------------------------------


def parse_spec(text: str, file: str = SPEC_FILE) -> tuple[BundleSpec | None, list[Problem]]:
    """Parse and validate; returns the spec (None when unusable) and every problem."""
    if text.startswith("\ufeff"):  # tomllib's "Invalid statement" would not say why
        return None, [
            Problem(
                "the file starts with a UTF-8 byte order mark (BOM), which TOML does not allow",
                file=file,
                line=1,
                column=1,
                hint="save the file as UTF-8 without a BOM",
            )
        ]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, [_toml_problem(exc, file)]
    except RecursionError:
        return None, [Problem("invalid TOML: arrays or tables nested too deeply", file=file, line=1)]
    violations: list[tuple[str, str, str | None]] = []
    bad: list[tuple[Mapping[str, Any], str]] = []
    _validate(data, SCHEMA, "", violations, bad)
    problems = []
    for path, message, hint in violations:
        line, column = _locate(text, path)
        if line is None and "." in path:
            line, column = _locate(text, path.rsplit(".", 1)[0])
        problems.append(Problem(message, file=file, line=line, column=column, hint=hint))
    if problems:
        # Without the offending keys, is the rest a usable spec? Then `check` goes on and
        # reports the bundle's other problems (a missing eval file...) in the same run.
        for table, key in bad:
            table.pop(key, None)  # type: ignore[attr-defined]
        rest: list[tuple[str, str, str | None]] = []
        _validate(data, SCHEMA, "", rest)
        if rest:
            return None, problems
        try:
            spec = _build(data)
        except (KeyError, TypeError, ValueError):
            return None, problems
        return spec, problems + _alias_problems(data, text, file)
    rag = data.get("rag")
    if rag is not None and "corpus_uri" in rag and "corpus_digest" not in rag:
        line, column = _locate(text, "rag.corpus_uri")
        problems.append(
            Problem(
                "rag.corpus_uri needs rag.corpus_digest (the digest of the external corpus)",
                file=file,
                line=line,
                column=column,
                hint='record it, e.g. corpus_digest = "sha256:..."',
            )
        )
    problems += _alias_problems(data, text, file)
    return _build(data), problems


def _alias_problems(data: dict[str, Any], text: str, file: str) -> list[Problem]:
    """Alias names, datasets and approver counts of ``[aliases.*]`` (schema checks the types)."""
    problems = []
    for alias, policy in data.get("aliases", {}).items():
        where = _locate(text, f"aliases.{alias}")
        if not ALIAS_RE.match(alias) or alias == "latest":
            problems.append(
                Problem(
                    f"{alias!r} is not a valid alias name",
                    file,
                    *where,
                    hint="lowercase letters, digits, '-' and '_', starting with a letter;"
                    " 'latest' is reserved",
                )
            )
        evals = policy.get("eval") if isinstance(policy.get("eval"), dict) else {}
        key = "eval.dataset" if "dataset" in evals else "eval_dataset"
        dataset = evals.get("dataset", policy.get("eval_dataset"))
        if evals and ("min_eval_score" in policy or "eval_dataset" in policy):
            problems.append(
                Problem(
                    f"aliases.{alias} has both `eval` and the older min_eval_score/eval_dataset",
                    file,
                    *where,
                    hint="keep only `eval = { dataset = ..., target = ..., min_score = ... }`",
                )
            )
        if dataset is not None and dataset not in data.get("evals", {}):
            problems.append(
                Problem(
                    f"aliases.{alias}.{key} names no [evals.{dataset}] table",
                    file,
                    *_locate(text, f"aliases.{alias}.{key.split('.')[0]}"),
                    hint=did_you_mean(dataset, list(data.get("evals", {}))),
                )
            )
        approvers = policy.get("approvers")
        if approvers is not None and policy.get("approvals", 1) > len(approvers):
            problems.append(
                Problem(
                    f"aliases.{alias} needs {policy.get('approvals', 1)} approvals"
                    f" but lists only {len(approvers)} approvers",
                    file,
                    *_locate(text, f"aliases.{alias}.approvers"),
                    hint="lower `approvals` or add approvers",
                )
            )
    return problems


def _toml_problem(exc: tomllib.TOMLDecodeError, file: str) -> Problem:
    message = str(exc)
    match = re.search(r"\(at line (\d+), column (\d+)\)", message)
    line = int(match.group(1)) if match else None
    column = int(match.group(2)) if match else None
    message = re.sub(r"\s*\(at line \d+, column \d+\)", "", message) if match else message
    message = re.sub(r"\s*\(at end of document\)", " at end of document", message)
    return Problem(
        f"invalid TOML: {message}",
        file=file,
        line=line,
        column=column,
        hint="fix the TOML syntax (https://toml.io)",
    )


def _build(data: dict[str, Any]) -> BundleSpec:
    bundle = data["bundle"]
    model = data["model"]
    prompts = data.get("prompts", {})
    rag = data.get("rag")
    return BundleSpec(
        name=bundle["name"],
        description=bundle.get("description", ""),
        owners=tuple(bundle.get("owners", ())),
        tags=tuple(bundle.get("tags", ())),
        model=ModelRef(
            provider=model["provider"],
            name=model["name"],
            params=dict(model.get("params", {})),
            base_url=model.get("base_url"),
            encoding=model.get("encoding"),
            response_format=model.get("response_format"),
        ),
        system=prompts.get("system"),
        templates=dict(prompts.get("templates", {})),
        rag=RagConfig(**rag) if rag is not None else None,
        evals={
            name: EvalSet(
                name=name,
                path=ev["path"],
                template=ev.get("template"),
                assertions=tuple(ev.get("assert", ())),
                description=ev.get("description"),
            )
            for name, ev in data.get("evals", {}).items()
        },
        versioning=dict(data.get("versioning", {})),
        raw=data,
    )


def load_spec(text: str, bundle: str, file: str = SPEC_FILE) -> BundleSpec:
    """Parse ``bundle.toml`` or raise `BundleError` listing every problem."""
    spec, problems = parse_spec(text, file)
    if problems or spec is None:
        raise BundleError(bundle, problems)
    return spec
