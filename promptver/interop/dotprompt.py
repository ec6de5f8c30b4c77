"""Google Dotprompt (``.prompt``): YAML front matter + a Handlebars body.

Import: ``model: provider/name`` -> ``[model]``; ``config`` -> ``[model.params]`` (camelCase
option names mapped to promptver's: ``maxOutputTokens`` -> ``max_tokens``...); ``output``
with a JSON format and schema (Picoschema or JSON Schema) -> ``[model.response_format]``;
the body is translated to Jinja2 (`promptver.interop.handlebars`) and split at
``{{role}}`` markers into the system prompt and the template. Optional inputs (``name?``,
or given in ``input.default``) stay optional: a template that reads one starts with
``{% set name = name | default(...) %}``. ``tools`` have no promptver equivalent and are
reported.

Export: one ``TEMPLATE.prompt`` per template, ``{{role "system"}}`` + system prompt +
``{{role "user"}}`` + template, so that dotpromptz renders the messages
``bundle.messages(...)`` gives. Values are written with ``{{{triple}}}`` braces.
"""

from __future__ import annotations

import json
import os
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
    mapping,
    restore_response_format,
    split_front_matter,
    split_params,
)
from promptver.interop.handlebars import jinja_text, partial_path, translate

SUFFIX = ".prompt"
_KNOWN = {
    "name",
    "variant",
    "version",
    "description",
    "model",
    "config",
    "input",
    "output",
    "tools",
    "ext",
    "metadata",
    "raw",
}


def read(path: Path, partial_dirs: list[Path] | None = None) -> ImportedPrompt:
    file = str(path)
    text = path.read_text(encoding="utf-8")
    front, body, body_line = split_front_matter(text, file)
    name = str(front.get("name") or path.name.removesuffix(SUFFIX).split(".")[0])
    prompt = ImportedPrompt(source=file, template_name=_template_name(name), user="")
    ext = _ext(front)
    meta = mapping(ext.get("promptver"))
    if meta.get("template"):
        prompt.template_name = _template_name(str(meta["template"]))
    prompt.bundle = meta.get("bundle")
    prompt.description = front.get("description")
    model = front.get("model")
    if isinstance(model, str) and model:
        provider, sep, model_name = model.partition("/")
        prompt.provider, prompt.model = (provider, model_name) if sep else (None, model)
    if meta.get("provider"):
        prompt.provider = str(meta["provider"])
    if meta.get("base_url"):
        prompt.base_url = str(meta["base_url"])
    config = front.get("config") or {}
    if isinstance(config, dict):
        for key, value in config.items():
            prompt.params[OPTION_TO_PARAM.get(str(key), str(key))] = value
    for key, value in (meta.get("params") or {}).items():
        prompt.params[key] = value
    output = front.get("output")
    if isinstance(output, dict):
        prompt.response_format = _response_format(output, meta, file, prompt)
    input_ = mapping(front.get("input"))
    schema = input_.get("schema")
    if isinstance(schema, dict) and isinstance(schema.get("properties"), dict):
        examples = {
            name: prop["examples"][0]
            for name, prop in schema["properties"].items()
            if isinstance(prop, dict) and isinstance(prop.get("examples"), list) and prop["examples"]
        }
        if examples:
            prompt.samples.append(examples)
    for key in front:
        if key == "tools" or (key not in _KNOWN and "." not in key):
            prompt.findings.append(
                Finding(key, file, _line_of(text, key), "no promptver equivalent; not imported")
            )
    # Dotprompt strips the body before rendering; so does the import.
    stripped = body.lstrip()
    body_line += body.count("\n", 0, len(body) - len(stripped))
    translation = translate(stripped.rstrip(), file, first_line=body_line, dotprompt=True)
    prompt.findings += translation.findings
    _assign_segments(prompt, translation.segments, file)
    optional = optional_inputs(input_)
    for partial in translation.partials:
        source, refused = _find_partial(partial, path.parent, partial_dirs or [])
        if refused is not None:
            _drop_partial(prompt, partial, refused)
            continue
        if source is None:
            from promptver.errors import ConfigError

            raise ConfigError(
                f"the partial {{{{> {partial}}}}} is not found (looked for _{partial}.prompt)",
                location=file,
                hint=f"put _{partial}.prompt next to {path.name} or in a partials/ folder beside it",
            )
        partial_text = source.read_text(encoding="utf-8")
        _, partial_body, partial_line = split_front_matter(partial_text, str(source))
        sub = translate(partial_body, str(source), first_line=partial_line, dotprompt=True)
        prompt.findings += sub.findings
        prompt.partials[partial_path(partial)] = "".join(s.source for s in sub.segments)
    _apply_defaults(prompt, optional, file, _line_of(text, "input"))
    return prompt


