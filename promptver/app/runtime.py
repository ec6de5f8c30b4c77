"""``promptver.load``: a bundle version at run time, verified, rendered in Jinja2's sandbox.

::

    bot = promptver.load("support-bot")                  # the version in the app's lock
    bot = promptver.load("support-bot@1.2.0")            # explicit (or @latest, @production)
    bot = promptver.load("dist/support-bot-1.2.0.pvb")   # an exported file: no store needed
    bot.messages("answer", question=q)

Every byte read is checked: the lock's digest against the version's manifest, the manifest
against its file list, each file against its hash. Loaded versions are kept in memory for
the life of the process (``clear_cache()`` forgets them), so a repeated ``load`` is a dict
lookup. Safe to call from several threads.

This module is on the application's start-up path: it imports no CLI, TUI, diff,
tokenizer or HTTP library, and imports Jinja2 only when a template is first rendered.
"""

from __future__ import annotations

import copy
import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptver.bundle.spec import SPEC_FILE, BundleSpec, ModelRef, RagConfig, load_spec
from promptver.errors import ConfigError, NotFoundError, did_you_mean
from promptver.store.manifest import Manifest
from promptver.store.tree import Tree

if TYPE_CHECKING:
    from collections.abc import Callable

    import jinja2

    from promptver.app.lockfile import LockEntry
    from promptver.remote.config import RemoteConfig
    from promptver.store.store import Store
    from promptver.versions.ranges import Range

ARCHIVE_SUFFIX = ".pvb"
# Template files (includes, macros) read and verified at load time with the prompts the
# spec names, so that a damaged prompt fails at start-up and not at the first request.
# Other files (eval sets, corpus) are read, and verified, on demand.
_TEMPLATE_SUFFIXES = (".j2", ".jinja", ".jinja2")

PathLike = str | os.PathLike[str]


