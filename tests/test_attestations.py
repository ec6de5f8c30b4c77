"""Issue 23, item 5: `promptver attest` writes an in-toto Statement v1 in a DSSE envelope
(subjects: the version's bundle digest and every file's sha256; predicate: the approvals and
eval evidence its promotion relied on) and model-signing's signature of the files;
`verify-attestation` checks both offline, and the real `model-signing` package verifies the
file signature over a checked-out version."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from promptver.store.store import Store
from tests.alias_support import REVIEWER, new_version, set_policy
from tests.signing_support import make_key

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH's ssh-keygen")
model_signing = pytest.importorskip("model_signing", reason="the test extra installs model-signing")


@pytest.fixture
def ec_key(tmp_path: Path) -> tuple[Path, Path]:
    """An ECDSA P-256 key as OpenSSH makes it in PEM (private) and its public half as PEM."""
    key = tmp_path / "release-key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ecdsa", "-b", "256", "-m", "PEM", "-N", "", "-f", str(key)], check=True
    )
    pem = subprocess.run(
        ["ssh-keygen", "-e", "-m", "PKCS8", "-f", str(key) + ".pub"], check=True, capture_output=True
    ).stdout
    public = tmp_path / "release-key.pub.pem"
    public.write_bytes(pem)
    return key, public


@pytest.fixture
def promoted(project: Path, store: Store, pv, tmp_path: Path) -> Store:  # type: ignore[no-untyped-def]
    """bot@0.1.0 promoted to production on a signed approval by Rui."""
    rui, pub = make_key(tmp_path / "keys", "rui")
    (store.root / "allowed_signers").write_text(f"rui@example.com {pub}\n")
    set_policy(project, "\n[aliases.production]\napprovals = 1\n")
    new_version(store, project)
    assert pv("approve", "bot@0.1.0", "--by", REVIEWER, "--key", str(rui)).code == 0
    assert pv("promote", "bot@0.1.0", "--to", "production").code == 0
    return store


def test_attest_and_verify_offline(promoted: Store, pv, tmp_path: Path, ec_key: tuple[Path, Path]) -> None:  # type: ignore[no-untyped-def]
    key, public = ec_key
    out = tmp_path / "bot-0.1.0.intoto.json"
    result = pv("attest", "bot@0.1.0", "-o", str(out), "--key", str(key))
    assert result.code == 0, result.err
    assert "1 approval(s)" in result.out and "promoted to production" in result.out
    envelope = json.loads(out.read_text())
    assert envelope["payloadType"] == "application/vnd.in-toto+json" and len(envelope["signatures"]) == 1
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    manifest = promoted.resolve("bot", "0.1.0")
    subjects = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    assert subjects.pop("bot@0.1.0") == manifest.digest.removeprefix("sha256:")
    assert subjects == {f.path: f.digest.removeprefix("sha256:") for f in manifest.files}
    predicate = statement["predicate"]
    assert predicate["alias"] == "production" and predicate["digest"] == manifest.digest
    assert [(a["actor"], a["signed_by"]) for a in predicate["approvals"]] == [(REVIEWER, "rui@example.com")]
    assert predicate["policy"]["approvals"] == 1
    # offline check, with the files from the store; the OpenSSH public key works too
    result = pv("verify-attestation", str(out), "--key", str(public))
    assert result.code == 0, result.err
    assert "OK bot@0.1.0" in result.out and "files checked in bot@0.1.0 (store)" in result.out
    assert pv("verify-attestation", str(out), "--key", str(key) + ".pub").code == 0
    # another key
    other = tmp_path / "other"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ecdsa", "-b", "256", "-m", "PEM", "-N", "", "-f", str(other)], check=True
    )
    result = pv("verify-attestation", str(out), "--key", str(other) + ".pub")
    assert result.code == 1 and "the attestation's signature does not verify" in result.err
    # an edited statement (a file's hash swapped)
    statement["subject"][1]["digest"]["sha256"] = "0" * 64
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(envelope))
    result = pv("verify-attestation", str(forged), "--key", str(public))
    assert result.code == 1 and "does not verify" in result.err and "Traceback" not in result.err


def test_model_signing_verifies_the_files_of_a_checkout(
    promoted: Store,
    pv,
    tmp_path: Path,
    ec_key: tuple[Path, Path],  # type: ignore[no-untyped-def]
) -> None:
    """The real model-signing package, its key-based method, offline, over `checkout --to`."""
    from model_signing import verifying

    key, public = ec_key
    out = tmp_path / "att.json"
    assert pv("attest", "bot@0.1.0", "-o", str(out), "--key", str(key)).code == 0
    checkout = tmp_path / "checkout" / "bot"
    assert pv("checkout", "bot@0.1.0", "--to", str(checkout)).code == 0
    signature = Path(str(out) + ".model.sig")
    verifying.Config().use_elliptic_key_verifier(public_key=public).verify(checkout, signature)

    command = [sys.executable, "-m", "model_signing", "verify", "key", str(checkout)]
    command += ["--signature", str(signature), "--public_key", str(public)]
    ran = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    result = pv("verify-attestation", str(out), "--key", str(public), "--dir", str(checkout))
    assert result.code == 0 and f"files checked in {checkout}" in result.out
    # one byte changed in the checkout: both refuse
    (checkout / "prompts" / "system.j2").write_text("You are someone else.\n")
    with pytest.raises(ValueError, match="Hash mismatch for .*prompts/system.j2"):
        verifying.Config().use_elliptic_key_verifier(public_key=public).verify(checkout, signature)
    ran = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert ran.returncode != 0 and "Hash mismatch" in ran.stdout + ran.stderr
    result = pv("verify-attestation", str(out), "--key", str(public), "--dir", str(checkout))
    assert result.code == 1 and "is not the attested version: prompts/system.j2 differ" in result.err