def optional_inputs(input_: dict[str, Any]) -> dict[str, Any]:
    """Input name -> what a template prints when the caller leaves it out: its
    ``input.default``, else "" (Handlebars prints a missing value as nothing), for every
    input the schema marks optional (``name?`` in Picoschema, not ``required`` in JSON
    Schema) or ``input.default`` gives."""
    found: dict[str, Any] = {}
    schema = input_.get("schema")
    if isinstance(schema, dict):
        converted = picoschema_to_json_schema(schema)
        properties = converted.get("properties")
        required = converted.get("required") or []
        if isinstance(properties, dict):
            found = {str(name): "" for name in properties if name not in required}
    defaults = input_.get("default")
    if isinstance(defaults, dict):
        found.update({str(k): v for k, v in defaults.items()})
    return found


def _apply_defaults(prompt: ImportedPrompt, optional: dict[str, Any], file: str, line: int | None) -> None:
    """Each translated template that reads an optional input starts with ``{% set x = x |
    default(...) %}`` (it prints nothing), so the input is optional in promptver too and a
    missing one renders as in Dotprompt. An input read by attribute (``diet.vegan``) would
    need a missing object to have every attribute: it stays required, and is reported."""
    if not optional:
        return
    kept: set[str] = set()
    left: set[str] = set()
    if prompt.system is not None:
        prompt.system = _with_defaults(prompt.system, optional, kept, left)
    prompt.user = _with_defaults(prompt.user, optional, kept, left)
    for path in list(prompt.partials):
        prompt.partials[path] = _with_defaults(prompt.partials[path], optional, kept, left)
    for name in sorted(left):
        prompt.findings.append(
            Finding(
                "input",
                file,
                line,
                f"the optional input {name!r} is read by attribute or has a default of no"
                " printable kind: promptver requires it in every case",
            )
        )


def _with_defaults(source: str, optional: dict[str, Any], kept: set[str], left: set[str]) -> str:
    from jinja2 import Environment, TemplateSyntaxError, nodes
    from jinja2.meta import find_undeclared_variables

    try:
        ast = Environment(keep_trailing_newline=True).parse(source)
    except TemplateSyntaxError:
        return source  # reported when the bundle is checked
    read = find_undeclared_variables(ast) & set(optional)
    by_attribute = set()
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        subject = getattr(node, "node", None)
        if isinstance(subject, nodes.Name) and subject.name in read:
            by_attribute.add(subject.name)
    prelude = ""
    for name in sorted(read):
        literal = _jinja_literal(optional[name])
        if name in by_attribute or literal is None or not re.fullmatch(r"[A-Za-z_]\w*", name):
            left.add(name)
            continue
        kept.add(name)
        prelude += "{% set " + name + " = " + name + " | default(" + literal + ") %}"
    return prelude + source