class Bundle:
    """One loaded, verified bundle version: model reference, prompts and RAG settings."""

    def __init__(
        self,
        manifest: Manifest,
        tree: Tree,
        source: str,
        store_root: Path | None = None,
        alias: str | None = None,
    ):
        self.manifest = manifest
        self.alias = alias  # the alias it was loaded through (``NAME@production``), if any
        self._store_root = store_root
        self._retriever: Any = None
        self.name = manifest.bundle
        self.version = manifest.version
        self.digest = manifest.digest
        self.source = source
        self._tree = _CachedTree(tree, manifest.ref)
        self.spec: BundleSpec = load_spec(
            self._tree.read_text(SPEC_FILE), self.name, file=f"{manifest.ref}:{SPEC_FILE}"
        )
        eager = {path for _, path in self.spec.referenced_files() if not path.endswith(".jsonl")}
        eager |= {path for path in self._tree.entries if path.endswith(_TEMPLATE_SUFFIXES)}
        for path in sorted(eager):
            if self._tree.has(path):
                self._tree.read_bytes(path)
        self._lock = threading.Lock()
        self._env: jinja2.Environment | None = None
        self._variables: dict[str, frozenset[str]] = {}
        self._stamp: Callable[[str, dict[str, Any]], None] | None = None

    def __repr__(self) -> str:
        return f"<promptver.Bundle {self.manifest.ref} {self.digest[:15]}>"

    @property
    def ref(self) -> str:
        return self.manifest.ref

    @property
    def model(self) -> ModelRef:
        """Provider, model name, parameters (a copy: change it freely)."""
        return replace(
            self.spec.model,
            params=copy.deepcopy(self.spec.model.params),
            response_format=copy.deepcopy(self.spec.model.response_format),
        )

    @property
    def rag(self) -> RagConfig | None:
        """The RAG configuration, or None when the bundle has none (a copy)."""
        rag = self.spec.rag
        return None if rag is None else replace(rag, chunking=dict(rag.chunking), hybrid=dict(rag.hybrid))

    @property
    def templates(self) -> tuple[str, ...]:
        """The names of the bundle's prompt templates."""
        return tuple(self.spec.templates)

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(self._tree.entries)

    def read_bytes(self, path: str) -> bytes:
        """A file of the bundle (eval set, corpus document...), verified against its hash."""
        return self._tree.read_bytes(path)

    def system(self, **variables: Any) -> str | None:
        """The rendered system prompt, or None when the bundle has none."""
        if self.spec.system is None:
            return None
        self._stamp_span("system", variables)
        return self._render(self.spec.system, "system", variables)

    def render(self, template: str, /, **variables: Any) -> str:
        """The text of a named template; a missing variable raises TemplateRenderError."""
        self._stamp_span(template, variables)
        return self._render(self._template_path(template), template, variables)

    def messages(
        self, template: str, /, *, retrieve: bool | str = False, **variables: Any
    ) -> list[dict[str, str]]:
        """Chat messages: the system prompt (if any), then the rendered template as user.

        ``retrieve=True`` searches the corpus with the ``question`` variable (or with the
        text given as ``retrieve="..."``) and puts the chunks in ``[rag] context_var``."""
        self._stamp_span(template, variables)  # the caller's variables, not the retrieved chunks
        if retrieve is not False:
            query = retrieve if isinstance(retrieve, str) else variables.get("question")
            if not isinstance(query, str):
                raise ConfigError(
                    f"{self.ref}: retrieve=True searches with the 'question' variable, which is not given",
                    hint='pass question=..., or the query itself as retrieve="..."',
                )
            retriever = self.retriever()
            variables = {**variables, retriever.context_var: retriever.search(query)}
        user = self._render(self._template_path(template), template, variables)
        system = None if self.spec.system is None else self._render(self.spec.system, "system", variables)
        messages = [{"role": "system", "content": system}] if system is not None else []
        messages.append({"role": "user", "content": user})
        return messages

    def retriever(self, *, env: Any = None, timeout: float = 60.0) -> Any:
        """A retriever over this version's corpus with its ``[rag]`` settings (built once
        per bundle; ``env`` and ``timeout`` apply to the first call). Embeddings are cached
        in the store this version was loaded from. See ``promptver.app.retriever``."""
        with self._lock:
            if self._retriever is None:
                from promptver.app.retriever import Retriever

                cache = self._store_root / "cache" if self._store_root is not None else None
                self._retriever = Retriever(self, cache=cache, env=env, timeout=timeout)
            return self._retriever

    def files_index(self) -> dict[str, Any]:
        """path -> file entry (digest, size) of every file of the version."""
        return dict(self._tree.entries)

    def variables(self, template: str) -> frozenset[str]:
        """The names a template reads (its interface), includes and macros followed."""
        found = self._variables.get(template)
        if found is None:
            from promptver.bundle.templates import variables

            path = self._template_path(template)
            env = self._environment()
            with self._lock:
                found = frozenset(variables(env, path))
                self._variables[template] = found
        return found

    def _stamp_span(self, template: str, variables: dict[str, Any]) -> None:
        """OpenTelemetry attributes on the current span (promptver/app/telemetry.py)."""
        stamp = self._stamp
        if stamp is None:
            from functools import partial

            from promptver.app import telemetry

            model = self.spec.model
            base = telemetry.attributes(
                self.name, self.version, self.digest, self.alias, model.provider, model.name, model.params
            )
            stamp = self._stamp = partial(telemetry.stamp, base)
        stamp(template, variables)

    def _template_path(self, template: str) -> str:
        try:
            return self.spec.templates[template]
        except KeyError:
            names = list(self.spec.templates)
            raise NotFoundError(
                f"{self.ref} has no template {template!r}",
                hint=did_you_mean(template, names) or f"its templates: {', '.join(names) or 'none'}",
            ) from None

    def _render(self, path: str, label: str, variables: dict[str, Any]) -> str:
        from promptver.bundle.templates import render

        return render(self._environment(), path, label, variables)

    def _environment(self) -> jinja2.Environment:
        env = self._env
        if env is None:
            with self._lock:
                if self._env is None:
                    from promptver.bundle.templates import environment

                    self._env = environment(self._tree)
                env = self._env
        return env


class _CachedTree(Tree):
    """A tree whose files, once read (and verified by the underlying tree), stay in memory."""

    def __init__(self, inner: Tree, label: str):
        self._inner = inner
        self.label = label
        self.entries = inner.entries
        self._data: dict[str, bytes] = {}
        self._lock = threading.Lock()

    @property
    def digest(self) -> str:
        return self._inner.digest

    def read_bytes(self, path: str) -> bytes:
        entry = self.entry(path)
        data = self._data.get(entry.path)
        if data is None:
            data = self._inner.read_bytes(entry.path)
            with self._lock:
                self._data[entry.path] = data
        return data

    def open(self, path: str) -> Any:
        import io

        return io.BytesIO(self.read_bytes(path))


