"""Rate limits: the providers' headers and 429s slow the run down instead of failing cases."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from promptver.errors import ConfigError
from promptver.evals.execution.ratelimit import Limits, Throttle, estimate_tokens, parse_duration, parse_reset
from promptver.testing.limits import ServerLimit, go_duration
from tests.evals.conftest import openai_model, write_bundle
from tests.evals.test_evals_cli import cli
from tests.evals.test_evals_runner import run
from tests.fakeserver import FakeLLMServer


def test_durations_and_resets_as_the_providers_write_them() -> None:
    assert parse_duration("1s") == 1.0 and parse_duration("6m0s") == 360.0
    assert parse_duration("12ms") == pytest.approx(0.012) and parse_duration("1h2m3.5s") == 3723.5
    assert parse_duration("soon") is None and parse_duration("1s junk") is None
    later = (datetime.now(UTC) + timedelta(seconds=30)).isoformat().replace("+00:00", "Z")
    reset = parse_reset(later)
    assert reset is not None and 28 < reset <= 30
    assert parse_reset("2026-01-01T00:00:00") is None  # no zone: not RFC 3339
    assert [go_duration(s) for s in (0.12, 1, 1.5, 360, 3723.5)] == [
        "120ms",
        "1s",
        "1.5s",
        "6m0s",
        "1h2m3.5s",
    ]


def test_headers_of_both_providers() -> None:
    openai = Limits(
        {
            "x-ratelimit-limit-requests": "600",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "6m0s",
            "x-ratelimit-remaining-tokens": "100",
            "x-ratelimit-reset-tokens": "1s",
        }
    )
    assert (openai.request_limit, openai.requests_left, openai.requests_reset) == (600, 0, 360.0)
    assert openai.exhausted_for() == 360.0
    soon = (datetime.now(UTC) + timedelta(seconds=10)).isoformat().replace("+00:00", "Z")
    anthropic = Limits(
        {
            "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "3",
            "anthropic-ratelimit-input-tokens-remaining": "0",
            "anthropic-ratelimit-input-tokens-reset": soon,
            "anthropic-ratelimit-tokens-remaining": "900",
        }
    )
    assert anthropic.request_limit == 50 and anthropic.tokens_left == 0
    wait = anthropic.exhausted_for()
    assert wait is not None and 8 < wait <= 10
    assert Limits({}).exhausted_for() is None


async def test_throttle_caps_and_announced_limit() -> None:
    with pytest.raises(ConfigError, match="--tpm must be positive"):
        Throttle(tpm=0)
    throttle = Throttle()
    throttle.observe({"x-ratelimit-limit-requests": "1200"})  # one start every 50 ms
    start = time.perf_counter()
    await asyncio.gather(*(throttle.acquire() for _ in range(5)))
    assert time.perf_counter() - start >= 0.19
    tokens = Throttle(tpm=60_000)  # 1,000 tokens a second
    start = time.perf_counter()
    await asyncio.gather(*(tokens.acquire(100) for _ in range(4)))  # 3 x 100 ms before the 4th
    assert time.perf_counter() - start >= 0.29
    assert estimate_tokens({"messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 50}) == 151


async def test_a_pause_holds_every_request() -> None:
    throttle = Throttle()
    throttle.pause(0.3)
    start = time.perf_counter()
    await asyncio.gather(throttle.acquire(), throttle.acquire())
    assert time.perf_counter() - start >= 0.29 and throttle.waits == 1


def test_a_run_against_an_enforced_limit_errs_on_no_case(tmp_path: Path, api_keys: dict[str, str]) -> None:
    """The scaled-down form of the benchmark (tests/benchmarks/bench_eval.py --scenario rate-limited):
    240 cases against 1,800 requests a minute, concurrency 50, no cap given: the server's
    429s and headers pace the run to within 1.2x of the 8 s the limit allows."""
    limit = ServerLimit(rpm=1800)
    with FakeLLMServer(limit=limit) as server:
        cases = [{"id": f"c{i:03}", "vars": {"question": f"q{i}"}} for i in range(240)]
        folder = write_bundle(tmp_path, cases, model=openai_model(server))
        start = time.perf_counter()
        result = run(folder, concurrency=50, cache=False)
        elapsed = time.perf_counter() - start
    errors = [r["error"] for r in result.records if r["error"]]
    assert errors == [] and len(result.records) == 240
    assert limit.rejected > 0, "the limit was reached, so the run had to slow down"
    [paced] = result.meta["rate_limits"].values()
    assert paced["announced_rpm"] == 1800 and paced["waits"] >= 1
    theoretical = 240 / 30
    assert elapsed <= 1.2 * theoretical, f"{elapsed:.2f}s for a {theoretical:.1f}s limit"


def test_anthropic_limit_and_quota(tmp_path: Path, api_keys: dict[str, str]) -> None:
    limit = ServerLimit(rpm=1200)  # a bucket of 20: 30 requests at once overflow it
    with FakeLLMServer(limit=limit) as server:
        cases = [{"id": f"c{i:02}", "vars": {"question": f"q{i}"}} for i in range(60)]
        model = f'[model]\nprovider = "anthropic"\nname = "claude"\nbase_url = "{server.url}"\n'
        folder = write_bundle(tmp_path, cases, model=model)
        result = run(folder, concurrency=30, cache=False)
        assert [r for r in result.records if r["error"]] == [] and limit.rejected > 0
        server.limit = None
        server.add(match="", status=429, error_body='{"error": {"code": "insufficient_quota"}}')
        failed = run(folder, concurrency=2, cache=False, limit=2)
    assert all("quota is used up" in r["error"] and r["attempts"] == 1 for r in failed.records)


def test_cli_takes_rpm_and_tpm(
    tmp_path: Path,
    llm_server: FakeLLMServer,
    api_keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_bundle(tmp_path, [{"id": "a", "vars": {"question": "q"}}], model=openai_model(llm_server))
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli(capsys, "eval", "demo", "--rpm", "600", "--tpm", "100000", "-q", "--json")
    assert code == 0 and json.loads(out)["run"]["summary"]["errors"] == 0
    code, _, err = cli(capsys, "eval", "demo", "--tpm", "0", "-q")
    assert code != 0 and "--tpm must be positive" in err
