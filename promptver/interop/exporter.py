"""``promptver export NAME@VERSION --format prompty|dotprompt|promptfoo -o DIR``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptver.errors import ConfigError, PromptverError
from promptver.interop.common import FORMATS, Finding

if TYPE_CHECKING:
    from promptver.app.runtime import Bundle
    from promptver.store.store import Store


@dataclass
class ExportResult:
    ref: str
    digest: str
    format: str
    files: list[Path]
    findings: list[Finding] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "digest": self.digest,
            "format": self.format,
            "files": [str(p) for p in self.files],
            "findings": [f.to_json() for f in self.findings],
        }


def open_version(store: Store, name: str, version: str) -> Bundle:
    from promptver.app.runtime import Bundle

    manifest = store.resolve(name, version)
    return Bundle(manifest, store.tree(manifest), f"store {store.root}")


def template_inputs(bundle: Bundle, template: str) -> dict[str, Any]:
    """Variable -> an example value (from the first eval case that has one; None when no
    case has), for every variable the template and the system prompt read."""
    from promptver.bundle.templates import variables
    from promptver.evals.execution.bundle import parse_cases

    names = set(bundle.variables(template))
    if bundle.spec.system is not None:
        names |= variables(bundle._environment(), bundle.spec.system)
    examples: dict[str, Any] = {}
    for dataset in bundle.spec.evals.values():
        for case in parse_cases(bundle.read_bytes(dataset.path), dataset.path):
            if (case.template or dataset.template) in (template, None):
                for key, value in case.vars.items():
                    examples.setdefault(key, value)
    return {name: examples.get(name) for name in sorted(names)}


def required_inputs(bundle: Bundle, template: str) -> set[str]:
    """The variables the template and the system prompt use unguarded (not under
    ``is defined`` or ``| default``): the ones a caller must give."""
    from promptver.bundle.variables import TemplateParseError, analyze

    def load(path: str) -> str | None:
        try:
            return bundle._tree.read_text(path)
        except (OSError, KeyError, UnicodeDecodeError, PromptverError):
            return None

    required: set[str] = set()
    paths = [bundle.spec.templates[template]] + ([bundle.spec.system] if bundle.spec.system else [])
    for path in paths:
        source = load(path)
        if source is None:
            continue
        try:
            required |= analyze(source, path, load).required
        except TemplateParseError:
            continue  # a stored version passed check
    return required


def usage_kinds(bundle: Bundle, template: str) -> dict[str, str]:
    """Variable -> "array" when a template loops over it, "object" when it reads an attribute
    of it (for declarations of variables no eval case gives an example of)."""
    from jinja2 import nodes

    kinds: dict[str, str] = {}
    paths = [bundle.spec.templates[template]] + ([bundle.spec.system] if bundle.spec.system else [])
    for path in paths:
        ast = bundle._environment().parse(bundle._tree.read_text(path))
        for loop in ast.find_all(nodes.For):
            if isinstance(loop.iter, nodes.Name):
                kinds[loop.iter.name] = "array"
        for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
            subject = getattr(node, "node", None)
            if isinstance(subject, nodes.Name):
                kinds.setdefault(subject.name, "object")
    return kinds


def item_kind(bundle: Bundle, template: str, name: str) -> str:
    """The kind of a list's items: an object when a loop over ``name`` reads attributes of
    them, else a string."""
    from jinja2 import nodes

    paths = [bundle.spec.templates[template]] + ([bundle.spec.system] if bundle.spec.system else [])
    for path in paths:
        ast = bundle._environment().parse(bundle._tree.read_text(path))
        for loop in ast.find_all(nodes.For):
            over = isinstance(loop.iter, nodes.Name) and loop.iter.name == name
            if over and isinstance(loop.target, nodes.Name):
                target = loop.target.name
                for node in loop.find_all((nodes.Getattr, nodes.Getitem)):
                    subject = getattr(node, "node", None)
                    if isinstance(subject, nodes.Name) and subject.name == target:
                        return "object"
    return "string"


def export(bundle: Bundle, fmt: str, folder: Path) -> ExportResult:
    """Write the files of one format into ``folder`` (created); returns what was written."""
    from promptver.interop import dotprompt, promptfoo, prompty
    from promptver.interop.common import kind_of

    if fmt not in FORMATS:
        raise ConfigError(
            f"unknown export format {fmt!r}", hint=f"formats: {', '.join(FORMATS)}, or no --format for .pvb"
        )
    texts: dict[str, str] = {}
    findings: list[Finding] = []
    if fmt == "promptfoo":
        texts[promptfoo.CONFIG_FILE], findings = promptfoo.export_config(bundle)
    for template in bundle.templates if fmt != "promptfoo" else ():
        examples = template_inputs(bundle, template)
        required = required_inputs(bundle, template)
        used = usage_kinds(bundle, template)
        kinds = {k: kind_of(v) if v is not None else used.get(k, "string") for k, v in examples.items()}
        if fmt == "prompty":
            inputs = {
                k: prompty.input_declaration(
                    v,
                    kind=kinds[k],
                    required=k in required,
                    items=item_kind(bundle, template, k) if kinds[k] == "array" else None,
                )
                for k, v in examples.items()
            }
            texts[template + prompty.SUFFIX] = prompty.export_template(bundle, template, inputs)
        else:
            inputs = {k: _json_schema_type(kinds[k], v) for k, v in examples.items()}
            texts.update(dotprompt.export_template(bundle, template, inputs, required & set(inputs)))
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for rel, text in texts.items():
        path = folder / rel
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return ExportResult(bundle.ref, bundle.digest, fmt, written, findings)


def _json_schema_type(kind: str, example: Any) -> dict[str, Any]:
    return {"type": kind} if example is None else {"type": kind, "examples": [example]}