def _jinja_literal(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return json.dumps(value)
    return None


def _template_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip("._-") or "prompt"
    return cleaned


def _ext(front: dict[str, Any]) -> dict[str, Any]:
    ext: dict[str, Any] = dict(front.get("ext") or {})
    for key, value in front.items():
        if "." in key:
            ns, _, field = key.rpartition(".")
            ext.setdefault(ns, {})[field] = value
    return ext


def _line_of(text: str, key: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(f"{key}:"):
            return number
    return None


def _response_format(
    output: dict[str, Any], meta: dict[str, Any], file: str, prompt: ImportedPrompt
) -> dict[str, Any] | None:
    if isinstance(meta.get("response_format"), dict):
        restore_response_format(prompt, meta)
        return prompt.response_format
    fmt = output.get("format")
    schema = output.get("schema")
    if fmt not in (None, "json") and fmt != "text":
        prompt.findings.append(
            Finding("output.format", file, None, f"format {fmt!r} has no promptver equivalent")
        )
        return None
    if schema is None:
        return {"type": "json_object"} if fmt == "json" else None
    if isinstance(schema, str):
        prompt.findings.append(
            Finding(
                "output.schema", file, None, f"a named schema ({schema!r}) cannot be resolved; not imported"
            )
        )
        return {"type": "json_object"}
    return {"type": "json_schema", "schema": picoschema_to_json_schema(schema)}


_SCALARS = {"string", "number", "integer", "boolean", "null", "any"}


def picoschema_to_json_schema(schema: Any) -> dict[str, Any]:
    """Picoschema (``name(type, description)?: ...``) -> JSON Schema; JSON Schema passes through."""
    if isinstance(schema, str):
        type_, _, desc = schema.partition(",")
        out: dict[str, Any] = {} if type_.strip() == "any" else {"type": type_.strip()}
        if desc.strip():
            out["description"] = desc.strip()
        return out
    if not isinstance(schema, dict):
        return {}
    if not _looks_pico(schema) and (
        schema.get("type") in (_SCALARS | {"object", "array"}) or "$ref" in schema
    ):
        return dict(schema)  # already JSON Schema
    properties: dict[str, Any] = {}
    required: list[str] = []
    for key, value in schema.items():
        match = re.match(r"^([^(?]+)(\?)?(?:\((\w+)(?:,\s*(.*))?\))?\Z", str(key))
        if not match:
            continue
        name, optional, kind, desc = match.groups()
        if kind == "array":
            prop: dict[str, Any] = {"type": "array", "items": picoschema_to_json_schema(value)}
        elif kind == "object":
            prop = picoschema_to_json_schema(value)
        elif kind == "enum":
            prop = {"enum": list(value)}
        else:
            prop = picoschema_to_json_schema(value)
        if desc:
            prop["description"] = desc
        if optional and isinstance(prop.get("type"), str):
            prop["type"] = [prop["type"], "null"]  # as Dotprompt reads an optional field
        properties[name] = prop
        if not optional:
            required.append(name)
    out = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def _looks_pico(schema: dict[str, Any]) -> bool:
    return any("(" in str(k) or str(k).endswith("?") for k in schema)


def _assign_segments(prompt: ImportedPrompt, segments: list[Any], file: str) -> None:
    """System segments -> the system prompt, the user segment -> the template; others reported."""
    kept = [s for s in segments if s.source.strip()]
    users = [s for s in kept if s.role == "user"]
    systems = [s for s in kept if s.role == "system"]
    if systems:
        prompt.system = systems[0].source
    if users:
        prompt.user = users[0].source
    for extra in kept:
        if extra is (users[0] if users else None) or extra is (systems[0] if systems else None):
            continue
        prompt.findings.append(
            Finding(
                f'{{{{role "{extra.role}"}}}}',
                file,
                extra.line,
                "a bundle template is one user message (after the system prompt); "
                "this message is kept as a comment at the end of the template",
            )
        )
        prompt.user += (
            "{# untranslated message (" + extra.role + "):\n" + extra.source.replace("#}", "# }") + "\n#}"
        )


def _find_partial(name: str, folder: Path, extra: list[Path]) -> tuple[Path | None, str | None]:
    """The file of a partial (None: there is none), or why a candidate was not read (it,
    or a link on its way, leads out of the folder it was looked for in)."""
    for base, root in [(folder, folder), (folder / "partials", folder), *((d, d) for d in extra)]:
        for candidate in (base / f"_{name}.prompt", base / f"{name}.prompt"):
            if not os.path.lexists(candidate):
                continue
            inside, refused = contained_file(root, str(candidate.relative_to(root)))
            if refused is not None:
                return None, f"{candidate} not read: {refused}"
            if inside is not None and inside.is_file():
                return inside, None
    return None, None


def _drop_partial(prompt: ImportedPrompt, name: str, why: str) -> None:
    """A partial that is not read: its include becomes a comment, and a finding says why."""
    include = '{% include "' + partial_path(name) + '" %}'
    comment = "{# partial {{> " + name + "}} not imported: " + why.replace("#}", "# }") + " #}"
    prompt.user = prompt.user.replace(include, comment)
    if prompt.system is not None:
        prompt.system = prompt.system.replace(include, comment)
    prompt.findings.append(Finding(f"{{{{> {name}}}}}", prompt.source, None, why))


# ---- export -------------------------------------------------------------------------------


def export_template(
    bundle: Any, template: str, variables: dict[str, Any], required: set[str] | None = None
) -> dict[str, str]:
    """The ``.prompt`` file of one template of a loaded bundle version, and a
    ``_NAME.prompt`` partial for each template it includes: file name -> text. ``required``:
    the variables the caller must give (the others are optional in ``input.schema``)."""
    from promptver.interop.jinja_subset import to_handlebars

    spec = bundle.spec
    env = bundle._environment()
    model = spec.model
    front: dict[str, Any] = {"name": template}
    if spec.description:
        front["description"] = spec.description
    front["model"] = f"{model.provider}/{model.name}"
    config, leftover = split_params(model.params)
    if config:
        front["config"] = config
    schema_in: dict[str, Any] = {"type": "object", "properties": {n: variables[n] for n in sorted(variables)}}
    if required is not None:
        schema_in["required"] = sorted(required)
    front["input"] = {"schema": schema_in}
    rf = model.response_format
    if rf and rf.get("type") in ("json_schema", "json_object"):
        out: dict[str, Any] = {"format": "json"}
        schema = rf.get("schema")
        if isinstance(schema, str):
            schema = json.loads(bundle.read_bytes(schema))
        if isinstance(schema, dict):
            out["schema"] = schema
        front["output"] = out
    meta: dict[str, Any] = {"bundle": bundle.name, "version": bundle.version, "template": template}
    if leftover:
        meta["params"] = leftover
    if model.base_url:
        meta["base_url"] = model.base_url
    if rf:
        meta["response_format"] = inline_response_format(bundle)
    for key, value in meta.items():
        front[f"promptver.{key}"] = value
    partials: dict[str, str] = {}
    defaults: dict[str, str | int] = {}
    parts: list[Any] = []
    if spec.system is not None:
        system = bundle._tree.read_text(spec.system)
        parts += ['{{role "system"}}', to_handlebars(env, system, spec.system, partials, defaults)]
    path = spec.templates[template]
    parts += ['{{role "user"}}', to_handlebars(env, bundle._tree.read_text(path), path, partials, defaults)]
    files = {}
    done: set[str] = set()
    while set(partials) - done:  # partials may include partials
        name = sorted(set(partials) - done)[0]
        done.add(name)
        source = bundle._tree.read_text(partials[name])
        files[f"_{name}{SUFFIX}"] = body_source(
            [to_handlebars(env, source, partials[name], partials, defaults)]
        )
    if defaults:  # what Jinja2's `| default(...)` gives when the variable is not given
        front["input"]["default"] = dict(sorted(defaults.items()))
    files[f"{template}{SUFFIX}"] = "---\n" + dump_yaml(front) + "---\n" + body_source(parts)
    return files


def body_source(parts: list[Any]) -> str:
    """The Handlebars body from role tags and template tokens (see `jinja_subset`)."""
    from promptver.interop.jinja_subset import handlebars_source

    body = handlebars_source(parts)
    if body != body.rstrip():
        # Dotprompt strips the body; two empty comments keep the trailing whitespace (one alone
        # could stand on its own line, and Handlebars would take that line's spaces with it)
        body += "{{!}}{{!}}"
    return body


__all__ = ["SUFFIX", "export_template", "jinja_text", "picoschema_to_json_schema", "read"]
