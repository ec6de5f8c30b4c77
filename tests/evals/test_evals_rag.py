"""``--target rag``: the bundle's own retrieval (bm25, dense, hybrid, reranker) feeding its
model, over HTTP against the fake server; embedding cache; retrieval metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from promptver.cli.main import main
from promptver.errors import BundleError, ConfigError
from promptver.evals import EvalOptions, evaluate
from promptver.evals.execution.bundle import folder_view
from promptver.evals.retrieval.rag import fuse
from tests.evals.conftest import write_bundle
from tests.evals.test_evals_retrieval import CORPUS
from tests.fakeserver import FakeLLMServer

CASES = [
    {
        "id": "refund",
        "vars": {"question": "Can I get a refund on my annual plan?", "context": "HAND-WRITTEN CONTEXT"},
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
        "id": "export",
        "vars": {"question": "How do I export timesheets to CSV?"},
        "expected": "Settings",
        "expected_sources": ["export.md", "refunds.md"],
    },
]
TEMPLATE = (
    "{% for c in context %}[{{ c.source }} {{ '%.3f' % c.score }}] {{ c.title }}: {{ c.text }}\n"
    "{% endfor %}Q: {{ question }}"
)
DEFAULT = 'assert = [{ type = "icontains", value = "{{ expected }}" }, { type = "sources" }]\n'


def model(server: FakeLLMServer) -> str:
    return f'[model]\nprovider = "openai"\nname = "gpt-4o-mini"\nbase_url = "{server.openai_base}"\n'


def project(
    tmp_path: Path,
    server: FakeLLMServer,
    rag: str,
    cases: list[dict[str, Any]] = CASES,
    template: str = TEMPLATE,
) -> Path:
    files = {**CORPUS, "prompts/answer.j2": template}
    return write_bundle(tmp_path, cases, model=model(server) + rag, dataset_extra=DEFAULT, files=files)


def run(folder: Path, target: str = "rag", **options: Any) -> Any:
    return evaluate(
        folder_view(folder),
        EvalOptions(target=target, **options),
        store_root=folder.parent.parent / ".promptver",
        save=True,
    )


BM25 = '[rag]\ncorpus = "corpus"\ntop_k = 2\nretriever = "bm25"\n'
DENSE = '[rag]\ncorpus = "corpus"\ntop_k = 2\nretriever = "dense"\nembedding_model = "embed-small"\n'
HYBRID = (
    '[rag]\ncorpus = "corpus"\ntop_k = 2\nretriever = "hybrid"\nembedding_model = "embed-small"\n'
    "[rag.hybrid]\nbm25_weight = 1.0\ndense_weight = 0.5\nrrf_k = 10\n"
)


def test_rag_target_puts_retrieved_chunks_into_the_template(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str]
) -> None:
    result = run(project(tmp_path, llm_server, BM25))
    meta, records = result.meta, {r["id"]: r for r in result.records}
    assert meta["status"] == "complete"
    assert meta["target"] == "rag:bm25:top2:model:openai:gpt-4o-mini"
    refund = records["refund"]
    prompt = refund["messages"][-1]["content"]
    assert "HAND-WRITTEN" not in prompt  # the case's own context is replaced
    assert prompt.startswith("[corpus/refunds.md ") and "within 30 days" in prompt
    assert refund["retrieved"][0]["source"] == "corpus/refunds.md"
    assert refund["retrieved"][0]["score"] > refund["retrieved"][1]["score"] > 0
    assert refund["sources"][0] == "corpus/refunds.md"
    assert refund["pass"] and refund["attempts"] == 1
    assert refund["retrieval"]["ranks"] == {"refunds.md": 1}
    assert refund["retrieval"]["hit"] == 1.0 and refund["retrieval"]["mrr"] == 1.0
    # the model was called once per case, with the rendered chunks
    chats = [r for r in llm_server.requests if r.path.endswith("/chat/completions")]
    assert len(chats) == 3
    summary = meta["summary"]["retrieval"]
    assert summary["k"] == 2 and summary["cases"] == 3


def test_dense_retrieval_over_http_and_the_embedding_cache(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str]
) -> None:
    folder = project(tmp_path, llm_server, DENSE)
    first = run(folder)
    records = {r["id"]: r for r in first.records}
    assert records["sso"]["retrieved"][0]["source"] == "corpus/sso.md"
    assert records["refund"]["retrieved"][0]["source"] == "corpus/refunds.md"
    embeds = [r for r in llm_server.requests if r.path.endswith("/embeddings")]
    # one batch for the 4 chunks, one for the 3 queries; the key is sent
    assert sorted(len(r.body["input"]) for r in embeds) == [3, 4]  # sent side by side
    assert embeds[0].body["model"] == "embed-small"
    assert embeds[0].headers["authorization"] == "Bearer sk-test-secret-openai"
    assert first.meta["retrieval_requests"] == 2
    llm_server.reset()
    # in another process: the index is rebuilt, the vectors come from the store's cache
    from promptver.evals.retrieval import rag

    rag._INDEXES.clear()
    again = run(folder)
    assert llm_server.count("/embeddings") == 0 and again.meta["retrieval_requests"] == 0
    assert [r["retrieved"] for r in again.records] == [r["retrieved"] for r in first.records]
    # re-chunking embeds only the chunks that are new
    toml = folder / "bundle.toml"
    toml.write_text(
        toml.read_text().replace(
            'embedding_model = "embed-small"\n',
            'embedding_model = "embed-small"\n[rag.chunking]\nunit = "paragraphs"\nsize = 1\n',
        )
    )
    llm_server.reset()
    run(folder)
    embeds = [r for r in llm_server.requests if r.path.endswith("/embeddings")]
    # 7 new paragraph chunks; mobile.txt is one paragraph, the same chunk as before: cached
    inputs = embeds[0].body["input"]
    assert len(embeds) == 1 and len(inputs) == 7 and not any("offline" in t for t in inputs)


def test_hybrid_fuses_both_and_the_reranker_orders_the_candidates(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str]
) -> None:
    rerank = HYBRID.replace("[rag.hybrid]", 'reranker = "rerank-1"\n[rag.hybrid]')
    cases = [
        {
            "id": "q",
            "vars": {"question": "single sign-on with Okta, or refunds?"},
            "expected_sources": ["sso.md"],
        }
    ]
    folder = project(tmp_path, llm_server, rerank, cases=cases)
    result = run(folder, target="retrieval:configured")
    assert result.meta["target"] == "retrieval:hybrid+rerank:top2"
    record = result.records[0]
    reranks = [r for r in llm_server.requests if r.path.endswith("/rerank")]
    assert len(reranks) == 1 and reranks[0].body["model"] == "rerank-1"
    assert reranks[0].body["query"] == "single sign-on with Okta, or refunds?"
    # the reranker's scores (share of the query's words) decide the order
    from tests.fakeserver import rerank_score

    documents = reranks[0].body["documents"]
    best = max(documents, key=lambda d: rerank_score(reranks[0].body["query"], d))
    assert best.startswith("Single sign-on")
    assert record["retrieved"][0]["source"] == "corpus/sso.md"
    assert record["retrieved"][0]["score"] == rerank_score(reranks[0].body["query"], best)
    assert llm_server.count("/chat/completions") == 0  # no model without --target rag


def test_reciprocal_rank_fusion_by_hand() -> None:
    bm25 = [(0, 9.0), (1, 5.0), (2, 1.0)]
    dense = [(2, 0.9), (0, 0.8)]
    fused = dict(fuse([(1.0, bm25), (0.5, dense)], 10))
    assert fused[0] == pytest.approx(1 / 11 + 0.5 / 12)
    assert fused[1] == pytest.approx(1 / 12)
    assert fused[2] == pytest.approx(1 / 13 + 0.5 / 11)
    assert [i for i, _ in fuse([(1.0, bm25), (0.5, dense)], 10)] == [0, 2, 1]


@pytest.mark.parametrize(
    ("rag", "env", "message"),
    [
        (
            '[rag]\ncorpus = "corpus"\nretriever = "hybird"\n',
            True,
            "(?s)retriever 'hybird'.*did you mean 'hybrid'",
        ),
        ('[rag]\ncorpus = "corpus"\nretriever = "dense"\n', True, "needs an embedding_model"),
        (DENSE, False, r"(?s)embedding_model 'embed-small': missing API key .*OPENAI_API_KEY"),
        (DENSE + 'embedding_provider = "anthropic"\n', True, "needs an OpenAI-compatible endpoint"),
        (DENSE + 'embedding_provider = "local"\n', True, "unknown provider 'local'"),
        (BM25 + 'reranker = "r"\nreranker_provider = "local"\n', True, "reranker 'r': unknown provider"),
        (BM25 + 'context_var = "chunks"\n', True, "does not use \\[rag\\] context_var 'chunks'"),
        ('[rag]\ncorpus = "corpus"\nhybrid = { rrf_k = 0 }\n', True, "rrf_k must be"),
        ('[rag]\ncorpus = "corpus"\ntop_k = 5\ncandidates = 3\n', True, "candidates must be"),
    ],
)
def test_configuration_errors_before_any_request(
    tmp_path: Path,
    llm_server: FakeLLMServer,
    monkeypatch: pytest.MonkeyPatch,
    rag: str,
    env: bool,
    message: str,
) -> None:
    if env:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant")
    else:
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        rag = rag.replace("[rag]", '[rag]\nembedding_provider = "openai"\n')
    folder = project(tmp_path, llm_server, rag)
    toml = folder / "bundle.toml"
    if not env:  # the chat model must not be what fails first: give it a keyless local provider
        toml.write_text(
            toml.read_text().replace(
                'provider = "openai"\nname = "gpt-4o-mini"', 'provider = "local"\nname = "gpt-4o-mini"', 1
            )
        )
    with pytest.raises((ConfigError, BundleError), match=message):
        run(folder)
    assert llm_server.requests == []


def test_cli_rag_run_and_run_show(
    tmp_path: Path,
    llm_server: FakeLLMServer,
    api_keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project(tmp_path, llm_server, BM25)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["eval", "demo", "--target", "rag", "--json", "-q"])
    assert exc.value.code in (0, None)
    report = json.loads(capsys.readouterr().out)
    assert report["run"]["summary"]["retrieval"]["hit"] == pytest.approx(1.0)
    bad = tmp_path / "bundles" / "demo" / "bundle.toml"
    bad.write_text(bad.read_text().replace('retriever = "bm25"', 'retriever = "vector"'))
    with pytest.raises(SystemExit) as exc:
        main(["eval", "demo", "--target", "rag"])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("Error:") and "retriever 'vector'" in err and "Traceback" not in err


def test_compare_and_run_show_name_rank_changes(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str]
) -> None:
    from promptver.evals import compare_runs
    from promptver.evals.analysis.report import markdown, text

    folder = project(tmp_path, llm_server, BM25)
    base = run(folder)
    (folder / "corpus" / "annual.md").write_text(
        "# Annual plan refund\n\nRefund an annual plan: refund requests for annual plans go to billing."
    )
    head = run(folder)
    comparison = compare_runs(base, head)
    assert comparison.rank_changes["refund"] == ["expected source refunds.md fell from rank 1 to rank 2"]
    assert "refund" in comparison.sources_changed
    assert comparison.deltas["retrieval_mrr"] == pytest.approx(-0.5 / 3)
    report = text(head.meta, head.records, comparison)
    assert "retrieval (3 cases with expected sources)  hit@2 " in report
    assert "retrieval refund: expected source refunds.md fell from rank 1 to rank 2" in report
    assert "MRR -0.167" in report
    assert "| hit@2 | recall@2 | MRR | nDCG@2 |" in markdown(head.meta, head.records, comparison)


# -- run time: the same pipeline behind bundle.retriever() --------------------------------


def test_runtime_retriever_is_the_pipeline_the_eval_measured(
    tmp_path: Path,
    llm_server: FakeLLMServer,
    api_keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import promptver
    from promptver.evals.source import open_bundle
    from promptver.store.store import Store
    from promptver.versions.bump import bump

    monkeypatch.setenv("PROMPTVER_USER", "Ana <ana@example.com>")
    project(tmp_path, llm_server, HYBRID)
    store = Store(tmp_path / ".promptver")
    bump(store, "demo", "minor")
    measured = evaluate(open_bundle("demo@0.1.0", store), EvalOptions(target="rag"), store_root=store.root)
    llm_server.reset()
    from promptver.evals.retrieval import rag

    rag._INDEXES.clear()
    bot = promptver.load("demo@0.1.0", store=store.root)
    retriever = bot.retriever()
    assert bot.retriever() is retriever
    chunks = retriever.search("Can I get a refund on my annual plan?")
    record = next(r for r in measured.records if r["id"] == "refund")
    assert [(c["source"], c["score"]) for c in chunks] == [
        (r["source"], r["score"]) for r in record["retrieved"]
    ]
    assert set(chunks[0]) == {"title", "text", "source", "score"}
    assert llm_server.count("/embeddings") == 0  # vectors from the store's cache
    messages = bot.messages("answer", question="Can I get a refund on my annual plan?", retrieve=True)
    assert messages == record["messages"]
    other = bot.messages("answer", question="x", retrieve="Okta single sign-on")
    assert other[-1]["content"].startswith("[corpus/sso.md ")
    with pytest.raises(ConfigError, match="'question' variable"):
        bot.messages("answer", retrieve=True)
    retriever.close()


def test_diff_names_cases_whose_retrieved_sources_changed(
    tmp_path: Path,
    llm_server: FakeLLMServer,
    api_keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With runs of both versions stored, `promptver diff` says what the corpus change did
    to retrieval, before anything is run again; without them it says nothing about it."""
    folder = project(tmp_path, llm_server, BM25)
    monkeypatch.chdir(tmp_path)

    def cli(*args: str) -> str:
        try:
            main(list(args))
        except SystemExit as exc:
            assert not exc.code
        return capsys.readouterr().out

    cli("bump", "minor", "demo")
    (folder / "corpus" / "annual.md").write_text(
        "# Annual plan refund\n\nRefund an annual plan: refund requests for annual plans go to billing."
    )
    cli("bump", "minor", "demo")
    assert "retrieval on" not in cli("diff", "demo", "0.1.0", "0.2.0")  # no runs yet
    cli("eval", "demo@0.1.0", "--target", "rag", "-q")
    cli("eval", "demo@0.2.0", "--target", "rag", "-q")
    out = cli("diff", "demo", "0.1.0", "0.2.0")
    assert "retrieval on 'golden' (runs " in out and "cases retrieved other sources" in out
    assert "  refund: expected source refunds.md fell from rank 1 to rank 2" in out
    data = json.loads(cli("diff", "demo", "0.1.0", "0.2.0", "--json"))
    assert "refund" in data["retrieval"]["golden"]["sources_changed"]


