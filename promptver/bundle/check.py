"""Validate a bundle: every problem, located, not only the first.

Checks ``bundle.toml`` (syntax, schema), that referenced files exist inside the bundle,
that every Jinja2 template parses, and that every eval JSONL line is a JSON object with a
unique string ``id``. Eval files are large and rarely change, so a file whose content
digest was already validated is not parsed again (``ValidatedCache``).
"""

from __future__ import annotations

import json
import os
import queue
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from promptver.bundle.spec import SPEC_FILE, BundleSpec, parse_spec
from promptver.errors import Problem
from promptver.store.digests import sha256_bytes
from promptver.store.tree import Tree, WorkTree, normalize, unsafe_path_reason

MAX_PROBLEMS_PER_FILE = 50
FAST_SLICE = 1 << 20


class ValidatedCache:
    """Digests of files that passed validation: eval sets and templates (one hex digest a line).

    Their validity depends on their content only (and, for eval cases, on the template names,
    which are part of the key), so a known digest needs no second look."""

    def __init__(self, path: Path | None):
        self.path = path
        self._known: set[str] = set()
        if path is not None:
            try:
                self._known = set(path.read_text().split())
            except OSError:
                pass

    def __contains__(self, digest: str) -> bool:
        return digest in self._known

    def add(self, digest: str) -> None:
        if self.path is None or digest in self._known:
            return
        self._known.add(digest)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a") as handle:
                handle.write(digest + "\n")
        except OSError:
            pass


def check_tree(
    tree: Tree, name: str | None = None, cache: ValidatedCache | None = None
) -> tuple[BundleSpec | None, list[Problem]]:
    """The parsed spec (None when unusable) and every problem found in the bundle."""
    problems: list[Problem] = list(getattr(tree, "problems", []))
    if not tree.has(SPEC_FILE):
        problems.append(
            Problem(
                f"no {SPEC_FILE} in the bundle",
                file=SPEC_FILE,
                hint="run `promptver new NAME` to scaffold one",
            )
        )
        return None, problems
    try:
        text = tree.read_text(SPEC_FILE)
    except UnicodeDecodeError:
        problems.append(Problem("is not UTF-8 text", file=SPEC_FILE))
        return None, problems
    spec, spec_problems = parse_spec(text)
    problems += spec_problems
    if spec is None:
        return None, problems
    if name is not None and spec.name != name:
        problems.append(
            Problem(
                f"bundle.name is {spec.name!r} but the bundle folder is {name!r}",
                file=SPEC_FILE,
                hint="make them the same",
            )
        )
    cache = cache or ValidatedCache(None)
    problems += _check_references(tree, spec)
    problems += _check_versioning(spec)
    problems += _check_templates(tree, spec, cache)
    problems += _check_evals(tree, spec, cache)
    return spec, problems


def _check_versioning(spec: BundleSpec) -> list[Problem]:
    """The ``[versioning]`` table (impact overrides, docs/diff.md)."""
    from promptver.bundle.versioning import parse_policy

    return parse_policy(spec.raw.get("versioning"), SPEC_FILE)[1]


def _check_references(tree: Tree, spec: BundleSpec) -> list[Problem]:
    problems = []
    refs = spec.referenced_files()
    if spec.rag is not None and spec.rag.corpus is not None:
        refs.append(("rag.corpus", spec.rag.corpus))
    for field, path in refs:
        if reason := unsafe_path_reason(path):
            problems.append(
                Problem(
                    f"{field} = {path!r} {reason}: paths must stay inside the bundle",
                    file=SPEC_FILE,
                    hint="use a path relative to the bundle folder",
                )
            )
        elif field == "rag.corpus":
            folder = normalize(path).rstrip("/") + "/"
            if not any(p.startswith(folder) for p in tree.entries):
                problems.append(
                    Problem(
                        f"{field}: folder {path!r} is missing or empty",
                        file=SPEC_FILE,
                        hint="create it or fix the path",
                    )
                )
        elif not tree.has(path):
            hint = _missing_file_hint(tree, path)
            problems.append(Problem(f"{field}: file {path!r} does not exist", file=SPEC_FILE, hint=hint))
    schema = (spec.model.response_format or {}).get("schema")
    if isinstance(schema, str) and not unsafe_path_reason(schema) and tree.has(schema):
        try:
            json.loads(tree.read_bytes(schema))
        except (ValueError, UnicodeDecodeError) as exc:
            problems.append(Problem(f"response schema is not valid JSON: {exc}", file=schema))
    return problems


