"""Build the review screen's ``Review`` from a semantic ``BundleDiff`` and the two trees.

The diff says what changed and how much it matters; the trees give the full texts (the
side-by-side view shows whole files, not only hunks) and, for eval datasets, the cases
behind a change when the reviewer opens one. ``bundle.toml`` of both trees lists the
components that did not change, so the navigator can show them dimmed.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, overload

from promptver.diff.model import (
    BundleDiff,
    CaseChange,
    Change,
    ChunkCounts,
    ComponentDiff,
    EvalDiff,
    FilesDiff,
    Impact,
    RagDiff,
    TextDiff,
)
from promptver.diff.model import Side as DiffSide
from promptver.diff.render import first_version, is_first_version, security_lines
from promptver.errors import NotFoundError
from promptver.tui.model import (
    Body,
    CaseRow,
    CasesBody,
    Component,
    EvalsBody,
    FieldRow,
    FieldsBody,
    FileRow,
    FilesBody,
    Kind,
    Review,
    Side,
    Status,
    TextBody,
)

KINDS: dict[str, Kind] = {
    "model": "model",
    "system": "system",
    "templates": "template",
    "rag": "rag",
    "corpus": "corpus",
    "evals": "dataset",
    "metadata": "metadata",
    "files": "files",
}
ORDER: tuple[Kind, ...] = (
    "model",
    "system",
    "template",
    "rag",
    "corpus",
    "dataset",
    "results",
    "metadata",
    "files",
)
FIELD_TABLES: dict[Kind, str] = {"model": "model", "rag": "rag", "metadata": "bundle"}


class TreeLike(Protocol):
    def read_bytes(self, path: str) -> bytes: ...


@dataclass(frozen=True)
class SideMeta:
    author: str | None = None
    created: str | None = None


def build_review(
    diff: BundleDiff,
    old_tree: TreeLike | None,
    new_tree: TreeLike | None,
    *,
    old_meta: SideMeta | None = None,
    new_meta: SideMeta | None = None,
    results: Mapping[str, EvalsBody] | None = None,
    count_tokens: bool = False,
) -> Review:
    """The review of ``diff``; ``results`` compares eval runs per dataset (None: no runs).

    With ``count_tokens`` (for a diff computed without token counts, so the screen appears
    sooner) a text's tokens are counted when its body is loaded, in the UI's worker."""
    old_meta = old_meta or SideMeta()
    new_meta = new_meta or SideMeta()
    reader = _Reader(old_tree, new_tree)
    counter = _TokenCounter(reader) if count_tokens else None
    components = [_component(c, reader, counter) for c in diff.components]
    components += _unchanged(reader, {c.key for c in components})
    components += _results(results)
    _rag_notes(components, results)
    rank = {kind: i for i, kind in enumerate(ORDER)}
    components.sort(key=lambda c: rank.get(c.kind, len(ORDER)))
    suggested = diff.suggested
    return Review(
        bundle=diff.new.bundle or diff.old.bundle,
        old=_side(diff.old, old_meta),
        new=_side(diff.new, new_meta),
        components=components,
        bump=suggested.value if suggested else None,
        bump_reason=_bump_reason(diff, suggested),
        first_version=first_version() if is_first_version(diff) else None,
        security=security_lines(diff),
    )


def dataset_names(old_tree: TreeLike | None, new_tree: TreeLike | None) -> list[str]:
    """The eval datasets either side's ``bundle.toml`` declares, new side's order first."""
    reader = _Reader(old_tree, new_tree)
    names: list[str] = []
    for side in (1, 0):
        evals = reader.manifest(side).get("evals", {})
        if isinstance(evals, dict):
            names += [name for name in evals if name not in names]
    return names


def side_of(side: DiffSide, meta: SideMeta) -> Side:
    """The header's description of one side of a diff."""
    return _side(side, meta)


def _side(side: DiffSide, meta: SideMeta) -> Side:
    label = side.version or ("working copy" if side.digest else "no versions yet")
    return Side(label, side.digest, meta.author, meta.created, side.version)


def _bump_reason(diff: BundleDiff, suggested: Impact | None) -> str | None:
    if suggested is None:
        return None
    reasons = list(dict.fromkeys(c.reason for c in diff.reasons(suggested)))
    if not reasons:
        return None
    more = f" (+{len(reasons) - 1} more)" if len(reasons) > 1 else ""
    return reasons[0] + more