def test_embeddings_are_asked_for_as_base64_and_lists_are_read_too(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str]
) -> None:
    """base64 float32 (OpenAI's own client asks so): the same vectors as the lists a
    server that ignores ``encoding_format`` sends, so the same retrievals."""
    from promptver.evals.retrieval import rag

    folder = project(tmp_path, llm_server, DENSE)
    first = run(folder, cache=False)
    embeds = [r for r in llm_server.requests if r.path.endswith("/embeddings")]
    assert embeds and all(r.body["encoding_format"] == "base64" for r in embeds)
    rag._INDEXES.clear()
    llm_server.embeddings_as_lists = True
    llm_server.reset()
    second = run(folder, cache=False)
    assert llm_server.count("/embeddings") == 2
    assert [r["retrieved"] for r in second.records] == [r["retrieved"] for r in first.records]


@pytest.mark.parametrize(
    ("embedding", "problem"),
    [
        ("not base64!", "not base64"),
        ("AAAAAAA=", "whole number of float32"),  # 5 bytes
        ([1.0, "x"], "could not convert"),
        ([[1.0], [2.0]], "one length"),
        ([], "one length"),
        ({"a": 1}, "float"),
        ([1.0, float("nan")], "not a finite number"),
    ],
)
def test_a_malformed_embedding_is_a_value_error_naming_it(embedding: Any, problem: str) -> None:
    """`Provider.call` turns it into one ProviderError line ("unexpected response shape")."""
    from promptver.evals.execution.embeddings import embedding_rows

    with pytest.raises((ValueError, TypeError), match=problem):
        embedding_rows({"data": [{"index": 0, "embedding": embedding}]}, 1)


