"""Reading the version history of a bundle."""

from __future__ import annotations

from typing import Any

from promptver.store.manifest import Manifest
from promptver.store.store import Store


def history(store: Store, name: str) -> list[Manifest]:
    """Every version, newest first (by creation time, then precedence)."""
    manifests = store.versions(name)
    if not manifests and not store.bundle_dir(name).is_dir():
        store.resolve(name, "latest")  # raises the unknown-bundle error with suggestions
    return sorted(manifests, key=lambda m: (m.created, m.semver), reverse=True)


def describe(store: Store, manifest: Manifest) -> dict[str, Any]:
    """Everything a version records, plus its model reference, as plain data."""
    from promptver.bundle.spec import SPEC_FILE, parse_spec

    details = manifest.to_json()
    details["size"] = manifest.size
    model = None
    if SPEC_FILE in manifest.file_map():
        spec, _ = parse_spec(store.tree(manifest).read_text(SPEC_FILE))
        if spec is not None:
            model = spec.model.to_dict()
    details["model"] = model
    return details
