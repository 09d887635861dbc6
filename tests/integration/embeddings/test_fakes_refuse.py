"""The embedding fakes refuse what the vendors refuse, in the vendors' own error shapes.

Raw vendor clients, so that each rule is seen on its own (the adapters never send a body that
breaks one: the contract suite's every request passes these rules). Bedrock's through aioboto3's
``invoke_model`` (botocore raises ``ValidationException`` as a ``ClientError``); OpenAI's through the
openai SDK (``BadRequestError`` with OpenAI's ``param``).
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from botocore.exceptions import ClientError

from adapters.providers.bedrock import BedrockRuntimeClient, open_bedrock_client
from tests.support.bedrock_adapter import ACCESS_KEY
from tests.vendors.azure_openai import FakeAzureOpenAI
from tests.vendors.bedrock import FakeBedrock

TITAN = "amazon.titan-embed-text-v2:0"
COHERE = "cohere.embed-english-v3"


@pytest.fixture
async def bedrock() -> AsyncIterator[BedrockRuntimeClient]:
    async with (
        FakeBedrock() as fake,
        open_bedrock_client(endpoint_url=fake.url, access_key_id=ACCESS_KEY, secret_access_key="x") as client,
    ):
        yield client


@pytest.fixture
async def upstream() -> AsyncIterator[openai.AsyncOpenAI]:
    async with FakeAzureOpenAI() as fake:
        client = openai.AsyncOpenAI(base_url=fake.openai_base_url, api_key=fake.api_key, max_retries=0)
        yield client
        await client.close()


async def invoke(client: BedrockRuntimeClient, model: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.invoke_model(modelId=model, body=json.dumps(body), contentType="application/json")
    async with response["body"] as stream:
        answer: dict[str, Any] = json.loads(await stream.read())
    return answer


@pytest.mark.parametrize(
    ("model", "body", "wording"),
    [
        (TITAN, {"inputText": "hi", "dimension": 256}, "extraneous key [dimension]"),
        (TITAN, {"inputText": "hi", "dimensions": 300}, "#/dimensions"),
        (TITAN, {"inputText": ""}, "#/inputText"),
        (TITAN, {}, "required key [inputText]"),
        ("amazon.titan-embed-text-v1", {"inputText": "hi", "dimensions": 256}, "extraneous key [dimensions]"),
        (COHERE, {"texts": ["hi"]}, "required key [input_type]"),
        (COHERE, {"texts": ["hi"] * 97, "input_type": "search_document"}, "maxItems: 96"),
        (COHERE, {"texts": ["x" * 2049], "input_type": "search_document"}, "maxLength: 2048"),
        (COHERE, {"texts": ["hi"], "input_type": "search"}, "#/input_type"),
        ("anthropic.claude-3-haiku-20240307-v1:0", {"inputText": "hi"}, "model identifier is invalid"),
    ],
)
async def test_bedrock_refuses_a_body_the_model_does_not_take(
    bedrock: BedrockRuntimeClient, model: str, body: dict[str, Any], wording: str
) -> None:
    with pytest.raises(ClientError) as refused:
        await invoke(bedrock, model, body)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert wording in refused.value.response["Error"]["Message"]


async def test_bedrock_answers_each_models_documented_body(bedrock: BedrockRuntimeClient) -> None:
    titan = await invoke(bedrock, TITAN, {"inputText": "two words", "dimensions": 256, "normalize": True})
    assert (len(titan["embedding"]), titan["inputTextTokenCount"]) == (256, 2)
    cohere = await invoke(bedrock, COHERE, {"texts": ["a", "b c"], "input_type": "search_query", "truncate": "NONE"})
    assert [len(v) for v in cohere["embeddings"]] == [1024, 1024]
    assert (cohere["response_type"], cohere["texts"]) == ("embeddings_floats", ["a", "b c"])


@pytest.mark.parametrize(
    ("arguments", "param", "wording"),
    [
        ({"input": ""}, "input", "'$.input' is invalid"),
        ({"input": ["a", ""]}, "input", "'$.input' is invalid"),
        ({"input": []}, "input", "'$.input' is invalid"),
        ({"input": ["a"] * 2049}, "input", "Maximum 2048 inputs"),
        ({"input": [1.5]}, "input", "'$.input' is invalid"),
        ({"input": "w " * 9000}, "input", "maximum context length is 8192 tokens"),
        ({"input": "a", "model": "text-embedding-ada-002", "dimensions": 256}, "dimensions", "does not support"),
        ({"input": "a", "dimensions": 1537}, "dimensions", "maximum dimensions is 1536"),
        ({"input": "a", "encoding_format": "int8"}, "encoding_format", "'float' and 'base64'"),
    ],
)
async def test_openai_refuses_what_openai_refuses(
    upstream: openai.AsyncOpenAI, arguments: dict[str, Any], param: str, wording: str
) -> None:
    model = arguments.pop("model", "text-embedding-3-small")
    with pytest.raises(openai.BadRequestError) as refused:
        await upstream.embeddings.create(model=model, **arguments)
    assert refused.value.param == param
    assert wording in refused.value.message


async def test_openai_refuses_an_unknown_argument(upstream: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="Unrecognized request argument supplied: input_type"):
        await upstream.embeddings.create(model="text-embedding-3-small", input="a", extra_body={"input_type": "x"})


async def test_openai_answers_floats_and_base64_of_the_same_vectors(upstream: openai.AsyncOpenAI) -> None:
    floats = await upstream.embeddings.create(model="text-embedding-3-small", input=["a b", "c"], dimensions=8)
    packed = await upstream.embeddings.create(
        model="text-embedding-3-small", input=["a b", "c"], dimensions=8, encoding_format="base64"
    )
    assert [len(item.embedding) for item in floats.data] == [8, 8]
    assert floats.usage.prompt_tokens == 3
    raw = packed.data[0].embedding
    assert isinstance(raw, str)  # asked for explicitly, the SDK hands base64 over as it came
    assert list(struct.unpack("<8f", base64.b64decode(raw))) == pytest.approx(floats.data[0].embedding, rel=1e-6)
