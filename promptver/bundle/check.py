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
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptver.bundle.caseids import CaseIds
from promptver.bundle.evalset import RULES as EVAL_RULES
from promptver.bundle.evalset import case_ids, fast_valid
from promptver.bundle.evalset import problems as evalset_problems
from promptver.bundle.spec import SPEC_FILE, BundleSpec, parse_spec
from promptver.errors import Problem, PromptverError
from promptver.store.digests import sha256_bytes
from promptver.store.linewalk import Walk, walk
from promptver.store.tree import Tree, WorkTree, normalize, unsafe_path_reason

MAX_PROBLEMS_PER_FILE = 50
IDS_FROM = 1 << 20  # eval sets of at least 1 MiB keep their ids (`caseids`)
# Bump when what `required_variables` finds changes: results remembered under the old rules must not count.
VARIABLES_RULES = "1"
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

    @property
    def case_ids(self) -> CaseIds:
        """The ids of validated eval sets (``cache/ids/``), for checking new cases alone."""
        return CaseIds(self.path.parent / "ids" if self.path is not None else None)

    def required_variables(self, sources: TemplateSources) -> dict[str, set[str]]:
        """`required_variables` of the templates, remembered by the content of every file
        they read: a re-bump with unchanged templates need not import Jinja2 at all."""
        file = self.path.parent / "variables" / f"{sources.key()}.json" if self.path else None
        if file is not None:
            try:
                known = json.loads(file.read_bytes())
                return {name: set(names) for name, names in known.items()}
            except (OSError, ValueError, AttributeError, TypeError):
                pass  # not worked out yet (or a damaged entry): work it out again
        found = sources.required()
        if file is not None:
            from promptver.store.atomic import atomic_write

            data = json.dumps({name: sorted(names) for name, names in found.items()}).encode()
            try:
                atomic_write(file, data, durable=False)
            except PromptverError:
                pass  # a cache: a read-only store works it out each time
        return found

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
    tree: Tree, name: str | None = None, cache: ValidatedCache | None = None, *, coverage: bool = True
) -> tuple[BundleSpec | None, list[Problem]]:
    """The parsed spec (None when unusable) and every problem found in the bundle.
    ``coverage=False`` skips the check that cases supply their templates' variables: `eval`
    reports a missing variable on the case itself (and a target that renders nothing, such
    as ``retrieval``, does not need them)."""
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
    except UnicodeDecodeError as exc:
        line, column = _byte_position(exc.object, exc.start)
        problems.append(
            Problem(
                f"is not UTF-8 text (byte 0x{exc.object[exc.start]:02x})",
                file=SPEC_FILE,
                line=line,
                column=column,
                hint="save the file as UTF-8",
            )
        )
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
    problems += check_assertions(text, spec)
    problems += _check_templates(tree, spec, cache)
    problems += _check_evals(tree, spec, cache)
    if coverage:
        problems += _check_coverage(tree, spec, cache)
    return spec, problems


def _byte_position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of a byte offset."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", "replace")) + 1
    return data.count(b"\n", 0, offset) + 1, column


def _check_versioning(spec: BundleSpec) -> list[Problem]:
    """The ``[versioning]`` table (impact overrides, docs/diff.md)."""
    from promptver.bundle.versioning import parse_policy

    return parse_policy(spec.raw.get("versioning"), SPEC_FILE)[1]


def check_assertions(text: str, spec: BundleSpec) -> list[Problem]:
    """Every ``[evals.NAME] assert`` item's type and options, at its line and column."""
    from promptver.bundle.assertions import assertion_problems
    from promptver.bundle.tomlpos import array_items

    problems = []
    for name, evalset in spec.evals.items():
        places: list[dict[str, tuple[int, int]]] | None = None
        for number, item in enumerate(evalset.assertions, start=1):
            found = assertion_problems(item)
            if not found:
                continue
            if places is None:
                places = array_items(text, ["evals", name, "assert"])
            place = places[number - 1] if number <= len(places) else {}
            for problem in found:
                line, column = place.get(problem.key) or place.get("") or (None, None)
                problems.append(
                    Problem(
                        f"evals.{name}.assert #{number}: {problem.message}",
                        file=SPEC_FILE,
                        line=line,
                        column=column,
                        hint=problem.hint,
                    )
                )
    return problems


def _check_references(tree: Tree, spec: BundleSpec) -> list[Problem]:
    problems = []
    refs = spec.referenced_files() + _judge_files(spec.raw)
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
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            problems.append(Problem(f"response schema is not valid JSON: {exc}", file=schema))
    return problems


