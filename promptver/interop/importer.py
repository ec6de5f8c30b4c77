"""``promptver import-prompt FILE... --into NAME``: prompt files -> a bundle folder.

A new bundle gets ``bundle.toml``, ``prompts/system.j2`` (when a file has a system
message), one ``prompts/TEMPLATE.j2`` per file, ``prompts/partials/*.j2`` and, when the
files carry samples, ``evals/samples.jsonl``. An existing bundle is updated: templates of
the same name are replaced, others added, ``[model]`` and the system prompt set from the
files. Everything is validated (as ``promptver check``) before anything is written, and
files are written only after every input has been read: bad input changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptver.errors import BundleError, ConfigError
from promptver.interop.common import Finding, ImportedPrompt

SAMPLES = "evals/samples.jsonl"


@dataclass
class ImportResult:
    bundle: str
    folder: Path
    created: bool
    templates: list[str]
    written: list[Path] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "bundle": self.bundle,
            "path": str(self.folder),
            "created": self.created,
            "templates": self.templates,
            "written": [str(p) for p in self.written],
            "findings": [f.to_json() for f in self.findings],
        }


def read_prompt(path: Path) -> ImportedPrompt:
    """Read one file, choosing the format by its suffix."""
    from promptver.interop import dotprompt, prompty

    if not path.is_file():
        raise ConfigError(f"{path}: no such file", hint="give the path of a .prompty or .prompt file")
    if path.suffix == prompty.SUFFIX:
        return prompty.read(path)
    if path.suffix == dotprompt.SUFFIX:
        return dotprompt.read(path)
    raise ConfigError(
        f"{path}: unknown prompt format {path.suffix or '(no suffix)'!r}",
        hint="import-prompt reads Prompty (.prompty) and Dotprompt (.prompt) files",
    )


def import_prompts(files: list[Path], folder: Path, name: str, *, model: str | None = None) -> ImportResult:
    prompts = [read_prompt(f) for f in files if not f.name.startswith("_") or f.suffix != ".prompt"]
    if not prompts:
        raise ConfigError(
            "no prompt files to import", hint="partials (_name.prompt) are read with their prompt"
        )
    names = [p.template_name for p in prompts]
    for template in set(names):
        if names.count(template) > 1:
            sources = ", ".join(p.source for p in prompts if p.template_name == template)
            raise ConfigError(
                f"several files define the template {template!r}: {sources}",
                hint="rename one of them (the file name or its `name:`)",
            )
    provider, model_name, params, base_url, response_format = _model(prompts, model)
    schema_file = next((p.schema_file for p in prompts if p.schema_file), None)
    if schema_file is not None and not _plain_relative(str(schema_file)):
        prompts[0].findings.append(
            Finding(
                "response_format.schema_file",
                prompts[0].source,
                None,
                f"{schema_file!r} is not a plain path inside the bundle; the schema goes to the default"
                " place",
            )
        )
        schema_file = None
    system = _system(prompts)
    created = not (folder / "bundle.toml").exists()
    files_out: dict[str, str] = {}
    for prompt in prompts:
        files_out[f"prompts/{prompt.template_name}.j2"] = prompt.user
        files_out.update(prompt.partials)
    if system is not None:
        files_out["prompts/system.j2"] = system
    schema_path = None
    if response_format and isinstance(response_format.get("schema"), dict):
        schema_path = schema_file or "schemas/output.schema.json"
        files_out[schema_path] = json.dumps(response_format["schema"], indent=2) + "\n"
        response_format = {**response_format, "schema": schema_path}
    cases = _cases(prompts)
    toml_text = _bundle_toml(
        folder,
        name,
        prompts,
        provider,
        model_name,
        params,
        base_url,
        response_format,
        system is not None,
        bool(cases),
    )
    files_out["bundle.toml"] = toml_text
    if cases:
        files_out[SAMPLES] = _merge_cases(folder / SAMPLES, cases)
    for rel in files_out:  # every name came through the readers' checks; never write outside
        if not _plain_relative(rel):
            raise ConfigError(
                f"import-prompt would write {rel!r}, which is not a plain path inside the bundle",
                hint="rename the template or partial in the imported file",
            )
    _validate(files_out, folder, name)
    written = []
    for rel, text in files_out.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    findings = [f for p in prompts for f in p.findings]
    return ImportResult(name, folder, created, names, written, findings)


def _plain_relative(path: str) -> bool:
    """A relative path with no ``.``/``..``/empty segment and no backslash or drive."""
    parts = path.split("/")
    return (
        bool(path)
        and "\\" not in path
        and ":" not in parts[0]
        and all(part not in ("", ".", "..") for part in parts)
        and "\x00" not in path
    )


def _model(
    prompts: list[ImportedPrompt], override: str | None
) -> tuple[str, str, dict[str, Any], str | None, dict[str, Any] | None]:
    if override:
        provider, sep, model_name = override.partition("/")
        if not sep or not provider or not model_name:
            raise ConfigError(
                f"--model {override!r} should be PROVIDER/NAME", hint="e.g. --model openai/gpt-4o-mini"
            )
    first = prompts[0]
    for other in prompts[1:]:
        for label, a, b in (
            ("model", first.model, other.model),
            ("provider", first.provider, other.provider),
            ("model parameters", first.params, other.params),
        ):
            if a != b and not override:
                raise ConfigError(
                    f"{other.source} and {first.source} have different {label} ({b!r} vs {a!r}); "
                    "a bundle has one model",
                    hint="import them into separate bundles, or pass --model PROVIDER/NAME to set one",
                )
    if override:
        return provider, model_name, dict(first.params), first.base_url, first.response_format
    if not first.model:
        raise ConfigError(
            f"{first.source} names no model",
            hint="add one to the front matter, or pass --model PROVIDER/NAME (e.g. openai/gpt-4o-mini)",
        )
    if not first.provider:
        first.findings.append(
            Finding("model", first.source, None, f"no provider given for {first.model!r}; using 'openai'")
        )
    return first.provider or "openai", first.model, dict(first.params), first.base_url, first.response_format


def _system(prompts: list[ImportedPrompt]) -> str | None:
    systems = {p.system for p in prompts if p.system is not None}
    if len(systems) > 1:
        sources = ", ".join(p.source for p in prompts if p.system is not None)
        raise ConfigError(
            f"the files have different system prompts ({sources}); a bundle has one",
            hint="import them into separate bundles",
        )
    lacking = [p.source for p in prompts if p.system is None]
    if systems and lacking:
        for prompt in prompts:
            if prompt.system is None:
                prompt.findings.append(
                    Finding(
                        "system",
                        prompt.source,
                        None,
                        "this file has no system message; the bundle's applies to it too",
                    )
                )
    return next(iter(systems), None)


def _cases(prompts: list[ImportedPrompt]) -> list[dict[str, Any]]:
    """One eval case per sample that supplies every variable its template requires; an
    incomplete sample is reported (an eval of it would fail), not turned into a case."""
    cases = []
    for prompt in prompts:
        required = _required(prompt)
        for number, sample in enumerate(prompt.samples, start=1):
            missing = sorted(required - set(sample))
            if missing:
                given = ", ".join(sorted(sample)) or "nothing"
                prompt.findings.append(
                    Finding(
                        "sample",
                        prompt.source,
                        None,
                        f"it gives {given} but the template also needs {', '.join(missing)}: no eval case"
                        f" made from it (add one with every variable to {SAMPLES})",
                    )
                )
                continue
            suffix = "" if len(prompt.samples) == 1 else f"-{number}"
            cases.append(
                {
                    "id": f"{prompt.template_name}-sample{suffix}",
                    "vars": dict(sorted(sample.items())),
                    "template": prompt.template_name,
                }
            )
    return cases


def _required(prompt: ImportedPrompt) -> set[str]:
    """The variables the translated templates (user message and system prompt) require."""
    from promptver.bundle.variables import TemplateParseError, analyze

    needed: set[str] = set()
    for path, source in (("user.j2", prompt.user), ("system.j2", prompt.system)):
        if source is None:
            continue
        try:
            needed |= analyze(source, path, prompt.partials.get).required
        except TemplateParseError:
            continue  # reported when the bundle is checked
    return needed


def _merge_cases(path: Path, cases: list[dict[str, Any]]) -> str:
    """Existing cases kept, imported ones replaced by id."""
    lines: list[str] = []
    ids = {c["id"] for c in cases}
    if path.is_file():
        for raw in path.read_text(encoding="utf-8").splitlines():
            try:
                if raw.strip() and json.loads(raw).get("id") in ids:
                    continue
            except (ValueError, AttributeError):
                pass
            lines.append(raw)
    lines += [json.dumps(c, ensure_ascii=False) for c in cases]
    return "\n".join(lines) + "\n"


def _bundle_toml(
    folder: Path,
    name: str,
    prompts: list[ImportedPrompt],
    provider: str,
    model_name: str,
    params: dict[str, Any],
    base_url: str | None,
    response_format: dict[str, Any] | None,
    has_system: bool,
    has_cases: bool,
) -> str:
    import tomlkit

    path = folder / "bundle.toml"
    doc = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()
    if "bundle" not in doc:
        table = tomlkit.table()
        table["name"] = name
        description = next((p.description for p in prompts if p.description), None)
        if description:
            table["description"] = str(description).strip()
        doc["bundle"] = table
        table.comment(f"imported from {', '.join(Path(p.source).name for p in prompts)}")
    model = tomlkit.table()
    model["provider"] = provider
    model["name"] = model_name
    if base_url:
        model["base_url"] = base_url
    if params:
        model["params"] = _toml_value(params)
    if response_format:
        model["response_format"] = _toml_value(response_format)
    doc["model"] = model
    prompts_table = doc.get("prompts") or tomlkit.table()
    if has_system:
        prompts_table["system"] = "prompts/system.j2"
    templates = prompts_table.get("templates") or tomlkit.table()
    for prompt in prompts:
        templates[prompt.template_name] = f"prompts/{prompt.template_name}.j2"
    prompts_table["templates"] = templates
    doc["prompts"] = prompts_table
    if has_cases and "samples" not in (doc.get("evals") or {}):
        evals = doc.get("evals") or tomlkit.table(is_super_table=True)
        samples = tomlkit.table()
        samples["path"] = SAMPLES
        samples["description"] = "the sample inputs of the imported files"
        evals["samples"] = samples
        doc["evals"] = evals
    return tomlkit.dumps(doc)


def _toml_value(value: Any) -> Any:
    """Drop None values (TOML has no null)."""
    if isinstance(value, dict):
        return {k: _toml_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_toml_value(v) for v in value if v is not None]
    return value


def _validate(files: dict[str, str], folder: Path, name: str) -> None:
    """Check the bundle as it will be, in a scratch copy, before writing anything."""
    import shutil
    import tempfile

    from promptver.bundle.check import check_folder

    with tempfile.TemporaryDirectory(prefix="promptver-import-") as tmp:
        scratch = Path(tmp) / name
        if folder.exists():
            shutil.copytree(folder, scratch, ignore=shutil.ignore_patterns(".git"))
        for rel, text in files.items():
            path = scratch / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        _spec, problems = check_folder(scratch, name)
    if problems:
        raise BundleError(name, problems)
