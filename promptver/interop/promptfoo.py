"""promptfoo: a ``promptfooconfig.yaml`` that runs a version's eval cases as is.

- prompts: one per template, labelled with its name, a chat prompt in Nunjucks (the system
  prompt and the template captured with ``{% set %}`` and written as a JSON message array
  with ``dump``), from the portable Jinja2 subset (`promptver.interop.jinja_subset`);
- providers: the bundle's model (``openai:chat:NAME`` with ``apiBaseUrl`` for
  OpenAI-compatible servers, ``anthropic:messages:NAME``), its parameters as ``config``;
- tests: one per eval case, ``vars`` as given, limited to its template's prompt, and the
  dataset's and case's assertions with their values rendered for the case (as promptver
  renders them) and mapped to promptfoo's types; the ones without an equivalent are listed
  in the test's ``metadata.promptver_unmapped`` and reported.
"""

from __future__ import annotations

import json
import re
from typing import Any

from promptver.interop.common import Finding, dump_yaml

CONFIG_FILE = "promptfooconfig.yaml"
_SYSTEM_VAR, _USER_VAR = "promptver_system__", "promptver_user__"


def provider(model: Any, label: str) -> dict[str, Any]:
    config: dict[str, Any] = dict(model.params)
    if model.provider == "anthropic":
        pid = f"anthropic:messages:{model.name}"
        if model.base_url:
            config["apiBaseUrl"] = model.base_url
    else:
        pid = f"openai:chat:{model.name}"
        if model.base_url:
            config["apiBaseUrl"] = model.base_url
        if model.provider != "openai":
            config["apiKeyEnvar"] = re.sub(r"[^A-Z0-9]", "_", model.provider.upper()) + "_API_KEY"
    return {"id": pid, "label": label, "config": config}


def response_format(bundle: Any) -> dict[str, Any] | None:
    rf = bundle.spec.model.response_format
    if not rf:
        return None
    if rf.get("type") != "json_schema":
        return {"type": rf["type"]}
    schema = rf.get("schema")
    if isinstance(schema, str):
        schema = json.loads(bundle.read_bytes(schema))
    out: dict[str, Any] = {"name": rf.get("name") or "output", "schema": schema}
    if "strict" in rf:
        out["strict"] = rf["strict"]
    return {"type": "json_schema", "json_schema": out}


def prompt_raw(bundle: Any, template: str) -> str:
    from promptver.interop.jinja_subset import to_nunjucks

    env = bundle._environment()
    spec = bundle.spec
    parts = []
    messages = []
    if spec.system is not None:
        source = to_nunjucks(env, bundle._tree.read_text(spec.system), spec.system)
        parts.append("{% set " + _SYSTEM_VAR + " %}" + source + "{% endset %}")
        messages.append('{"role": "system", "content": {{ ' + _SYSTEM_VAR + " | dump }}}")
    path = spec.templates[template]
    source = to_nunjucks(env, bundle._tree.read_text(path), path)
    parts.append("{% set " + _USER_VAR + " %}" + source + "{% endset %}")
    messages.append('{"role": "user", "content": {{ ' + _USER_VAR + " | dump }}}")
    return "".join(parts) + "[" + ", ".join(messages) + "]"