def test_embedding_rows_keep_the_input_order_and_count() -> None:
    import base64

    import numpy as np

    from promptver.evals.execution.embeddings import embedding_rows

    def b64(values: list[float]) -> str:
        return base64.b64encode(np.asarray(values, dtype="<f4").tobytes()).decode()

    data = {"data": [{"index": 1, "embedding": b64([0.0, 1.0])}, {"index": 0, "embedding": [1.0, 0.0]}]}
    assert embedding_rows(data, 2).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    with pytest.raises(ValueError, match="2 embeddings for 3 texts"):
        embedding_rows(data, 3)


def test_compare_and_ci_report_compare_like_with_like(
    tmp_path: Path, llm_server: FakeLLMServer, api_keys: dict[str, str], monkeypatch: pytest.MonkeyPatch, pv
) -> None:  # type: ignore[no-untyped-def]
    """After a `--target rag` run of the head, compare once set the base's BM25 retrieval run
    beside it (a verdict, no warning) and ci-report found no run of the base."""
    folder = project(tmp_path, llm_server, BM25)
    monkeypatch.chdir(tmp_path)
    assert pv("bump", "minor", "demo", "--initial", "1.0.0").code == 0
    (folder / "prompts" / "answer.j2").write_text("Question: " + TEMPLATE)
    assert pv("bump", "minor", "demo", "--force").code == 0
    ids = {}
    for ref, target in (("demo@1.0.0", "retrieval"), ("demo@1.1.0", "retrieval"), ("demo@1.1.0", "rag")):
        done = pv("eval", ref, "--target", target, "-q", "--json")
        assert done.code == 0, done.err
        ids[ref, target] = json.loads(done.out)["run"]["id"]

    compared = pv("eval", "compare", "demo@1.0.0", "demo@1.1.0", "--json")
    assert compared.code == 0, compared.err
    data = json.loads(compared.out)
    assert data["run"]["id"] == ids["demo@1.1.0", "retrieval"]
    assert data["comparison"]["base"]["id"] == ids["demo@1.0.0", "retrieval"]
    assert (
        data["comparison"]["base"]["target"] == data["comparison"]["head"]["target"] == "retrieval:bm25:top2"
    )
    text = pv("eval", "compare", "demo@1.0.0", "demo@1.1.0").out
    assert "demo@1.1.0 on golden (retrieval:bm25:top2)" in text
    assert "(demo@1.0.0 on golden (retrieval:bm25:top2))" in text

    missing = pv("eval", "compare", "demo@1.0.0", "demo@1.1.0", "--target", "rag")
    assert missing.code == 1
    assert "no complete run of demo@1.0.0 on dataset 'golden' with target rag" in missing.err
    assert "promptver eval demo@1.0.0 --dataset golden --target rag" in missing.err
    mixed = pv("eval", "compare", ids["demo@1.0.0", "retrieval"], ids["demo@1.1.0", "rag"])
    assert mixed.code == 1 and mixed.err.count("Error:") == 1
    assert (
        f"run {ids['demo@1.1.0', 'rag']} is a rag run (rag:bm25:top2:model:openai:gpt-4o-mini)" in mixed.err
    )
    assert "not a retrieval run" in mixed.err
    from promptver.evals import compare_runs
    from promptver.evals.runs.storage import RunStore

    runs = RunStore(tmp_path / ".promptver" / "runs")
    with pytest.raises(
        ConfigError, match="is a retrieval run .* a rag run .*: a comparison needs two runs of one"
    ):
        compare_runs(runs.load(ids["demo@1.0.0", "retrieval"]), runs.load(ids["demo@1.1.0", "rag"]))
    again = pv("eval", "demo@1.1.0", "--target", "rag", "-q", "--compare", "1.0.0")
    assert (
        again.code == 1 and "no complete run of demo@1.0.0 on dataset 'golden' with target rag" in again.err
    )

    report = pv("ci-report", "demo@1.1.0", "1.0.0", "--json")
    assert report.code == 0, report.err
    data = json.loads(report.out)
    assert data["eval_note"] is None and data["target"] == "retrieval" and data["dataset"] == "golden"
    assert data["comparison"]["base"]["id"] == ids["demo@1.0.0", "retrieval"]
    assert data["comparison"]["head"]["id"] == ids["demo@1.1.0", "retrieval"]
    markdown = pv("ci-report", "demo@1.1.0", "1.0.0").out
    assert "### Evals on `golden`, target `retrieval`" in markdown
    assert f"`{ids['demo@1.0.0', 'retrieval']}` (retrieval:bm25:top2) →" in markdown
    rag = json.loads(pv("ci-report", "demo@1.1.0", "1.0.0", "--target", "rag", "--json").out)
    assert rag["comparison"] is None
    assert rag["eval_note"] == "no complete eval run of 1.0.0 on golden with target rag"