def _judge_files(raw: dict[str, Any]) -> list[tuple[str, str]]:
    """The judge prompt files the eval datasets and their assertions name (docs/evals.md)."""
    refs = []
    evals = raw.get("evals")
    for name, table in (evals if isinstance(evals, dict) else {}).items():
        if not isinstance(table, dict):
            continue
        for key in ("judge_prompt", "pairwise_prompt"):
            if isinstance(table.get(key), str):
                refs.append((f"evals.{name}.{key}", table[key]))
        asserts = table.get("assert")
        for i, spec in enumerate(asserts if isinstance(asserts, list) else []):
            if isinstance(spec, dict) and isinstance(spec.get("judge_prompt"), str):
                refs.append((f"evals.{name}.assert[{i}].judge_prompt", spec["judge_prompt"]))
    return refs


def _missing_file_hint(tree: Tree, path: str) -> str:
    from promptver.errors import did_you_mean

    return did_you_mean(normalize(path), list(tree.entries)) or "create the file or fix the path"


def _check_templates(tree: Tree, spec: BundleSpec, cache: ValidatedCache) -> list[Problem]:
    paths = ([spec.system] if spec.system else []) + list(spec.templates.values())
    keys = {p: _template_key(tree, p) for p in paths if not unsafe_path_reason(p) and tree.has(p)}
    todo = [p for p, key in keys.items() if key not in cache]
    if not todo:
        return []  # every template parsed before: jinja2 need not even be imported
    from promptver.bundle.templates import environment, reference_problems, syntax_problem

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
        elif found := [p for p in reference_problems(env, tree, path) if p not in problems]:
            problems += found
        else:
            cache.add(keys[path])
    return problems


_REFERENCE_TAG = re.compile(r"\{%[-+]?\s*(?:include|import|from|extends)\b(.*?)[-+]?%\}", re.DOTALL)
_STRING = re.compile(r"\"([^\"\\]*)\"|'([^'\\]*)'")


def referenced_paths(source: str) -> list[str]:
    """String literals in ``include``/``import``/``from``/``extends`` tags, found without
    Jinja2 (a cheap pass, used to key the validation cache; `templates.reference_problems` decides)."""
    found = []
    for tag in _REFERENCE_TAG.finditer(source):
        for match in _STRING.finditer(tag.group(1)):
            found.append(match.group(1) if match.group(1) is not None else match.group(2))
    return found


def _template_key(tree: Tree, path: str) -> str:
    """A template's validity depends on its bytes and on the templates it loads (they must
    exist and parse): its digest plus those of every template it names, transitively."""

    def read(name: str) -> str | None:
        try:
            return tree.read_text(name) if tree.has(name) else None
        except (UnicodeDecodeError, OSError, PromptverError):
            return None

    parts = [
        f"{name}={tree.entry(name).digest if tree.has(name) else '-'}"
        for name, _ in reachable_templates([path], read)
        if name != path
    ]
    digest = tree.entry(path).digest
    return digest if not parts else f"{digest}-{sha256_bytes(chr(10).join(sorted(parts)).encode())[:16]}"


def reachable_templates(
    roots: Iterable[str], read: Callable[[str], str | None]
) -> Iterator[tuple[str, str | None]]:
    """Every file reachable from ``roots`` through include-like tags (`referenced_paths`),
    with its text (None: missing, unreadable, or a path leaving the bundle)."""
    todo = sorted(set(roots))
    seen = set(todo)
    while todo:
        name = todo.pop()
        source = None if unsafe_path_reason(name) else read(name)
        yield name, source
        for target in referenced_paths(source or ""):
            target = target if unsafe_path_reason(target) else normalize(target)
            if target not in seen:
                seen.add(target)
                todo.append(target)


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
    return f"{hexdigest}-{sha256_bytes(' '.join(sorted(templates)).encode())[:8]}-r{EVAL_RULES}"


