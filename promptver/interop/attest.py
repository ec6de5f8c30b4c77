"""Attestations in the standard formats: ``promptver attest`` / ``verify-attestation``.

``attest NAME@VERSION -o FILE`` writes two signatures, both made by maintained libraries
(no cryptography here), both with one elliptic-curve key (PEM; an OpenSSH ECDSA key made
with ``ssh-keygen -t ecdsa -m PEM`` is one):

- ``FILE``: an in-toto Statement v1 (``in-toto-attestation``) in a DSSE envelope signed
  with ``securesystemslib``. Its subjects are the version (``NAME@VERSION``, sha256 = the
  bundle digest) and every file of it with its sha256; its predicate
  (``PREDICATE_TYPE``) carries what the alias policy relied on: the policy, the approvals
  (who signed each), the eval runs (their file hashes, who signed each) and the author.
- ``FILE.model.sig``: the signature of the version's files by ``model-signing`` (its
  key-based method), a Sigstore bundle that ``model_signing verify key DIR --signature
  FILE.model.sig --public_key KEY.pub.pem`` checks over a checked-out version, offline.

``verify-attestation FILE --key PUB`` checks the envelope's signature, the statement,
that the bundle digest is the digest of the listed files, and (when the version is in the
store, or ``--dir`` names a checkout) the files themselves, with model-signing too.

Keyless Sigstore (Fulcio certificates, Rekor log) needs the internet and is not done here.
The seam is ``_model_signing_config``: model-signing's ``use_sigstore_signer()`` /
``use_sigstore_verifier(identity, oidc_issuer)`` replace the key methods there, and the
DSSE envelope would take a ``sigstore`` signer from ``securesystemslib.signer``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from promptver.errors import ConfigError, IntegrityError
from promptver.store.digests import tree_digest
from promptver.store.manifest import Manifest
from promptver.store.store import Store

PREDICATE_TYPE = "https://promptver.dev/attestation/release/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
MODEL_SIG_SUFFIX = ".model.sig"


def _need(what: str) -> ConfigError:
    return ConfigError(
        f"attestations need {what}, which is not installed",
        hint="install them with `pip install 'promptver[attest]'`",
    )


def _private_key(path: Path) -> Any:
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
    except ImportError:
        raise _need("cryptography") from None
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the key {path}: {exc.strerror}", hint="fix the path") from None
    try:
        key = serialization.load_pem_private_key(data, None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"{path} is not an unencrypted PEM private key ({str(exc).splitlines()[0]})",
            hint="make one with `ssh-keygen -t ecdsa -b 256 -m PEM -N '' -f KEY`",
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigError(
            f"{path} is not an elliptic-curve key (model-signing signs with P-256, P-384 or P-521)",
            hint="make one with `ssh-keygen -t ecdsa -b 256 -m PEM -N '' -f KEY`",
        )
    return key


def public_pem(path: Path) -> bytes:
    """A public key file (PEM, or OpenSSH ``ecdsa-sha2-...`` as ``ssh-keygen`` writes
    ``KEY.pub``) as PEM SubjectPublicKeyInfo."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the key {path}: {exc.strerror}", hint="fix the path") from None
    try:
        key = (
            serialization.load_ssh_public_key(data)
            if data.startswith(b"ecdsa-")
            else serialization.load_pem_public_key(data)
        )
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigError(
            f"{path} is not a public key in PEM or OpenSSH format",
            hint="pass the public half of the key that signed (KEY.pub)",
        ) from None
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def evidence(store: Store, manifest: Manifest, alias: str | None) -> dict[str, Any]:
    """The predicate: what the last promotion of this version (to ``alias``, when given)
    relied on, or, never promoted, its approvals as they stand."""
    from promptver.evals.runs.records import recorded_events
    from promptver.governance.approvals import decisions
    from promptver.governance.signing import author_verdict, run_verdict
    from promptver.store.events import log_events

    name = manifest.bundle
    events = log_events(store, name, "alias", "review")
    promotions = [
        e
        for e in events
        if e.get("action") == "promote"
        and e.get("to") == manifest.version
        and (alias is None or e.get("alias") == alias)
    ]
    if alias is not None and not promotions:
        raise ConfigError(
            f"{manifest.ref} was never promoted to {alias}",
            hint=f"leave out --alias, or promote it first: `promptver promote {manifest.ref} --to {alias}`",
        )
    promotion = promotions[-1] if promotions else None
    cited = set(promotion.get("approvals") or []) if promotion else None
    approvals = []
    for decision in decisions(events, manifest.digest):
        if cited is not None and decision.seq not in cited:
            continue
        if cited is None and decision.decision != "approved":
            continue
        approvals.append(decision.with_signature(store, name).to_json())
    runs = []
    recorded = recorded_events(store, name)
    for run_id in promotion.get("eval_runs") or [] if promotion else []:
        event = recorded.get(str(run_id), {})
        runs.append(
            {
                "id": run_id,
                "dataset": event.get("dataset"),
                "target": event.get("target"),
                "score": event.get("score"),
                "run_sha256": event.get("run_sha256"),
                "cases_sha256": event.get("cases_sha256"),
                "signed_by": run_verdict(store, name, str(run_id)).signer,
            }
        )
    author = author_verdict(store, name, manifest.version)
    return {
        "bundle": name,
        "version": manifest.version,
        "digest": manifest.digest,
        "author": manifest.author,
        "author_signed_by": author.signer,
        "created": manifest.created,
        "alias": promotion.get("alias") if promotion else None,
        "promotion": (
            {"event": promotion.get("seq"), "time": promotion.get("time"), "by": promotion.get("actor")}
            if promotion
            else None
        ),
        "policy": promotion.get("policy") if promotion else None,
        "approvals": approvals,
        "eval_runs": runs,
    }


