"""A real prompts project (store + bundles with several versions) and an app that pins them.

Used by the pin, lock, runtime and export tests; everything is real files and the real
store code, nothing mocked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from promptver.bundle.scaffold import scaffold
from promptver.semver import Version
from promptver.store.events import utc_now
from promptver.store.manifest import Manifest
from promptver.store.store import Store
from promptver.versions.bump import bump, bump_event

SYSTEM = "You are the support assistant of {{ product | default('Acme') }}. Release {{ release }}.\n"
ANSWER = """\
{% include "prompts/context.j2" %}
Question: {{ question }}
"""
CONTEXT = """\
Context:
{% for doc in context %}- {{ doc }}
{% endfor %}"""

BUNDLE = """\
[bundle]
name = "{name}"
description = "test bundle"

[model]
provider = "openai"
name = "gpt-4o-mini"

[model.params]
temperature = {temperature}
max_tokens = 400

[prompts]
system = "prompts/system.j2"

[prompts.templates]
answer = "prompts/answer.j2"

[rag]
corpus = "corpus"
embedding_model = "text-embedding-3-small"
retriever = "hybrid"
top_k = 4

[rag.chunking]
unit = "tokens"
size = 400
overlap = 40
"""


@dataclass
class Project:
    root: Path
    store: Store
    app: Path  # the app's pyproject.toml

    @property
    def app_dir(self) -> Path:
        return self.app.parent


def release(store: Store, name: str, version: str, temperature: float = 0.2) -> None:
    """Write a distinct working copy of ``name`` and store it as ``version``."""
    folder = store.bundle_dir(name)
    if not folder.exists():
        scaffold(folder, name)
    (folder / "bundle.toml").write_text(BUNDLE.format(name=name, temperature=temperature), encoding="utf-8")
    (folder / "prompts" / "system.j2").write_text(SYSTEM.replace("{{ release }}", version), encoding="utf-8")
    (folder / "prompts" / "answer.j2").write_text(ANSWER, encoding="utf-8")
    (folder / "prompts" / "context.j2").write_text(CONTEXT, encoding="utf-8")
    (folder / "corpus").mkdir(exist_ok=True)
    (folder / "corpus" / "refunds.md").write_text(f"Refunds within 30 days ({version}).\n", encoding="utf-8")
    latest = store.latest(name)
    if latest is None or Version.parse(version) > latest.semver:
        bump(
            store,
            name,
            "minor",
            version=Version.parse(version),
            author="tester",
            message=f"release {version}",
        )
    else:
        _backport(store, name, version)


def _backport(store: Store, name: str, version: str) -> None:
    """Store the working copy as ``version`` below the latest one (a maintenance release),
    which ``bump`` refuses: objects and manifest go through the store's own writers."""
    tree = store.work_tree(name)
    for entry in tree.entries.values():
        store.put_file(tree.path_of(entry.path))
    manifest = Manifest(
        bundle=name,
        version=version,
        digest=tree.digest,
        files=tuple(sorted(tree.entries.values(), key=lambda e: e.path)),
        created=utc_now(),
        author="tester",
        message=f"maintenance release {version}",
    )
    store.publish_version(manifest, bump_event(manifest))


def make_project(tmp_path: Path, pins: dict[str, str] | None = None) -> Project:
    """prompts/ (store with support-bot 1.0.0..2.1.0-rc.1 and ticket-triage 0.1.0, 0.2.0)
    and app/pyproject.toml pinning ``pins``."""
    root = tmp_path / "prompts"
    root.mkdir()
    store, _ = Store.init(root)
    for version in ("1.0.0", "1.1.0", "1.2.0", "1.2.1", "2.0.0", "2.1.0-rc.1"):
        release(store, "support-bot", version)
    for version in ("0.1.0", "0.2.0"):
        release(store, "ticket-triage", version, temperature=0.0)
    app = tmp_path / "app" / "pyproject.toml"
    app.parent.mkdir()
    lines = [
        "[project]",
        'name = "acme-app"  # the application',
        "",
        "[tool.promptver]",
        'store = "../prompts/.promptver"',
        "",
        "[tool.promptver.bundles]",
    ]
    for name, spec in (
        pins if pins is not None else {"support-bot": "^1.1", "ticket-triage": "0.1.0"}
    ).items():
        lines.append(f'{name} = "{spec}"')
    app.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Project(tmp_path, store, app)
