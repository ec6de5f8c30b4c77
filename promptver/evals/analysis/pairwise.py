"""Pairwise judging: two runs' outputs compared case by case by a judge, in both orders.

LLM judges favour a position (often the first answer shown). Each case is judged twice,
the base's output as answer A then as answer B; a verdict that names the same run both
times counts, one that follows the position instead (A both times, or B both times, or a
win one way and a tie the other) is a tie and counts toward the position-bias rate:

    position-bias rate = cases whose two verdicts disagree / cases judged in both orders

The paired test is the two-sided sign test (exact binomial at 1/2) on the head's wins
against its losses, ties left out: the same tail as the exact McNemar test
(`stats.mcnemar_exact`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptver.errors import ConfigError
from promptver.evals.execution.bundle import BundleView
from promptver.evals.runs.storage import StoredRun

DEFAULT_RUBRIC = "Which answer answers the input better: correct, complete, and no longer than needed."


@dataclass
class PairwiseResult:
    judge: dict[str, Any]
    rubric: str
    cases: list[dict[str, Any]] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for c in self.cases if c.get("outcome") == outcome)

    @property
    def judged(self) -> int:
        return sum(1 for c in self.cases if c.get("outcome") in ("win", "loss", "tie"))

    @property
    def biased(self) -> int:
        return sum(1 for c in self.cases if c.get("position_bias"))

    def to_json(self) -> dict[str, Any]:
        from promptver.evals.analysis.stats import mcnemar_exact

        wins, losses = self.count("win"), self.count("loss")
        judged = self.judged
        return {
            "judge": self.judge,
            "rubric": self.rubric,
            "wins": wins,
            "losses": losses,
            "ties": self.count("tie"),
            "errors": self.count("error"),
            "judged": judged,
            "position_bias": self.biased,
            "position_bias_rate": self.biased / judged if judged else None,
            "sign_test_p": mcnemar_exact(wins, losses),
            "cases": self.cases,
        }


def combine(first: str, second: str) -> tuple[str, bool]:
    """The outcome for the head from the verdict with the base shown first (``first``)
    and with the head shown first (``second``); and whether the verdicts disagree."""
    one = {"A": "loss", "B": "win", "tie": "tie"}[first]  # base is A
    two = {"A": "win", "B": "loss", "tie": "tie"}[second]  # head is A
    if one == two:
        return one, False
    return "tie", True


def _pairs(base: StoredRun, head: StoredRun) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    def first(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for record in records:
            out.setdefault(str(record.get("id")), record)
        return out

    old = first(base.records)
    return [(old[i], r) for i, r in first(head.records).items() if i in old]


def _question(record: dict[str, Any]) -> str:
    messages = record.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[-1], dict):
        return str(messages[-1].get("content", ""))
    return str(record.get("vars") or "")


async def _judge_all(
    pairs: list[tuple[dict[str, Any], dict[str, Any]]],
    grader: Any,
    prompt: Any,
    rubric: str,
    concurrency: int,
) -> list[dict[str, Any]]:
    from promptver.evals.execution.judges import PAIRWISE_SCHEMA, JudgeError, ask, pairwise_messages

    gate = asyncio.Semaphore(concurrency)

    async def verdict(question: str, a: str, b: str) -> dict[str, Any]:
        async with gate:
            return await ask(
                grader.as_completion, pairwise_messages(prompt, rubric, question, a, b), PAIRWISE_SCHEMA
            )

    async def one(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        case: dict[str, Any] = {"id": new.get("id")}
        if old.get("error") or new.get("error") or old.get("output") is None or new.get("output") is None:
            case.update(outcome="skipped", reason="an errored case on one side")
            return case
        question = _question(new)
        try:
            ab, ba = await asyncio.gather(
                verdict(question, str(old["output"]), str(new["output"])),
                verdict(question, str(new["output"]), str(old["output"])),
            )
        except JudgeError as exc:
            case.update(outcome="error", reason=str(exc))
            return case
        outcome, biased = combine(ab["winner"], ba["winner"])
        case.update(
            outcome=outcome,
            position_bias=biased,
            base_first=ab["winner"],
            head_first=ba["winner"],
            reasons=[ab.get("reason", ""), ba.get("reason", "")],
        )
        return case

    return list(await asyncio.gather(*(one(old, new) for old, new in pairs)))


def judge_runs(
    base: StoredRun,
    head: StoredRun,
    bundle: BundleView,
    *,
    rubric: str | None = None,
    store_root: Path | None,
    concurrency: int = 8,
    env: dict[str, str] | None = None,
) -> PairwiseResult:
    """Judge the head run against the base run with ``bundle``'s dataset grader (the head
    version's) and its ``pairwise_prompt`` (else the built-in one)."""
    from promptver.evals.execution.cache import RequestCache
    from promptver.evals.execution.judges import BUILTIN_PAIRWISE, digest, load_prompt
    from promptver.evals.execution.providers import RetryPolicy, make_provider
    from promptver.evals.execution.targets import CachedModel
    from promptver.evals.execution.transport import Transport

    dataset = bundle.dataset(str((head.meta.get("dataset") or {}).get("name") or "") or None)
    where = f"{bundle.label}/bundle.toml [evals.{dataset.name}]"
    ref = dataset.grader
    if ref is None:
        raise ConfigError(
            f"{where}: --judge needs a grader model",
            hint='add grader = { provider = "...", name = "..." } to the dataset',
        )
    path = (bundle.config.get("evals") or {}).get(dataset.name, {}).get("pairwise_prompt")
    prompt = load_prompt(bundle, path if isinstance(path, str) else None, where, BUILTIN_PAIRWISE)
    rubric = rubric or DEFAULT_RUBRIC
    pairs = _pairs(base, head)

    async def go() -> list[dict[str, Any]]:
        transport = Transport(concurrency)
        provider = make_provider(
            ref, retry=RetryPolicy(), max_connections=concurrency, env=env, transport=transport
        )
        cache = RequestCache(store_root / "cache" / "evals") if store_root else None
        grader = CachedModel(ref, provider, dict(ref.params), cache)
        try:
            return await _judge_all(pairs, grader, prompt, rubric, concurrency)
        finally:
            await provider.aclose()
            await transport.aclose()

    cases = asyncio.run(go())
    return PairwiseResult(digest(ref.provider, ref.name, dict(ref.params), prompt), rubric, cases)


def render(result: dict[str, Any], base: str, head: str) -> str:
    """The pairwise section of a comparison, as text."""
    from promptver.evals.analysis.stats import p_text

    rate = result["position_bias_rate"]
    lines = [
        f"Pairwise judge ({result['judge']['model']}, {result['judge']['prompt']}), both orders:",
        f"  {head} vs {base}: {result['wins']} wins, {result['losses']} losses, {result['ties']} ties"
        + (f", {result['errors']} judge errors" if result["errors"] else ""),
        f"  position bias: {result['position_bias']} of {result['judged']} cases"
        " changed verdict with the order"
        + (f" ({rate:.0%})" if rate is not None else ""),
        f"  sign test (ties left out): {p_text(result['sign_test_p'])}",
    ]
    for case in result["cases"]:
        if case.get("outcome") == "error":
            lines.append(f"  error {case['id']}: {case['reason']}")
    return "\n".join(lines)