def _missing_file_hint(tree: Tree, path: str) -> str:
    from promptver.errors import did_you_mean

    return did_you_mean(normalize(path), list(tree.entries)) or "create the file or fix the path"


def _check_templates(tree: Tree, spec: BundleSpec, cache: ValidatedCache) -> list[Problem]:
    paths = ([spec.system] if spec.system else []) + list(spec.templates.values())
    todo = [
        p for p in paths if not unsafe_path_reason(p) and tree.has(p) and tree.entry(p).digest not in cache
    ]
    if not todo:
        return []  # every template parsed before: jinja2 need not even be imported
    from promptver.bundle.templates import environment, syntax_problem

    env = environment(tree)
    problems = []
    for path in todo:
        try:
            source = tree.read_text(path)
        except UnicodeDecodeError:
            problems.append(Problem("template is not UTF-8 text", file=path))
            continue
        if problem := syntax_problem(env, path, source):
            problems.append(problem)
        else:
            cache.add(tree.entry(path).digest)
    return problems


def _check_evals(tree: Tree, spec: BundleSpec, cache: ValidatedCache) -> list[Problem]:
    problems: list[Problem] = []
    for name, evalset in spec.evals.items():
        if evalset.template is not None and evalset.template not in spec.templates:
            problems.append(
                Problem(
                    f"evals.{name}.template: unknown template {evalset.template!r}",
                    file=SPEC_FILE,
                    hint=_template_hint(evalset.template, spec),
                )
            )
        path = evalset.path
        if unsafe_path_reason(path) or not tree.has(path):
            continue
        key = eval_cache_key(tree.entry(path).digest, spec.templates)
        if key in cache:
            continue
        found = check_jsonl(tree, path, set(spec.templates))
        if not found:
            cache.add(key)
        problems += found
    return problems


def eval_cache_key(hexdigest: str, templates: Iterable[str]) -> str:
    """Validity of an eval file depends on its bytes and on the template names it may use."""
    return f"{hexdigest}-{sha256_bytes(' '.join(sorted(templates)).encode())[:8]}"


