"""Production loading from a remote: ``promptver.load(..., remote=...)`` and ``follow``.

    bot = promptver.load("support-bot@production", remote="s3://bucket/prefix")
    live = promptver.follow("support-bot@production", remote="s3://...", every=60)
    live.messages("answer", question=q)      # always the last fully verified version

Versions come through the remote's verified cache (promptver/remote/cache.py): resolved on
the remote, every object checked before it is kept, checked again on every read. The live
handle swaps to a new version only after it is fully fetched and verified, and keeps
serving the last verified one (with a warning) when the remote fails or is slow.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from promptver.app.runtime import Bundle, alias_of, load_remote
from promptver.errors import PromptverError
from promptver.remote.cache import remote_cache
from promptver.remote.config import RemoteConfig

log = logging.getLogger("promptver.remote")


class Follow:
    """A live handle on ``NAME@ALIAS``: re-resolves every ``every`` seconds in the background
    and swaps to a new version only after it is fully fetched and verified. When the remote
    fails it keeps serving the current version and logs a warning."""

    def __init__(
        self, ref: str, remote: str | RemoteConfig, every: float = 60.0, endpoint: str | None = None
    ):
        self.ref = ref
        self.name, _, self.alias = ref.partition("@")
        self.every = every
        self.cache = remote_cache(remote, endpoint)
        self.bundle = load_remote(ref, self.cache.remote)
        self.cache.settle(self.name)
        self.last_error: str | None = None
        self.stale = False  # the remote's signed timestamp expired (see _check_fresh)
        self.checks = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if every > 0:
            self._thread = threading.Thread(target=self._run, name=f"promptver-follow-{ref}", daemon=True)
            self._thread.start()

    def __getattr__(self, attr: str) -> Any:  # messages(), render(), model, version...
        return getattr(self.bundle, attr)

    def __repr__(self) -> str:
        return f"<promptver.Follow {self.ref} -> {self.bundle.version}>"

    def refresh(self) -> bool:
        """Check the remote once; True when the handle moved to another version."""
        moved = self._refresh()
        self._check_fresh()
        return moved

    def _check_fresh(self) -> None:
        """A remote whose signed timestamp expired (nobody refreshed it: frozen, or an old
        copy) is reported in ``stale`` and ``last_error``; the handle keeps serving. The
        timestamp is read again only once the known one has expired."""
        import time

        from promptver.remote.freshness import stale_message

        expires = self.cache.expires.get(self.name)
        if expires is None or time.time() < expires:
            self.stale = False
            return
        try:
            self.cache.freshness(self.cache.proven(self.name))
        except PromptverError as exc:
            self.last_error = exc.message
            return
        expires = self.cache.expires.get(self.name)
        self.stale = expires is not None and time.time() >= expires
        if self.stale and expires is not None:
            self.last_error = stale_message(self.name, expires, self.cache.remote.url)

    def _refresh(self) -> bool:
        self.checks += 1
        try:
            target = self.cache.changed(self.name, self.alias or "latest")  # one conditional read
            if target is None:
                self.last_error = None
                return False
            version, digest = target
            if version == self.bundle.version and digest in (None, self.bundle.digest):
                self.cache.settle(self.name)
                return False
            manifest = self.cache.manifest(self.name, version, digest)  # fetched and verified
            fresh = Bundle(
                manifest,
                self.cache.store.tree(manifest),
                f"remote {self.cache.remote.url}",
                alias=alias_of(self.alias),
            )
        except PromptverError as exc:
            self.last_error = exc.message
            log.warning(
                "promptver: keeping %s: refresh of %s failed: %s", self.bundle.ref, self.ref, exc.message
            )
            return False
        self.cache.remember(self.ref, fresh.version, fresh.digest)
        self.cache.settle(self.name)
        self.bundle = fresh  # one reference assignment: readers see the old or the new bundle
        self.last_error = None
        log.info("promptver: %s now serves %s", self.ref, fresh.version)
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.refresh()
            except Exception as exc:
                # (MemoryError, a bug...): recorded, the last verified version keeps serving
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("promptver: keeping %s: refresh of %s failed: %s", self.bundle.ref, self.ref, exc)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Follow:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def follow(ref: str, remote: str | RemoteConfig, every: float = 60.0, endpoint: str | None = None) -> Follow:
    """A live handle on ``NAME@ALIAS`` from a remote (see `Follow`)."""
    return Follow(ref, remote, every, endpoint)
