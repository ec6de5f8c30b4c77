"""Eval history of a bundle: one point per stored version (its newest complete run on a
dataset and target), in version order, for ``promptver eval history`` and the review UI.

Only ``run.json`` files are read (no case records), so the history of many versions is cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptver.errors import NotFoundError
from promptver.evals.runs.summaries import target_kind
from promptver.semver import Version


@dataclass(frozen=True)
class Point:
    version: str
    run_id: str
    finished: str | None
    cases: int
    score: float
    pass_rate: float
    cost: float | None
    p50_ms: float | None
    p95_ms: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "run": self.run_id,
            "finished": self.finished,
            "cases": self.cases,
            "score": self.score,
            "pass_rate": self.pass_rate,
            "cost": self.cost,
            "latency_ms": {"p50": self.p50_ms, "p95": self.p95_ms},
        }


@dataclass(frozen=True)
class Trend:
    bundle: str
    dataset: str
    target: str
    points: list[Point]
    others: list[tuple[str, str]]  # other (dataset, target) pairs with runs, for a hint
    # version -> {"count", "mean"}: feedback from production traces (docs/production.md),
    # filled in by the caller; the evals layer does not read traces
    online: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "bundle": self.bundle,
            "dataset": self.dataset,
            "target": self.target,
            "points": [p.to_json() | {"online": self.online.get(p.version)} for p in self.points],
            "other_series": [{"dataset": d, "target": t} for d, t in self.others],
            "online": self.online,
        }

    def index(self, version: str | None) -> int | None:
        for i, point in enumerate(self.points):
            if point.version == version:
                return i
        return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _point(meta: dict[str, Any]) -> Point | None:
    summary = meta.get("summary")
    if not isinstance(summary, dict) or _number(summary.get("score")) is None:
        return None
    latency = _table(summary.get("latency_ms"))
    return Point(
        version=str(meta["version"]),
        run_id=str(meta.get("id")),
        finished=meta.get("finished"),
        cases=int(summary.get("cases") or 0),
        score=float(summary["score"]),
        pass_rate=_number(summary.get("pass_rate")) or 0.0,
        cost=_number(summary.get("cost")),
        p50_ms=_number(latency.get("p50")),
        p95_ms=_number(latency.get("p95")),
    )


def _series(meta: dict[str, Any]) -> tuple[str, str]:
    dataset = meta.get("dataset")
    name = dataset.get("name") if isinstance(dataset, dict) else None
    return str(name), target_kind(meta)


def _version_key(text: str) -> tuple[int, Any]:
    try:
        return (0, Version.parse(text))
    except Exception:  # a hand-made run with an odd version label sorts last
        return (1, text)


def build_trend(
    runs_root: Path, bundle: str, *, dataset: str | None = None, target: str | None = None
) -> Trend:
    """The newest complete run of every version of ``bundle`` on one dataset and target
    (default: those of the newest complete run), oldest version first."""
    from promptver.evals.runs.summaries import read_run_metas

    metas = [
        m
        for m in read_run_metas(runs_root / bundle, bundle)
        if m.get("status") == "complete" and m.get("version")
    ]
    if not metas:
        raise NotFoundError(
            f"no complete eval runs of stored versions of {bundle!r}",
            hint=f"run `promptver eval {bundle}@VERSION` first",
        )
    wanted = [
        m
        for m in metas
        if (dataset is None or _series(m)[0] == dataset)
        and (target is None or target in (_series(m)[1], m.get("target")))
    ]
    if not wanted:
        have = ", ".join(sorted({f"{d} ({t})" for d, t in map(_series, metas)}))
        raise NotFoundError(
            f"no complete runs of {bundle!r} on dataset {dataset or 'any'} and target {target or 'any'}",
            hint=f"runs exist for: {have}",
        )
    chosen = _series(wanted[0])  # newest first
    newest: dict[str, dict[str, Any]] = {}
    for meta in wanted:
        if _series(meta) == chosen:
            newest.setdefault(str(meta["version"]), meta)
    points = [p for p in map(_point, newest.values()) if p is not None]
    points.sort(key=lambda p: _version_key(p.version))
    others = sorted({_series(m) for m in metas} - {chosen})
    return Trend(bundle, chosen[0], chosen[1], points, others)


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f} ms" if value < 10 else f"{value:.0f} ms"


def _online(found: dict[str, Any] | None) -> str:
    return "-" if not found else f"{found['mean']:.3f} (n={found['count']})"


def table_lines(trend: Trend) -> list[str]:
    """A plain aligned table: version, run, cases, score, pass rate, cost, p50, p95, and
    the online score (mean feedback from production, with its count) when there is one."""
    header: tuple[str, ...] = ("version", "run", "cases", "score", "pass", "cost", "p50", "p95")
    rows: list[tuple[str, ...]] = [
        (
            p.version,
            p.run_id,
            str(p.cases),
            f"{p.score:.3f}",
            _pct(p.pass_rate),
            "-" if p.cost is None else f"${p.cost:.4f}",
            ms(p.p50_ms),
            ms(p.p95_ms),
        )
        for p in trend.points
    ]
    if trend.online:
        header += ("online",)
        pairs = zip(rows, trend.points, strict=True)
        rows = [(*row, _online(trend.online.get(p.version))) for row, p in pairs]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {2, 3, 4, 5, 6, 7, 8}

    def line(row: tuple[str, ...]) -> str:
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in pairs]
        return "  ".join(cells).rstrip()

    return [line(header), *map(line, rows)]


def heading(trend: Trend) -> str:
    return f"{trend.bundle} on dataset {trend.dataset} ({trend.target}): {len(trend.points)} versions"
