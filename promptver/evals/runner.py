"""Run a dataset against a target: plan (every configuration check), then execute.

``prepare`` raises ConfigError for anything wrong with the configuration (dataset,
template, assertion, target, provider, API key) before a single request is sent.
``execute`` runs the cases with a pool of ``concurrency`` workers, records each case as
it finishes, and never lets a case's error stop the run. Cancelling it (Ctrl-C) marks the
run interrupted and keeps the finished cases; ``resume`` runs only what is missing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptver.bundle.spec import ModelRef
from promptver.errors import ConfigError
from promptver.evals.analysis.summary import summarize
from promptver.evals.execution import assertions
from promptver.evals.execution.bundle import BundleView, Case, Dataset
from promptver.evals.execution.cache import RequestCache, SharedCache, open_caches, public_url
from promptver.evals.execution.pricing import PriceTable
from promptver.evals.execution.providers import Provider, RetryPolicy, make_provider
from promptver.evals.execution.ratelimit import Throttle
from promptver.evals.execution.targets import (
    CachedModel,
    ModelTarget,
    PythonTarget,
    Target,
    load_function,
    model_params,
)
from promptver.evals.execution.transport import Transport
from promptver.evals.runs.storage import RunStore, RunWriter, new_run_id

OnRecord = Callable[[dict[str, Any], int, int], None]


@dataclass
class EvalOptions:
    dataset: str | None = None
    target: str | None = None  # None or "model": the bundle's model; "retrieval"; python:pkg.mod:fn
    concurrency: int = 8
    rate_limit: float | None = None  # requests per minute (--rpm)
    tpm: float | None = None  # tokens per minute (--tpm), estimated before each request
    tags: list[str] = field(default_factory=list)
    limit: int | None = None
    repeat: int = 1
    cache: bool = True
    timeout: float = 60.0
    retries: int = 4
    model: str | None = None  # NAME or PROVIDER/NAME instead of the bundle's [model] (a matrix run)
    shard: str | None = None  # "i/N": only the cases of shard i of N (evals/shards.py)
    batch: bool = False  # model calls through the provider's batch API (evals/execution/batch.py)
    batch_poll: float = 30.0  # seconds between two looks at a batch
    batch_size: int | None = None  # at most this many requests a batch (below the provider's limit)

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "target": self.target,
            "concurrency": self.concurrency,
            "rate_limit": self.rate_limit,
            "tpm": self.tpm,
            "tags": self.tags,
            "limit": self.limit,
            "repeat": self.repeat,
            "cache": self.cache,
            "timeout": self.timeout,
            "retries": self.retries,
            "model": self.model,
            "shard": self.shard,
            "batch": self.batch,
            "batch_poll": self.batch_poll,
            "batch_size": self.batch_size,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EvalOptions:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class EvalPlan:
    bundle: BundleView
    dataset: Dataset
    cases: list[Case]
    options: EvalOptions
    target: Target
    grader: CachedModel | None
    prices: PriceTable
    model_name: str | None
    model_ref: ModelRef | None = None  # the model asked (the bundle's, or --model's)
    transport: Transport | None = None  # the run's one HTTP session, shared by its providers
    caches: dict[str, RequestCache] | None = None  # generation and judge call caches
    order: dict[str, int] | None = None  # a shard's cases: their places in the whole selection
    on_batch: Callable[[dict[str, Any]], None] | None = None  # progress while a batch runs
    batches: list[dict[str, Any]] | None = None  # the provider batches of a --batch run
    throttles: dict[tuple[str, str | None], Throttle] = field(default_factory=dict)  # per endpoint
    embedders: Any = None  # `semantic.Embedders` of `similar` assertions by embeddings

    @property
    def jobs(self) -> list[tuple[Case, int]]:
        return [(case, rep) for rep in range(self.options.repeat) for case in self.cases]

    async def aclose(self) -> None:
        await self.target.aclose()
        if self.grader is not None:
            await self.grader.provider.aclose()
        if self.embedders is not None:
            await self.embedders.aclose()
        if self.transport is not None:
            await self.transport.aclose()
        for cache in (self.caches or {}).values():
            cache.close()


def prepare(
    bundle: BundleView,
    options: EvalOptions,
    *,
    store_root: Path | None,
    env: dict[str, str] | None = None,
    shared: SharedCache | None = None,
) -> EvalPlan:
    """Check the whole configuration and build the plan; no request is sent."""
    if options.concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")
    if options.repeat < 1:
        raise ConfigError("--repeat must be at least 1")
    if options.limit is not None and options.limit < 0:
        raise ConfigError("--limit must not be negative")
    if options.batch and options.target not in (None, "model"):
        raise ConfigError("--batch needs the model target", hint="drop --target, or drop --batch")
    if options.batch_size is not None and options.batch_size < 1:
        raise ConfigError("--batch-size must be at least 1")
    dataset = bundle.dataset(options.dataset)
    cases = [c for c in dataset.cases if not options.tags or set(options.tags) & set(c.tags)]
    if options.limit is not None:
        cases = cases[: options.limit]
    order = None
    if options.shard is not None:
        from promptver.evals.shards import parse_shard, shard_of

        index, count = parse_shard(options.shard)
        order = {case.id: place for place, case in enumerate(cases)}
        cases = [case for case in cases if shard_of(case.id, count) == index]
    target_spec = options.target or "model"
    renders = target_spec in ("model", "rag")
    for case in cases:
        where = f"{bundle.label}/{dataset.path} case {case.id!r}"
        if renders:
            name = case.template or dataset.template
            if name is None:
                raise ConfigError(
                    f"{where}: no template to render",
                    hint=f"set template in [evals.{dataset.name}] or in the case",
                )
            bundle.template_path(name)
        for spec in case.asserts:
            assertions.validate(spec, where, has_grader=dataset.grader is not None)
            _load_judge_prompt(bundle, dataset, spec, where)
    for number, spec in enumerate(dataset.asserts, start=1):  # `check` located their text already
        where = f"{bundle.label}/bundle.toml evals.{dataset.name}.assert #{number}"
        assertions.validate(spec, where, has_grader=dataset.grader is not None)
        _load_judge_prompt(bundle, dataset, spec, where)
    caches = open_caches(store_root, shared) if store_root and options.cache else None
    cache = caches["generation"] if caches else None
    # One throttle per provider endpoint: the target and the grader may have their own limits.
    Throttle(options.rate_limit, options.tpm)  # checks the caps now
    throttles: dict[tuple[str, str | None], Throttle] = {}
    retry = RetryPolicy(max_retries=options.retries)
    transport = Transport(options.concurrency)

    def provider(ref: ModelRef) -> Provider:
        endpoint = (ref.provider.lower(), ref.base_url)
        if endpoint not in throttles:
            throttles[endpoint] = Throttle(options.rate_limit, options.tpm)
        return make_provider(
            ref,
            timeout=options.timeout,
            retry=retry,
            limiter=throttles[endpoint],
            max_connections=options.concurrency,
            env=env,
            transport=transport,
        )

    grader = None
    target: Target
    model = bundle.model
    if options.model is not None:
        if not renders:
            raise ConfigError("--model needs the model target", hint="drop --target, or drop --model")
        model = override_model(bundle.model, options.model, bundle.label)
    if renders:
        if model is None:
            raise ConfigError(
                f"{bundle.label}: the bundle has no [model] to evaluate",
                hint="add [model] to bundle.toml or use --target python:mod:fn",
            )
        params = model_params(model, bundle)
        cached = CachedModel(model, provider(model), params, cache)
        if options.batch and model.provider.lower() not in ("openai", "anthropic"):
            raise ConfigError(f"--batch: provider {model.provider!r} has no batch API promptver knows")
        if target_spec == "rag":
            target = rag_target(bundle, dataset, cached, provider, store_root, options)
        else:
            target = ModelTarget(cached)
    elif target_spec == "retrieval":
        from promptver.evals.retrieval.offline import RetrievalTarget, query_var

        target = RetrievalTarget(bundle, query_var(bundle, dataset.name))
    elif target_spec == "retrieval:configured":
        target = rag_target(bundle, dataset, None, provider, store_root, options)
    elif target_spec.startswith("python:"):
        target = PythonTarget(target_spec, load_function(target_spec), bundle)
    else:
        raise ConfigError(
            f"unknown target {target_spec!r}",
            hint="use 'model' (the bundle's model), 'rag' (retrieve, then the model), 'retrieval' "
            "(BM25, offline), 'retrieval:configured' (the [rag] retriever, no model) "
            "or python:package.module:function",
        )
    if dataset.grader is not None and (
        target_spec == "rag"  # the judged RAG metrics (evals/retrieval/ragjudge.py)
        or any(a.get("type") == "llm-judge" for c in cases for a in dataset.asserts + c.asserts)
    ):
        ref = dataset.grader
        grader = CachedModel(ref, provider(ref), dict(ref.params), caches["judge"] if caches else None)
    embedders = _embedders(bundle, dataset, cases, provider, store_root, options)
    # last, so that what the target itself says (a context_var no template uses) comes first
    if renders and bundle.spec is not None:  # as `promptver check`: every case has its variables
        from promptver.bundle.check import coverage_problems
        from promptver.errors import BundleError

        if problems := coverage_problems(bundle.tree, bundle.spec):
            raise BundleError(bundle.name, problems)
    prices = PriceTable.from_config(store_root / "config.toml" if store_root else None)
    # A retrieval run calls no model: no cost, no token estimate.
    model_name = model.name if model and (renders or target_spec.startswith("python:")) else None
    return EvalPlan(
        bundle,
        dataset,
        cases,
        options,
        target,
        grader,
        prices,
        model_name,
        model,
        transport,
        caches,
        order,
        throttles=throttles,
        embedders=embedders,
    )


def _embedders(
    bundle: BundleView,
    dataset: Dataset,
    cases: list[Case],
    provider: Callable[[ModelRef], Provider],
    store_root: Path | None,
    options: EvalOptions,
) -> Any:
    """The embeddings endpoints of the ``similar`` assertions that compare by meaning."""
    from promptver.evals.execution.semantic import Embedders, endpoint

    specs = [
        (case, spec)
        for case in cases
        for spec in dataset.asserts + case.asserts
        if spec.get("type") == "similar" and spec.get("embedding_model") is not None
    ]
    if not specs:
        return None
    from promptver.evals.execution.embeddings import EmbeddingCache

    cache = None
    if store_root is not None and options.cache:
        cache = EmbeddingCache(store_root / "cache" / "embeddings.sqlite")
    embedders = Embedders()
    for case, spec in specs:
        where = f"{bundle.label}/{dataset.path} case {case.id!r}"
        embedders.add(endpoint(spec, bundle.model, where), provider, cache, where)
    return embedders


def _load_judge_prompt(bundle: BundleView, dataset: Dataset, spec: dict[str, Any], where: str) -> None:
    if spec.get("type") == "llm-judge":  # the judge prompt file is read now, once
        from promptver.evals.execution.judges import load_prompt

        load_prompt(bundle, spec.get("judge_prompt") or dataset.judge_prompt, where)


def override_model(model: ModelRef | None, spec: str, label: str) -> ModelRef:
    """``NAME`` (the bundle's provider, parameters and base URL) or ``PROVIDER/NAME`` (the
    bundle's parameters; the base URL then comes from the provider's environment)."""
    from dataclasses import replace

    provider, sep, name = spec.partition("/")
    if not sep:
        provider, name = "", spec
    if not name.strip() or (sep and not provider.strip()):
        raise ConfigError(f"bad --model {spec!r}", hint="use NAME or PROVIDER/NAME, e.g. openai/gpt-4o-mini")
    if model is None:
        if not provider:
            raise ConfigError(
                f"{label}: the bundle has no [model] to take the provider from",
                hint=f"name one: --model PROVIDER/{spec}",
            )
        return ModelRef(provider=provider, name=name)
    if not provider or provider == model.provider:
        return replace(model, name=name)
    return replace(model, provider=provider, name=name, base_url=None)


def rag_target(
    bundle: BundleView,
    dataset: Dataset,
    model: CachedModel | None,
    provider: Callable[[ModelRef], Provider],
    store_root: Path | None,
    options: EvalOptions,
) -> Target:
    """``--target rag`` / ``retrieval:configured``: every [rag] check and endpoint key now."""
    from promptver.evals.execution.embeddings import EmbeddingCache
    from promptver.evals.retrieval import rag
    from promptver.evals.retrieval.offline import query_var

    where = f"{bundle.label}/bundle.toml"
    settings = rag.settings(bundle.config, bundle.model, where)
    corpus = rag.Corpus(bundle.label, bundle.tree.entries, bundle.read_bytes, settings.corpus)
    if model is not None:
        template = dataset.template
        names = {c.template or template for c in dataset.cases} - {None}
        for name in sorted(n for n in names if n):
            if settings.context_var not in bundle.variables(name):
                raise ConfigError(
                    f"{where}: template {name!r} does not use [rag] context_var {settings.context_var!r}",
                    hint="name the variable the template renders the chunks from in [rag] context_var",
                )
    cache = None
    if store_root is not None and options.cache:
        cache = EmbeddingCache(store_root / "cache" / "embeddings.sqlite")
    retriever = rag.Retriever(corpus, settings, make=provider, cache=cache, where=where)
    return rag.RagTarget(retriever, query_var(bundle, dataset.name), model)


def run_meta(plan: EvalPlan) -> dict[str, Any]:
    bundle = plan.bundle
    return {
        "id": new_run_id(),
        "bundle": bundle.name,
        "version": bundle.version,
        "digest": bundle.digest,
        "dataset": {"name": plan.dataset.name, "path": plan.dataset.path, "digest": plan.dataset.digest},
        "target": plan.target.label,
        "model": (
            {"provider": plan.model_ref.provider, "name": plan.model_ref.name}
            if plan.model_ref and plan.model_name  # None: a retrieval run asks no model
            else None
        ),
        "options": plan.options.to_json(),
        "planned": len(plan.jobs),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "finished": None,
        "status": "running",
        "summary": None,
    }


def reproducibility(plan: EvalPlan, answered: dict[str, Any] | None) -> dict[str, Any]:
    """The facts that say whether a case can be reproduced: the request's ``seed`` and what
    the provider said it ran (``system_fingerprint``, the served ``model`` version)."""
    facts = dict(answered or {})
    model = getattr(plan.target, "model", None)
    params = getattr(model, "params", None) or {}
    if params.get("seed") is not None:
        facts["seed"] = params["seed"]
    return facts


async def run_case(plan: EvalPlan, case: Case, repeat: int) -> dict[str, Any]:
    """One case, start to finish; every failure is recorded on the case, never raised."""
    record: dict[str, Any] = {
        "id": case.id,
        "repeat": repeat,
        "vars": case.vars,
        "expected": case.expected,
        "template": None,
        "messages": None,
        "output": None,
        "asserts": [],
        "pass": False,
        "score": 0.0,
        "latency_ms": None,
        "tokens": None,
        "cost": None,
        "cached": False,
        "attempts": 0,
        "error": None,
    }
    try:
        messages = None
        prompt = ""
        variables = case.vars
        hits = None
        retrieve = getattr(plan.target, "retrieve", None)
        if retrieve is not None:
            hits = await retrieve(case)
            if plan.target.renders:
                context = [hit.to_context() for hit in hits]
                variables = {**case.vars, plan.target.context_var: context}  # type: ignore[attr-defined]
        if plan.target.renders:
            name = case.template or plan.dataset.template
            assert name is not None
            record["template"] = name
            messages = plan.bundle.messages(name, **variables)
            record["messages"] = messages
            prompt = messages[-1]["content"]
        if hits is not None:
            answer = await plan.target.answer(case, messages, repeat, hits)  # type: ignore[call-arg]
            answer.retrieved = [hit.to_json() for hit in hits]
            answer.sources = answer.sources or list(dict.fromkeys(hit.source for hit in hits))
        else:
            answer = await plan.target.answer(case, messages, repeat)
        if answer.retrieved is not None:
            from promptver.evals.retrieval.ragmetrics import case_metrics

            record["retrieved"] = answer.retrieved
            k = int(getattr(plan.target, "top_k", len(answer.retrieved)))
            metrics = case_metrics(case.expected_sources, answer.sources, k)
            if metrics is not None:
                record["retrieval"] = metrics
        usage = answer.usage
        if usage is None and messages is not None:
            from promptver.evals.execution.usage import estimate

            ref = plan.bundle.model
            usage = await asyncio.to_thread(
                estimate, messages, answer.output, plan.model_name, ref.encoding if ref else None
            )
        cost = plan.prices.cost(plan.model_name, usage) if plan.model_name else None
        if answer.batch and cost is not None:
            from promptver.evals.execution.batch import BATCH_DISCOUNT

            cost *= BATCH_DISCOUNT  # both providers bill batch requests at half price
        record.update(
            output=answer.output,
            latency_ms=round(answer.latency_ms, 3),
            tokens=usage.to_json() if usage else None,
            cost=cost,
            cached=answer.cached,
            attempts=answer.attempts,
        )
        if answer.sources:
            record["sources"] = answer.sources
        if answer.batch:
            record["batch"] = True
        facts = reproducibility(plan, answer.facts)
        if facts:
            record["facts"] = facts
        ctx = assertions.Context(
            case=case,
            bundle=plan.bundle,
            prompt=prompt,
            latency_ms=answer.latency_ms,
            cost=cost,
            usage=usage,
            sources=answer.sources,
            judge=plan.grader.as_completion if plan.grader else None,
            grader=plan.grader,
            judge_prompt=plan.dataset.judge_prompt,
            embedders=plan.embedders,
        )
        results = [
            await assertions.evaluate(spec, answer.output, ctx)
            for spec in plan.dataset.asserts + case.asserts
        ]
        if hits is not None and plan.target.renders and plan.grader is not None:
            record["rag_judged"] = await _rag_judged(plan, case, answer.output, hits)
        passed, score = assertions.case_outcome(results)
        record.update(asserts=[r.to_json() for r in results], score=round(score, 6))
        record["pass"] = passed
        if errors := [f"assertion {i + 1} ({r.type}): {r.error}" for i, r in enumerate(results) if r.error]:
            record["error"] = "; ".join(errors)
            record["pass"] = False
    except Exception as exc:  # a case's failure must never stop the run
        from promptver.evals.execution.redact import redact

        record["error"] = redact(str(exc) or type(exc).__name__, patterns=True)
        record["attempts"] = getattr(exc, "attempts", record["attempts"])
    return record


async def _rag_judged(plan: EvalPlan, case: Case, output: str, hits: list[Any]) -> dict[str, Any]:
    """Faithfulness, answer relevancy, context precision and recall of a RAG answer."""
    from promptver.evals.execution import judges
    from promptver.evals.retrieval import ragjudge

    assert plan.grader is not None
    retriever = getattr(plan.target, "retriever", None)
    embedder = getattr(retriever, "embedder", None)
    expected = case.expected if isinstance(case.expected, str) else None
    scores = await ragjudge.score_case(
        plan.grader.as_completion,
        plan.target.query(case),  # type: ignore[attr-defined]
        output,
        [str(hit.to_context()["text"]) for hit in hits],
        expected,
        embedder.embed if embedder is not None else None,
    )
    grader = plan.grader
    scores["judge"] = judges.digest(grader.ref.provider, grader.ref.name, grader.params, ragjudge.PROMPT)
    return scores


async def execute(plan: EvalPlan, writer: RunWriter, on_record: OnRecord | None = None) -> dict[str, Any]:
    """Run every job not yet in ``writer.records``; returns the final metadata."""
    done = {(r["id"], r.get("repeat", 0)) for r in writer.records}
    queue: asyncio.Queue[tuple[Case, int]] = asyncio.Queue()
    pending = [(case, rep) for case, rep in plan.jobs if (case.id, rep) not in done]
    for job in pending:
        queue.put_nowait(job)
    total = len(plan.jobs)
    finished = len(done)
    order = plan.order or {case.id: index for index, case in enumerate(plan.cases)}
    judges = judge_digests(writer.records)  # a resumed run's, then each new record's

    async def worker() -> None:
        nonlocal finished
        while True:
            try:
                case, rep = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            record = await run_case(plan, case, rep)
            record["index"] = order[case.id]
            written = writer.append(record)  # the record with any API key redacted
            judges.update(judge_digests([written]))  # the writer keeps only summary fields
            finished += 1
            if on_record is not None:
                on_record(written, finished, total)

    writer.meta["status"] = "running"
    writer.save_meta()
    status = "interrupted"
    try:
        if plan.options.batch and pending:
            from promptver.evals.batchrun import prefetch

            assert isinstance(plan.target, ModelTarget)  # prepare allows --batch only there
            plan.batches = await prefetch(
                plan.target,
                plan.bundle,
                plan.dataset,
                plan.options,
                plan.on_batch,
                (writer.folder, writer.id),
                pending,
            )
        warm = getattr(plan.target, "warm", None)
        if warm is not None and pending:
            # index the corpus and embed the queries in batches before the cases start
            await warm([case for case, _ in pending])
        workers = min(plan.options.concurrency, max(1, queue.qsize()))
        await asyncio.gather(*(worker() for _ in range(workers)))
        status = "complete" if plan.options.shard is None else "partial"  # a shard waits for merge
    finally:
        writer.close()
        retriever = getattr(plan.target, "retriever", None)
        if retriever is not None:
            writer.meta["retrieval_requests"] = retriever.requests
        if plan.batches is not None:
            writer.meta["batches"] = plan.batches
        if plan.throttles:  # what the providers' limits did to the run
            writer.meta["rate_limits"] = {
                f"{provider}:{public_url(base) or 'default'}": t.to_json()
                for (provider, base), t in plan.throttles.items()
            }
        if plan.caches is not None:
            writer.meta["cache"] = {kind: dict(c.hits) for kind, c in plan.caches.items()}
        if judges:
            writer.meta["judges"] = list(judges.values())
        writer.meta.update(
            status=status,
            summary=summarize(writer.records),
            finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )
        writer.save_meta()
        await asyncio.shield(plan.aclose())
    return writer.meta


def judge_digests(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every judge behind these records' judged scores, by digest, in order of first use."""
    seen: dict[str, dict[str, Any]] = {}
    for record in records:
        rag = record.get("rag_judged")
        for result in [*(record.get("asserts") or []), rag if isinstance(rag, dict) else None]:
            judge = result.get("judge") if isinstance(result, dict) else None
            if isinstance(judge, dict) and isinstance(judge.get("digest"), str):
                seen.setdefault(judge["digest"], judge)
    return seen


def start(plan: EvalPlan, runs: RunStore | None, scratch: Path | None = None) -> RunWriter:
    """A writer for a new run: in the store, or in ``scratch`` when it is not saved."""
    meta = run_meta(plan)
    if runs is None:
        assert scratch is not None
        return RunStore(scratch).create(meta)
    return runs.create(meta)


def check_resumable(plan: EvalPlan, writer: RunWriter) -> None:
    """A run can only be resumed with the same version and dataset it started with."""
    meta = writer.meta
    if meta.get("dataset", {}).get("digest") != plan.dataset.digest:
        raise ConfigError(f"run {writer.id}: the dataset changed since the run started")
    if meta.get("digest") != plan.bundle.digest:
        raise ConfigError(
            f"run {writer.id} was made with another version of the bundle "
            f"({meta.get('version') or 'working copy'})"
        )
    if meta.get("status") in ("complete", "partial"):
        raise ConfigError(f"run {writer.id} is already complete")
