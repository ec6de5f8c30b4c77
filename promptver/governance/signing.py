"""Signed events: approvals, rejections, promotions, rollbacks and bumps signed with the
user's SSH key, the way git signs commits, by the system's OpenSSH (``ssh-keygen -Y``; no
cryptography is done here).

A signature is bound to its place in the history by what a pull never changes. Since
format 3 (the event carries ``"sig_v": 3``) the event also carries ``"after"``: the id
(``store/events.event_id``: sha256 of the event without ``seq``/``prev``) of the log's last
event when it was signed (None: the first event). The signed payload is canonical JSON of::

    {"sig_v": 3, "log": <bundle>, "event": <event>}

where ``<event>`` is the event without ``seq``, ``prev`` and ``signature`` (its kind,
subject, time and ``after`` are in it). A pull that puts unpushed events after a teammate's
re-links their ``seq``/``prev`` only: their signatures stay good. What is refused, by
`verify`, `promote` and `pull` (``misplaced`` and the duplicate checks): a signed line whose
``after`` does not occur earlier in the log (moved before the event it followed, or copied
into another log), and an event id seen twice (a copied line has the same id). Which of a
person's decisions is the latest is decided by the signed ``time`` and then the ``after``
order, not by log position (governance/approvals.decisions), so moving an old signed
approval after a later signed rejection does not make it count. The signature records its
log (``bound``, not signed: it only tells "replayed or moved" from "edited"):

    "signature": {"format": "ssh", "namespace": "promptver", "armored": "-----BEGIN SSH SIGNATURE-----...",
                  "bound": {"log": "support-bot"}}

Older formats still verify as they did: format 2 (``"sig_v": 2``) signed
``{"sig_v": 2, "log": <bundle>, "prev": <sha256 of the previous line>, "event": <event>}``
(a pull cannot re-link such an unpushed event, and refuses to); format 1 (no ``sig_v``)
signed the event alone, and `verify` refuses the same signature seen twice in a log.

The key comes from ``--key``, ``PROMPTVER_SIGNING_KEY``, or git's ``user.signingkey``
when ``gpg.format = ssh``. Signatures are checked against an allowed-signers file in
OpenSSH's format (the file git's ``gpg.ssh.allowedSignersFile`` uses), committed next to
the store: ``.promptver/allowed_signers`` or ``[signing] allowed_signers`` in
``config.toml`` (relative to the project root). A signature proves that the holder of a
listed key made this exact decision at this place; it counts only when the signer's
principal is the person the event names (``actor``). A key whose line restricts it to other
namespaces (git's ``namespaces="git"``) is "not accepted", which is not tampering.

Checks are cached by content (the allowed-signers file, the payload and the signature) in
memory and in ``cache/signatures/`` (local, not committed).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptver.errors import ConfigError
from promptver.governance.identities import person, same_person
from promptver.store.events import Signer
from promptver.store.store import Store

NAMESPACE = "promptver"
ENV_KEY = "PROMPTVER_SIGNING_KEY"
UNSIGNED_FIELDS = ("seq", "prev", "signature")
SIG_V = 3  # the payload format of new signatures (bound to the log and the previous event's id)
SIG_V_PREV = 2  # the format bound to the previous line's hash (a re-link breaks it)

# what a bad signature means: the line was changed, or a good line was copied or moved
EDITED = "edited"
REPLAYED = "replayed"
NOT_ACCEPTED = "not accepted"


@dataclass(frozen=True)
class Verdict:
    """What a signature proves: ``signer`` (the principal of the allowed key) when it is
    good and names the actor, else ``problem`` and its ``kind`` (``EDITED`` and ``REPLAYED``
    are tampering; ``NOT_ACCEPTED``: the decision does not count, nothing was changed).
    None and None: unsigned."""

    signer: str | None = None
    problem: str | None = None
    kind: str | None = None
    key: str | None = None  # the signing key's fingerprint (SHA256:...), when good

    @property
    def signed(self) -> bool:
        return self.signer is not None

    @property
    def tampered(self) -> bool:
        return self.kind in (EDITED, REPLAYED)

    def to_json(self) -> dict[str, Any]:
        return {"signer": self.signer, "problem": self.problem, "kind": self.kind, "key": self.key}

    def same_signer(self, other: Verdict) -> bool:
        """Both good, and by the same principal or the same key (one key may be listed
        under several principals)."""
        if self.signer is None or other.signer is None:
            return False
        return self.signer.lower() == other.signer.lower() or (self.key is not None and self.key == other.key)


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def payload(event: dict[str, Any], bundle: str, prev: str | None = None) -> bytes:
    """The bytes a signature covers. Format 3: the event (holding its ``after``) bound to
    its log; format 2: the event bound to its log and to the previous line's hash (``prev``:
    the event's own unless given); format 1: the event alone."""
    body = {k: v for k, v in event.items() if k not in UNSIGNED_FIELDS}
    version = event.get("sig_v")
    if version == SIG_V:
        return _canonical({"sig_v": SIG_V, "log": bundle, "event": body})
    if version != SIG_V_PREV:
        return _canonical(body)
    where = event.get("prev") if prev is None else prev
    return _canonical({"sig_v": SIG_V_PREV, "log": bundle, "prev": where, "event": body})