def statement(store: Store, manifest: Manifest, alias: str | None) -> dict[str, Any]:
    """The in-toto Statement v1 of a version, validated by ``in-toto-attestation``."""
    try:
        from google.protobuf import json_format
        from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
        from in_toto_attestation.v1.statement import Statement
    except ImportError:
        raise _need("in-toto-attestation") from None
    subjects = [ResourceDescriptor(name=manifest.ref, digest={"sha256": _hex(manifest.digest)}).pb]
    subjects += [
        ResourceDescriptor(name=entry.path, digest={"sha256": _hex(entry.digest)}).pb
        for entry in manifest.files
    ]
    made = Statement(subjects, PREDICATE_TYPE, evidence(store, manifest, alias))
    made.validate()
    result: dict[str, Any] = json_format.MessageToDict(made.pb)
    return result


def _hex(digest: str) -> str:
    return digest.removeprefix("sha256:")


def attest(
    store: Store, name: str, ref: str, out: Path, key: Path, alias: str | None = None
) -> dict[str, Any]:
    """Write ``out`` (the DSSE envelope) and ``out.model.sig`` (model-signing's signature
    of the files); returns what was written."""
    try:
        from securesystemslib.dsse import Envelope
        from securesystemslib.signer import CryptoSigner
    except ImportError:
        raise _need("securesystemslib") from None
    private = _private_key(key)
    manifest = store.resolve(name, ref)
    body = statement(store, manifest, alias)
    envelope = Envelope(json.dumps(body, sort_keys=True).encode(), PAYLOAD_TYPE, {})
    envelope.sign(CryptoSigner(private))
    model_sig = Path(str(out) + MODEL_SIG_SUFFIX)
    with tempfile.TemporaryDirectory(prefix="promptver-attest-") as tmp:
        folder = _checkout(store, manifest, Path(tmp))
        _model_signing_config(key=key).sign(folder, model_sig)
    from promptver.store.atomic import atomic_write

    atomic_write(out, json.dumps(envelope.to_dict(), indent=2).encode() + b"\n", durable=False)
    return {
        "attestation": str(out),
        "model_signature": str(model_sig),
        "subject": body["subject"][0],
        "files": len(body["subject"]) - 1,
        "predicate_type": PREDICATE_TYPE,
        "predicate": body["predicate"],
    }


def _checkout(store: Store, manifest: Manifest, parent: Path) -> Path:
    from promptver.versions.checkout import checkout

    folder = parent / manifest.bundle  # model-signing names the model after the folder
    checkout(store, manifest, folder)
    return folder


def _model_signing_config(*, key: Path | None = None, public: Path | None = None) -> Any:
    """model-signing's key-based signer (``key``) or verifier (``public``, PEM); the seam
    for keyless Sigstore (see the module docstring)."""
    try:
        from model_signing import hashing, signing, verifying
    except ImportError:
        raise _need("model-signing") from None
    files = hashing.Config().use_file_serialization()
    if key is not None:
        return signing.Config().use_elliptic_key_signer(private_key=key).set_hashing_config(files)
    assert public is not None
    return verifying.Config().use_elliptic_key_verifier(public_key=public).set_hashing_config(files)