class EvalPrevalidator:
    """Validates a bundle's eval files in a second thread, from bytes its caller has read.

    A bump reads each changed eval file once, whole: it hands the bytes here, then hashes
    and copies them into the store while this thread runs the fast checks (shape, and the
    variables the templates require; hashing and writing release the GIL), so a large eval
    set is read once and checked alongside being stored. `paths` are the eval files named
    in ``bundle.toml``; anything unusual (no config, a bad path) leaves the work to
    `check_tree`. `keys` gives the cache keys a file earned, for the digest of its bytes.

    ``old_side(path)``: the stored version of an eval file the bump compares with, read
    ahead (its digest, its bytes and a call saying whether they hash to that digest), or
    None. The two are walked once (`promptver.store.linewalk`; the walk is kept in `walks`
    for the diff and the store), and when the stored version passed the same checks, only
    the lines that differ are validated: every other line is byte-identical to one that
    passed. Their ids must be among the ids of the stored lines they replace (an edit, not
    a new case), which keeps ids unique without an index; anything else is checked whole."""

    def __init__(
        self,
        folder: Path,
        cache: ValidatedCache | None = None,
        old_side: Callable[[str], tuple[str, bytes | bytearray, Callable[[], bool]] | None] | None = None,
    ):
        import tomllib

        self.paths: set[str] = set()
        self._templates: set[str] = set()
        self._required: dict[str, set[str]] = {}
        self._default: dict[str, str] = {}  # eval file -> its dataset's default template
        self._passed: dict[str, list[str]] = {}  # eval file -> "shape", "cover"
        self._queue: queue.SimpleQueue[tuple[str, bytes] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._sources: TemplateSources | None = None
        self._cache = cache or ValidatedCache(None)
        self._old_side = old_side
        self.walks: dict[str, tuple[str, Walk]] = {}
        # eval file -> its ids, all of them or as changes to its stored side's (`CaseIds`)
        self._ids: dict[str, tuple[set[str]] | tuple[str, set[str], set[str]]] = {}

        def load(path: str) -> str | None:
            file = folder / path
            try:
                readable = not unsafe_path_reason(path) and file.is_file()
                return file.read_text(encoding="utf-8") if readable else None
            except (OSError, UnicodeDecodeError):
                return None

        try:
            data = tomllib.loads((folder / SPEC_FILE).read_text(encoding="utf-8"))
            prompts = data.get("prompts", {})
            self._templates = set(prompts.get("templates", {}))
            raw_rag = data.get("rag")
            rag: dict[str, Any] = raw_rag if isinstance(raw_rag, dict) else {}
            retrieves = bool(rag.get("corpus"))
            # worked out in the thread (it may import jinja2 and parse the templates)
            self._sources = TemplateSources(
                load,
                prompts.get("system"),
                dict(prompts.get("templates", {})),
                retrieves,
                rag.get("context_var") if retrieves else None,
            )
            for evalset in data.get("evals", {}).values():
                path = evalset.get("path")
                if isinstance(path, str) and not unsafe_path_reason(path):
                    self.paths.add(normalize(path))
                    default = evalset.get("template")
                    if isinstance(default, str):
                        self._default[normalize(path)] = default
        except Exception:
            self.paths = set()
        if self.paths:  # started now: the templates' variables are worked out while the
            self._start()  # caller reads the eval files (Jinja2's import alone is 40 ms)

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()

    def submit(self, rel: str, data: bytes) -> None:
        self._start()
        self._queue.put((rel, data))

    def _run(self) -> None:
        if self._sources is not None:
            try:
                self._required = self._cache.required_variables(self._sources)
            except Exception:
                self._required = {}  # `check_tree` works them out and reports what it finds
        while (item := self._queue.get()) is not None:
            rel, data = item
            passed: list[str] = []
            try:
                default = self._default.get(rel)
                changes = self._check_changes(rel, data, default)
                ids: set[str] = set()
                if changes is not None:
                    passed = changes
                elif default in self._required and fast_valid(
                    data, self._templates, covers=(default, self._required[default]), ids=ids
                ):
                    passed += ["shape", "cover"]  # both in one pass, the usual case
                    self._ids[rel] = (ids,)
                else:
                    ids = set()  # the first pass may have filled it part way
                    if fast_valid(data, self._templates, ids=ids):
                        passed.append("shape")
                        self._ids[rel] = (ids,)
                    if default in self._required and all_cover(data, self._required[default], default):
                        passed.append("cover")
            except Exception:
                pass  # `check_tree` looks again and locates the problem
            self._passed[rel] = passed

    def _check_changes(self, rel: str, data: bytes, default: str | None) -> list[str] | None:
        """Walk ``data`` against its stored side and validate only what differs: the
        checks passed, or None (no stored side, or look at the whole file)."""
        old = self._old_side(rel) if self._old_side is not None else None
        if old is None:
            return None
        old_digest, old_data, verified = old
        walked = walk(old_data, data)  # while the read-ahead hashes the stored side
        if not verified():
            return None  # not the stored version's bytes: nothing made of them is kept
        self.walks[rel] = (old_digest, walked)
        cover = default in self._required
        keys = [eval_cache_key(old_digest, self._templates)]
        if cover:
            keys.append(coverage_key(old_digest, self._required))
        if not all(key in self._cache for key in keys):
            return None
        ids: set[str] = set()
        changed = b"\n".join(line for _, line in walked.new_rest)
        covers = (str(default), self._required[str(default)]) if cover else None
        if not fast_valid(changed, self._templates, covers=covers, ids=ids):
            return None
        replaced = case_ids(b"\n".join(line for _, line in walked.old_rest))
        if replaced is None:
            return None
        gone = set(replaced)
        new_cases = ids - gone
        if new_cases:  # a new id must not be one an unchanged line has
            known = self._cache.case_ids.ids(old_digest)
            if known is None or new_cases & known:
                return None
        self._ids[rel] = (old_digest, gone - ids, new_cases)
        return ["shape", "cover"] if cover else ["shape"]

    def finish(self) -> None:
        """Waits for the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def keep_ids(self, rel: str, hexdigest: str, size: int) -> None:
        """Keep the ids of ``rel`` (its bytes hash to ``hexdigest``) when it passed and is
        large enough for a whole pass to matter."""
        found = self._ids.get(rel)
        if found is None or size < IDS_FROM or "shape" not in self._passed.get(rel, []):
            return
        if len(found) == 1:
            self._cache.case_ids.keep_all(hexdigest, found[0])
        else:
            self._cache.case_ids.keep_changes(hexdigest, *found)

    def keys(self, rel: str, hexdigest: str) -> list[str]:
        """The validation-cache keys ``rel``, whose bytes have ``hexdigest``, earned."""
        passed = self._passed.get(rel, [])
        keys = [eval_cache_key(hexdigest, self._templates)] if "shape" in passed else []
        if "cover" in passed:
            keys.append(coverage_key(hexdigest, self._required))
        return keys


def _template_hint(name: str, spec: BundleSpec) -> str:
    from promptver.errors import did_you_mean

    known = ", ".join(spec.templates) or "none"
    return did_you_mean(name, list(spec.templates)) or f"templates defined: {known}"


def check_jsonl(tree: Tree, path: str, templates: set[str]) -> list[Problem]:
    """Every problem of an eval set, located; the rules are `bundle.evalset`'s (the reader
    `eval` and `diff` use too). A valid file takes the one-pass fast check only."""
    data = tree.read_bytes(path)
    if fast_valid(data, templates):
        return []
    return evalset_problems(data, path, templates, MAX_PROBLEMS_PER_FILE)


def check_folder(folder: Path, name: str | None = None) -> tuple[BundleSpec | None, list[Problem]]:
    """Convenience for a folder on disk (no stat cache)."""
    return check_tree(WorkTree(folder), name or os.path.basename(folder))


def coverage_problems(tree: Tree, spec: BundleSpec) -> list[Problem]:
    """The cases that do not supply their templates' variables (what `check` reports last):
    `eval` of a target that renders the templates stops on them before any request."""
    return _check_coverage(tree, spec, ValidatedCache(None))


def _check_coverage(tree: Tree, spec: BundleSpec, cache: ValidatedCache) -> list[Problem]:
    """Every variable a case's templates require (system prompt and its template) is in
    the case's ``vars``: otherwise `eval` fails on that case. ``[rag] context_var`` is
    exempt when the bundle retrieves (``--target rag`` and ``retrieve=True`` fill it)."""

    def load(path: str) -> str | None:
        try:
            return tree.read_text(path) if tree.has(path) else None
        except UnicodeDecodeError:
            return None

    retrieves = spec.rag is not None and bool(spec.rag.corpus)
    context_var = spec.rag.context_var if spec.rag is not None and retrieves else None
    required = cache.required_variables(
        TemplateSources(load, spec.system, spec.templates, retrieves, context_var)
    )
    found: list[Problem] = []
    for name, evalset in spec.evals.items():
        path = evalset.path
        if unsafe_path_reason(path) or not tree.has(path) or not spec.templates:
            continue
        key = coverage_key(tree.entry(path).digest, required)
        if key in cache:
            continue
        data = tree.read_bytes(path)
        default = evalset.template
        if default is not None and all_cover(data, required.get(default, set()), default):
            cache.add(key)
            continue
        problems = _uncovered(data, path, required, default, name)
        if not problems:
            cache.add(key)
        found += problems
    return found


@dataclass(frozen=True)
class TemplateSources:
    """What `required_variables` reads: the templates, how to load a file, and whether
    the bundle retrieves (its context variable is then exempt)."""

    load: Callable[[str], str | None]
    system: str | None
    templates: dict[str, str]
    retrieves: bool
    context_var: str | None

    def required(self) -> dict[str, set[str]]:
        return required_variables(self.load, self.system, self.templates, self.retrieves, self.context_var)

    def key(self) -> str:
        """A digest of everything the result depends on: the settings, and the path and
        content of every file reachable from the templates through include-like tags."""
        parts = [f"rules {VARIABLES_RULES}", f"retrieves {self.retrieves} {self.context_var}"]
        parts.append(f"system {self.system}")
        parts += [f"template {name} {path}" for name, path in sorted(self.templates.items())]
        roots = [p for p in [self.system, *self.templates.values()] if p]
        for path, source in reachable_templates(roots, self.load):
            parts.append(f"file {path} {'-' if source is None else sha256_bytes(source.encode())}")
        return sha256_bytes("\n".join(parts).encode())


def required_variables(
    load: Callable[[str], str | None],
    system: str | None,
    templates: dict[str, str],
    retrieves: bool,
    context_var: str | None,
) -> dict[str, set[str]]:
    """Per template, the variables rendering it needs: its own required ones and the
    system prompt's (``x | default(...)`` and ``is defined`` guards make a variable
    optional), less the retrieval context variable when the bundle retrieves."""
    from promptver.bundle.variables import TemplateParseError, analyze

    def needs(path: str | None) -> set[str]:
        source = load(path) if path else None
        if source is None or path is None:
            return set()
        try:
            return set(analyze(source, path, load).required)
        except TemplateParseError:
            return set()  # reported by the template check

    exempt = {context_var or "context"} if retrieves else set()
    common = needs(system)
    return {name: (common | needs(path)) - exempt for name, path in templates.items()}


def coverage_key(hexdigest: str, required: dict[str, set[str]]) -> str:
    signature = "\n".join(f"{t}:{','.join(sorted(v))}" for t, v in sorted(required.items()))
    return f"vars-{hexdigest}-{sha256_bytes(signature.encode())[:16]}"


def all_cover(data: bytes, required: set[str], template: str) -> bool:
    """One typed msgspec pass: every case names no other template and its ``vars`` hold
    every required name (values are not decoded). False: look closer, line by line."""
    from typing import Literal

    import msgspec

    vars_type = msgspec.defstruct("Needed", [(v, msgspec.Raw) for v in sorted(required)])
    template_type: Any = Literal[template]
    case_type = msgspec.defstruct(
        "Covered",
        [
            ("vars", vars_type | msgspec.UnsetType, msgspec.UNSET),
            ("template", template_type | None, None),
        ],
    )
    try:
        cases = msgspec.json.Decoder(case_type).decode_lines(data)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return False
    return not required or all(case.vars is not msgspec.UNSET for case in cases)  # type: ignore[attr-defined]


def _uncovered(
    data: bytes, path: str, required: dict[str, set[str]], default: str | None, dataset: str
) -> list[Problem]:
    from promptver.bundle.evalset import LineError, lines, parse_line

    problems: list[Problem] = []
    seen: set[str] = set()
    for number, raw in lines(data):
        try:
            case = parse_line(raw, number)
        except LineError:
            continue  # the structural check reports it
        if not isinstance(case, dict) or not isinstance(case.get("vars", {}), dict):
            continue
        case_id = case.get("id")
        if not isinstance(case_id, str) or not case_id or case_id in seen:
            continue  # no id, or a duplicate: the structural check reports it
        seen.add(case_id)
        template = case.get("template") or default
        if not isinstance(template, str) or template not in required:
            continue
        missing = sorted(required[template] - set(case.get("vars", {})))
        if missing:
            names = ", ".join(missing)
            problems.append(
                Problem(
                    f"case {case.get('id')!r}: template {template!r} needs {names}, which the case"
                    " does not provide (eval would fail on it)",
                    file=path,
                    line=number,
                    hint=f'add {names} to its "vars", or give the template a default'
                    " (`{{ x | default(...) }}`)",
                )
            )
            if len(problems) >= MAX_PROBLEMS_PER_FILE:
                problems.append(Problem(f"more cases not shown (dataset {dataset!r})", file=path))
                break
    return problems
