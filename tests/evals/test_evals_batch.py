"""--batch: both providers' batch APIs on the test server, splitting, price, kill and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from promptver.evals.execution.batch import Limits, Pending, split
from promptver.testing.batch import BatchAPI
from tests.conftest import ROOT
from tests.evals.conftest import openai_model, write_bundle
from tests.evals.test_evals_cli import cli
from tests.evals.test_evals_runner import run
from tests.fakeserver import FakeLLMServer

CASES = [{"id": f"c{i:02}", "vars": {"question": f"q{i}"}, "expected": f"q{i}"} for i in range(30)]
DEFAULT = 'assert = [{ type = "icontains", value = "{{ expected }}" }]'


def test_split_keeps_each_batch_under_both_limits() -> None:
    requests = [Pending(f"{i:064x}", {"n": "x" * (i % 7)}) for i in range(25)]

    def line(r: Pending) -> bytes:
        return json.dumps({"custom_id": r.key, "body": r.body}).encode()

    chunks = split(requests, Limits(10, 10_000), line)
    assert [len(c) for c in chunks] == [10, 10, 5]
    small = split(requests, Limits(100, 300), line)
    assert all(sum(len(line(r)) + 1 for r in c) <= 300 for c in small) and len(small) > 3
    assert [r for c in small for r in c] == requests


def test_openai_batch_end_to_end(tmp_path: Path, api_keys: dict[str, str]) -> None:
    batches = BatchAPI(delay=0.3, fail="q7$", expire="q8$", max_requests=10)
    with FakeLLMServer(batches=batches) as server:
        server.add(match="q3$", reply="wrong")
        folder = write_bundle(tmp_path, CASES, model=openai_model(server), dataset_extra=DEFAULT)
        result = run(folder, batch=True, batch_poll=0.05, batch_size=10, save=True)
        chats = server.count("/chat/completions")
        uploads = [r for r in server.requests if r.path.endswith("/files")]
        # the answers are cached: a re-run submits only the two that failed, in one batch
        again = run(folder, batch=True, batch_poll=0.05)
        assert batches.created == 4 and [b["requests"] for b in again.meta["batches"]] == [2]
    assert chats == 0, "every answer came through the batch API"
    assert len(uploads) == 3, "30 requests over a 10-request limit: three batches"
    by_id = {r["id"]: r for r in result.records}
    assert by_id["c07"]["error"] and "injected failure" in by_id["c07"]["error"]
    assert "before expiry" in by_id["c08"]["error"]
    assert not by_id["c03"]["pass"] and by_id["c03"]["error"] is None
    good = by_id["c01"]
    assert good["pass"] and good["batch"] is True and good["attempts"] == 1
    assert result.meta["summary"]["passed"] == 27
    assert [b["requests"] for b in result.meta["batches"]] == [10, 10, 10]
    # the price: half of the interactive one for the same tokens
    from promptver.evals.execution.pricing import PriceTable
    from promptver.evals.execution.providers import Usage

    tokens = good["tokens"]
    full = PriceTable().cost("gpt-4o-mini", Usage(tokens["input"], tokens["output"]))
    assert full is not None and good["cost"] == pytest.approx(full / 2)


def test_anthropic_message_batches(tmp_path: Path, api_keys: dict[str, str]) -> None:
    batches = BatchAPI(delay=0.2, fail="q2$", expire="q5$")
    with FakeLLMServer(batches=batches) as server:
        model = f'[model]\nprovider = "anthropic"\nname = "claude-3-5-haiku"\nbase_url = "{server.url}"\n'
        folder = write_bundle(tmp_path, CASES[:10], model=model, dataset_extra=DEFAULT)
        result = run(folder, batch=True, batch_poll=0.05, cache=False)
        assert server.count("/messages") == 0 and batches.created == 1
        created = next(r for r in server.requests if r.path.endswith("/messages/batches"))
        sent = created.body["requests"][0]
        assert set(sent) == {"custom_id", "params"} and len(sent["custom_id"]) == 64
        assert created.headers["x-api-key"] == "sk-ant-secret"
    by_id = {r["id"]: r for r in result.records}
    assert "errored in the batch" in by_id["c02"]["error"] and "expired" in by_id["c05"]["error"]
    assert sum(r["pass"] for r in result.records) == 8


def test_a_results_url_elsewhere_gets_no_key(tmp_path: Path, api_keys: dict[str, str]) -> None:
    """The results URL comes from the provider's answer: the key goes only to its origin."""

    class Elsewhere(BatchAPI):
        def _view(self, handler, batch):  # type: ignore[no-untyped-def]
            view = super()._view(handler, batch)
            if view.get("results_url"):
                view["results_url"] = "http://attacker.invalid/results"
            return view

    with FakeLLMServer(batches=Elsewhere(delay=0.0)) as server:
        model = f'[model]\nprovider = "anthropic"\nname = "claude"\nbase_url = "{server.url}"\n'
        folder = write_bundle(tmp_path, CASES[:2], model=model, dataset_extra=DEFAULT)
        with pytest.raises(Exception, match="the API key is not sent there"):
            run(folder, batch=True, batch_poll=0.05, cache=False)


