"""``POST /v1/embeddings`` on the real server, with the real clients (docs/api.md#openai-embeddings).

One gateway process fronts every provider at once: the mock, Bedrock (the fake runtime: Titan Text
Embeddings v2 and Cohere Embed v3 through ``InvokeModel``), Azure OpenAI and an OpenAI-compatible server
(one fake serves both), so each test picks its provider by ``provider/model``. The clients are the
``openai`` SDK, sync and async (floats, base64 it decodes itself, ``dimensions``, every error class), and
LangChain's ``OpenAIEmbeddings``. What the fakes received is the evidence of the batching.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import secrets
import struct
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from langchain_openai import OpenAIEmbeddings

from domain.api_keys import hash_api_key
from tests.support.server import ServerProcess
from tests.support.upstreams import ThreadedFake, gateway
from tests.vendors.azure_openai import FakeAzureOpenAI
from tests.vendors.bedrock import FakeBedrock, HttpFailure, Script

KEY = f"mcp_embed_{secrets.token_urlsafe(18)}"
AUTH = {"authorization": f"Bearer {KEY}"}
MODELS = {  # provider/model -> the vector size it gives
    "mock/mock-embed-1": 256,
    "bedrock/amazon.titan-embed-text-v2:0": 1024,
    "bedrock/cohere.embed-english-v3": 1024,
    "azure/text-embedding-3-small": 1536,
    "openai/text-embedding-3-small": 1536,
}


@pytest.fixture(scope="module")
def bedrock() -> Iterator[ThreadedFake[FakeBedrock]]:
    with ThreadedFake(FakeBedrock) as running:
        yield running


@pytest.fixture(scope="module")
def upstream() -> Iterator[ThreadedFake[FakeAzureOpenAI]]:
    with ThreadedFake(FakeAzureOpenAI) as running:
        yield running


@pytest.fixture(scope="module")
def server(bedrock: ThreadedFake[FakeBedrock], upstream: ThreadedFake[FakeAzureOpenAI]) -> Iterator[ServerProcess]:
    fake = upstream.fake
    env = {
        "API_KEYS": hash_api_key(KEY, role="user", salt=secrets.token_bytes(16)),
        "AWS_BEDROCK_ENDPOINT_URL": bedrock.fake.url,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "fake-secret",
        "AZURE_ENDPOINT": fake.url,
        "AZURE_API_KEY": fake.api_key,
        "OPENAI_BASE_URL": fake.openai_base_url,
        "OPENAI_API_KEY": fake.api_key,
        "PROVIDER_MAX_RETRIES": "0",
        "CIRCUIT_FAILURE_THRESHOLD": "1000",
        "MAX_REQUEST_BYTES": str(4 * 1024 * 1024),
    }
    with gateway(env) as running:
        yield running


def sdk(server: ServerProcess, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key=key, max_retries=0)


def is_unit(vector: list[float]) -> bool:
    return math.isclose(math.fsum(x * x for x in vector), 1.0, rel_tol=1e-4)


@pytest.mark.parametrize("model", list(MODELS))
def test_the_sdk_gets_unit_vectors_with_usage_from_each_provider(server: ServerProcess, model: str) -> None:
    raw = sdk(server).embeddings.with_raw_response.create(
        model=model, input=["the first text", "the second"], encoding_format="float"
    )
    answer = raw.parse()
    assert answer.object == "list" and answer.model == model.split("/", 1)[1]
    assert [item.index for item in answer.data] == [0, 1]
    assert all(len(item.embedding) == MODELS[model] and is_unit(item.embedding) for item in answer.data)
    assert answer.data[0].embedding != answer.data[1].embedding
    assert answer.usage.prompt_tokens == answer.usage.total_tokens == 5
    assert float(raw.headers["x-gateway-overhead-ms"]) >= 0


@pytest.mark.parametrize("model", list(MODELS))
def test_base64_decodes_to_the_same_vectors_as_floats(server: ServerProcess, model: str) -> None:
    client = sdk(server)
    floats = client.embeddings.create(model=model, input="one text", encoding_format="float")
    decoded = client.embeddings.create(model=model, input="one text")  # the SDK asks for base64 and decodes it
    assert decoded.data[0].embedding == pytest.approx(floats.data[0].embedding, rel=1e-6)


def test_base64_is_little_endian_float32_as_openai_sends_it(server: ServerProcess) -> None:
    def post(encoding: str) -> Any:
        body = {"model": "mock-embed-1", "input": "x", "encoding_format": encoding}
        return httpx.post(server.base_url + "/v1/embeddings", json=body, headers=AUTH).json()["data"][0]["embedding"]

    packed, floats = post("base64"), post("float")
    assert isinstance(packed, str)
    assert list(struct.unpack("<256f", base64.b64decode(packed))) == pytest.approx(floats, rel=1e-6)


@pytest.mark.parametrize(
    ("model", "size"),
    [("bedrock/amazon.titan-embed-text-v2:0", 256), ("azure/text-embedding-3-small", 64), ("mock-embed-1", 32)],
)
def test_dimensions_are_honoured(server: ServerProcess, model: str, size: int) -> None:
    answer = sdk(server).embeddings.create(model=model, input=["a", "b"], dimensions=size)
    assert [len(item.embedding) for item in answer.data] == [size, size]
    assert all(is_unit(item.embedding) for item in answer.data)


async def test_the_async_sdk_embeds_a_list_too(server: ServerProcess) -> None:
    async with openai.AsyncOpenAI(base_url=server.base_url + "/v1", api_key=KEY, max_retries=0) as client:
        answer = await client.embeddings.create(model="cohere.embed-multilingual-v3", input=["hola", "hello"])
    assert [len(item.embedding) for item in answer.data] == [1024, 1024]


def single(server: ServerProcess, model: str, text: str) -> list[float]:
    return sdk(server).embeddings.create(model=model, input=text, encoding_format="float").data[0].embedding


@pytest.mark.parametrize(
    ("model", "count", "calls"),
    [("bedrock/amazon.titan-embed-text-v2:0", 7, 7), ("bedrock/cohere.embed-english-v3", 200, 3)],
)
def test_a_list_beyond_the_models_per_call_limit_is_batched_and_returned_in_order(
    server: ServerProcess, bedrock: ThreadedFake[FakeBedrock], model: str, count: int, calls: int
) -> None:
    texts = [f"text {i}" for i in range(count)]
    before = len(bedrock.fake.requests)
    answer = sdk(server).embeddings.create(model=model, input=texts, encoding_format="float")
    sent = bedrock.fake.requests[before:]
    assert len(sent) == calls and all(r.operation == "InvokeModel" for r in sent)
    assert [item.index for item in answer.data] == list(range(count))
    for index in (0, 5, count - 1):
        assert answer.data[index].embedding == pytest.approx(single(server, model, texts[index]), rel=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "param", "words"),
    [
        ({"input": ""}, "input[0]", "is empty"),
        ({"input": ["fine", "  "]}, "input[1]", "is empty"),
        ({"input": []}, "input", "must not be empty"),
        ({"input": [[1, 2, 3]]}, "input", "check_embedding_ctx_length=False"),
        ({"input": [1, 2, 3]}, "input", "token arrays"),
        ({"input": "a", "dimensions": 300, "model": "amazon.titan-embed-text-v2:0"}, "dimensions", "256, 512, 1024"),
        ({"input": "a", "dimensions": 0}, "dimensions", "positive integer"),
        ({"input": "a", "extra_body": {"input_type": "poems"}}, "input_type", "search_query"),
        ({"input": "a", "model": "  "}, "model", "provide a model"),
    ],
)
def test_a_bad_request_is_a_bad_request_error_naming_the_field(
    server: ServerProcess, kwargs: dict[str, Any], param: str, words: str
) -> None:
    model = kwargs.pop("model", "mock-embed-1")
    with pytest.raises(openai.BadRequestError) as refused:
        sdk(server).embeddings.create(model=model, **kwargs)
    assert refused.value.param == param and words in refused.value.message
    assert refused.value.type == "invalid_request_error"


def test_wrong_types_are_a_bad_request_and_unknown_fields_are_ignored(server: ServerProcess) -> None:
    client = sdk(server)
    for bad in ({"input": [1.5]}, {"input": [None]}, {"input": {"text": "a"}}, {"input": "a", "dimensions": "8"}):
        with pytest.raises(openai.BadRequestError):
            client.embeddings.create(model="mock-embed-1", extra_body=bad, input="ignored")
    ok = client.embeddings.create(model="mock-embed-1", input="a", extra_body={"future_option": True})
    assert len(ok.data) == 1


def test_the_embedding_models_are_listed_and_retrieved_by_name(server: ServerProcess) -> None:
    client = sdk(server)
    owners = {model.id: model.owned_by for model in client.models.list()}
    assert owners["amazon.titan-embed-text-v2:0"] == "aws" and owners["mock-embed-1"] == "mock"
    assert owners["text-embedding-3-small"] == "azure"  # once: the provider the bare id resolves to
    assert [model.id for model in client.models.list()].count("text-embedding-3-small") == 1
    assert client.models.retrieve("titan-embed-v2").id == "amazon.titan-embed-text-v2:0"
    assert client.models.retrieve("openai/text-embedding-3-small").owned_by == "openai"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_an_unknown_model_is_not_found(server: ServerProcess) -> None:
    for model in ("no-such-embedder", "gpt-4o", "anthropic/claude"):
        with pytest.raises(openai.NotFoundError) as missing:
            sdk(server).embeddings.create(model=model, input="a")
        assert missing.value.code == "model_not_found" and missing.value.param == "model"


def test_a_wrong_key_is_an_authentication_error(server: ServerProcess) -> None:
    with pytest.raises(openai.AuthenticationError):
        sdk(server, key="mcp_nobody_" + secrets.token_urlsafe(18)).embeddings.create(model="mock-embed-1", input="a")


def test_an_azure_client_sends_its_key_as_api_key(server: ServerProcess) -> None:
    response = httpx.post(
        server.base_url + "/v1/embeddings", json={"model": "mock-embed-1", "input": "a"}, headers={"api-key": KEY}
    )
    assert response.status_code == 200, response.text


def test_upstream_throttling_is_a_rate_limit_error_with_retry_after(
    server: ServerProcess, bedrock: ThreadedFake[FakeBedrock]
) -> None:
    bedrock.fake.script = Script(failure=HttpFailure("ThrottlingException", "slow down", retry_after="7"), fail_first=1)
    with pytest.raises(openai.RateLimitError) as throttled:
        sdk(server).embeddings.create(model="bedrock/amazon.titan-embed-text-v2:0", input="a")
    assert throttled.value.response.headers["retry-after"] == "7"
    assert throttled.value.code == "rate_limit_exceeded"


def test_an_upstream_failure_is_a_server_error(server: ServerProcess, upstream: ThreadedFake[FakeAzureOpenAI]) -> None:
    upstream.fake.fail("server_error", times=1)
    with pytest.raises(openai.InternalServerError) as failed:
        sdk(server).embeddings.create(model="azure/text-embedding-3-small", input="a")
    assert failed.value.status_code == 502


def test_a_client_that_leaves_cancels_the_upstream_calls_in_flight(
    server: ServerProcess, bedrock: ThreadedFake[FakeBedrock]
) -> None:
    fake = bedrock.fake
    fake.script = Script(first_byte_delay=30.0)
    before = len(fake.requests)
    try:
        body = {"model": "bedrock/amazon.titan-embed-text-v2:0", "input": ["a", "b", "c"]}
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(server.base_url + "/v1/embeddings", json=body, headers=AUTH, timeout=1.0)
        sent = bedrock.run(asyncio.wait_for(fake.wait_for_requests(before + 3), 10))[before:]
        for record in sent:  # each batch's connection dropped long before the fake's 30 s answer
            bedrock.run(asyncio.wait_for(record.finished.wait(), 10))
        assert all(record.closed_early for record in sent)
    finally:
        fake.script = Script()


def test_langchain_embeds_queries_and_documents(server: ServerProcess) -> None:
    embeddings = OpenAIEmbeddings(
        model="azure/text-embedding-3-small",
        base_url=server.base_url + "/v1",
        api_key=KEY,  # type: ignore[arg-type]
        check_embedding_ctx_length=False,  # send text: the gateway refuses token arrays (see the module docs)
        max_retries=0,
    )
    query = embeddings.embed_query("what is a gateway?")
    documents = embeddings.embed_documents(["a gateway forwards", "a cache remembers", "what is a gateway?"])
    assert len(query) == 1536 and len(documents) == 3
    assert documents[2] == pytest.approx(query, rel=1e-6)


async def test_langchain_async_batches_by_its_chunk_size(server: ServerProcess) -> None:
    embeddings = OpenAIEmbeddings(
        model="mock-embed-1",
        base_url=server.base_url + "/v1",
        api_key=KEY,  # type: ignore[arg-type]
        check_embedding_ctx_length=False,
        chunk_size=5,
        max_retries=0,
    )
    vectors = await embeddings.aembed_documents([f"doc {i}" for i in range(12)])
    assert len(vectors) == 12 and all(len(vector) == 256 for vector in vectors)


# ---- attacks: what a hostile client sends ------------------------------------------------------


def post_raw(server: ServerProcess, body: bytes) -> httpx.Response:
    headers = {**AUTH, "content-type": "application/json"}
    return httpx.post(server.base_url + "/v1/embeddings", content=body, headers=headers, timeout=30)


def test_more_inputs_than_openai_allows_are_refused_before_any_upstream_call(
    server: ServerProcess, bedrock: ThreadedFake[FakeBedrock]
) -> None:
    before = len(bedrock.fake.requests)
    body = json.dumps({"model": "bedrock/amazon.titan-embed-text-v2:0", "input": ["a"] * 2049}).encode()
    response = post_raw(server, body)
    assert response.status_code == 400 and response.json()["error"]["param"] == "input"
    assert "2049 items, the limit is 2048" in response.json()["error"]["message"]
    assert len(bedrock.fake.requests) == before


def test_a_giant_string_is_refused_by_size_not_by_a_crash(server: ServerProcess) -> None:
    too_long = post_raw(server, json.dumps({"model": "mock-embed-1", "input": "x" * 100_001}).encode())
    assert too_long.status_code == 400 and too_long.json()["error"]["param"] == "input[0]"
    for_cohere = post_raw(server, json.dumps({"model": "cohere.embed-english-v3", "input": "y" * 2049}).encode())
    assert for_cohere.status_code == 400 and "at most 2048" in for_cohere.json()["error"]["message"]
    over_the_body_limit = post_raw(server, json.dumps({"model": "mock-embed-1", "input": "z" * 5_000_000}).encode())
    assert over_the_body_limit.status_code == 413 and over_the_body_limit.json()["error"]["type"]


def test_deep_json_is_refused_before_decoding(server: ServerProcess) -> None:
    deep = b'{"model": "mock-embed-1", "input": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = post_raw(server, deep)
    assert response.status_code == 400 and "deep" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", b'{"input": "a"}', b'{"model": 7, "input": "a"}', b'{"model": "m", "input": true}'],
)
def test_malformed_bodies_are_bad_requests_in_openais_shape(server: ServerProcess, body: bytes) -> None:
    response = post_raw(server, body)
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_the_gateway_still_answers_after_the_attacks(server: ServerProcess) -> None:
    assert len(sdk(server).embeddings.create(model="mock-embed-1", input=["still", "here"]).data) == 2


def test_a_request_costs_one_rate_limit_token_however_long_its_list() -> None:
    env = {
        "API_KEYS": hash_api_key(KEY, role="user", salt=secrets.token_bytes(16)),
        "RATE_LIMIT_ENABLED": "true",
        "RATE_LIMIT_RPS": "0.01",
        "RATE_LIMIT_BURST": "3",
    }
    with ServerProcess(env) as limited:
        client = sdk(limited)
        for _ in range(3):  # 3 x 40 texts, 3 upstream batches each: 3 tokens
            assert len(client.embeddings.create(model="mock-embed-1", input=[f"t{i}" for i in range(40)]).data) == 40
        with pytest.raises(openai.RateLimitError) as limited_out:
            client.embeddings.create(model="mock-embed-1", input="one more")
    assert limited_out.value.response.headers["retry-after"]


def test_every_spelling_of_the_path_is_the_same_route_behind_the_same_key_check(server: ServerProcess) -> None:
    body = {"model": "mock-embed-1", "input": "a"}
    for path in ("/v1/embeddings/", "//v1//embeddings"):
        assert httpx.post(server.base_url + path, json=body, headers=AUTH).status_code == 200
        unkeyed = httpx.post(server.base_url + path, json=body)
        assert unkeyed.status_code == 401 and unkeyed.json()["error"]["code"] == "invalid_api_key"
    other_method = httpx.get(server.base_url + "/v1/embeddings", headers=AUTH)
    assert other_method.status_code == 405 and set(other_method.json()["error"]) == {"message", "type", "param", "code"}
