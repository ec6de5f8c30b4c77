"""The package's version, in a module of its own: what records provenance reads it here,
without the run-time API that ``promptver/__init__.py`` names."""

__version__ = "0.1.0"
