"""``promptver export NAME@VERSION --format prompty|dotprompt|promptfoo -o DIR``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptver.errors import ConfigError
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
    from promptver.evals.bundle import parse_cases

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
        if fmt == "prompty":
            inputs = {k: prompty.input_declaration(v) for k, v in examples.items()}
            texts[template + prompty.SUFFIX] = prompty.export_template(bundle, template, inputs)
        else:
            inputs = {k: _json_schema_type(kind_of(v), v) for k, v in examples.items()}
            texts.update(dotprompt.export_template(bundle, template, inputs))
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for rel, text in texts.items():
        path = folder / rel
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return ExportResult(bundle.ref, bundle.digest, fmt, written, findings)


def _json_schema_type(kind: str, example: Any) -> dict[str, Any]:
    return {"type": kind} if example is None else {"type": kind, "examples": [example]}
