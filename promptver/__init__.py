"""promptver: version whole AI-system configurations as one semver bundle.

The public API is what ``__all__`` lists. Importing this package stays cheap: no CLI,
TUI, diff, tokenizer or HTTP library is imported here (tests/test_light_import.py).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