def verify_attestation(
    path: Path, public: Path, store: Store | None = None, folder: Path | None = None
) -> dict[str, Any]:
    """Check an attestation offline: the envelope's signature by ``public``, the statement,
    the bundle digest against the listed files, and the files themselves when the version
    is in ``store`` or checked out in ``folder`` (then with model-signing too).
    IntegrityError names the first thing that does not hold."""
    try:
        from securesystemslib.dsse import Envelope
        from securesystemslib.signer import SSlibKey
    except ImportError:
        raise _need("securesystemslib") from None
    from cryptography.hazmat.primitives import serialization

    pem = public_pem(public)
    try:
        envelope = Envelope.from_dict(json.loads(path.read_bytes()))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", hint="fix the path") from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise IntegrityError(
            "not a DSSE envelope (payload, payloadType, signatures)", location=str(path)
        ) from None
    if envelope.payload_type != PAYLOAD_TYPE:
        raise IntegrityError(
            f"the envelope holds {envelope.payload_type!r}, not an in-toto statement", location=str(path)
        )
    key = SSlibKey.from_crypto(serialization.load_pem_public_key(pem))
    try:
        envelope.verify([key], 1)
    except Exception as exc:  # securesystemslib's VerificationError, or a malformed signature
        raise IntegrityError(
            f"the attestation's signature does not verify with {public} ({type(exc).__name__})",
            location=str(path),
            hint="the file was changed after signing, or it was signed by another key",
        ) from None
    body = json.loads(envelope.payload)
    if body.get("_type") != STATEMENT_TYPE or body.get("predicateType") != PREDICATE_TYPE:
        raise IntegrityError("the statement is not a promptver release attestation", location=str(path))
    subjects = body.get("subject") or []
    version, files = subjects[0], {s["name"]: s["digest"]["sha256"] for s in subjects[1:]}
    digest = "sha256:" + version["digest"]["sha256"]
    if tree_digest(sorted(files.items())) != digest:
        raise IntegrityError(f"the files listed do not make the bundle digest {digest}", location=str(path))
    checked = _check_files(path, body, files, public, pem, store, folder)
    return {
        "ok": True,
        "subject": version,
        "files": len(files),
        "files_checked": checked,
        "predicate": body["predicate"],
        "keyid": key.keyid,
    }


def _check_files(
    path: Path,
    body: dict[str, Any],
    files: dict[str, str],
    public: Path,
    pem: bytes,
    store: Store | None,
    folder: Path | None,
) -> str | None:
    """Where the files were checked (against the attestation and model-signing's
    signature), or None: neither the store has the version nor was a folder given."""
    predicate = body["predicate"]
    with tempfile.TemporaryDirectory(prefix="promptver-verify-") as tmp:
        where = folder
        if where is None and store is not None:
            try:
                manifest = store.manifest(predicate["bundle"], predicate["version"])
            except Exception:  # not in this store: only the attestation itself is checked
                return None
            where = _checkout(store, manifest, Path(tmp))
        if where is None:
            return None
        from promptver.store.digests import sha256_file

        found = {str(p.relative_to(where)): sha256_file(p)[0] for p in where.rglob("*") if p.is_file()}
        found = {
            k: v for k, v in found.items() if not k.startswith(".git/") and not k.endswith(MODEL_SIG_SUFFIX)
        }
        if found != files:
            differ = sorted({k for k, _ in set(found.items()) ^ set(files.items())})
            raise IntegrityError(
                f"{where} is not the attested version: {', '.join(differ[:5])} differ",
                location=str(path),
            )
        signature = Path(str(path) + MODEL_SIG_SUFFIX)
        if signature.exists():
            key = Path(tmp) / "public.pem"
            key.write_bytes(pem)
            try:
                _model_signing_config(public=key).verify(where, signature)
            except Exception as exc:  # ValueError, or cryptography's InvalidSignature
                raise IntegrityError(
                    f"model-signing's signature does not verify: {exc or type(exc).__name__}",
                    location=str(signature),
                ) from None
        return str(folder) if folder is not None else f"{predicate['bundle']}@{predicate['version']} (store)"
