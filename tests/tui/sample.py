"""A hand-made Review covering every body kind, for pilot and snapshot tests."""

from __future__ import annotations

from promptver.tui.model import (
    CaseOutcome,
    CaseRow,
    CasesBody,
    Component,
    EvalHistory,
    EvalsBody,
    FieldRow,
    FieldsBody,
    MetricRow,
    Review,
    Side,
    TextBody,
)

OLD_ANSWER = """\
You are answering a customer of {{ company }}.

Question: {{ question }}

Answer in at most three sentences.
Cite the help-center article you used.
"""

NEW_ANSWER = """\
You are answering a customer of {{ company }} on {{ channel }}.

Question: {{ question }}

Answer in at most two sentences, in a friendly tone.
Cite the help-center article you used.
If you do not know, say so and offer a human agent.
"""


def cases(count: int) -> list[CaseRow]:
    rows: list[CaseRow] = []
    for i in range(count):
        status = ("changed", "added", "removed")[i % 3]
        old = None if status == "added" else {"id": f"case-{i:06d}", "vars": {"question": f"q{i}"}}
        new = (
            None
            if status == "removed"
            else {"id": f"case-{i:06d}", "vars": {"question": f"q{i}?"}, "expected": "yes"}
        )
        fields = ("vars", "expected") if status == "changed" else ()
        rows.append(CaseRow(f"case-{i:06d}", status, old, new, fields))  # type: ignore[arg-type]
    return rows


def sample_review(case_count: int = 30, *, runs: bool = True) -> Review:
    evals = (
        EvalsBody(
            metrics=[
                MetricRow("pass rate", 0.82, 0.9, unit="percent"),
                MetricRow("latency p50 ms", 1400, 1100, higher_is_better=False),
                MetricRow("cost", 0.0123, 0.0101, higher_is_better=False, unit="cost"),
            ],
            outcomes=[
                CaseOutcome("refund-window", "improved", False, True, "Two weeks.", "30 days."),
                CaseOutcome(
                    "shipping-eu",
                    "regressed",
                    True,
                    False,
                    "3-5 days.",
                    "It depends.",
                    "expected source shipping.md fell from rank 1 to rank 3",
                    True,
                ),
                CaseOutcome("gift-cards", "added", None, True, "", "Gift cards never expire."),
                CaseOutcome("fax-support", "removed", True, None, "Fax us at ...", ""),
                CaseOutcome("returns-label", "sources", True, True, "Print it.", "Print it.", "", True),
            ],
            old_run="run-1a2b",
            new_run="run-3c4d",
            old_target="rag",
            new_target="rag",
            retrieval=[
                MetricRow("hit@4", 1.0, 0.9, unit="ratio"),
                MetricRow("recall@4", 0.85, 0.8, unit="ratio"),
                MetricRow("MRR", 0.92, 0.75, unit="ratio"),
                MetricRow("nDCG@4", 0.88, 0.79, unit="ratio"),
            ],
            retrieval_cases=(20, 21),
            verdict="no detectable difference (p = 0.41, 95% CI -3.1..+8.4 pts)",
            history=EvalHistory(
                title="golden (model)",
                versions=["1.0.0", "1.1.0", "1.2.0", "1.3.0-rc.1"],
                score=[71.0, 78.5, 82.0, 80.0],
                pass_rate=[66.7, 76.7, 80.0, 80.0],
                marks=["1.2.0"],
            ),
        )
        if runs
        else EvalsBody(missing="no eval run for 1.3.0")
    )
    return Review(
        bundle="support-bot",
        old=Side("1.2.0", "sha256:" + "ab12cd34ef56" * 5, "ana@example.com", "2026-11-20T14:03:00Z"),
        new=Side("working copy", "sha256:" + "9f8e7d6c5b4a" * 5, "bo@example.com", "2026-11-26T09:30:00Z"),
        bump="minor",
        bump_reason="prompt text changed (answer)",
        components=[
            Component(
                "model",
                "model",
                "model",
                "changed",
                "minor",
                "2 fields",
                body=FieldsBody(
                    [
                        FieldRow("provider", "openai", "openai", "unchanged"),
                        FieldRow("name", "gpt-4o-mini", "gpt-4.1-mini", "changed"),
                        FieldRow("params.temperature", 0.2, 0.4, "changed"),
                        FieldRow("params.max_tokens", 400, 400, "unchanged"),
                    ]
                ),
            ),
            Component(
                "system",
                "system",
                "system prompt",
                "unchanged",
                counts="",
                body=TextBody("You are a helpful support agent.\n", "You are a helpful support agent.\n"),
            ),
            Component(
                "template:answer",
                "template",
                "template answer",
                "changed",
                "minor",
                "+3 −2",
                notes=("variables added: channel", "tokens 38 → 55 (cl100k_base)"),
                body=TextBody(OLD_ANSWER, NEW_ANSWER),
            ),
            Component(
                "rag",
                "rag",
                "rag",
                "changed",
                "major",
                "1 field",
                body=FieldsBody(
                    [
                        FieldRow(
                            "embedding_model",
                            "text-embedding-3-small",
                            "text-embedding-3-large",
                            "changed",
                            "the vector index must be rebuilt",
                        ),
                        FieldRow("top_k", 4, 4, "unchanged"),
                    ]
                ),
            ),
            Component(
                "dataset:golden",
                "dataset",
                "dataset golden",
                "changed",
                "patch",
                f"{case_count} cases",
                body=CasesBody(cases(case_count), old_total=120, new_total=125),
            ),
            Component("results", "results", "eval results", "changed", counts="2 cases", body=evals),
            Component(
                "metadata",
                "metadata",
                "metadata",
                "changed",
                "patch",
                "2 fields",
                body=FieldsBody(
                    [
                        FieldRow(
                            "bundle.description",
                            "What this AI feature does, in one line, for the people who own it",
                            "What this AI feature does, in one line",
                            "changed",
                            "description: metadata only, no effect on outputs",
                            "patch",
                        ),
                        FieldRow("bundle.owners", ["ana@example.com"], ["ana@example.com"], "unchanged"),
                        FieldRow(
                            "bundle.tags",
                            ["support"],
                            ["support", "billing", "escalations", "refunds", "customer-care"],
                            "changed",
                            "tags changed",
                            "patch",
                        ),
                    ]
                ),
            ),
        ],
    )


def long_template_review() -> Review:
    """A 60-line template with two changes (lines 20 and 41): three runs fold."""
    old = [f"Rule {i}: stay calm on topic {i}." for i in range(1, 61)]
    new = list(old)
    new[19] = "Rule 20: two sentences at most."
    new[40] = "Rule 41: never promise refunds."
    return Review(
        bundle="support-bot",
        old=Side("1.2.0", "sha256:" + "ab12cd34ef56" * 5, "ana@example.com", "2026-11-20T14:03:00Z"),
        new=Side("working copy", "sha256:" + "9f8e7d6c5b4a" * 5, "bo@example.com", "2026-11-26T09:30:00Z"),
        bump="patch",
        bump_reason="prompt text changed (rules)",
        components=[
            Component(
                "template:rules",
                "template",
                "template rules",
                "changed",
                "patch",
                "+2 −2",
                body=TextBody("\n".join(old) + "\n", "\n".join(new) + "\n"),
            ),
        ],
    )
