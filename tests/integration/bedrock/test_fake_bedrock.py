"""The fake Bedrock itself: its frames decode with botocore, and it refuses what Bedrock refuses."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from botocore.eventstream import EventStreamBuffer

from tests.vendors import eventstream
from tests.vendors.bedrock import FakeBedrock, split_chunks

VALID = {"messages": [{"role": "user", "content": [{"text": "hi"}]}], "inferenceConfig": {"maxTokens": 10}}
CONVERSE = "/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with FakeBedrock() as fake, httpx.AsyncClient(base_url=fake.url) as client:
        yield client


async def post(client: httpx.AsyncClient, body: Any, *, path: str = CONVERSE, auth: str = "Bearer k") -> httpx.Response:
    headers = {"Authorization": auth} if auth else {}
    return await client.post(path, json=body, headers=headers)


def test_event_frames_decode_with_botocore_with_their_headers_and_payload():
    buffer = EventStreamBuffer()
    buffer.add_data(eventstream.event("contentBlockDelta", {"delta": {"text": "hé"}, "contentBlockIndex": 0}))
    buffer.add_data(eventstream.exception("throttlingException", "slow down"))

    delta, failure = list(buffer)

    assert delta.headers == {
        ":event-type": "contentBlockDelta",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert json.loads(delta.payload) == {"delta": {"text": "hé"}, "contentBlockIndex": 0}
    assert failure.headers[":exception-type"] == "throttlingException"
    assert failure.to_response_dict()["status_code"] == 400


def test_the_answer_is_split_into_the_scripted_number_of_chunks_without_losing_text():
    assert split_chunks("abcdefg", 3) == ["abc", "de", "fg"]
    assert split_chunks("ab", 5) == ["a", "b"]


async def test_a_valid_request_is_answered_in_bedrock_s_json_shape(http):
    response = await post(http, VALID)

    assert response.status_code == 200
    body = response.json()
    assert body["output"]["message"] == {"role": "assistant", "content": [{"text": "Bedrock answers: hi"}]}
    assert body["usage"] == {"inputTokens": 1, "outputTokens": 3, "totalTokens": 4}
    assert body["stopReason"] == "end_turn"


@pytest.mark.parametrize(
    ("auth", "error_type"),
    [("", "MissingAuthenticationTokenException"), ("Basic abc", "UnrecognizedClientException")],
)
async def test_a_request_without_sigv4_or_bearer_authorization_is_refused(http, auth, error_type):
    response = await post(http, VALID, auth=auth)

    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"].split(":")[0] == error_type


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({**VALID, "topK": 5}, "extraneous key [topK]"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "messages.1.member.content"),
        ({"messages": [{"content": [{"text": "hi"}]}]}, "Member must not be null"),
        ({"messages": [{"role": "robot", "content": [{"text": "hi"}]}]}, "enum value set"),
        ({**VALID, "inferenceConfig": {"temperature": 1.5}}, "less than or equal to 1"),
        ({**VALID, "inferenceConfig": {"maxTokens": "10"}}, "number of type integer"),
        (
            {"messages": [{"role": "user", "content": [{"text": "a", "cachePoint": {"type": "default"}}]}]},
            "exactly one",
        ),
        ({"messages": [{"role": "user", "content": [{"text": "  "}]}]}, "is blank"),
        ({"messages": [{"role": "assistant", "content": [{"text": "hi"}]}]}, "must alternate"),
    ],
)
async def test_a_body_botocore_s_model_does_not_allow_is_a_validation_exception(http, body, says):
    response = await post(http, body)

    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"].startswith("ValidationException:")
    assert says in response.json()["message"]


async def test_an_unknown_operation_is_not_found(http):
    response = await post(http, VALID, path="/model/x/invoke-everything")

    assert response.status_code == 404
