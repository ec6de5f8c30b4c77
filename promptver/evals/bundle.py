"""What an eval run evaluates: one bundle version (or working copy) seen through its files.

``BundleView`` offers the same surface as the run-time ``Bundle`` (``system()``,
``render()``, ``messages()``, ``model``, ``version``, ``digest``) over anything that can
read a bundle's files, so it works for stored versions and working copies alike.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptver.errors import ConfigError, NotFoundError, TemplateRenderError, did_you_mean


@dataclass(frozen=True)
class ModelRef:
    """The ``[model]`` table: which provider and model, and the parameters passed through."""

    provider: str
    name: str
    base_url: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    encoding: str | None = None
    response_format: dict[str, Any] | None = None

    @classmethod
    def from_table(cls, table: Any, where: str) -> ModelRef:
        if not isinstance(table, dict) or not table.get("provider") or not table.get("name"):
            raise ConfigError(
                f"{where} needs a model with 'provider' and 'name'",
                hint='e.g. { provider = "openai", name = "gpt-4o-mini" }',
            )
        params = table.get("params") or {}
        if not isinstance(params, dict):
            raise ConfigError(f"{where}: 'params' must be a table")
        return cls(
            provider=str(table["provider"]),
            name=str(table["name"]),
            base_url=table.get("base_url"),
            params=dict(params),
            encoding=table.get("encoding"),
            response_format=table.get("response_format"),
        )


@dataclass(frozen=True)
class Case:
    """One line of an eval dataset."""

    id: str
    vars: dict[str, Any]
    expected: Any = None
    expected_sources: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    template: str | None = None
    asserts: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "vars": self.vars,
            "expected": self.expected,
            "expected_sources": self.expected_sources,
            "tags": self.tags,
            "template": self.template,
            "assert": self.asserts,
        }


@dataclass(frozen=True)
class Dataset:
    """An eval dataset: its ``[evals.NAME]`` table and its parsed cases."""

    name: str
    path: str
    digest: str
    template: str | None
    asserts: list[dict[str, Any]]
    grader: ModelRef | None
    cases: list[Case]


class BundleView:
    """A bundle's configuration and templates, read through ``read(path) -> bytes``."""

    def __init__(
        self,
        name: str,
        config: dict[str, Any],
        read: Callable[[str], bytes],
        *,
        version: str | None,
        digest: str,
        label: str,
    ) -> None:
        self.name = name
        self.config = config
        self.version = version
        self.digest = digest
        self.label = label
        self._read = read
        self._env: Any = None
        model = config.get("model")
        self.model = ModelRef.from_table(model, f"{label}/bundle.toml [model]") if model else None

    # -- templates ---------------------------------------------------------------------------
    @property
    def templates(self) -> dict[str, str]:
        table = (self.config.get("prompts") or {}).get("templates") or {}
        return {str(k): str(v) for k, v in table.items()}

    def read_bytes(self, path: str) -> bytes:
        try:
            return self._read(path)
        except (KeyError, FileNotFoundError, NotFoundError) as exc:
            raise NotFoundError(f"{self.label}: no file {path!r} in the bundle") from exc

    def _environment(self) -> Any:
        if self._env is None:
            import jinja2
            from jinja2.sandbox import SandboxedEnvironment

            def load(path: str) -> str:
                return self.read_bytes(path).decode("utf-8")

            self._env = SandboxedEnvironment(
                loader=jinja2.FunctionLoader(load),
                undefined=jinja2.StrictUndefined,
                keep_trailing_newline=False,
                autoescape=False,
            )
        return self._env

    def _render_path(self, path: str, variables: dict[str, Any]) -> str:
        import jinja2

        try:
            return str(self._environment().get_template(path).render(**variables))
        except jinja2.UndefinedError as exc:
            raise TemplateRenderError(
                f"template {path!r}: {exc.message}",
                location=f"{self.label}/{path}",
                hint="give the variable in the case's 'vars'",
            ) from exc
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateRenderError(
                f"template syntax error: {exc.message}",
                location=f"{self.label}/{path}:{exc.lineno}",
            ) from exc
        except jinja2.TemplateError as exc:
            raise TemplateRenderError(f"template {path!r}: {exc}",
                                      location=f"{self.label}/{path}") from exc

    def template_path(self, name: str) -> str:
        templates = self.templates
        if name not in templates:
            raise ConfigError(
                f"{self.label}: unknown template {name!r}",
                hint=did_you_mean(name, list(templates))
                or f"templates: {', '.join(sorted(templates)) or 'none'}",
            )
        return templates[name]

    def system(self, **variables: Any) -> str | None:
        path = (self.config.get("prompts") or {}).get("system")
        return self._render_path(str(path), variables) if path else None

    def render(self, name: str, **variables: Any) -> str:
        return self._render_path(self.template_path(name), variables)

    def messages(self, name: str, **variables: Any) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        system = self.system(**variables)
        if system:
            out.append({"role": "system", "content": system})
        out.append({"role": "user", "content": self.render(name, **variables)})
        return out

    # -- datasets ----------------------------------------------------------------------------
    @property
    def dataset_names(self) -> list[str]:
        return sorted((self.config.get("evals") or {}).keys())

    def dataset(self, name: str | None = None) -> Dataset:
        names = self.dataset_names
        if name is None:
            if not names:
                raise ConfigError(f"{self.label}: the bundle has no eval dataset",
                                  hint="add an [evals.NAME] table to bundle.toml")
            if len(names) > 1:
                raise ConfigError(
                    f"{self.label}: the bundle has several eval datasets ({', '.join(names)})",
                    hint="choose one with --dataset NAME",
                )
            name = names[0]
        if name not in names:
            raise ConfigError(
                f"{self.label}: no eval dataset {name!r}",
                hint=did_you_mean(name, names) or f"datasets: {', '.join(names) or 'none'}",
            )
        table = self.config["evals"][name]
        where = f"{self.label}/bundle.toml [evals.{name}]"
        if not isinstance(table, dict) or not isinstance(table.get("path"), str):
            raise ConfigError(f"{where} needs a 'path' to a JSONL file")
        data = self.read_bytes(table["path"])
        asserts = table.get("assert") or []
        if not isinstance(asserts, list) or not all(isinstance(a, dict) for a in asserts):
            raise ConfigError(f"{where}: 'assert' must be a list of tables")
        grader = table.get("grader")
        return Dataset(
            name=name,
            path=table["path"],
            digest="sha256:" + hashlib.sha256(data).hexdigest(),
            template=table.get("template"),
            asserts=[dict(a) for a in asserts],
            grader=ModelRef.from_table(grader, f"{where} grader") if grader else None,
            cases=parse_cases(data, f"{self.label}/{table['path']}"),
        )