# ---- load --------------------------------------------------------------------------------

_LOCK = threading.RLock()
_BY_CALL: dict[tuple[str, str | None, str | None, str], Bundle] = {}
# Keyed by the alias too: the same version loaded as NAME@production and NAME@1.2.0 stamps
# different ``promptver.bundle.alias`` attributes.
_BY_VERSION: dict[tuple[str, str, str, str | None], Bundle] = {}


def load(
    ref: PathLike,
    *,
    config: PathLike | None = None,
    store: PathLike | None = None,
    remote: str | None = None,
    endpoint: str | None = None,
) -> Bundle:
    """Load a bundle version, verified.

    ``ref``: ``NAME`` (the version locked for the app: needs the app config and
    ``promptver.lock``), ``NAME@VERSION`` (also ``@latest`` or an alias), ``NAME@RANGE``
    (``^1.2``: the app's locked version when it has one, else the store's highest inside
    the range), or the path of an exported ``.pvb`` file. ``config``: the app's
    ``pyproject.toml``/``promptver.toml`` or its folder (default: found from the working
    directory). ``store``: the ``.promptver`` folder (default: ``PROMPTVER_HOME``, the
    config's ``store``, or found by walking up).
    ``remote``: a remote URL (``s3://bucket/prefix``...): ``NAME@REF`` is resolved there and
    loaded through the verified local cache (``PROMPTVER_CACHE``); ``endpoint`` for
    S3-compatible servers (default ``AWS_ENDPOINT_URL``).
    """
    if remote is not None:
        return load_remote(os.fspath(ref), remote, endpoint)
    key = (
        os.fspath(ref),
        None if config is None else os.fspath(config),
        None if store is None else os.fspath(store),
        os.getcwd(),
    )
    bundle = _BY_CALL.get(key)
    if bundle is not None:
        return bundle
    with _LOCK:
        bundle = _BY_CALL.get(key)
        if bundle is None:
            bundle = _load(key[0], config, store)
            _BY_CALL[key] = bundle
    return bundle


def clear_cache() -> None:
    """Forget every loaded version (the next ``load`` reads config, lock and store again);
    the retrievers they made are closed."""
    with _LOCK:
        bundles = {id(b): b for b in (*_BY_CALL.values(), *_BY_VERSION.values())}
        _BY_CALL.clear()
        _BY_VERSION.clear()
    for bundle in bundles.values():
        if bundle._retriever is not None:
            bundle._retriever.close()


def is_archive_ref(ref: str) -> bool:
    return ref.endswith(ARCHIVE_SUFFIX) or "/" in ref or os.sep in ref


def _load(ref: str, config: PathLike | None, store: PathLike | None) -> Bundle:
    if is_archive_ref(ref):
        return _from_archive(Path(ref))
    from promptver.app.lockfile import app_store, lock_entry_for, read_lock
    from promptver.app.pins import load_config

    name, sep, version = ref.partition("@")
    if sep:
        if not version:
            raise NotFoundError(f"{ref!r} has no version after '@'", hint="use NAME@VERSION, e.g. bot@1.2.0")
        where = _explicit_store(config, store)
        wanted = _as_range(version)
        if wanted is not None:
            return _from_range(where, name, wanted, config)
        return _from_store(where, name, version, None, alias_of(version))
    app = load_config(config)
    entry = lock_entry_for(app, read_lock(app.lock_path), name)
    return _from_store(app_store(app, store), name, entry.version, entry.digest)


def _as_range(ref: str) -> Range | None:
    """A reference that is an npm range and not a plain version, ``latest`` or an alias
    (``^1.2``, ``~1.2.3``, ``1.x``, ``>=1 <2``); None otherwise."""
    from promptver.semver import Version

    if ref == "latest" or Version.is_valid(ref):
        return None
    from promptver.errors import VersionSyntaxError
    from promptver.versions.ranges import Range

    try:
        wanted = Range.parse(ref)
    except VersionSyntaxError:
        return None  # an alias name, or unknown: store.resolve says which
    return wanted


