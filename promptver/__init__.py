"""promptver: version whole AI-system configurations as one semver bundle.

The public API is what ``__all__`` lists. Importing this package stays cheap: no CLI,
TUI, diff, tokenizer or HTTP library is imported here (tests/test_light_import.py).
"""

from __future__ import annotations

__all__ = ["Bundle", "__version__", "clear_cache", "follow", "load"]

TYPE_CHECKING = False  # not `from typing import ...`: that import alone costs milliseconds
if TYPE_CHECKING:
    from typing import Any

    from promptver.about import __version__
    from promptver.app.follow import follow
    from promptver.app.runtime import Bundle, clear_cache, load

# The run-time API (promptver/app/runtime.py), imported on first use so that
# `import promptver` alone costs nothing.
_RUNTIME = "promptver.app.runtime"
_LAZY = {
    "load": _RUNTIME,
    "Bundle": _RUNTIME,
    "clear_cache": _RUNTIME,
    "follow": "promptver.app.follow",
    "__version__": "promptver.about",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'promptver' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
