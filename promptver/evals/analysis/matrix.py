"""A model matrix: one version's eval set run against several models, side by side.

Each model's run is an ordinary stored run (``options.model`` says which model replaced the
bundle's); this module only lines them up: score, pass rate, cost, p50/p95 latency, and
per-case winners (the model with the best mean score on a case, when it is alone there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from promptver.evals.runs.storage import StoredRun
from promptver.safetext import md_code, md_text

EPSILON = 1e-9


@dataclass(frozen=True)
class MatrixRow:
    model: str  # as asked: --model's value
    run: StoredRun
    wins: int  # cases where this model alone scored best

    @property
    def summary(self) -> dict[str, Any]:
        return self.run.meta.get("summary") or {}


@dataclass(frozen=True)
class CaseResult:
    id: str
    scores: dict[str, float]  # model -> mean score over repeats
    passed: dict[str, bool]  # model -> passed every repeat
    winner: str | None  # None: a tie at the top

    @property
    def split(self) -> bool:
        """The models disagree on pass/fail."""
        return len(set(self.passed.values())) > 1


@dataclass(frozen=True)
class Matrix:
    rows: list[MatrixRow]
    cases: list[CaseResult]

    def to_json(self) -> dict[str, Any]:
        return {
            "models": [
                {
                    "model": row.model,
                    "run": row.run.id,
                    "target": row.run.meta.get("target"),
                    "summary": row.summary,
                    "wins": row.wins,
                }
                for row in self.rows
            ],
            "cases": [
                {"id": c.id, "scores": c.scores, "passed": c.passed, "winner": c.winner} for c in self.cases
            ],
        }


def build_matrix(runs: list[tuple[str, StoredRun]]) -> Matrix:
    """Line up (model, run) pairs of the same version and dataset."""
    per_model: dict[str, dict[str, list[dict[str, Any]]]] = {}
    order: dict[str, None] = {}  # case ids in dataset order, over every run
    for model, run in runs:
        groups = per_model.setdefault(model, {})
        for record in run.records:
            case_id = str(record["id"])
            order.setdefault(case_id)
            groups.setdefault(case_id, []).append(record)
    cases = []
    for case_id in order:
        scores = {
            m: sum(float(r.get("score") or 0.0) for r in rs) / len(rs)
            for m, g in per_model.items()
            if (rs := g.get(case_id))
        }
        passed = {m: all(r.get("pass") for r in g[case_id]) for m, g in per_model.items() if case_id in g}
        best = max(scores.values())
        top = [m for m, s in scores.items() if s > best - EPSILON]
        winner = top[0] if len(top) == 1 and len(scores) > 1 else None
        cases.append(CaseResult(case_id, scores, passed, winner))
    rows = [MatrixRow(model, run, sum(1 for c in cases if c.winner == model)) for model, run in runs]
    return Matrix(rows, cases)


def _ms(value: Any) -> str:
    return "-" if value is None else f"{float(value):.0f} ms"


def _cost(value: Any) -> str:
    return "-" if value is None else f"${float(value):.4f}"


def _cells(row: MatrixRow) -> list[str]:
    s = row.summary
    lat = s.get("latency_ms") or {}
    return [
        row.model,
        f"{float(s.get('score', 0.0)):.3f}",
        f"{float(s.get('pass_rate', 0.0)) * 100:.1f}%",
        _cost(s.get("cost")),
        _ms(lat.get("p50")),
        _ms(lat.get("p95")),
        str(row.wins),
        row.run.id,
    ]


HEADER = ["model", "score", "pass", "cost", "p50", "p95", "wins", "run"]


def text(matrix: Matrix, title: str, limit: int = 20) -> str:
    table = [HEADER, *(_cells(r) for r in matrix.rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADER))]
    lines = [title, ""]
    for row in table:
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [c.ljust(w) if i in (0, 7) else c.rjust(w) for i, (c, w) in pairs]
        lines.append("  ".join(cells).rstrip())
    split = [c for c in matrix.cases if c.split]
    lines += ["", f"cases where the models disagree ({len(split)} of {len(matrix.cases)}):"]
    for c in split[:limit]:
        outcome = "  ".join(f"{m} {'pass' if ok else 'FAIL'}" for m, ok in c.passed.items())
        lines.append(f"  {c.id}: {outcome}")
    if len(split) > limit:
        lines.append(f"  ... and {len(split) - limit} more")
    if not split:
        lines.append("  none")
    return "\n".join(lines)


def markdown(matrix: Matrix, title: str) -> str:
    lines = [
        f"## {md_text(title)}",
        "",
        "| " + " | ".join(HEADER) + " |",
        "| --- |" + " ---: |" * 6 + " --- |",
    ]
    for row in matrix.rows:
        cells = _cells(row)
        cells[0], cells[7] = md_code(cells[0], table=True), md_code(cells[7], table=True)
        lines.append("| " + " | ".join(cells) + " |")
    split = [c for c in matrix.cases if c.split]
    if split:
        models = [r.model for r in matrix.rows]
        lines += [
            "",
            "### Cases where the models disagree",
            "",
            "| case | " + " | ".join(md_code(m, table=True) for m in models) + " |",
            "| --- |" + " --- |" * len(models),
        ]
        for c in split:
            marks = [("pass" if c.passed.get(m) else "**fail**") if m in c.passed else "-" for m in models]
            lines.append(f"| {md_code(c.id, table=True)} | " + " | ".join(marks) + " |")
    return "\n".join(lines)