# -- reading the two trees -------------------------------------------------------------


class _Reader:
    """Reads files of both sides, tolerating a missing tree or file; caches JSONL lines."""

    def __init__(self, old: TreeLike | None, new: TreeLike | None) -> None:
        self.trees = (old, new)
        self._lines: dict[tuple[int, str], list[bytes]] = {}
        self._toml: dict[int, dict[str, Any]] = {}

    def read(self, side: int, path: str | None) -> bytes | None:
        tree = self.trees[side]
        if tree is None or path is None:
            return None
        try:
            return tree.read_bytes(path)
        except NotFoundError:
            return None  # not on this side
        except FileNotFoundError:
            return None  # a working copy file removed since the diff
        # an IntegrityError (corrupt object) propagates: the app shows it as an error

    def text(self, side: int, path: str | None) -> str | None:
        data = self.read(side, path)
        if data is None:
            return None
        return data.decode("utf-8", errors="replace")

    def line(self, side: int, path: str | None, number: int | None) -> Any:
        """The JSON value on one line of a JSONL file (1-based), or None."""
        if path is None or number is None:
            return None
        key = (side, path)
        if key not in self._lines:
            data = self.read(side, path)
            self._lines[key] = data.splitlines() if data is not None else []
        lines = self._lines[key]
        if not 1 <= number <= len(lines):
            return None
        raw = lines[number - 1]
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", errors="replace")

    def manifest(self, side: int) -> dict[str, Any]:
        """``bundle.toml`` of one side as data ({} when absent or invalid)."""
        if side not in self._toml:
            text = self.text(side, "bundle.toml")
            try:
                self._toml[side] = tomllib.loads(text) if text else {}
            except tomllib.TOMLDecodeError:
                self._toml[side] = {}
        return self._toml[side]


# -- one component ---------------------------------------------------------------------


def _status(status: str) -> Status:
    return "changed" if status == "renamed" else status  # type: ignore[return-value]


def _component(diff: ComponentDiff, reader: _Reader, counter: _TokenCounter | None) -> Component:
    kind = KINDS.get(diff.kind, "files")
    title = kind if diff.name == diff.kind else f"{kind} {diff.name}"
    impact = diff.impact
    notes = list(dict.fromkeys(f"{c.impact.value}: {c.reason}" for c in diff.changes))
    component = Component(
        key=f"{diff.kind}:{diff.name}",
        kind=kind,
        title=title,
        status=_status(diff.status),
        impact=impact.value if impact else None,
    )
    detail = diff.detail
    if isinstance(detail, TextDiff):
        component.counts = f"+{detail.added_lines} −{detail.removed_lines}"
        component.notes = tuple(_text_notes(detail) + notes)
        component.load = lambda: _text_body(detail, reader)
        if counter is not None and detail.tokens is None:
            component.enrich = lambda body: _counted(component, body, counter)
    elif isinstance(detail, EvalDiff):
        component.counts = case_counts(detail.added, detail.removed, detail.changed)
        problems = [f"problem: {p}" for p in detail.problems[:3]]
        if len(detail.problems) > 3:
            problems.append(f"... and {len(detail.problems) - 3} more problems")
        component.notes = tuple(notes[:3] + problems)
        component.body = _cases_body(detail, reader)
    elif isinstance(detail, FilesDiff):
        component.counts = f"{len(detail.files)} files"
        component.notes = tuple(_chunk_notes(detail.chunks) + notes[:3])
        component.body = _files_body(detail, reader)
    else:
        rows = _field_rows(kind, diff, reader)
        changed = sum(1 for row in rows if row.status != "unchanged")
        component.counts = f"{changed} field" + ("" if changed == 1 else "s")
        component.body = FieldsBody(rows)
        chunks = _chunk_notes(detail.chunks if isinstance(detail, RagDiff) else None)
        component.notes = tuple(chunks + (notes if diff.status in ("added", "removed") else []))
    return component


def _chunk_notes(chunks: ChunkCounts | None) -> list[str]:
    """``chunks 212 → 240``: what the corpus makes with each side's chunking."""
    if chunks is None or (chunks.old is None and chunks.new is None):
        return []
    return [f"chunks {_count(chunks.old)} → {_count(chunks.new)}"]