def _ssh_keygen() -> str:
    found = shutil.which("ssh-keygen")
    if found is None:
        raise ConfigError(
            "signing needs OpenSSH's ssh-keygen, which is not installed",
            hint="install OpenSSH (e.g. `apt-get install openssh-client`)",
        )
    return found


def _git_config(folder: Path, key: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", "config", "--get", key],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def signing_key(explicit: str | None, folder: Path) -> Path | None:
    """The private key (or the public key of one held by ssh-agent) to sign with: ``--key``,
    else ``PROMPTVER_SIGNING_KEY``, else git's ``user.signingkey`` when ``gpg.format = ssh``;
    None: decisions are not signed."""
    where = "--key"
    value = explicit
    if not value:
        value, where = os.environ.get(ENV_KEY, "").strip() or None, ENV_KEY
    if not value and _git_config(folder, "gpg.format") == "ssh":
        value, where = _git_config(folder, "user.signingkey"), "git config user.signingkey"
    if not value:
        return None
    if value.startswith(("key::", "ssh-")):
        raise ConfigError(
            f"{where} holds a literal public key; promptver signs with a key file",
            hint="set it to the path of your key, e.g. ~/.ssh/id_ed25519",
        )
    path = Path(value).expanduser()
    if not path.is_file():
        raise ConfigError(f"signing key {path} (from {where}) does not exist", hint="fix the path")
    return path


def sign_bytes(data: bytes, key: Path, namespace: str = NAMESPACE) -> str:
    """The armored SSH signature (``ssh-keygen -Y sign``) of some bytes."""
    try:
        result = subprocess.run(
            [_ssh_keygen(), "-Y", "sign", "-q", "-f", str(key), "-n", namespace],
            input=data,
            capture_output=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(
            f"signing with {key} timed out (a passphrase prompt?)", hint="use ssh-agent"
        ) from None
    if result.returncode != 0 or b"BEGIN SSH SIGNATURE" not in result.stdout:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise ConfigError(
            f"could not sign with {key}: {message[-1] if message else 'ssh-keygen failed'}",
            hint="check the key (a passphrase needs ssh-agent), or unset the signing key",
        )
    return result.stdout.decode().strip()


def sign(event: dict[str, Any], key: Path, *, bundle: str, after: str | None) -> dict[str, Any]:
    """The event with its ``signature`` over its payload as the event after ``after`` (the
    id of the log's last event, `store.events.last_event_id`; None for the first event) in
    ``bundle``'s log."""
    bound = {**event, "sig_v": SIG_V, "after": after}
    armored = sign_bytes(payload(bound, bundle), key)
    signature = {"format": "ssh", "namespace": NAMESPACE, "armored": armored, "bound": {"log": bundle}}
    return {**bound, "signature": signature}


def sign_statement(statement: dict[str, Any], key: Path) -> dict[str, Any]:
    """A statement that is no event of a log (a remote's timestamp), signed whole (format 1)."""
    armored = sign_bytes(payload(statement, ""), key)
    return {**statement, "signature": {"format": "ssh", "namespace": NAMESPACE, "armored": armored}}


def signer(key: Path) -> Signer:
    """A `Signer` for writers below governance (a bump): signs with ``key``, bound."""

    def sign_with(event: dict[str, Any], bundle: str, after: str | None) -> dict[str, Any]:
        return sign(event, key, bundle=bundle, after=after)

    return sign_with


def author_verdict(store: Store, name: str, version: str) -> Verdict:
    """Whether the event that created ``name@version`` (its bump or import) is signed by an
    allowed signer who is its author: the author is then a signed identity."""
    from promptver.store.events import creation_events

    event = creation_events(store, name).get(version)
    if event is None:
        return Verdict(problem="the audit log has no bump event for it", kind=NOT_ACCEPTED)
    if "signature" not in event:
        return Verdict(problem="its bump is unsigned", kind=None)
    return check(store, event, name)


def run_verdict(store: Store, name: str, run_id: str) -> Verdict:
    """Whether the ``eval`` event recording a run is signed by an allowed signer who is its
    actor (the event holds the run files' hashes: the signature covers the run)."""
    from promptver.evals.runs.records import recorded_events

    event = recorded_events(store, name).get(run_id)
    if event is None:
        return Verdict(problem="not recorded in the audit log", kind=NOT_ACCEPTED)
    if "signature" not in event:
        return Verdict(problem="unsigned")
    return check(store, event, name)


def append_signed(
    store: Store,
    name: str,
    event: dict[str, Any],
    key: Path | None,
    then: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Append an event, signed with ``key`` (when given) as the event after the log's
    current last line: the bundle's lock is held from reading that line to the append."""
    if key is None:
        return store.append_event(name, event, then=then)
    from promptver.store.events import last_event_id

    with store.lock(name):
        after = last_event_id(store, name)
        return store.append_event(name, sign(event, key, bundle=name, after=after), then=then)


def allowed_signers_path(store: Store) -> Path:
    configured = store.config.get("signing", {}).get("allowed_signers")
    if isinstance(configured, str) and configured:
        return (store.project_root / configured).resolve()
    return store.root / "allowed_signers"


_CACHE: dict[str, Verdict] = {}
_FINGERPRINT = re.compile(r"key (SHA256:[A-Za-z0-9+/=]+)")


def check(store: Store, event: dict[str, Any], bundle: str) -> Verdict:
    """Whether an event of ``bundle``'s log is signed well, at its place, by an allowed
    signer who is its actor."""
    signature = event.get("signature")
    if signature is None:
        return Verdict()
    if not isinstance(signature, dict) or not isinstance(signature.get("armored"), str):
        return Verdict(problem="the signature field is malformed", kind=EDITED)
    if signature.get("namespace", NAMESPACE) != NAMESPACE:
        return Verdict(
            problem=f"signed in namespace {signature.get('namespace')!r}, not {NAMESPACE!r}",
            kind=NOT_ACCEPTED,
        )
    allowed = allowed_signers_path(store)
    try:
        signers = allowed.read_bytes()
    except OSError:
        return Verdict(
            problem=f"signed, but there is no allowed-signers file ({allowed}) to check it against",
            kind=NOT_ACCEPTED,
        )
    bound = signature.get("bound")
    key = hashlib.sha256(
        _canonical(
            [str(allowed), hashlib.sha256(signers).hexdigest(), bundle, str(event.get("actor", "")), bound]
        )
        + b"\0"
        + payload(event, bundle)
        + b"\0"
        + signature["armored"].encode()
    ).hexdigest()
    if key in _CACHE:
        return _CACHE[key]
    folder = store.root / "cache" / "signatures"
    cached = _read_cached(folder / f"{key}.json")
    if cached is None:
        cached = _check(allowed, event, bundle, signature["armored"], bound)
        _write_cached(folder, key, cached)
    _CACHE[key] = cached
    return cached


def _read_cached(path: Path) -> Verdict | None:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), str | None) for k in ("signer", "problem", "kind")
    ):
        return None
    return Verdict(data.get("signer"), data.get("problem"), data.get("kind"), data.get("key"))


