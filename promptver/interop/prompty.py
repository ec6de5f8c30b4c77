"""Microsoft Prompty (``.prompty``): YAML front matter + a body of ``role:`` sections.

Import reads both front-matter generations: v1 (``model.configuration``,
``model.parameters``, ``inputs: {x: {type, sample}}``, ``sample:``) and v2 (``model.id``,
``model.provider``, ``model.options`` in camelCase, ``inputs`` with ``kind``/``example``/
``default``, ``template.format.kind``). The ``system:`` section becomes the system prompt and
the ``user:`` section the template (Jinja2 as is; Mustache through the Handlebars
translator). Samples and input examples become an eval case. Connections, tools,
``${env:...}`` references, custom invokers and extra conversation turns are reported.

Export writes one ``TEMPLATE.prompty`` per template in the v2 format, with
``template.format.strict`` on (role markers cannot come from variables). Each template
section is wrapped in ``{% with %}...{% endwith %}`` so that its own whitespace control
cannot reach the ``role:`` lines. Prompty trims blank lines at both ends of each message.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from promptver.interop.common import (
    OPTION_TO_PARAM,
    Finding,
    ImportedPrompt,
    contained_file,
    dump_yaml,
    inline_response_format,
    kind_of,
    load_yaml,
    mapping,
    restore_response_format,
    split_front_matter,
    split_params,
)

SUFFIX = ".prompty"
ROLES = ("system", "user", "assistant", "developer")
_BOUNDARY = re.compile(r"^\s*#?\s*(" + "|".join(ROLES) + r")(\[[^\]]*\])?\s*:\s*\Z", re.IGNORECASE)
_WITH_OPEN, _WITH_CLOSE = "{% with %}", "{% endwith %}"
_KNOWN = {
    "name",
    "description",
    "authors",
    "version",
    "tags",
    "model",
    "inputs",
    "outputs",
    "sample",
    "template",
    "metadata",
    "kind",
    "id",
    "instructions",
}


def read(path: Path) -> ImportedPrompt:
    file = str(path)
    text = path.read_text(encoding="utf-8")
    front, body, body_line = split_front_matter(text, file)
    meta = mapping(mapping(front.get("metadata")).get("promptver"))
    name = str(meta.get("template") or front.get("name") or path.name.removesuffix(SUFFIX))
    prompt = ImportedPrompt(
        source=file, template_name=re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip("._-") or "prompt", user=""
    )
    prompt.bundle = meta.get("bundle")
    prompt.description = front.get("description")
    _model(front.get("model"), prompt, text, meta)
    _samples(front, prompt, path, text)
    for key in front:
        if key not in _KNOWN:
            prompt.findings.append(
                Finding(key, file, _line_of(text, key), "no promptver equivalent; not imported")
            )
        elif key in ("outputs",):
            prompt.findings.append(
                Finding(key, file, _line_of(text, key), "output declarations are not imported")
            )
    restore_response_format(prompt, meta)
    mustache = _template_kind(front.get("template"), prompt, text) == "mustache"
    _sections(body, body_line, prompt, mustache)
    return prompt


def _line_of(text: str, key: str, indent: str = "") -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"^{indent}{re.escape(key)}\s*:", line):
            return number
    return None


def _model(model: Any, prompt: ImportedPrompt, text: str, meta: dict[str, Any]) -> None:
    file = prompt.source
    if isinstance(model, str):
        prompt.model = model
        return
    if not isinstance(model, dict):
        return
    # v2
    if model.get("id"):
        prompt.model = str(model["id"])
    if model.get("provider"):
        prompt.provider = str(model["provider"])
    options = model.get("options")
    if isinstance(options, dict):
        for key, value in options.items():
            if key == "additionalProperties" and isinstance(value, dict):
                prompt.params.update(value)
            else:
                prompt.params[OPTION_TO_PARAM.get(str(key), str(key))] = value
    if model.get("connection"):
        prompt.findings.append(
            Finding(
                "model.connection",
                file,
                _line_of(text, "connection", r"\s+"),
                "connection settings (endpoints, keys) are not part of a bundle; set base_url and the "
                "provider's API key variable instead",
            )
        )
    # v1
    config = model.get("configuration")
    if isinstance(config, dict):
        kind = str(config.get("type") or "")
        prompt.provider = {"azure": "azure_openai"}.get(kind, kind) or prompt.provider
        deployment = config.get("azure_deployment") or config.get("name") or config.get("model")
        if deployment:
            prompt.model = str(deployment)
        dropped = sorted(k for k in config if k not in ("type", "azure_deployment", "name", "model"))
        if dropped:
            prompt.findings.append(
                Finding(
                    "model.configuration",
                    file,
                    _line_of(text, "configuration", r"\s+"),
                    f"{', '.join(dropped)}: connection settings are not part of a bundle; not imported",
                )
            )
    params = model.get("parameters")
    if isinstance(params, dict):
        for key, value in params.items():
            if key == "response_format" and isinstance(value, dict):
                prompt.response_format = dict(value)
            else:
                prompt.params[key] = value
    if model.get("api") not in (None, "chat"):
        prompt.findings.append(
            Finding(
                "model.api",
                file,
                _line_of(text, "api", r"\s+"),
                f"api {model['api']!r}: promptver renders chat messages only",
            )
        )
    for key, value in (meta.get("params") or {}).items():
        prompt.params[key] = value
    if meta.get("base_url"):
        prompt.base_url = str(meta["base_url"])
    if meta.get("provider"):
        prompt.provider = str(meta["provider"])


def _samples(front: dict[str, Any], prompt: ImportedPrompt, path: Path, text: str) -> None:
    sample = front.get("sample")
    if isinstance(sample, str):
        target, refused = contained_file(path.parent, sample)
        if target is None:
            prompt.findings.append(
                Finding("sample", prompt.source, _line_of(text, "sample"), f"{sample!r} not read: {refused}")
            )
            sample = None
        elif target.is_file():
            try:
                text_of = target.read_text(encoding="utf-8")
                sample = json.loads(text_of) if target.suffix == ".json" else load_yaml(text_of, str(target))
            except (ValueError, OSError) as exc:  # UnicodeDecodeError is a ValueError
                prompt.findings.append(
                    Finding("sample", prompt.source, _line_of(text, "sample"), f"{sample!r} not read: {exc}")
                )
                sample = None
        else:
            prompt.findings.append(
                Finding(
                    "sample", prompt.source, _line_of(text, "sample"), f"sample file {sample!r} not found"
                )
            )
            sample = None
    examples: dict[str, Any] = {}
    inputs = front.get("inputs")
    items: list[tuple[str, Any]] = []
    if isinstance(inputs, dict):
        items = list(inputs.items())
    elif isinstance(inputs, list):
        items = [(str(i.get("name")), i) for i in inputs if isinstance(i, dict)]
    for name, spec in items:
        if isinstance(spec, dict):
            for key in ("example", "sample", "default"):
                if key in spec:
                    examples[name] = spec[key]
                    break
        elif spec is not None and not isinstance(spec, dict):
            examples[name] = spec  # v1 shorthand: `inputs: {question: "What is...?"}`
    if isinstance(sample, dict):
        examples.update(sample)
    if examples:
        prompt.samples.append(examples)


def _template_kind(template: Any, prompt: ImportedPrompt, text: str) -> str:
    kind: Any = "jinja2"
    parser: Any = "prompty"
    if isinstance(template, str):
        kind = template
    elif isinstance(template, dict):
        fmt = template.get("format")
        kind = fmt.get("kind") if isinstance(fmt, dict) else (fmt or "jinja2")
        par = template.get("parser")
        parser = par.get("kind") if isinstance(par, dict) else (par or "prompty")
    if kind not in ("jinja2", "mustache") or parser != "prompty":
        prompt.findings.append(
            Finding(
                "template",
                prompt.source,
                _line_of(text, "template"),
                f"the invoker {kind!r}/{parser!r} has no promptver equivalent; the body is read as Jinja2",
            )
        )
        return "jinja2"
    return str(kind)


def _sections(body: str, body_line: int, prompt: ImportedPrompt, mustache: bool) -> None:
    """Split the body at role lines; translate Mustache; assign system and user."""
    sections: list[tuple[str, int, list[str]]] = []
    role, start = "system", body_line  # Prompty's role before any marker is system
    lines: list[str] = []
    for offset, line in enumerate(body.split("\n")):
        match = _BOUNDARY.match(line)
        if match:
            if any(x.strip() for x in lines):
                sections.append((role, start, lines))
            role, start, lines = match.group(1).lower(), body_line + offset + 1, []
            if match.group(2):
                prompt.findings.append(
                    Finding(
                        line.strip(),
                        prompt.source,
                        body_line + offset,
                        "role attributes are not part of promptver messages; dropped",
                    )
                )
            continue
        lines.append(line)
    if any(x.strip() for x in lines):
        sections.append((role, start, lines))
    used: set[str] = set()
    for role, first, content in sections:
        source = "\n".join(content).strip("\n") + "\n"
        if source.startswith(_WITH_OPEN) and source.rstrip("\n").endswith(_WITH_CLOSE):
            source = source[len(_WITH_OPEN) : len(source.rstrip("\n")) - len(_WITH_CLOSE)]
        elif mustache:
            from promptver.interop.handlebars import translate

            translation = translate(source, prompt.source, first_line=first)
            prompt.findings += translation.findings
            source = "".join(s.source for s in translation.segments)
        target = "system" if role in ("system", "developer") else "user" if role == "user" else None
        if target is None or target in used:
            prompt.findings.append(
                Finding(
                    f"{role}:",
                    prompt.source,
                    first - 1,
                    "a bundle template is one user message (after the system prompt); this message is "
                    "kept as a comment at the end of the template",
                )
            )
            prompt.user += "{# untranslated message (" + role + "):\n" + source.replace("#}", "# }") + "#}\n"
            continue
        used.add(target)
        if target == "system":
            prompt.system = source
        else:
            prompt.user = source + prompt.user


# ---- export -------------------------------------------------------------------------------


def export_template(bundle: Any, template: str, variables: dict[str, Any]) -> str:
    """The ``.prompty`` file of one template of a loaded bundle version."""
    from promptver.interop.jinja_subset import ExportError

    spec = bundle.spec
    model = spec.model
    options, extra = split_params(model.params)
    if extra:
        options["additionalProperties"] = extra
    model_out: dict[str, Any] = {"id": model.name, "provider": model.provider}
    if options:
        model_out["options"] = options
    meta: dict[str, Any] = {"bundle": bundle.name, "version": bundle.version, "template": template}
    if model.base_url:
        meta["base_url"] = model.base_url
    if model.response_format:
        meta["response_format"] = inline_response_format(bundle)
    front: dict[str, Any] = {"name": template}
    if spec.description:
        front["description"] = spec.description
    front["metadata"] = {"promptver": meta}
    front["model"] = model_out
    if variables:
        front["inputs"] = {name: variables[name] for name in sorted(variables)}
    front["template"] = {"format": {"kind": "jinja2", "strict": True}, "parser": {"kind": "prompty"}}
    sections = []
    for role, path in (("system", spec.system), ("user", spec.templates[template])):
        if path is None:
            continue
        source = bundle._tree.read_text(path)
        for number, line in enumerate(source.splitlines(), start=1):
            if _BOUNDARY.match(line):
                raise ExportError(
                    f"the line {line.strip()!r} would start a new Prompty message",
                    location=f"{path}:{number}",
                    hint="reword the line (Prompty reads a line like 'user:' as a role marker)",
                )
        _check_loader_free(bundle, source, path)
        sections.append(f"{role}:\n{_WITH_OPEN}{source}{_WITH_CLOSE}\n")
    header = dump_yaml(front)
    if "---" in header or "+++" in header:
        raise ExportError(
            f"{template}: the front matter would contain '---' or '+++', where Prompty ends it",
            hint="remove '---' and '+++' from the bundle description and model parameters",
        )
    return "---\n" + header + "---\n" + "\n".join(sections)


def _check_loader_free(bundle: Any, source: str, path: str) -> None:
    """Prompty renders one string: includes, imports and extends cannot be resolved there."""
    from jinja2 import nodes

    from promptver.interop.jinja_subset import ExportError

    ast = bundle._environment().parse(source, name=path, filename=path)
    for node in ast.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        raise ExportError(
            f"{{% {type(node).__name__.lower()} %}} cannot be exported to Prompty (one file, no loader)",
            location=f"{path}:{node.lineno}",
            hint="inline the included template",
        )


def input_declaration(
    value: Any,
    *,
    kind: str | None = None,
    required: bool = True,
    items: str | None = None,
) -> dict[str, Any]:
    """A Prompty v2 input declaration for a variable, from an example value (``kind``: the
    kind found otherwise when there is none; ``required``: False for a variable the template
    guards with ``is defined`` or ``| default``; ``items``: the kind of a list's items when
    the example does not show it)."""
    kind = kind or kind_of(value)
    decl: dict[str, Any] = {"kind": kind, "required": required}
    if kind == "array":
        if isinstance(value, list) and value:
            decl["items"] = {"kind": kind_of(value[0])}
        else:
            decl["items"] = {"kind": items or "string"}
    if value is not None:
        decl["example"] = value
    return decl
