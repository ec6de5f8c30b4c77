"""What the format modules share: findings, front matter, YAML, and the imported prompt."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptver.errors import ConfigError

FORMATS = ("prompty", "dotprompt", "promptfoo")


@dataclass(frozen=True)
class Finding:
    """A construct that could not be carried over exactly, with where it is."""

    construct: str  # the construct by name, e.g. "{{history}}" or "model.connection"
    file: str
    line: int | None
    message: str  # what happened to it (kept as a comment, dropped from the config...)

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def __str__(self) -> str:
        return f"{self.location}: {self.construct}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"construct": self.construct, "file": self.file, "line": self.line, "message": self.message}


@dataclass
class ImportedPrompt:
    """One prompt file, translated: what goes into the bundle for it."""

    source: str  # the file, for messages
    template_name: str
    user: str  # Jinja2 source of the user message template
    system: str | None = None  # Jinja2 source of the system prompt, if the file has one
    provider: str | None = None
    model: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    base_url: str | None = None
    response_format: dict[str, Any] | None = None
    description: str | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)  # vars of example cases
    partials: dict[str, str] = field(default_factory=dict)  # bundle path -> Jinja2 source
    findings: list[Finding] = field(default_factory=list)
    bundle: str | None = None  # from promptver metadata in an exported file
    schema_file: str | None = None  # where the bundle kept the response schema (exported metadata)


def inline_response_format(bundle: Any) -> dict[str, Any] | None:
    """The version's response_format with a schema file read in (``schema_file`` names it)."""
    import json

    rf = bundle.spec.model.response_format
    if not rf:
        return None
    out = dict(rf)
    if isinstance(out.get("schema"), str):
        out["schema_file"] = out["schema"]
        out["schema"] = json.loads(bundle.read_bytes(out["schema"]))
    return out


def restore_response_format(prompt: ImportedPrompt, meta: dict[str, Any]) -> None:
    """Undo `inline_response_format` when reading promptver's own metadata back."""
    rf = meta.get("response_format")
    if isinstance(rf, dict):
        rf = dict(rf)
        prompt.schema_file = rf.pop("schema_file", None)
        prompt.response_format = rf


def contained_file(folder: Path, named: str) -> tuple[Path | None, str | None]:
    """Where a path that an imported file names (a sample file, a partial) leads, if it
    stays inside ``folder``, the imported file's own folder: (the path with every
    symbolic link resolved, None), else (None, why not). Nothing is read here; a path that
    is absolute, climbs out with ``..``, or passes a link that leads out is not read at
    all, so a file under review cannot pull ``~/.config/...`` into a bundle."""
    if not named or "\x00" in named:
        return None, "an empty path or one with a NUL character"
    if named.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", named) or Path(named).is_absolute():
        return None, "an absolute path (only paths inside the file's folder are read)"
    root = folder.resolve()
    lexical = Path(os.path.normpath(root / named))
    if not lexical.is_relative_to(root):
        return None, f"it leads out of {folder} (only paths inside the file's folder are read)"
    try:
        resolved = (root / named).resolve()
    except (OSError, RuntimeError) as exc:  # a link loop
        return None, f"it cannot be resolved ({exc})"
    if not resolved.is_relative_to(root):
        return None, f"a symbolic link on it leads out of {folder} (only files inside the folder are read)"
    return resolved, None


_FRONT = re.compile(r"\A(?:\ufeff)?---[ \t]*\r?\n(.*?)(?:\r?\n)?^---[ \t]*(?:\r?\n|\Z)", re.S | re.M)


def split_front_matter(text: str, file: str) -> tuple[dict[str, Any], str, int]:
    """(front matter, body, line number where the body starts); no front matter -> ({}, text, 1)."""
    match = _FRONT.match(text)
    if not match:
        if text.lstrip().startswith("---"):
            raise ConfigError(
                "the front matter has no closing '---' line",
                location=f"{file}:1",
                hint="end the YAML front matter with a line holding only ---",
            )
        return {}, text, 1
    data = load_yaml(match.group(1), file, first_line=2)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("the front matter must be a YAML mapping", location=f"{file}:2")
    body_line = text.count("\n", 0, match.end()) + 1
    return data, text[match.end() :], body_line


def load_yaml(text: str, file: str, first_line: int = 1) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = first_line + mark.line if mark is not None else first_line
        column = f":{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(
            f"invalid YAML: {problem}", location=f"{file}:{line}{column}", hint="fix the YAML syntax"
        ) from None


def dump_yaml(data: Any) -> str:
    """Block-style YAML, keys in the given order, multi-line strings as literal blocks."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        style = "|" if "\n" in value and _literal_ok(value) else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _str)
    text: str = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return text


def _literal_ok(value: str) -> bool:
    # PyYAML cannot write trailing spaces or some control characters in a literal block.
    return not any(line != line.rstrip(" \t") for line in value.split("\n")) and "\r" not in value


def mapping(value: Any) -> dict[str, Any]:
    """``value`` when it is a mapping, else an empty dict (front matter is user input)."""
    return value if isinstance(value, dict) else {}


def kind_of(value: Any) -> str:
    """The JSON type name of a Python value (for input declarations)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


# model.params (OpenAI names, as promptver passes them on) <-> the camelCase option names
# Prompty's `model.options` and Dotprompt's `config` use.
PARAM_TO_OPTION = {
    "max_tokens": "maxOutputTokens",
    "top_p": "topP",
    "top_k": "topK",
    "stop": "stopSequences",
    "frequency_penalty": "frequencyPenalty",
    "presence_penalty": "presencePenalty",
    "temperature": "temperature",
    "seed": "seed",
}
OPTION_TO_PARAM = {v: k for k, v in PARAM_TO_OPTION.items()}


def split_params(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``model.params`` as (the options both formats name, in their camelCase; the rest)."""
    options = {PARAM_TO_OPTION[k]: v for k, v in params.items() if k in PARAM_TO_OPTION}
    rest = {k: v for k, v in params.items() if k not in PARAM_TO_OPTION}
    return options, rest