def _write_cached(folder: Path, key: str, verdict: Verdict) -> None:
    from promptver.store.atomic import atomic_write

    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / f"{key}.json", _canonical(verdict.to_json()), durable=False)
    except OSError:
        pass  # a read-only store: checked again next time


def _run(args: list[str], data: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, input=data, capture_output=True, timeout=60, check=False)


def _check(allowed: Path, event: dict[str, Any], bundle: str, armored: str, bound: Any) -> Verdict:
    keygen = _ssh_keygen()
    with tempfile.TemporaryDirectory(prefix="promptver-sig-") as folder:
        sig = Path(folder) / "event.sig"
        sig.write_text(armored + "\n")
        actor = str(event.get("actor", ""))
        _, email = person(actor)
        if email:  # the common case in one call: the actor's own key, listed under their email
            quick = _run(
                [keygen, "-Y", "verify", "-f", str(allowed), "-I", email, "-n", NAMESPACE, "-s", str(sig)],
                payload(event, bundle),
            )
            if quick.returncode == 0:
                return Verdict(signer=email, key=_fingerprint(quick))
        found = _run([keygen, "-Y", "find-principals", "-s", str(sig), "-f", str(allowed)], b"")
        principals = [p.strip() for p in found.stdout.decode(errors="replace").splitlines() if p.strip()]
        novalidate = [keygen, "-Y", "check-novalidate", "-n", NAMESPACE, "-s", str(sig)]
        if found.returncode != 0 or not principals:
            if _run(novalidate, payload(event, bundle)).returncode != 0:
                return _broken(
                    novalidate, event, bundle, bound, "a key that is not in the allowed-signers file"
                )
            return Verdict(
                problem="signed by a key that is not in the allowed-signers file", kind=NOT_ACCEPTED
            )
        matching = [p for p in principals if _names(p, actor)]
        principal = matching[0] if matching else principals[0]
        verified = _run(
            [keygen, "-Y", "verify", "-f", str(allowed), "-I", principal, "-n", NAMESPACE, "-s", str(sig)],
            payload(event, bundle),
        )
        if verified.returncode != 0:
            if _run(novalidate, payload(event, bundle)).returncode != 0:
                return _broken(novalidate, event, bundle, bound, principal)
            return Verdict(
                problem=f"signed by {principal}, whose key is not accepted for namespace {NAMESPACE} by"
                f" {allowed.name} (its line's namespaces= or validity options)",
                kind=NOT_ACCEPTED,
            )
    if not matching:
        return Verdict(
            problem=f"signed by {principal}, but the event names {actor or 'nobody'}", kind=NOT_ACCEPTED
        )
    return Verdict(signer=principal, key=_fingerprint(verified))


