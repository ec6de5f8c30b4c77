"""The retrieval-only target (BM25 over the bundle's corpus) and the ``sources`` assertion."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from promptver.cli.main import main
from promptver.errors import BundleError, ConfigError
from promptver.evals import EvalOptions, evaluate
from promptver.evals.execution import assertions
from promptver.evals.execution.bundle import Case, folder_view
from promptver.evals.retrieval.offline import BM25Index, Chunk, Chunking, terms
from promptver.evals.runs.storage import RunStore
from tests.evals.conftest import write_bundle

MODEL = '[model]\nprovider = "openai"\nname = "gpt-4o-mini"\nbase_url = "http://127.0.0.1:9"\n'

CORPUS = {
    "corpus/refunds.md": (
        "# Refund policy\n\nAnnual plans can be refunded within 30 days of the first payment.\n\n"
        "Monthly plans are not refunded for partial months."
    ),
    "corpus/sso.md": (
        "# Single sign-on\n\nSSO with Okta, Azure AD and Google Workspace is part of the "
        "Enterprise plan. SAML 2.0 is supported."
    ),
    "corpus/export.md": (
        "# Exporting your data\n\nOwners can export schedules and timesheets as CSV from "
        "Settings > Data. Exports are ready within 10 minutes."
    ),
    "corpus/notes/mobile.txt": "The mobile app works offline and syncs shifts when back online.",
}

CASES = [
    {
        "id": "refund",
        "vars": {"question": "Can I get a refund on my annual plan?"},
        "expected": "30 days",
        "expected_sources": ["refunds.md"],
    },
    {
        "id": "sso",
        "vars": {"question": "Do you support Okta single sign-on?"},
        "expected": "Enterprise",
        "expected_sources": ["sso.md"],
    },
    {
        "id": "offline",
        "vars": {"question": "Does the mobile app work offline?"},
        "expected": "offline",
        "expected_sources": ["corpus/notes/mobile.txt"],
    },
    {
        "id": "wrong",
        "vars": {"question": "How do I export timesheets to CSV?"},
        "expected": "CSV",
        "expected_sources": ["refunds.md"],
    },
]

RAG = '[rag]\ncorpus = "corpus"\ntop_k = 1\n'
DEFAULT = 'assert = [{ type = "icontains", value = "{{ expected }}" }, { type = "sources" }]\n'


def project(
    tmp_path: Path,
    rag: str = RAG,
    cases: list[dict[str, Any]] = CASES,
    files: dict[str, str] | None = None,
    dataset_extra: str = DEFAULT,
) -> Path:
    return write_bundle(
        tmp_path,
        cases,
        model=MODEL + rag,
        dataset_extra=dataset_extra,
        files=CORPUS if files is None else files,
    )


def run(folder: Path, **options: Any) -> Any:
    return evaluate(
        folder_view(folder),
        EvalOptions(target="retrieval", **options),
        store_root=folder.parent.parent / ".promptver",
        save=True,
    )


def test_retrieval_run_records_chunks_and_sources(tmp_path: Path) -> None:
    result = run(project(tmp_path))
    meta, records = result.meta, {r["id"]: r for r in result.records}
    assert meta["status"] == "complete" and meta["target"] == "retrieval:bm25:top1"
    assert meta["summary"]["requests"] == 0 and meta["summary"]["cost"] is None
    assert meta["model"] is None and meta["options"]["target"] == "retrieval"
    assert records["refund"]["sources"] == ["corpus/refunds.md"]
    assert records["refund"]["output"].startswith("[1] Refund policy (corpus/refunds.md#0)\n")
    assert "30 days" in records["refund"]["output"]
    assert records["offline"]["sources"] == ["corpus/notes/mobile.txt"]
    assert all(records[i]["pass"] for i in ("refund", "sso", "offline"))
    wrong = records["wrong"]
    assert wrong["sources"] == ["corpus/export.md"] and not wrong["pass"]
    assert wrong["asserts"][0]["pass"] and not wrong["asserts"][1]["pass"]
    assert "sources lack refunds.md (retrieved: export.md)" in wrong["asserts"][1]["reason"]
    assert meta["summary"]["passed"] == 3
    stored = RunStore(tmp_path / ".promptver" / "runs").list("demo")
    assert [m["id"] for m in stored] == [meta["id"]]


def test_top_k_and_query_var(tmp_path: Path) -> None:
    cases = [
        {
            "id": "q",
            "vars": {"ask": "refund for annual plans, or SSO with Okta?"},
            "expected_sources": ["refunds.md", "sso.md"],
        }
    ]
    folder = project(
        tmp_path,
        rag='[rag]\ncorpus = "corpus"\ntop_k = 2\n',
        cases=cases,
        dataset_extra='query_var = "ask"\nassert = [{ type = "sources" }]\n',
    )
    record = run(folder).records[0]
    assert sorted(record["sources"]) == ["corpus/refunds.md", "corpus/sso.md"]
    assert record["pass"] and record["score"] == 1.0


def test_a_case_without_the_query_variable_is_a_case_error(tmp_path: Path) -> None:
    cases = [{"id": "q", "vars": {"topic": "refunds"}}]
    record = run(project(tmp_path, cases=cases)).records[0]
    assert record["error"] and "'question'" in record["error"] and not record["pass"]


@pytest.mark.parametrize(
    ("rag", "files", "error", "message"),
    [
        ("", CORPUS, ConfigError, "needs a [rag] table"),
        (
            '[rag]\ncorpus_uri = "s3://b/docs"\ncorpus_digest = "sha256:00"\n',
            CORPUS,
            ConfigError,
            "needs [rag] corpus",
        ),
        (RAG, {"corpus/image.png": "not text"}, ConfigError, "holds no text documents"),
        (RAG, {"corpus/bad.md": "latin-1 below"}, ConfigError, "is not UTF-8"),
        (RAG + '[rag.chunking]\nunit = "tokens"\n', CORPUS, ConfigError, "size must be"),
        (
            RAG + '[rag.chunking]\nunit = "tokens"\nsize = 5\noverlap = 5\n',
            CORPUS,
            ConfigError,
            "overlap must be",
        ),
        # what `promptver check` rejects stops the run too, with the same message
        ('[rag]\ncorpus = "corpus"\ntop_k = 0\n', CORPUS, BundleError, "top_k must be"),
        (RAG + '[rag.chunking]\nunit = "pages"\nsize = 3\n', CORPUS, BundleError, "unit must be one of"),
    ],
)
def test_configuration_errors_stop_before_any_case(
    tmp_path: Path, rag: str, files: dict[str, str], error: type[Exception], message: str
) -> None:
    folder = project(tmp_path, rag=rag, files=files)
    if "corpus/bad.md" in files:
        (folder / "corpus" / "bad.md").write_bytes("café".encode("latin-1"))
    with pytest.raises(error, match=message.replace("[", r"\[")):
        run(folder)
    assert RunStore(tmp_path / ".promptver" / "runs").list("demo") == []


def test_cli_config_error_and_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project(tmp_path, rag="")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["eval", "demo", "--target", "retrieval"])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("Error:") and "[rag]" in err and "Traceback" not in err
    (tmp_path / "bundles" / "demo" / "bundle.toml").write_text(
        (tmp_path / "bundles" / "demo" / "bundle.toml").read_text().replace("[prompts]", RAG + "\n[prompts]")
    )
    with pytest.raises(SystemExit) as exc:
        main(["eval", "demo", "--target", "retrieval", "--json", "-q"])
    assert exc.value.code in (0, None)
    report = json.loads(capsys.readouterr().out)
    assert report["run"]["summary"]["passed"] == 3


# -- chunking -----------------------------------------------------------------------------

TEXT = (
    "Shiftly plans. The Free plan has five people. Pro costs four dollars!\n\n"
    "Refunds are possible. Annual plans within thirty days?\n\n"
    "Contact billing for anything else."
)


def test_paragraph_chunks_with_overlap() -> None:
    chunks = Chunking("paragraphs", 2, 1).split(TEXT)
    paragraphs = TEXT.split("\n\n")
    assert chunks == ["\n\n".join(paragraphs[0:2]), "\n\n".join(paragraphs[1:3])]
    assert Chunking("paragraphs", 1, 0).split(TEXT) == paragraphs


def test_sentence_chunks() -> None:
    assert Chunking("sentences", 2, 0).split(TEXT) == [
        "Shiftly plans. The Free plan has five people.",
        "Pro costs four dollars!\n\nRefunds are possible.",
        "Annual plans within thirty days?\n\nContact billing for anything else.",
    ]
    overlapping = Chunking("sentences", 3, 1).split(TEXT)
    assert overlapping[0].endswith("four dollars!") and overlapping[1].startswith("Pro costs")


def test_character_chunks_cover_the_text() -> None:
    text = "abcdefghij"
    assert Chunking("characters", 4, 1).split(text) == ["abcd", "defg", "ghij"]
    assert Chunking("characters", 4, 0).split(text) == ["abcd", "efgh", "ij"]
    assert Chunking("characters", 20, 5).split(text) == [text]


def test_token_chunks_respect_size_and_overlap() -> None:
    from promptver.bundle.tokens import offline_counter

    count = offline_counter()
    assert count is not None
    text = " ".join(f"word{i} internationalization" for i in range(60))
    chunks = Chunking("tokens", 30, 8).split(text)
    assert len(chunks) > 3
    for chunk in chunks:
        assert count(" " + chunk) <= 30 + 1  # +1: the leading space of the first word
    # chunks are slices of the text, in order, covering it, each overlapping the previous
    end = 0
    for number, chunk in enumerate(chunks):
        start = text.find(chunk, max(0, end - 200))
        assert start >= 0 and (start == 0 if number == 0 else start < end)
        assert start + len(chunk) > end
        end = start + len(chunk)
    assert end == len(text)
    assert Chunking("tokens", 1000, 0).split(text) == [text]


def test_no_chunking_keeps_whole_documents() -> None:
    assert Chunking.from_config(None, "x") == Chunking(None)
    assert Chunking(None).split("  one doc  ") == ["one doc"]


# -- BM25 ---------------------------------------------------------------------------------


def test_bm25_ranks_by_rare_terms_and_breaks_ties_by_order() -> None:
    chunks = [
        Chunk("a.md", "A", 0, "refund refund policy for annual plans"),
        Chunk("b.md", "B", 0, "annual plans and monthly plans"),
        Chunk("c.md", "C", 0, "okta sso"),
        Chunk("d.md", "D", 0, "okta sso"),
    ]
    index = BM25Index(chunks)
    assert [c.path for c, _ in index.search("How do I get a refund?", 3)] == ["a.md"]
    assert [c.path for c, _ in index.search("okta", 5)] == ["c.md", "d.md"]
    assert index.search("the of and", 3) == []
    assert terms("The SSO, with Okta 2.0!") == ["sso", "okta", "2", "0"]


# -- the sources assertion ----------------------------------------------------------------


def score(spec: dict[str, Any], sources: list[str], expected: list[str]) -> Any:
    ctx = assertions.Context(case=Case("c", {}, expected_sources=expected), sources=sources)
    return asyncio.run(assertions.evaluate(spec, "", ctx))


def test_sources_assertion() -> None:
    spec = {"type": "sources"}
    assertions.validate(spec, "here", has_grader=False)
    assert score(spec, ["corpus/a.md", "corpus/b.md"], ["a.md"]).passed
    assert score(spec, ["corpus/a.md"], ["docs/a.md"]).passed  # matched by file name
    half = score(spec, ["corpus/a.md"], ["a.md", "b.md"])
    assert not half.passed and half.score == 0.5 and "b.md" in half.reason
    assert score(spec, [], []).passed
    none = score(spec, [], ["a.md"])
    assert not none.passed and "retrieved: none" in none.reason
    explicit = {"type": "sources", "value": ["b.md"]}
    assert score(explicit, ["x/b.md"], ["a.md"]).passed


# -- the example store's runs ----------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]


def test_stored_example_runs_match_a_fresh_retrieval_run() -> None:
    """The committed support-bot runs, one per version, are what --target retrieval gives
    today, retrieval metrics included (else regenerate them: docs/examples.md), and 1.2.0's
    deeper retrieval finds one more fact."""
    from promptver.evals.source import open_bundle
    from promptver.store.store import Store

    store = Store(REPO / ".promptver")
    runs = RunStore(REPO / ".promptver" / "runs")
    metas = {m["version"]: m for m in runs.list("support-bot")}
    assert sorted(metas) == sorted(str(v) for v in store.version_names("support-bot"))
    for version, meta in metas.items():
        stored = runs.load(meta["id"])
        fresh = evaluate(
            open_bundle(f"support-bot@{version}", store),
            EvalOptions(target="retrieval"),
            store_root=None,
            save=False,
        )
        assert stored.meta["digest"] == fresh.meta["digest"]
        assert [(r["id"], r["output"], r["sources"], r["pass"], r["retrieval"]) for r in stored.records] == [
            (r["id"], r["output"], r["sources"], r["pass"], r["retrieval"]) for r in fresh.records
        ], version
        assert stored.meta["summary"]["retrieval"] == fresh.meta["summary"]["retrieval"], version
        assert stored.meta["summary"]["retrieval"]["cases"] == stored.meta["summary"]["cases"]
    assert metas["1.1.0"]["summary"]["passed"] + 1 == metas["1.2.0"]["summary"]["passed"]