def map_assertion(spec: dict[str, Any], bundle: Any) -> tuple[dict[str, Any] | None, str]:
    """(promptfoo assertion, "") or (None, why it has no equivalent)."""
    kind = spec.get("type")
    value = spec.get("value")
    out: dict[str, Any]
    if kind in ("contains", "icontains"):
        out = {"type": f"{kind}-all" if isinstance(value, list) else kind, "value": value}
    elif kind in ("not-contains", "not-icontains"):
        out = {"type": f"{kind}-any" if isinstance(value, list) else kind, "value": value}
    elif kind == "equals":
        out = {"type": "equals", "value": value}
    elif kind == "regex":
        if spec.get("ignore_case"):
            return None, "regex with ignore_case (promptfoo regex values take no flags)"
        out = {"type": "regex", "value": str(value)}
    elif kind == "is-json":
        out = {"type": "is-json"}
    elif kind == "json-schema":
        schema = json.loads(bundle.read_bytes(value)) if isinstance(value, str) else value
        out = {"type": "is-json", "value": schema}
    elif kind == "json-field":
        path = str(spec.get("path", ""))
        if not re.fullmatch(r"[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*", path):
            return None, f"json-field with the path {path!r} (only dotted object keys map to a JSON schema)"
        field_schema: dict[str, Any] = {"const": value}
        for key in reversed(path.split(".")):
            field_schema = {"type": "object", "required": [key], "properties": {key: field_schema}}
        out = {"type": "is-json", "value": field_schema}
    elif kind == "llm-judge":
        out = {"type": "llm-rubric", "value": value}
        if "threshold" in spec:
            out["threshold"] = spec["threshold"]
    elif kind == "latency-under":
        out = {"type": "latency", "threshold": value}
    elif kind == "cost-under":
        out = {"type": "cost", "threshold": value}
    else:
        return None, f"{kind} has no javascript-free promptfoo equivalent"
    if "weight" in spec:
        out["weight"] = spec["weight"]
    return out, ""


def export_config(bundle: Any) -> tuple[str, list[Finding]]:
    """The promptfooconfig.yaml text of a loaded version, and the assertions left out."""
    from promptver.evals.execution.assertions import interpolate
    from promptver.evals.execution.bundle import parse_cases

    spec = bundle.spec
    findings: list[Finding] = []
    templates = list(spec.templates)
    prompts = [{"label": name, "raw": prompt_raw(bundle, name)} for name in templates]
    prov = provider(spec.model, bundle.ref)
    rf = response_format(bundle)
    if rf:
        prov["config"]["response_format"] = rf
    tests: list[dict[str, Any]] = []
    left_out: dict[tuple[str, str, str], list[str]] = {}
    for dataset in spec.evals.values():
        cases = parse_cases(bundle.read_bytes(dataset.path), f"{bundle.ref}/{dataset.path}")
        for case in cases:
            template = case.template or dataset.template or (templates[0] if len(templates) == 1 else None)
            if template is None:
                findings.append(
                    Finding(case.id, dataset.path, None, "the case names no template; not exported")
                )
                continue
            test: dict[str, Any] = {
                "description": case.id if len(spec.evals) == 1 else f"{dataset.name}/{case.id}",
                "vars": case.vars,
                "prompts": [template],
                # promptfoo runs a test once per element of a list of strings in vars
                # unless told not to: a case is one run
                "options": {"disableVarExpansion": True},
            }
            asserts, unmapped = [], []
            for raw in [*dataset.assertions, *case.asserts]:
                rendered = {k: (interpolate(v, case) if k == "value" else v) for k, v in raw.items()}
                mapped, why = map_assertion(rendered, bundle)
                if mapped is None:
                    unmapped.append(why)
                    left_out.setdefault((str(raw.get("type")), dataset.path, why), []).append(case.id)
                else:
                    asserts.append(mapped)
            if asserts:
                test["assert"] = asserts
            metadata: dict[str, Any] = {"promptver_case": case.id, "promptver_dataset": dataset.name}
            if unmapped:
                metadata["promptver_unmapped"] = unmapped
            test["metadata"] = metadata
            tests.append(test)
    config: dict[str, Any] = {
        "description": f"{bundle.ref} ({bundle.digest[:15]}), exported by promptver",
        "prompts": prompts,
        "providers": [prov],
        "tests": tests,
    }
    header = (
        f"# promptver export of {bundle.ref} ({bundle.digest}).\n"
        "# Run with: npx promptfoo@latest eval -c promptfooconfig.yaml\n"
    )
    for (kind, path, why), ids in left_out.items():
        findings.append(
            Finding(
                kind,
                path,
                None,
                f"{why}; left out of {len(ids)} test(s), listed in their metadata.promptver_unmapped",
            )
        )
    return header + dump_yaml(config), findings