def parse_cases(data: bytes, location: str) -> list[Case]:
    """Parse JSONL eval cases; every bad line is an error naming ``file:line``."""
    cases: list[Case] = []
    seen: set[str] = set()
    for number, raw in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{location}:{number}"
        try:
            obj = json.loads(raw)
        except ValueError as exc:
            raise ConfigError(f"not valid JSON: {exc}", location=where) from exc
        if not isinstance(obj, dict):
            raise ConfigError("a case must be a JSON object", location=where)
        case_id = obj.get("id")
        if not isinstance(case_id, str) or not case_id:
            raise ConfigError("a case needs a string 'id'", location=where)
        if case_id in seen:
            raise ConfigError(f"case id {case_id!r} is repeated", location=where)
        seen.add(case_id)
        variables = obj.get("vars", {})
        asserts = obj.get("assert") or []
        if not isinstance(variables, dict):
            raise ConfigError("'vars' must be an object", location=where)
        if not isinstance(asserts, list) or not all(isinstance(a, dict) for a in asserts):
            raise ConfigError("'assert' must be a list of objects", location=where)
        cases.append(
            Case(
                id=case_id,
                vars=variables,
                expected=obj.get("expected"),
                expected_sources=list(obj.get("expected_sources") or []),
                tags=[str(t) for t in obj.get("tags") or []],
                template=obj.get("template"),
                asserts=asserts,
            )
        )
    return cases


def folder_view(folder: Path, *, digest: str | None = None, version: str | None = None
                ) -> BundleView:
    """A view of a bundle folder on disk (a working copy)."""
    folder = folder.resolve()
    manifest = folder / "bundle.toml"
    if not manifest.is_file():
        raise NotFoundError(f"no bundle.toml in {folder}")
    try:
        config = tomllib.loads(manifest.read_text("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"bundle.toml is not valid TOML: {exc}", location=str(manifest)) from exc

    def read(path: str) -> bytes:
        target = (folder / path).resolve()
        if folder not in target.parents:
            raise NotFoundError(f"{path!r} is outside the bundle")
        return target.read_bytes()

    name = str((config.get("bundle") or {}).get("name") or folder.name)
    return BundleView(name, config, read, version=version,
                      digest=digest or folder_digest(folder), label=str(folder))


def folder_digest(folder: Path) -> str:
    """A digest of every file in a folder (path and content), for unstored working copies."""
    outer = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if "__pycache__" in rel.split("/") or rel.startswith(".git/"):
            continue
        outer.update(rel.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return "sha256:" + outer.hexdigest()
