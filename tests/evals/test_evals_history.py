"""`promptver eval history`, `eval compare` with confidence, and `ci-report` on stored runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptver.ci.report import GITHUB_COMMENT_LIMIT, fit
from tests.evals.history_support import check_golden, records, three_versions, write_run


@pytest.fixture(autouse=True)
def _offline_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """Token counts from the offline encoding only, so the diff in a report is the same everywhere."""
    monkeypatch.setenv("PROMPTVER_TOKENIZER_TIMEOUT", "0")


def test_history_table_and_chart_match_the_golden_file(project: Path, pv) -> None:
    three_versions(project, pv)
    result = pv("eval", "history", "bot", "--width", "72")
    assert result.code == 0, result.err
    check_golden("history.txt", result.out)


def test_history_json_and_html(project: Path, pv, tmp_path: Path) -> None:
    store = three_versions(project, pv)
    # an older run of 1.0.0 and a working-copy run do not count; the newest run per version does
    write_run(
        store, "1.0.0", "20261120T000000Z-aaaaaa", records(set(), 100.0), finished="2026-11-20T00:00:00Z"
    )
    data = json.loads(pv("eval", "history", "bot", "--json").out)
    assert [p["version"] for p in data["points"]] == ["1.0.0", "1.1.0", "1.2.0"]
    assert [p["pass_rate"] for p in data["points"]] == [20 / 30, 25 / 30, 14 / 30]
    assert data["points"][0]["run"] == "20261126T100000Z-000000"
    page = tmp_path / "history.html"
    assert pv("eval", "history", "bot", "--format", "html", "-o", str(page)).code == 0
    html = page.read_text()
    assert html.startswith("<!doctype html>") and "<svg" in html and "<polyline" in html
    assert "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing fetched
    assert "<script" not in html
    assert html.count("<tr><td>") == 3


def test_history_errors(project: Path, pv) -> None:
    result = pv("eval", "history", "bot")
    assert result.code == 1 and "no complete eval runs of stored versions of 'bot'" in result.err
    three_versions(project, pv)
    result = pv("eval", "history", "bot", "--dataset", "other")
    assert result.code == 1 and "runs exist for: golden (model)" in result.err
    assert "Traceback" not in result.err


def test_compare_reports_the_verdict_and_gates_on_a_significant_regression(project: Path, pv) -> None:
    three_versions(project, pv)
    fine = pv("eval", "compare", "bot@1.0.0", "bot@1.1.0", "--fail-if-worse")
    assert fine.code == 0, fine.out
    assert "verdict: no detectable difference (p = 0.06, 95% CI " in fine.out
    worse = pv("eval", "compare", "bot@1.1.0", "bot@1.2.0", "--fail-if-worse")
    assert worse.code == 1
    assert "verdict: worse (p < 0.001, 95% CI -" in worse.out
    assert "gate failed: significantly worse at alpha 0.05" in worse.out
    data = json.loads(pv("eval", "compare", "bot@1.1.0", "bot@1.2.0", "--json", "--alpha", "0.01").out)
    stats = data["comparison"]["stats"]
    assert stats["verdict"] == "worse" and stats["mcnemar"]["base_only"] == 11
    assert stats["ci"]["level"] == 0.99
    assert stats["ci"]["high"] < 0
    # the same runs give the same interval
    again = json.loads(pv("eval", "compare", "bot@1.1.0", "bot@1.2.0", "--json", "--alpha", "0.01").out)
    assert again["comparison"]["stats"] == stats
    junit = pv("eval", "compare", "bot@1.1.0", "bot@1.2.0", "--fail-if-worse", "--format", "junit")
    assert junit.code == 1 and 'name="gate"' in junit.out and "significantly worse" in junit.out


def test_fail_if_worse_needs_a_comparison(project: Path, pv) -> None:
    result = pv("eval", "bot", "--fail-if-worse")
    assert result.code != 0 and "--fail-if-worse needs --compare" in result.err


def test_repeats_flag_flaky_cases_flakiest_first(project: Path, pv) -> None:
    store = three_versions(project, pv)
    recs = []
    for repeat, passing in enumerate(
        ({"case-00", "case-01", "case-02"}, {"case-00"}, {"case-00", "case-01"})
    ):
        for r in records(passing, 10.0)[:4]:
            recs.append({**r, "repeat": repeat})
    write_run(store, "1.2.0", "20261127T000000Z-bbbbbb", recs, options={"repeat": 3})
    out = pv("run", "show", "20261127T000000Z-bbbbbb").out
    assert (
        "flaky cases (2), flakiest first:\n  case-01: passed 2/3 (66.7%)\n  case-02: passed 1/3 (33.3%)"
        in out
    )
    data = json.loads(pv("run", "show", "20261127T000000Z-bbbbbb", "--json").out)
    assert [r["id"] for r in data["case_pass_rates"]][:2] == ["case-01", "case-02"]
    md = pv("run", "show", "20261127T000000Z-bbbbbb", "--format", "markdown").out
    assert "### Flaky cases (flakiest first)" in md and "| `case-01` | 2/3 | 66.7% |" in md


def test_ci_report_matches_the_golden_file(project: Path, pv) -> None:
    three_versions(project, pv)
    result = pv("ci-report", "bot@1.2.0")
    assert result.code == 0, result.err
    check_golden("ci-report.md", result.out)
    assert result.out.index("### Regressions (11)") < result.out.index("<summary>Semantic diff</summary>")
    data = json.loads(pv("ci-report", "bot@1.2.0", "--json").out)
    assert data["base"] == "1.1.0" and data["comparison"]["stats"]["verdict"] == "worse"


def test_ci_report_without_runs_and_with_errors(project: Path, pv) -> None:
    three_versions(project, pv)
    system = project / "bundles" / "bot" / "prompts" / "system.j2"
    system.write_text(system.read_text() + "New line.\n")
    out = pv("ci-report", "bot").out  # the working copy against the latest version
    assert "## promptver: bot 1.2.0 → working copy" in out
    assert "no eval comparison (no complete eval run of working copy)" in out
    result = pv("ci-report", "bot@1.0.0")
    assert result.code == 1 and "has no parent version" in result.err and "Traceback" not in result.err
    assert pv("ci-report", "bot@9.9.9").code == 1


def test_ci_report_fits_githubs_limit(project: Path, pv) -> None:
    three_versions(project, pv)
    huge = [[f"line {i} " + "é" * 80 for i in range(2000)]]
    text = fit([["## head"], ["<details><summary>big</summary>", "```diff"], *huge], GITHUB_COMMENT_LIMIT)
    assert len(text.encode()) <= GITHUB_COMMENT_LIMIT
    assert text.count("```") % 2 == 0 and text.count("<details>") == text.count("</details>")
    assert "cut to fit a pull-request comment" in text
    limited = pv("ci-report", "bot@1.2.0", "--limit", "1500").out
    assert len(limited.encode()) <= 1500 and "cut to fit" in limited
    assert "### Regressions (11)" in limited  # regressions come first, so they survive the cut
