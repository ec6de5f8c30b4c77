"""`promptver traces import` and `promptver served`: spans from the real SDK, as OTLP JSON
made with the exporter's encoder, kept in the store; what served, flagged when unknown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import promptver
from promptver.governance.promotion import set_alias
from promptver.store.store import Store
from promptver.versions.bump import bump
from tests.traces_support import App, otlp_dict, unprotect, write_otlp


@pytest.fixture
def app(project: Path, store: Store, monkeypatch: pytest.MonkeyPatch) -> App:
    unprotect(project)
    bump(store, "bot", "minor", author="ana")  # 0.1.0
    set_alias(store, "bot", "production", "0.1.0")
    promptver.clear_cache()
    return App(store)


def release_second(project: Path, store: Store) -> None:
    answer = project / "bundles" / "bot" / "prompts" / "answer.j2"
    answer.write_text(answer.read_text() + "Be brief.\n")
    bump(store, "bot", "minor", author="ana")  # 0.2.0
    set_alias(store, "bot", "production", "0.2.0")
    promptver.clear_cache()


def test_import_then_served(app: App, project: Path, store: Store, pv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for q in ("a", "b", "c"):
        app.request("bot@production", q)
    release_second(project, store)
    app.request("bot@production", "d")
    app.request("bot@0.2.0", "e")
    spans_file = write_otlp(tmp_path / "spans.json", app.spans)
    result = pv("traces", "import", str(spans_file))
    assert result.code == 0, result.err
    assert "5 spans read, 5 added, 0 already imported" in result.out
    again = pv("traces", "import", str(spans_file), "--json")  # idempotent
    assert json.loads(again.out)[0] | {"file": ""} == {"file": "", "read": 5, "added": 0, "known": 5, "skipped": 0}
    result = pv("served", "bot", "--json")
    assert result.code == 0, result.out
    groups = {(g["version"], g["alias"]): g for g in json.loads(result.out)["served"]}
    assert groups[("0.1.0", "production")]["requests"] == 3
    assert groups[("0.2.0", "production")]["requests"] == 1
    assert groups[("0.2.0", None)]["requests"] == 1
    assert groups[("0.1.0", "production")]["digest"] == store.manifest("bot", "0.1.0").digest
    assert all(g["problem"] is None for g in groups.values())
    table = pv("served", "bot")
    assert "0.1.0" in table.out and "production" in table.out and "UNKNOWN" not in table.out
    assert (store.root / "traces" / ".gitignore").read_text().strip().endswith("*")


def test_a_digest_no_version_has_is_flagged(app: App, store: Store, pv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app.request("bot@production", "a")
    app.forged(
        {
            "promptver.bundle.name": "bot",
            "promptver.bundle.version": "0.1.0",
            "promptver.bundle.digest": "sha256:" + "ab" * 32,
            "promptver.bundle.alias": "production",
        }
    )
    pv("traces", "import", str(write_otlp(tmp_path / "s.jsonl", app.spans, hexed=False)))
    result = pv("served", "bot")
    assert result.code == 1
    assert "UNKNOWN 0.1.0 sha256:abab" in result.out and "no version in the log has this digest: it was never bumped" in result.out
    report = json.loads(pv("served", "bot", "--json").out)
    assert [g["problem"] is not None for g in report["served"]].count(True) == 1


def test_stamps_with_terminal_escapes_are_not_kept(app: App, store: Store, pv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app.forged(
        {
            "promptver.bundle.name": "bot",
            "promptver.bundle.version": "\x1b]0;pwned\x07\x1b[31m0.1.0",
            "promptver.bundle.digest": store.manifest("bot", "0.1.0").digest,
        }
    )
    pv("traces", "import", str(write_otlp(tmp_path / "s.json", app.spans)))
    result = pv("served", "bot")
    assert "\x1b" not in result.out and "pwned" not in result.out
    (group,) = json.loads(pv("served", "bot", "--json").out)["served"]
    assert group["version"] is None and group["problem"]


def test_since_filters(app: App, store: Store, pv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app.request("bot@production", "a")
    pv("traces", "import", str(write_otlp(tmp_path / "s.json", app.spans, pretty=True)))
    assert json.loads(pv("served", "bot", "--since", "1h", "--json").out)["served"]
    assert json.loads(pv("served", "bot", "--since", "2999-01-01", "--json").out)["served"] == []
    bad = pv("served", "bot", "--since", "yesterday")
    assert bad.code == 1 and "--since 'yesterday'" in bad.err


def test_show_alias_adds_the_last_observed_serving(app: App, project: Path, store: Store, pv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    trace_id = app.request("bot@production", "a")
    pv("traces", "import", str(write_otlp(tmp_path / "s.json", app.spans)))
    result = pv("show", "bot@production")
    assert result.code == 0, result.err
    assert "observed" in result.out and f"trace {trace_id[:16]}" in result.out
    details = json.loads(pv("show", "bot@production", "--json").out)
    assert details["deployment"]["observed"]["version"] == "0.1.0"
    release_second(project, store)
    result = pv("show", "bot@production")
    assert "not 0.2.0: the app has not picked up the move yet" in result.out


def test_sdk_lines_and_otlp_span_lines(app: App, store: Store, pv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app.request("bot@production", "a")
    app.request("bot@production", "b", thumbs="down")
    sdk = tmp_path / "sdk.jsonl"
    sdk.write_text("".join(span.to_json(indent=None) + "\n" for span in app.spans))
    assert pv("traces", "import", str(sdk)).code == 0
    otlp = otlp_dict(app.spans)
    lines = [json.dumps(s) for s in otlp["resourceSpans"][0]["scopeSpans"][0]["spans"]]
    flat = tmp_path / "flat.jsonl"
    flat.write_text("\n".join(lines) + "\n")
    result = pv("traces", "import", str(flat), "--json")
    assert json.loads(result.out)[0]["known"] == 2  # the same spans, read another way


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: s.update(traceId="zz" * 16), "is not a 32-digit hex id at resourceSpans[0].scopeSpans[0].spans[0].traceId"),
        (lambda s: s.update(traceId="0" * 32), "an all-zero id is invalid"),
        (lambda s: s.update(spanId="abc"), "spans[0].spanId"),
        (lambda s: s.update(startTimeUnixNano="-5"), "is not a time in nanoseconds"),
        (lambda s: s.update(status={"code": 9}), "unknown status code 9"),
        (lambda s: s["attributes"].append({"key": "x", "value": {"intValue": "9" * 30}}), "is not a 64-bit integer"),
        (lambda s: s["attributes"].append({"key": "", "value": {"stringValue": "x"}}), "attribute key"),
        (
            lambda s: s["attributes"].append({"key": "promptver.feedback.score", "value": {"doubleValue": 7}}),
            "promptver.feedback.score must be a number from 0 to 1",
        ),
    ],
)
def test_hostile_spans_are_refused_with_file_and_line(app: App, store: Store, pv, tmp_path: Path, mutate, message) -> None:  # type: ignore[no-untyped-def]
    app.request("bot@production", "a")
    good = otlp_dict(app.spans)
    bad = json.loads(json.dumps(good))
    mutate(bad["resourceSpans"][0]["scopeSpans"][0]["spans"][0])
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    result = pv("traces", "import", str(path))
    assert result.code == 1
    assert f"{path}:2" in result.err and message in result.err, result.err
    assert len(result.err.strip().splitlines()) <= 2  # one message (and its hint), no traceback
    assert not (store.root / "traces" / "spans.db").exists()  # all or nothing


def test_json_syntax_errors_and_unknown_shapes(store: Store, pv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "t.json"
    path.write_text('{\n  "resourceSpans": [\n    {"scopeSpans": [}\n  ]\n}\n')
    result = pv("traces", "import", str(path))
    assert result.code == 1 and f"{path}:3:" in result.err and "not valid JSON" in result.err
    path.write_text('{"hello": 1}\n')
    assert "neither OTLP JSON" in pv("traces", "import", str(path)).err
    path.write_bytes(b'{"traceId": "\xff"}\n')
    assert "not UTF-8" in pv("traces", "import", str(path)).err
    assert "no such file" in pv("traces", "import", str(tmp_path / "missing.json")).err


def test_sizes_are_bounded(app: App, store: Store, pv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    app.request("bot@production", "a")
    data = otlp_dict(app.spans)
    span = data["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["attributes"] += [{"key": f"k{i}", "value": {"intValue": str(i)}} for i in range(600)]
    path = tmp_path / "many.json"
    path.write_text(json.dumps(data))
    result = pv("traces", "import", str(path))
    assert result.code == 1 and "more than 512 attributes" in result.err
    span["attributes"] = [*span["attributes"][:5], {"key": "promptver.note", "value": {"stringValue": "x" * 70000}}]
    path.write_text(json.dumps(data))
    assert pv("traces", "import", str(path)).code == 0  # an over-long value is dropped, the span kept
    import promptver.traces.otlp as otlp

    monkeypatch.setattr(otlp, "MAX_FILE", 100)
    result = pv("traces", "import", str(path))
    assert result.code == 1 and "larger than the" in result.err and "split it" in result.err


def test_a_damaged_span_store_is_one_message(app: App, store: Store, pv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app.request("bot@production", "a")
    (store.root / "traces").mkdir()
    (store.root / "traces" / "spans.db").write_bytes(b"not a database at all" * 100)
    result = pv("traces", "import", str(write_otlp(tmp_path / "s.json", app.spans)))
    assert result.code == 1 and "is damaged" in result.err and "import the span files again" in result.err
    assert pv("served", "bot").code == 1
    shown = pv("show", "bot@production")  # the span store is optional there
    assert shown.code == 0 and "warning: " in shown.err and "bot@production = 0.1.0" in shown.out
