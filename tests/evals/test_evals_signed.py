"""Issue 23, item 4: signed eval evidence. A recorded run's ``eval`` audit event (which holds
the sha256 of its files) can be signed by the key that made it (`eval --key`, CI's
``PROMPTVER_SIGNING_KEY``); a policy's ``eval = { ..., signed_by = [...] }`` counts only runs
signed by one of them; `show NAME@ALIAS` says whose key signed the evidence."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from promptver.store.store import Store
from promptver.versions.bump import bump
from tests.evals.conftest import openai_model, write_bundle
from tests.fakeserver import FakeLLMServer
from tests.signing_support import make_key

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH's ssh-keygen")

CASES = [
    {"id": "fr", "vars": {"question": "capital of France"}, "expected": "Paris"},
    {"id": "jp", "vars": {"question": "capital of Japan"}, "expected": "Tokyo"},
]
ASSERT = 'assert = [{ type = "icontains", value = "{{ expected }}" }]'
POLICY = (
    '\n[aliases.production]\napprovals = 0\neval = { dataset = "golden", min_score = 0.4,'
    ' signed_by = ["ci@example.com"] }\n'
)
CI = "CI <ci@example.com>"


@pytest.fixture
def project(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Path:
    llm_server.add(match="France", reply="Paris")
    llm_server.add(match="Japan", reply="Osaka")
    folder = write_bundle(tmp_path, CASES, model=openai_model(llm_server), dataset_extra=ASSERT)
    with open(folder / "bundle.toml", "a") as handle:
        handle.write(POLICY)
    monkeypatch.setenv("PROMPTVER_USER", "Eve Evaluator <eve@example.com>")
    bump(Store(tmp_path / ".promptver"), "demo", "minor")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def keys(project: Path) -> dict[str, Path]:
    ci, ci_pub = make_key(project / "keys", "ci")
    eve, eve_pub = make_key(project / "keys", "eve")
    (project / ".promptver" / "allowed_signers").write_text(
        f"ci@example.com {ci_pub}\neve@example.com {eve_pub}\n"
    )
    return {"ci": ci, "eve": eve}


def _latest_run(project: Path) -> str:
    events = [
        json.loads(line) for line in (project / ".promptver/bundles/demo/log.jsonl").read_text().splitlines()
    ]
    return str([e for e in events if e["event"] == "eval"][-1]["run"])


def test_a_policy_counts_only_runs_signed_by_its_signers(
    project: Path,
    pv,
    keys: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    """Attack: whoever can write runs/ (and append an unsigned eval event) made the evidence."""
    assert pv("eval", "demo@0.1.0", "-q").code == 0
    unsigned = _latest_run(project)
    result = pv("promote", "demo@0.1.0", "--to", "production")
    assert result.code == 1
    assert f"run {unsigned} is not signed by ci@example.com (unsigned)" in result.err
    # signed, by a listed key that is not CI's
    assert pv("eval", "demo@0.1.0", "-q", "--key", str(keys["eve"])).code == 0
    by_eve = _latest_run(project)
    result = pv("promote", "demo@0.1.0", "--to", "production")
    assert (
        result.code == 1 and f"run {by_eve} is signed by eve@example.com, not by ci@example.com" in result.err
    )
    # CI's key, from the environment as in CI
    monkeypatch.setenv("PROMPTVER_USER", CI)
    monkeypatch.setenv("PROMPTVER_SIGNING_KEY", str(keys["ci"]))
    assert pv("eval", "demo@0.1.0", "-q").code == 0
    by_ci = _latest_run(project)
    monkeypatch.delenv("PROMPTVER_SIGNING_KEY")
    dry = pv("promote", "demo@0.1.0", "--to", "production", "--dry-run")
    assert dry.code == 0, dry.err
    assert f"run {by_ci} on golden" in dry.out and "signed by ci@example.com" in dry.out
    assert pv("promote", "demo@0.1.0", "--to", "production").code == 0
    show = pv("show", "demo@production")
    assert f"run {by_ci} on golden" in show.out and "; signed by ci@example.com" in show.out
    details = json.loads(pv("show", "demo@production", "--json").out)["deployment"]
    assert details["policy"]["eval_runs"][0]["signed_by"] == "ci@example.com"
    signers = {unsigned: None, by_eve: "eve@example.com", by_ci: "ci@example.com"}  # runs of one second
    for run in (details["latest_eval_run"], details["evals"][0]["latest_run"]):
        assert run["signed_by"] == signers[run["id"]]
    assert details["policy"]["policy"]["eval_signed_by"] == ["ci@example.com"]
    assert "run signed by ci@example.com" in details["policy"]["requirements"]
    result = pv("verify")
    assert result.code == 0 and "signed by ci@example.com" in result.out


def test_check_validates_signed_by(project: Path, pv) -> None:  # type: ignore[no-untyped-def]
    toml = project / "bundles/demo/bundle.toml"
    toml.write_text(
        toml.read_text().replace('signed_by = ["ci@example.com"]', 'signed_by = "ci@example.com"')
    )
    result = pv("check", "demo")
    assert result.code == 1 and "aliases.production.eval.signed_by must be" in result.out
