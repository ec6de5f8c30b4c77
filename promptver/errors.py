"""Every error promptver raises on purpose.

    PromptverError                 message + optional location ("file:line:col") + hint
     ├── ConfigError               a config or store setting is wrong or missing
     ├── VersionSyntaxError        not a semver version or npm range
     ├── BundleError               a bundle does not validate; carries every Problem
     ├── TemplateRenderError       a template failed at render time (missing variable...)
     ├── NotFoundError             unknown bundle, version, alias, run or file
     ├── ConflictError             would overwrite something immutable / nothing to do
     │    └── NothingChangedError  a bump with no change since the latest version
     ├── PolicyError               a bump level or promotion refused by policy
     ├── IntegrityError            a hash does not match: corruption or tampering
     ├── StoreFormatError          a store written by a newer promptver
     └── WriteError                a write failed (disk full, read-only...) and was rolled back

Only the CLI turns these into ``Error: ...`` plus an exit code, and only the TUI into
notifications; library code raises and never prints.
"""

from __future__ import annotations

from dataclasses import dataclass


class PromptverError(Exception):
    """Base class: ``message`` says what, ``location`` where, ``hint`` what to do."""

    def __init__(self, message: str, *, location: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        return f"{text}\n  hint: {self.hint}" if self.hint else text


class ConfigError(PromptverError):
    pass


class VersionSyntaxError(PromptverError):
    pass


class TemplateRenderError(PromptverError):
    pass


class NotFoundError(PromptverError):
    pass


class ConflictError(PromptverError):
    pass


class NothingChangedError(ConflictError):
    pass


class PolicyError(PromptverError):
    pass


class IntegrityError(PromptverError):
    pass


class StoreFormatError(PromptverError):
    pass


class WriteError(PromptverError):
    """A file could not be written (disk full, read-only folder...). Raised only after
    what was being written has been rolled back: the store is as it was before."""


@dataclass(frozen=True)
class Problem:
    """One validation finding, located as precisely as the input allows."""

    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    hint: str | None = None

    @property
    def location(self) -> str | None:
        if self.file is None:
            return None
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        return f"{text} ({self.hint})" if self.hint else text

    def to_json(self) -> dict[str, object]:
        return {
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "hint": self.hint,
        }


class BundleError(PromptverError):
    """A bundle failed validation; ``problems`` lists all findings, not only the first."""

    def __init__(self, bundle: str, problems: list[Problem]):
        count = len(problems)
        noun = "problem" if count == 1 else "problems"
        lines = [f"bundle {bundle!r} is invalid ({count} {noun}):"]
        lines += [f"  {p}" for p in problems]
        super().__init__("\n".join(lines), hint=f"fix the {noun} above, then run `promptver check`")
        self.bundle = bundle
        self.problems = problems


def did_you_mean(word: str, choices: list[str] | set[str] | tuple[str, ...]) -> str | None:
    """A ``did you mean 'x'?`` hint for a mistyped name, or None."""
    import difflib

    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None