def case_counts(added: int, removed: int, changed: int) -> str:
    """``+10 −2 ~5`` without the zero parts (they only take room in the navigator)."""
    parts = [f"{mark}{n:,}" for mark, n in (("+", added), ("−", removed), ("~", changed)) if n]
    return " ".join(parts) or "no change"


def _text_notes(detail: TextDiff) -> list[str]:
    notes: list[str] = []
    for side, info in (("old", detail.old), ("new", detail.new)):
        if info.error:
            notes.append(f"{side} does not parse: {info.error}")
    required = detail.new.variables.required if detail.new.variables else frozenset()
    if detail.variables_added:
        names = ", ".join(f"{v} (required)" if v in required else v for v in detail.variables_added)
        notes.append(f"variables added: {names}")
    if detail.variables_removed:
        notes.append(f"variables removed: {', '.join(detail.variables_removed)}")
    tokens = detail.tokens
    if tokens is not None and (tokens.old is not None or tokens.new is not None):
        delta = f" ({tokens.delta:+d})" if tokens.delta is not None else ""
        approx = ", approximate" if tokens.approximate else ""
        notes.append(f"tokens {_count(tokens.old)} → {_count(tokens.new)}{delta} [{tokens.encoding}{approx}]")
    if detail.similarity is not None:
        notes.append(f"renamed, {detail.similarity:.0%} similar")
    return notes


class _TokenCounter:
    """The tokenizer of the model in ``bundle.toml`` (new side, else old), built on first use:
    loading an encoding can take a while, so it happens in a worker, not before the screen."""

    def __init__(self, reader: _Reader) -> None:
        self.reader = reader
        self.built: Any = None

    def __call__(self) -> Any:
        if self.built is None:
            from promptver.bundle.tokens import tokenizer

            model: dict[str, Any] = {}
            for side in (1, 0):
                table = self.reader.manifest(side).get("model")
                if isinstance(table, dict) and table.get("name"):
                    model = table
                    break
            name, encoding = model.get("name"), model.get("encoding")
            self.built = tokenizer(
                name if isinstance(name, str) else None,
                encoding if isinstance(encoding, str) else None,
            )
        return self.built


def _counted(component: Component, body: Body, counter: _TokenCounter) -> None:
    """Add the token counts of a loaded text to its component's notes."""
    from promptver.diff.text import ANALYSIS_CHARS

    if not isinstance(body, TextBody):
        return
    texts = [t for t in (body.old, body.new) if t is not None]
    if body.binary or not texts or any(len(t) > ANALYSIS_CHARS for t in texts):
        return
    tokenizer = counter()
    if tokenizer.encoding is None:
        note = tokenizer.note or "token counts unavailable"
    else:
        old = tokenizer.count(body.old) if body.old is not None else None
        new = tokenizer.count(body.new) if body.new is not None else None
        delta = f" ({new - old:+d})" if old is not None and new is not None else ""
        approx = ", approximate" if tokenizer.approximate else ""
        note = f"tokens {_count(old)} → {_count(new)}{delta} [{tokenizer.encoding}{approx}]"
    notes = list(component.notes)
    where = next((i for i, n in enumerate(notes) if not n.startswith("variables")), len(notes))
    component.notes = (*notes[:where], note, *notes[where:])


def _count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _text_body(detail: TextDiff, reader: _Reader) -> TextBody:
    if detail.old.binary or detail.new.binary:
        return TextBody(None, None, True, detail.old.size, detail.new.size)
    return TextBody(
        reader.text(0, detail.old.path),
        reader.text(1, detail.new.path),
        False,
        detail.old.size,
        detail.new.size,
    )


# -- structured components ---------------------------------------------------------------


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = value


def _table(reader: _Reader, side: int, kind: Kind) -> dict[str, Any]:
    manifest = reader.manifest(side)
    out: dict[str, Any] = {}
    if kind == "metadata":
        bundle = manifest.get("bundle", {})
        for key in ("description", "owners", "tags"):
            if isinstance(bundle, dict) and key in bundle:
                out[f"bundle.{key}"] = bundle[key]
        return out
    table = FIELD_TABLES.get(kind)
    if table is not None and table in manifest:
        _flatten(manifest[table], table, out)
    return out