def _fingerprint(verified: subprocess.CompletedProcess[bytes]) -> str | None:
    """The key fingerprint (``SHA256:...``) that ``ssh-keygen -Y verify`` reports."""
    found = _FINGERPRINT.search(
        verified.stdout.decode(errors="replace") + verified.stderr.decode(errors="replace")
    )
    return found.group(1) if found else None


def _broken(novalidate: list[str], event: dict[str, Any], bundle: str, bound: Any, who: str) -> Verdict:
    """A signature that does not cover this event here: made for another place (the
    ``bound`` it records checks out there), or the event was edited."""
    if event.get("sig_v") == SIG_V and isinstance(bound, dict):
        log = bound.get("log")
        if isinstance(log, str) and log != bundle and _run(novalidate, payload(event, log)).returncode == 0:
            return Verdict(
                problem=f"the signature by {who} was made for another place in the history"
                f" (in the log of {log}): the line was replayed or moved",
                kind=REPLAYED,
            )
    if event.get("sig_v") == SIG_V_PREV and isinstance(bound, dict):
        log, prev = bound.get("log"), bound.get("prev")
        here = (bundle, event.get("prev"))
        elsewhere = isinstance(log, str) and isinstance(prev, str | None) and (log, prev) != here
        if elsewhere and _run(novalidate, payload(event, str(log), prev)).returncode == 0:
            place = f"after the event whose line hashes to {prev[:12]}" if prev else "as the first event"
            if log != bundle:
                place += f" in the log of {log}"
            return Verdict(
                problem=f"the signature by {who} was made for another place in the history"
                f" ({place}): the line was replayed or moved",
                kind=REPLAYED,
            )
    return Verdict(
        problem=f"the signature by {who} does not verify (the event was edited after signing)", kind=EDITED
    )


