"""Spans of one request form one trace: server span, use-case, cache, sessions, provider (docs/api.md#observability)."""

from __future__ import annotations

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from tests.integration.gateway_app import in_process_gateway
from tests.vendors.azure_openai import FakeAzureOpenAI

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN}-01"


def by_name(spans: list[ReadableSpan]) -> dict[str, ReadableSpan]:
    return {span.name: span for span in spans}


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_a_request_is_one_trace_from_the_callers_traceparent_down_to_the_provider_call() -> None:
    async with in_process_gateway() as gateway:
        response = await gateway.client.post(
            "/api/v1/generate", json={"prompt": "trace me", "maxTokens": 50}, headers={"traceparent": TRACEPARENT}
        )
        assert response.status_code == 200
        spans = by_name(gateway.spans())

    server, use_case, provider = spans["POST /api/v1/generate"], spans["generate"], spans["chat mock-1"]
    assert {format(span.context.trace_id, "032x") for span in spans.values()} == {TRACE_ID}
    assert server.kind is SpanKind.SERVER and parent_of(server) == int(CALLER_SPAN, 16)
    assert parent_of(use_case) == server.context.span_id
    assert parent_of(provider) == use_case.context.span_id
    assert parent_of(spans["cache get"]) == use_case.context.span_id
    assert parent_of(spans["cache set"]) == use_case.context.span_id
    assert server.attributes is not None and server.attributes["http.route"] == "/api/v1/generate"


async def test_the_provider_span_carries_the_gen_ai_attributes() -> None:
    async with in_process_gateway() as gateway:
        body = (
            await gateway.client.post(
                "/api/v1/generate", json={"prompt": "attributes", "maxTokens": 50, "temperature": 0.2}
            )
        ).json()
        provider = by_name(gateway.spans())["chat mock-1"]

    assert provider.kind is SpanKind.CLIENT
    attributes = provider.attributes or {}
    assert attributes["gen_ai.system"] == "mock"
    assert attributes["gen_ai.request.model"] == "mock-1"
    assert attributes["gen_ai.request.max_tokens"] == 50
    assert attributes["gen_ai.request.temperature"] == 0.2
    assert attributes["gen_ai.usage.input_tokens"] == body["promptTokens"]
    assert attributes["gen_ai.usage.output_tokens"] == body["completionTokens"]
    assert tuple(attributes["gen_ai.response.finish_reasons"]) == ("stop",)


async def test_each_request_without_a_traceparent_starts_a_trace_of_its_own() -> None:
    async with in_process_gateway() as gateway:
        for prompt in ("first", "second"):
            await gateway.client.post("/api/v1/generate", json={"prompt": prompt})
        spans = gateway.spans()

    servers = [span for span in spans if span.kind is SpanKind.SERVER]
    assert len(servers) == 2 and all(span.parent is None for span in servers)
    traces = {server.context.trace_id: server for server in servers}
    assert len(traces) == 2
    for span in spans:  # every span belongs to one of the two requests
        assert span.context.trace_id in traces


async def test_a_session_request_traces_the_session_store_under_the_use_case() -> None:
    headers = {"X-User-ID": "ana", "X-Session-ID": "s-1"}
    async with in_process_gateway() as gateway:
        await gateway.client.post("/api/v1/generate", json={"prompt": "hello"}, headers=headers)
        spans = by_name(gateway.spans())

    use_case = spans["generate"]
    for name in ("session lock", "session get", "session append"):
        assert parent_of(spans[name]) == use_case.context.span_id, name


async def test_a_streamed_answer_is_traced_from_the_server_span_through_the_stream_use_case() -> None:
    async with in_process_gateway() as gateway:
        response = await gateway.client.post("/api/v1/generate/stream", json={"prompt": "stream me"})
        assert response.status_code == 200 and '"finished":true' in response.text
        spans = by_name(gateway.spans())

    server, use_case, provider = spans["POST /api/v1/generate/stream"], spans["generate_stream"], spans["chat mock-1"]
    assert parent_of(use_case) == server.context.span_id
    assert parent_of(provider) == use_case.context.span_id
    assert (provider.attributes or {})["gen_ai.request.stream"] is True
    assert (provider.attributes or {})["gen_ai.usage.output_tokens"] > 0