def _from_range(store: Store, name: str, wanted: Range, config: PathLike | None) -> Bundle:
    """The version a range means, with pins' semantics: the app's lock wins when it has
    ``name`` (the locked version must be inside the range), else the highest version in
    the store inside it (prereleases only when the range names one on the same line)."""
    from promptver.versions.ranges import max_satisfying

    locked = _locked_entry(name, config)
    if locked is not None:
        from promptver.semver import Version

        if not wanted.satisfies(Version.parse(locked.version)):
            raise NotFoundError(
                f"{name}@{wanted}: the app's lock holds {locked.version}, which is outside that range",
                hint=f"load {name} (the locked version), or pin {name}@{wanted} and run `promptver lock`",
            )
        return _from_store(store, name, locked.version, locked.digest)
    versions = store.version_names(name)
    if not versions:
        store.resolve(name, "latest")  # the unknown-bundle / no-versions error
    best = max_satisfying(versions, wanted)
    if best is None:
        newest = ", ".join(str(v) for v in versions[-3:])
        raise NotFoundError(
            f"no version of {name} satisfies {wanted} (newest: {newest})",
            hint=f"`promptver log {name}` lists its versions",
        )
    return _from_store(store, name, str(best), None)


def _locked_entry(name: str, config: PathLike | None) -> LockEntry | None:
    """The app's lock entry for ``name`` when there is an app config with a lock holding
    it; None when there is no config, no lock, or no entry."""
    from promptver.app.lockfile import read_lock
    from promptver.app.pins import find_config, load_config

    if config is None:
        try:
            config = find_config()
        except ConfigError:  # no app here: nothing is locked
            return None
    app = load_config(config)
    if not app.lock_path.exists():
        return None
    return read_lock(app.lock_path).entries.get(name)


def _explicit_store(config: PathLike | None, store: PathLike | None) -> Store:
    from promptver.app.lockfile import app_store
    from promptver.app.pins import find_config, load_config
    from promptver.store.store import ENV_HOME, Store

    if store is not None or os.environ.get(ENV_HOME):
        return Store.find(override=store)
    if config is not None:
        return app_store(load_config(config))
    try:
        found = find_config()
    except ConfigError:  # no app config: the store is found from the working directory
        return Store.find()
    return app_store(load_config(found))


def alias_of(ref: str) -> str | None:
    """The alias a ``NAME@REF`` reference goes through: None for a version, a range or
    ``latest`` (ranges are not seen here)."""
    from promptver.semver import Version

    return None if not ref or ref == "latest" or Version.is_valid(ref) else ref


def _from_store(
    store: Store, name: str, version: str, digest: str | None, alias: str | None = None
) -> Bundle:
    manifest = store.resolve(name, version)
    if digest is not None and manifest.digest != digest:
        from promptver.app.lockfile import LockEntry, lock_digest_mismatch

        raise lock_digest_mismatch(LockEntry(name, "", version, digest), manifest.digest, store)
    key = (str(store.root), manifest.ref, manifest.digest, alias)
    bundle = _BY_VERSION.get(key)
    if bundle is None:
        bundle = Bundle(manifest, store.tree(manifest), f"store {store.root}", Path(store.root), alias)
        _BY_VERSION[key] = bundle
    return bundle


def _from_archive(path: Path) -> Bundle:
    from promptver.app.archive import read_archive

    contents = read_archive(path)
    return Bundle(contents.manifest, contents.tree, f"archive {path.resolve()}")


def load_remote(ref: str, remote: str | RemoteConfig, endpoint: str | None = None) -> Bundle:
    """``NAME@REF`` resolved on the remote, fetched and verified into the cache, loaded.
    When the remote cannot be reached, the last version this cache resolved for ``ref``
    is loaded instead (with a warning)."""
    from promptver.remote.cache import remote_cache
    from promptver.remote.transport import RemoteError

    name, _, wanted = ref.partition("@")
    cache = remote_cache(remote, endpoint)
    try:
        version, digest = cache.resolve(name, wanted or "latest")
        manifest = cache.manifest(name, version, digest)
    except RemoteError as exc:
        known = cache.resolutions().get(ref)
        if not known:
            raise
        import logging

        logging.getLogger("promptver.remote").warning(
            "remote unreachable, loading %s@%s from the cache: %s", name, known["version"], exc.message
        )
        manifest = cache.manifest_cached(name, known["version"], known["digest"])
    cache.remember(ref, manifest.version, manifest.digest)
    return Bundle(manifest, cache.store.tree(manifest), f"remote {cache.remote.url}", alias=alias_of(wanted))