def _field_rows(kind: Kind, diff: ComponentDiff | None, reader: _Reader) -> list[FieldRow]:
    """Changed fields (from the diff) in the order of the new ``bundle.toml``, with the
    unchanged ones around them."""
    old = _table(reader, 0, kind)
    new = _table(reader, 1, kind)
    changes = {c.path: c for c in diff.changes} if diff is not None else {}
    rows: list[FieldRow] = []
    seen: set[str] = set()
    prefix = f"{FIELD_TABLES.get(kind, kind)}."

    def short(path: str) -> str:
        return path.removeprefix(prefix) if kind != "metadata" else path

    for path in [*new, *(p for p in old if p not in new)]:
        change = changes.get(path)
        if change is None and any(p.startswith(path + ".") for p in changes):
            continue  # a table whose fields are listed one by one
        if change is not None:
            rows.append(_field_row(short(path), change))
            seen.add(path)
        elif old.get(path) == new.get(path):
            rows.append(FieldRow(short(path), old.get(path), new.get(path), "unchanged"))
    for path, change in changes.items():  # changes below a leaf of the TOML (schema files...)
        if path not in seen:
            rows.append(_field_row(short(path), change))
    return rows


def _field_row(path: str, change: Change) -> FieldRow:
    return FieldRow(
        path,
        change.old,
        change.new,
        _status(change.kind),
        change.reason,
        change.impact.value,
    )


# -- eval datasets -----------------------------------------------------------------------


class _CaseRows(Sequence[CaseRow]):
    """The diff's case changes seen as ``CaseRow``s, converted only when displayed."""

    def __init__(self, cases: Sequence[CaseChange]) -> None:
        self.cases = cases

    def __len__(self) -> int:
        return len(self.cases)

    @overload
    def __getitem__(self, index: int) -> CaseRow: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[CaseRow]: ...
    def __getitem__(self, index: int | slice) -> CaseRow | Sequence[CaseRow]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        case = self.cases[index]
        return CaseRow(
            id=case.id,
            status=_status(case.kind),  # type: ignore[arg-type]
            fields=tuple(f.path for f in case.fields),
            old_line=case.old_line,
            new_line=case.new_line,
        )

    def __iter__(self) -> Iterator[CaseRow]:
        for i in range(len(self)):
            yield self[i]


def _cases_body(detail: EvalDiff, reader: _Reader) -> CasesBody:
    def fetch(row: CaseRow) -> tuple[Any, Any]:
        return (
            reader.line(0, detail.old_path, row.old_line),
            reader.line(1, detail.new_path, row.new_line),
        )

    return CasesBody(
        cases=_CaseRows(detail.cases),
        old_total=detail.unchanged + detail.removed + detail.changed if detail.old_path else 0,
        new_total=detail.unchanged + detail.added + detail.changed if detail.new_path else 0,
        fetch=fetch,
    )


# -- sets of files -----------------------------------------------------------------------


def _files_body(detail: FilesDiff, reader: _Reader) -> FilesBody:
    rows = [
        FileRow(f.path, f.kind, f.old_path, f.new_path, f.old_size, f.new_size)  # type: ignore[arg-type]
        for f in detail.files
    ]

    def fetch(row: FileRow) -> TextBody:
        old = reader.read(0, row.old_path)
        new = reader.read(1, row.new_path)
        if _binary(old) or _binary(new):
            return TextBody(None, None, True, row.old_size, row.new_size)
        return TextBody(
            old.decode("utf-8") if old is not None else None,
            new.decode("utf-8") if new is not None else None,
            False,
            row.old_size,
            row.new_size,
        )

    return FilesBody(rows, fetch)


def _binary(data: bytes | None) -> bool:
    if data is None:
        return False
    if b"\x00" in data[:8192]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


# -- unchanged components and eval results ---------------------------------------------------


