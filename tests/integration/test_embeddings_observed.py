"""An embeddings request, observed: one trace down to each upstream batch, and its metrics (docs/api.md#metrics)."""

from __future__ import annotations

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from tests.integration.gateway_app import in_process_gateway

TEXTS = [f"text {i}" for i in range(40)]  # mock-embed-1 takes 16 per call: three batches


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_the_use_case_span_is_the_parent_of_one_span_per_upstream_batch() -> None:
    async with in_process_gateway() as gateway:
        response = await gateway.client.post("/v1/embeddings", json={"model": "mock-embed-1", "input": TEXTS})
        assert response.status_code == 200, response.text
        spans = gateway.spans()

    server = next(span for span in spans if span.name == "POST /v1/embeddings")
    use_case = next(span for span in spans if span.name == "embeddings")
    batches = [span for span in spans if span.name == "embeddings mock-embed-1"]
    assert parent_of(use_case) == server.context.span_id
    assert len(batches) == 3 and {parent_of(span) for span in batches} == {use_case.context.span_id}
    assert all(span.kind is SpanKind.CLIENT for span in batches)
    assert sorted(int(str((span.attributes or {})["mcp.embeddings.inputs"])) for span in batches) == [8, 16, 16]
    attributes = use_case.attributes or {}
    assert attributes["gen_ai.operation.name"] == "embeddings" and attributes["gen_ai.request.model"] == "mock-embed-1"
    assert attributes["gen_ai.usage.input_tokens"] == 80 and attributes["mcp.embeddings.upstream_calls"] == 3


async def test_requests_tokens_and_errors_are_counted_with_the_embeddings_method() -> None:
    async with in_process_gateway(traced=False) as gateway:
        await gateway.client.post("/v1/embeddings", json={"model": "mock-embed-1", "input": ["a b c"]})
        await gateway.client.post("/v1/embeddings", json={"model": "mock-embed-1", "input": ["a"], "dimensions": 999})
        metrics = (await gateway.client.get("/metrics")).text

    assert (
        'mcp_requests_total{method="openai_embeddings",model="mock-embed-1",provider="mock",status="200"} 1.0'
        in metrics
    )
    assert 'mcp_tokens_used_total{model="mock-embed-1",provider="mock",type="prompt"} 3.0' in metrics
    assert 'method="openai_embeddings",model="none",provider="none",status="400"' in metrics
