"""What an eval run evaluates: one bundle version (or working copy) seen through its tree.

``BundleView`` offers the same surface as the run-time ``Bundle`` (``system()``,
``render()``, ``messages()``, ``model``, ``version``, ``digest``) over a `Tree`, so it works
for stored versions (read through verified objects) and working copies alike.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptver.bundle.evalset import Case, read_cases
from promptver.bundle.spec import BundleSpec, ModelRef, RagConfig
from promptver.errors import BundleError, ConfigError, NotFoundError, did_you_mean
from promptver.store.tree import Tree, unsafe_path_reason


def model_ref(table: Any, where: str) -> ModelRef:
    """A ``[model]``-shaped table (the bundle's model, or a dataset's grader)."""
    if not isinstance(table, dict) or not table.get("provider") or not table.get("name"):
        raise ConfigError(
            f"{where} needs a model with 'provider' and 'name'",
            hint='e.g. { provider = "openai", name = "gpt-4o-mini" }',
        )
    params = table.get("params") or {}
    if not isinstance(params, dict):
        raise ConfigError(f"{where}: 'params' must be a table")
    return ModelRef(
        provider=str(table["provider"]),
        name=str(table["name"]),
        base_url=table.get("base_url"),
        params=dict(params),
        encoding=table.get("encoding"),
        response_format=table.get("response_format"),
    )


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
    judge_prompt: str | None = None  # the judge prompt file of its llm-judge assertions


class BundleView:
    """A bundle's configuration and templates, read from a `Tree` (stored or working)."""

    def __init__(
        self,
        name: str,
        config: dict[str, Any],
        tree: Tree,
        *,
        version: str | None,
        digest: str,
        label: str,
    ) -> None:
        self.name = name
        self.config = config
        self.tree = tree
        self.version = version
        self.digest = digest
        self.label = label
        self._env: Any = None
        self.spec: BundleSpec | None = None  # the parsed bundle.toml, when validated by tree_view
        model = config.get("model")
        self.model = model_ref(model, f"{label}: bundle.toml [model]") if model else None

    # The run-time `promptver.Bundle` surface, for python: targets written against it.
    @property
    def ref(self) -> str:
        return self.label

    @property
    def template_paths(self) -> dict[str, str]:
        table = (self.config.get("prompts") or {}).get("templates") or {}
        return {str(k): str(v) for k, v in table.items()}

    @property
    def templates(self) -> tuple[str, ...]:
        """The names of the bundle's prompt templates."""
        return tuple(self.template_paths)

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(self.tree.entries)

    @property
    def rag(self) -> RagConfig | None:
        table = self.config.get("rag")
        return RagConfig(**table) if isinstance(table, dict) else None

    def variables(self, template: str) -> frozenset[str]:
        """The names a template reads (its interface)."""
        from promptver.bundle import templates

        if self._env is None:
            self._env = templates.environment(self.tree)
        return frozenset(templates.variables(self._env, self.template_path(template)))

    def read_bytes(self, path: str) -> bytes:
        if unsafe_path_reason(path) or not self.tree.has(path):
            raise NotFoundError(f"{self.label}: no file {path!r} in the bundle")
        return self.tree.read_bytes(path)

    def _render(self, path: str, label: str, variables: dict[str, Any]) -> str:
        from promptver.bundle import templates

        if self._env is None:
            self._env = templates.environment(self.tree)
        return templates.render(self._env, path, label, variables)

    def template_path(self, name: str) -> str:
        templates = self.template_paths
        if name not in templates:
            raise ConfigError(
                f"{self.label}: unknown template {name!r}",
                hint=did_you_mean(name, list(templates))
                or f"templates: {', '.join(sorted(templates)) or 'none'}",
            )
        return templates[name]

    def system(self, **variables: Any) -> str | None:
        path = (self.config.get("prompts") or {}).get("system")
        return self._render(str(path), "system", variables) if path else None

    def render(self, name: str, **variables: Any) -> str:
        return self._render(self.template_path(name), name, variables)

    def messages(self, name: str, **variables: Any) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        system = self.system(**variables)
        if system is not None:
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
                raise ConfigError(
                    f"{self.label}: the bundle has no eval dataset",
                    hint="add an [evals.NAME] table to bundle.toml",
                )
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
            grader=model_ref(grader, f"{where} grader") if grader else None,
            cases=parse_cases(data, f"{self.label}/{table['path']}"),
            judge_prompt=_judge_prompt(table.get("judge_prompt"), where),
        )


def _judge_prompt(value: Any, where: str) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(f"{where}: 'judge_prompt' must be the path of a file in the bundle")
    return value


def parse_cases(data: bytes, location: str) -> list[Case]:
    """Parse JSONL eval cases with the one eval-set reader (`promptver.bundle.evalset`);
    the first bad line is an error naming ``file:line:col``."""
    return read_cases(data, location)


def tree_view(
    tree: Tree, *, version: str | None, digest: str | None = None, name: str | None = None
) -> BundleView:
    """Validate a bundle (every problem at once, as `promptver check`) and view it."""
    from promptver.bundle.check import check_tree

    # the cases' variables are checked once the target is known (`runner.prepare`): a
    # target that renders nothing, such as `retrieval`, does not need them
    spec, problems = check_tree(tree, name, coverage=False)
    if problems or spec is None:
        raise BundleError(name or tree.label, problems)
    label = spec.name if version is None else f"{spec.name}@{version}"
    view = BundleView(spec.name, spec.raw, tree, version=version, digest=digest or tree.digest, label=label)
    view.spec = spec
    return view


def folder_view(folder: Path) -> BundleView:
    """A view of a bundle folder on disk (a working copy outside any store)."""
    from promptver.store.tree import WorkTree

    if not (folder / "bundle.toml").is_file():
        raise NotFoundError(f"no bundle.toml in {folder}")
    return tree_view(WorkTree(folder.resolve()), version=None, name=folder.resolve().name)