def _names(principal: str, actor: str) -> bool:
    """Whether an allowed-signers principal (an email, or a name) is the actor."""
    _, email = person(actor)
    if email and principal.lower() == email:
        return True
    return same_person(principal, actor)


def refuse_tampered(
    store: Store, name: str, lines: list[bytes], where: str, events: list[dict[str, Any]] | None = None
) -> None:
    """Refuse a log (e.g. a remote's, before it is pulled) holding a signed event that was
    edited, replayed or moved: IntegrityError at ``where:line``. Signatures are checked
    against the local allowed-signers file (the remote's copy is not trusted). ``events``:
    the lines already parsed (`remote.proof.check_chain`), else they are parsed here.

    An unsigned event is only ever looked up (a signed event repeating it, the event a
    signature was made ``after``), so the ids of the events before a signed one are
    computed when one comes: a log without signatures costs no id at all."""
    from promptver.errors import IntegrityError
    from promptver.store.events import event_id, parse_lines

    if events is None:
        events = parse_lines(lines, where)
    seen: dict[str, int] = {}
    ids: dict[str, int] = {}  # the id of each event up to ``counted`` -> its line
    counted = 0
    for number, event in enumerate(events, start=1):
        if "signature" not in event:
            continue
        for earlier in range(counted, number - 1):
            ids.setdefault(event_id(events[earlier]), earlier + 1)
        counted = number
        signature = event.get("signature")
        armored = signature.get("armored") if isinstance(signature, dict) else None
        problem = None
        identity = event_id(event)
        if identity in ids:
            problem = f"repeats signed event {ids[identity]}: the line was replayed (copied)"
        elif isinstance(armored, str) and armored in seen:
            problem = f"the same signature as event {seen[armored]}: the line was replayed (copied)"
        else:
            if isinstance(armored, str):
                seen[armored] = number
            verdict = check(store, event, name)
            problem = verdict.problem if verdict.tampered else misplaced(event, number, ids)
        ids.setdefault(identity, number)
        if problem is not None:
            raise IntegrityError(
                f"signed event {number} ({event.get('event')} by {event.get('actor')}): {problem}",
                location=f"{where}:{number}",
                hint="nothing was pulled; restore the remote's log from a clone that has it",
            )


def refuse_moving_signed(name: str, events: list[dict[str, Any]]) -> None:
    """Refuse to re-chain these (local, unpushed) events after others: a signature bound
    to its place would read as replayed. ConflictError naming them; nothing is changed."""
    from promptver.errors import ConflictError

    signed = [e for e in events if isinstance(e, dict) and e.get("sig_v") == SIG_V_PREV]
    if not signed:
        return
    listed = ", ".join(f"event {e.get('seq')} ({e.get('event')} by {e.get('actor')})" for e in signed[:5])
    raise ConflictError(
        f"{name}: the remote has new events, and {len(signed)} signed event(s) here are not pushed"
        f" yet and signed in format 2 ({listed}), which binds a signature to the previous line's hash,"
        " so they cannot be put after the remote's events; nothing was changed",
        hint="restore the log from git (`git checkout -- .promptver/bundles/"
        f"{name}/log.jsonl`), pull, then make those decisions again (signed: format 3 survives a pull)",
    )


def misplaced(event: dict[str, Any], number: int, ids: dict[str, int]) -> str | None:
    """Why a format-3 signed event cannot be where it is, event ``number`` of its log
    (``ids``: the id of each earlier event -> its line), or None: the event it was signed
    after (``after``) must occur earlier. A pull's re-link keeps that; moving the line
    before it, or copying it into another log, does not."""
    if event.get("sig_v") != SIG_V or "signature" not in event:
        return None
    after = event.get("after")
    if after is None:
        if number == 1:
            return None
        return "it was signed as the first event of its log: the line was replayed or moved"
    if not isinstance(after, str):
        return "its 'after' is not an event id (the event was edited after signing)"
    if after in ids:
        return None
    return (
        f"it was signed for another place in the history (after event {after[:19]}..., which"
        " is not earlier in this log): the line was replayed or moved"
    )
