"""Imported spans, kept in the store: ``.promptver/traces/spans.db`` (docs/storage.md).

One SQLite table, one row per span, keyed by (trace id, span id): importing the same file
twice, or overlapping exports, adds nothing the second time. Only spans that say something
to promptver are kept (a ``promptver.*`` attribute, or feedback), and of their attributes
only ``promptver.*``, ``gen_ai.*`` and ``service.name``; recorded content (the template's
variables, GenAI input and output messages) is never stored. The folder carries its own
``.gitignore``: production data does not belong in the prompts repository.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptver.errors import ConfigError
from promptver.store.store import Store
from promptver.traces.otlp import Span, Value

FOLDER = "traces"
DATABASE = "spans.db"
SCHEMA = 1

# Feedback on a span: a score in [0, 1], or thumbs ("up"/"down", true/false, 1/0).
SCORE = "promptver.feedback.score"
THUMBS = "promptver.feedback.thumbs"
# Content that is never stored (it may be personal data; cases are made from the file).
_CONTENT = {
    "promptver.variables",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.prompt",
    "gen_ai.completion",
}
_THUMBS: dict[object, float] = {"up": 1.0, "down": 0.0, True: 1.0, False: 0.0, "1": 1.0, "0": 0.0}
# columns -> the stamps they are read from
_COLUMNS = (
    "promptver.bundle.name",
    "promptver.bundle.version",
    "promptver.bundle.digest",
    "promptver.bundle.alias",
    "promptver.template",
)

_CREATE = """
CREATE TABLE IF NOT EXISTS spans (
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_id TEXT,
    name TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    status TEXT NOT NULL,
    bundle TEXT, version TEXT, digest TEXT, alias TEXT, template TEXT,
    feedback REAL,
    attributes TEXT NOT NULL,
    PRIMARY KEY (trace_id, span_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS spans_bundle ON spans (bundle, start_ns);
CREATE INDEX IF NOT EXISTS spans_feedback ON spans (trace_id) WHERE feedback IS NOT NULL;
"""


@dataclass
class ImportResult:
    file: str
    read: int = 0  # spans in the file
    added: int = 0  # new spans kept
    known: int = 0  # kept before (same trace and span id)
    skipped: int = 0  # spans with nothing for promptver

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "read": self.read,
            "added": self.added,
            "known": self.known,
            "skipped": self.skipped,
        }


def feedback(attributes: dict[str, Value], where: str) -> float | None:
    """The span's feedback as a score in [0, 1], or None; a bad value is a ConfigError."""
    if SCORE in attributes:
        score = attributes[SCORE]
        if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1:
            raise ConfigError(
                f"{SCORE} must be a number from 0 to 1, not {score!r}"[:200],
                location=where,
                hint=f'scores are 0 (bad) to 1 (good); thumbs go in {THUMBS} as "up" or "down"',
            )
        return float(score)
    if THUMBS in attributes:
        thumbs = attributes[THUMBS]
        key = thumbs.lower() if isinstance(thumbs, str) else thumbs
        if isinstance(key, list | float) or key not in _THUMBS:
            raise ConfigError(
                f'{THUMBS} must be "up" or "down" (or true/false), not {thumbs!r}'[:200], location=where
            )
        return _THUMBS[key]
    return None


def _kept(attributes: dict[str, Value]) -> dict[str, Value]:
    return {
        k: v
        for k, v in attributes.items()
        if k not in _CONTENT and (k.startswith(("promptver.", "gen_ai.")) or k == "service.name")
    }


def _stamp(attributes: dict[str, Value], key: str) -> str | None:
    value = attributes.get(key)
    # shown in terminals later: printable text only (no escape sequences), of a sane length
    return value if isinstance(value, str) and 0 < len(value) <= 256 and value.isprintable() else None


def database(store: Store, create: bool = False) -> Path | None:
    folder = store.root / FOLDER
    path = folder / DATABASE
    if not create:
        return path if path.exists() else None
    folder.mkdir(exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text(
            "# production spans: not for the repository (docs/storage.md)\n*\n", encoding="utf-8"
        )
    return path


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    try:
        db = sqlite3.connect(path, timeout=30)
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot open the span store {path}: {exc}") from None
    with closing(db):
        try:
            db.executescript(_CREATE)
            (version,) = db.execute("PRAGMA user_version").fetchone()
            if version not in (0, SCHEMA):
                raise ConfigError(
                    f"{path} was written by a newer promptver (span store format {version})",
                    hint="upgrade promptver",
                )
            db.execute(f"PRAGMA user_version = {SCHEMA}")
            yield db
        except sqlite3.OperationalError as exc:  # read-only, locked, disk full...
            raise ConfigError(
                f"cannot use the span store {path}: {exc}",
                hint="promptver needs write access to the store's traces/ folder for this command",
            ) from None
        except sqlite3.DatabaseError as exc:
            raise ConfigError(
                f"the span store {path} is damaged: {exc}",
                hint="delete it and import the span files again (imports are idempotent)",
            ) from None


def import_spans(store: Store, spans: Iterable[Span], label: str) -> ImportResult:
    """Keep what promptver reads of ``spans``; all or nothing (one transaction)."""
    result = ImportResult(label)
    rows = []
    for span in spans:
        result.read += 1
        where = f"{label}:{span.line}" if span.line else label
        score = feedback(span.attributes, where)
        attributes = _kept(span.attributes)
        if score is None and not any(k.startswith("promptver.bundle.") for k in attributes):
            result.skipped += 1
            continue
        row = (
            span.trace_id,
            span.span_id,
            span.parent_id,
            span.name,
            span.start_ns,
            span.end_ns,
            span.status,
            *(_stamp(attributes, c) for c in _COLUMNS),
            score,
            json.dumps(attributes, ensure_ascii=False, sort_keys=True),
        )
        rows.append(row)
    path = database(store, create=True)
    assert path is not None
    with connect(path) as db, db:
        before = db.total_changes
        db.executemany("INSERT OR IGNORE INTO spans VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        result.added = db.total_changes - before
    result.known = len(rows) - result.added
    return result


def rows(store: Store, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of a query over the span store; none when nothing was imported."""
    path = database(store)
    if path is None:
        return []
    with connect(path) as db:
        return list(db.execute(query, params))