def test_batch_needs_a_provider_with_a_batch_api(tmp_path: Path, api_keys: dict[str, str]) -> None:
    from promptver.errors import ConfigError

    with FakeLLMServer() as server:
        model = f'[model]\nprovider = "vllm"\nname = "m"\nbase_url = "{server.openai_base}"\n'
        folder = write_bundle(tmp_path, CASES[:2], model=model)
        with pytest.raises(ConfigError, match="no batch API"):
            run(folder, batch=True)
        with pytest.raises(ConfigError, match="--batch needs the model target"):
            run(folder, batch=True, target="retrieval")


def test_a_killed_run_resumes_its_batch_without_submitting_twice(
    tmp_path: Path,
    api_keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    batches = BatchAPI(delay=4.0)
    with FakeLLMServer(batches=batches) as server:
        write_bundle(tmp_path, CASES, model=openai_model(server), dataset_extra=DEFAULT)
        monkeypatch.chdir(tmp_path)
        assert cli(capsys, "bump", "minor", "demo", "--initial", "1.0.0")[0] == 0
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        args = [sys.executable, "-m", "promptver", "eval", "demo@1.0.0", "--batch", "--batch-poll", "0.1"]
        process = subprocess.Popen(
            args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # mid-wait: created, and polled at least twice
            if batches.created == 1 and sum("/batches/" in r.path for r in server.requests) >= 2:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert batches.created == 1
        [folder] = list((tmp_path / ".promptver" / "runs" / "demo").iterdir())
        stored = json.loads((folder / "batches.json").read_text())
        assert [b["id"] for b in stored["batches"]] == list(batches.batches)

        code, out, err = cli(capsys, "eval", "demo@1.0.0", "--resume", folder.name, "--json", "-q")
        assert code == 0, err
        assert batches.created == 1, "the resumed run polled the stored batch, submitted nothing"
        assert server.count("/chat/completions") == 0
    data = json.loads(out)
    assert data["run"]["status"] == "complete" and data["run"]["summary"]["passed"] == 30


def test_a_failed_batch_is_each_case_s_error_not_a_stuck_run(
    tmp_path: Path, api_keys: dict[str, str]
) -> None:
    class Failing(BatchAPI):
        def _view(self, handler, batch):  # type: ignore[no-untyped-def]
            view = super()._view(handler, batch)
            if view["status"] == "completed":
                view.update(status="failed", output_file_id=None, error_file_id=None)
            return view

    with FakeLLMServer(batches=Failing(delay=0.0)) as server:
        folder = write_bundle(tmp_path, CASES[:3], model=openai_model(server), dataset_extra=DEFAULT)
        result = run(folder, batch=True, batch_poll=0.05, cache=False)
    assert result.meta["status"] == "complete"
    assert all("(failed)" in r["error"] for r in result.records)


def test_a_batch_whose_creation_answer_was_lost_is_found_not_sent_again(
    tmp_path: Path, api_keys: dict[str, str]
) -> None:
    """The create request times out after the provider took the batch: the run stops with
    the intent stored; the resume finds the batch by the intent in its metadata."""
    from promptver.evals.execution.batch import BatchError

    batches = BatchAPI(delay=0.2, create_stall=2.0)
    with FakeLLMServer(batches=batches) as server:
        folder = write_bundle(tmp_path, CASES[:5], model=openai_model(server), dataset_extra=DEFAULT)
        with pytest.raises(BatchError, match="see its batch list") as lost:
            run(folder, batch=True, batch_poll=0.05, timeout=0.5, save=True)
        assert batches.created == 1
        [run_folder] = list((tmp_path / ".promptver" / "runs" / "demo").iterdir())
        [entry] = json.loads((run_folder / "batches.json").read_text())["batches"]
        assert entry["id"] is None and entry["intent"]
        batches.create_stall = 0.0
        result = run(folder, resume=run_folder.name, batch_poll=0.05)
        assert batches.created == 1, "found in the batch list by its intent, not created again"
    assert result.meta["status"] == "complete" and result.meta["summary"]["passed"] == 5
    assert lost.value.hint