async def test_the_provider_receives_the_traceparent_of_its_client_span() -> None:
    async with FakeAzureOpenAI(openai_models=frozenset({"gpt-test"})) as upstream:
        env = {
            "OPENAI_BASE_URL": upstream.openai_base_url,
            "OPENAI_API_KEY": upstream.api_key,
            "OPENAI_MODELS": "gpt-test",
        }
        async with in_process_gateway(env) as gateway:
            response = await gateway.client.post(
                "/api/v1/generate",
                json={"prompt": "propagate", "provider": "openai", "model": "gpt-test"},
                headers={"traceparent": TRACEPARENT},
            )
            assert response.status_code == 200, response.text
            provider = by_name(gateway.spans())["chat gpt-test"]

    sent = upstream.requests[-1].headers["traceparent"]
    version, trace_id, parent_id, _flags = sent.split("-")
    assert (version, trace_id) == ("00", TRACE_ID)
    assert parent_id == format(provider.context.span_id, "016x")
    assert (provider.attributes or {})["gen_ai.system"] == "openai"


async def test_with_tracing_off_no_span_is_recorded_and_answers_are_unchanged() -> None:
    async with in_process_gateway(traced=False) as gateway:
        response = await gateway.client.post(
            "/api/v1/generate", json={"prompt": "untraced"}, headers={"traceparent": TRACEPARENT}
        )
        assert response.status_code == 200
        assert gateway.spans() == []
        assert gateway.container.tracing() is None


async def test_a_chat_completion_through_the_openai_door_is_the_same_trace_under_its_own_route() -> None:
    async with in_process_gateway() as gateway:
        body = {"model": "mock-1", "messages": [{"role": "user", "content": "door trace"}], "stream": False}
        response = await gateway.client.post("/v1/chat/completions", json=body, headers={"traceparent": TRACEPARENT})
        assert response.status_code == 200
        streamed = await gateway.client.post("/v1/chat/completions", json={**body, "stream": True})
        assert streamed.status_code == 200 and streamed.text.endswith("data: [DONE]\n\n")
        spans = gateway.spans()
        named = by_name([span for span in spans if format(span.context.trace_id, "032x") == TRACE_ID])

    assert "generate_stream" in {span.name for span in spans}
    server, use_case = named["POST /v1/chat/completions"], named["generate"]
    assert parent_of(server) == int(CALLER_SPAN, 16) and parent_of(use_case) == server.context.span_id
    assert parent_of(named["chat mock-1"]) == use_case.context.span_id
    assert server.attributes is not None and server.attributes["http.route"] == "/v1/chat/completions"


async def test_an_anthropic_message_is_one_trace_through_the_generate_use_case() -> None:
    async with in_process_gateway() as gateway:
        response = await gateway.client.post(
            "/v1/messages",
            json={"model": "mock-1", "max_tokens": 50, "messages": [{"role": "user", "content": "trace the door"}]},
            headers={"traceparent": TRACEPARENT, "x-api-key": "unused"},
        )
        assert response.status_code == 200 and response.json()["type"] == "message"
        spans = by_name(gateway.spans())

    server, use_case, provider = spans["POST /v1/messages"], spans["generate"], spans["chat mock-1"]
    assert {format(span.context.trace_id, "032x") for span in spans.values()} == {TRACE_ID}
    assert parent_of(server) == int(CALLER_SPAN, 16) and parent_of(use_case) == server.context.span_id
    assert parent_of(provider) == use_case.context.span_id
    assert server.attributes is not None and server.attributes["http.route"] == "/v1/messages"