def _unchanged(reader: _Reader, present: set[str]) -> list[Component]:
    """Components both sides have that the diff did not report (it lists changes only)."""
    manifest = reader.manifest(1)
    out: list[Component] = []

    def add(key: str, kind: Kind, title: str, load: Callable[[], Any] | None = None) -> None:
        if key not in present:
            out.append(Component(key, kind, title, "unchanged", load=load))

    if "model" in manifest:
        add("model:model", "model", "model", lambda: FieldsBody(_field_rows("model", None, reader)))
    prompts = manifest.get("prompts", {})
    if isinstance(prompts, dict):
        system = prompts.get("system")
        if isinstance(system, str):
            add("system:system", "system", "system", lambda: _same_text(reader, system))
        templates = prompts.get("templates", {})
        if isinstance(templates, dict):
            for name, path in templates.items():
                if isinstance(path, str):
                    add(f"templates:{name}", "template", f"template {name}", _loader(reader, path))
    if "rag" in manifest:
        add("rag:rag", "rag", "rag", lambda: FieldsBody(_field_rows("rag", None, reader)))
        rag = manifest["rag"]
        if isinstance(rag, dict) and isinstance(rag.get("corpus"), str):
            add("corpus:corpus", "corpus", "corpus", lambda: FilesBody(()))
    evals = manifest.get("evals", {})
    if isinstance(evals, dict):
        for name in evals:
            add(f"evals:{name}", "dataset", f"dataset {name}", lambda: CasesBody(()))
    add(
        "metadata:metadata",
        "metadata",
        "metadata",
        lambda: FieldsBody(_field_rows("metadata", None, reader)),
    )
    return out


def _loader(reader: _Reader, path: str) -> Callable[[], TextBody]:
    return lambda: _same_text(reader, path)


def _same_text(reader: _Reader, path: str) -> TextBody:
    data = reader.read(1, path)
    if data is None:
        return TextBody(None, None)
    if _binary(data):
        return TextBody(None, None, True, len(data), len(data))
    text = data.decode("utf-8")
    return TextBody(text, text, False, len(data), len(data))


def _results(results: Mapping[str, EvalsBody] | None) -> list[Component]:
    if not results:
        missing = EvalsBody(missing="no eval runs for these versions")
        return [Component("results", "results", "eval results", "unchanged", body=missing)]
    single = len(results) == 1
    out: list[Component] = []
    for dataset, body in results.items():
        key = "results" if single else f"results:{dataset}"
        title = "eval results" if single else f"eval results {dataset}"
        if body.missing:
            out.append(Component(key, "results", title, "unchanged", counts="no runs", body=body))
            continue
        out.append(
            Component(
                key,
                "results",
                title,
                "changed" if body.outcomes else "unchanged",
                counts=_results_counts(body),
                notes=tuple(_results_notes(body)),
                body=body,
            )
        )
    return out


def _results_counts(body: EvalsBody) -> str:
    """▲improved ▼regressed, then +added −removed cases when there are any."""
    counts = f"▲{body.count('improved')} ▼{body.count('regressed')}"
    more = [f"{mark}{body.count(verdict)}" for mark, verdict in (("+", "added"), ("−", "removed"))]
    return " ".join([counts, *(m for m in more if m[1:] != "0")])


def _results_notes(body: EvalsBody) -> list[str]:
    notes = [f"{body.count('regressed')} regressed, {body.count('improved')} improved"]
    added, removed = body.count("added"), body.count("removed")
    if added or removed:
        notes[0] += f"; {added} cases only in the new run, {removed} only in the old"
    if body.sources_changed:
        notes.append(sources_note(body.sources_changed))
    return notes


def sources_note(cases: Sequence[str], dataset: str | None = None) -> str:
    """``retrieved sources changed in 3 cases: a, b, c``, at most five named."""
    named = ", ".join(cases[:5]) + (f" and {len(cases) - 5} more" if len(cases) > 5 else "")
    where = f" of {dataset}" if dataset else ""
    return f"retrieved sources changed in {len(cases)} case{'' if len(cases) == 1 else 's'}{where}: {named}"


def _rag_notes(components: list[Component], results: Mapping[str, EvalsBody] | None) -> None:
    """The RAG and corpus components say which cases retrieved other sources, when runs of
    both versions exist (the eval results component has the details)."""
    if not results:
        return
    notes = [
        sources_note(body.sources_changed, dataset if len(results) > 1 else None)
        for dataset, body in results.items()
        if body.sources_changed
    ]
    for component in components:
        if component.kind in ("rag", "corpus") and component.changed:
            component.notes = (*component.notes, *notes)