class EvalPrevalidator:
    """Validates a bundle's eval files in a second thread, from bytes its caller has read.

    A bump reads each changed eval file once, whole: it hands the bytes here, then hashes
    and copies them into the store while this thread validates them (hashing and writing
    release the GIL), so a large eval set is read once and validated alongside being
    stored. `paths` are the eval files named in ``bundle.toml``; anything unusual (no
    config, a bad path) leaves the work to `check_tree`."""

    def __init__(self, folder: Path):
        import tomllib

        self.paths: set[str] = set()
        self.templates: set[str] = set()
        self._valid: dict[str, bool] = {}
        self._queue: queue.SimpleQueue[tuple[str, bytes] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        try:
            data = tomllib.loads((folder / SPEC_FILE).read_text(encoding="utf-8"))
            self.templates = set(data.get("prompts", {}).get("templates", {}))
            for evalset in data.get("evals", {}).values():
                path = evalset.get("path")
                if isinstance(path, str) and not unsafe_path_reason(path):
                    self.paths.add(normalize(path))
        except Exception:
            self.paths = set()

    def submit(self, rel: str, data: bytes) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        self._queue.put((rel, data))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            rel, data = item
            try:
                self._valid[rel] = _fast_valid(data, self.templates)
            except Exception:
                self._valid[rel] = False

    def finish(self) -> dict[str, bool]:
        """Waits for the thread; which submitted files passed the fast check."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        return self._valid


def _template_hint(name: str, spec: BundleSpec) -> str:
    from promptver.errors import did_you_mean

    known = ", ".join(spec.templates) or "none"
    return did_you_mean(name, list(spec.templates)) or f"templates defined: {known}"


def check_jsonl(tree: Tree, path: str, templates: set[str]) -> list[Problem]:
    """Every line a JSON object with a unique string id and an object ``vars``.

    A valid file (the usual case) is checked in one typed msgspec pass over its bytes, about
    five times faster than parsing each line into Python objects; only a file with problems
    takes the slow line-by-line path that locates each of them.
    """
    if _fast_valid(tree.read_bytes(path), templates):
        return []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    with tree.open(path) as handle:
        for number, raw in enumerate(handle, start=1):
            if len(problems) >= MAX_PROBLEMS_PER_FILE:
                problems.append(
                    Problem(f"more problems not shown (stopped after {MAX_PROBLEMS_PER_FILE})", file=path)
                )
                break
            if not raw.strip():
                continue
            problem = _check_case(raw, path, number, seen, templates)
            if problem is not None:
                problems.append(problem)
    return problems


def _fast_valid(data: bytes, templates: set[str]) -> bool:
    import msgspec

    # Every rule is in the types, so msgspec checks each case in C: an object with a string
    # id, an object (not null) for vars, a known template name.
    template_type: Any = Literal[tuple(templates) or ("\x00",)]  # no templates: nothing matches
    vars_type = msgspec.defstruct("Vars", [])
    case_type = msgspec.defstruct(
        "Case",
        [
            ("id", str),
            ("vars", vars_type | msgspec.UnsetType, msgspec.UNSET),
            ("template", template_type | msgspec.UnsetType, msgspec.UNSET),
        ],
    )
    decoder = msgspec.json.Decoder(case_type)
    ids: set[str] = set()
    count = 0
    view = memoryview(data)
    start = 0
    # Decoded in slices of about 1 MB: msgspec holds the GIL for a whole call, and during a
    # bump this runs beside the thread that hashes and copies the files, which needs the GIL
    # for a moment between chunks. Short calls let the two really run at the same time.
    while start < len(data):
        end = data.find(b"\n", min(start + FAST_SLICE, len(data) - 1))
        end = len(data) if end < 0 else end + 1
        try:
            cases = decoder.decode_lines(view[start:end])
        except (msgspec.DecodeError, msgspec.ValidationError):
            return False
        ids.update(case.id for case in cases)  # type: ignore[attr-defined]
        count += len(cases)
        start = end
    return len(ids) == count and "" not in ids


def _check_case(
    raw: bytes, path: str, number: int, seen: dict[str, int], templates: set[str]
) -> Problem | None:
    try:
        case: Any = json.loads(raw)
    except json.JSONDecodeError as exc:
        return Problem(
            f"not valid JSON ({exc.msg})",
            file=path,
            line=number,
            column=exc.colno,
            hint="each line must be one JSON object",
        )
    except UnicodeDecodeError:
        return Problem("not UTF-8 text", file=path, line=number)
    if not isinstance(case, dict):
        return Problem("a case must be a JSON object", file=path, line=number, column=1)
    case_id = case.get("id")
    if not isinstance(case_id, str) or not case_id:
        return Problem(
            'missing "id" (a non-empty string)',
            file=path,
            line=number,
            hint='give every case a stable id, e.g. "refund-window"',
        )
    if case_id in seen:
        return Problem(
            f"duplicate id {case_id!r} (first on line {seen[case_id]})",
            file=path,
            line=number,
            hint="ids must be unique within a dataset",
        )
    seen[case_id] = number
    if "vars" in case and not isinstance(case["vars"], dict):
        return Problem(f'case {case_id!r}: "vars" must be an object', file=path, line=number)
    template = case.get("template")
    if template is not None and template not in templates:
        return Problem(f"case {case_id!r}: unknown template {template!r}", file=path, line=number)
    return None


def check_folder(folder: Path, name: str | None = None) -> tuple[BundleSpec | None, list[Problem]]:
    """Convenience for a folder on disk (no stat cache)."""
    return check_tree(WorkTree(folder), name or os.path.basename(folder))
