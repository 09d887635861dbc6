"""The ``openai`` SDK's Responses API against the real server in front of the mock (docs/api.md#responses-api).

``create``/``retrieve``/``delete``/``input_items.list``, plain and streamed
(``create(stream=True)`` and the ``responses.stream()`` helper), a function-tool
round trip through ``previous_response_id``, structured output, reasoning sent
back, ``store: false``; every refusal an SDK exception class; another key's
response a ``NotFoundError``, an admin key's read allowed.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from domain.api_keys import hash_api_key
from tests.support.server import ServerProcess

KEYS = {name: f"mcp_{name}_{secrets.token_urlsafe(18)}" for name in ("alice", "bob", "admin")}
WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": True,
}
REPORT_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "celsius": {"type": "number"}},
    "required": ["city", "celsius"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def gateway() -> Iterator[ServerProcess]:
    entries = ",".join(
        hash_api_key(key, role="admin" if name == "admin" else "user", salt=secrets.token_bytes(16))
        for name, key in KEYS.items()
    )
    with ServerProcess({"API_KEYS": entries, "LOG_LEVEL": "warning", "MOCK_LATENCY_MS": "0"}) as running:
        yield running


def client(gateway: ServerProcess, name: str = "alice") -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=KEYS[name], max_retries=0)


def test_create_retrieve_list_delete(gateway: ServerProcess) -> None:
    sdk = client(gateway)
    created: Any = sdk.responses.create(model="mock-1", input="Say hello", instructions="Be brief", metadata={"k": "v"})
    assert created.id.startswith("resp_") and created.object == "response" and created.status == "completed"
    assert created.output_text.startswith("Mock answer")
    assert created.output[0].type == "message" and created.output[0].content[0].annotations == []
    assert created.usage is not None and created.usage.input_tokens > 0 and created.usage.output_tokens > 0
    assert created.usage.input_tokens_details.cached_tokens == 0
    assert created.usage.output_tokens_details.reasoning_tokens == 0
    assert created.metadata == {"k": "v"} and created.instructions == "Be brief" and created.store is True

    again = sdk.responses.retrieve(created.id)
    assert again.model_dump() == created.model_dump()
    items: Any = sdk.responses.input_items.list(created.id)
    assert [item.type for item in items.data] == ["message"]
    assert items.data[0].content[0].text == "Say hello"

    sdk.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.delete(created.id)


def test_input_items_are_paginated(gateway: ServerProcess) -> None:
    sdk = client(gateway)
    words = [f"word{i}" for i in range(5)]
    created = sdk.responses.create(model="mock-1", input=[{"role": "user", "content": w} for w in words])
    first: Any = sdk.responses.input_items.list(created.id, limit=2, order="asc")
    assert [item.content[0].text for item in first.data] == words[:2]
    assert first.has_more is True and first.first_id == first.data[0].id and first.last_id == first.data[1].id
    every: Any = list(sdk.responses.input_items.list(created.id, limit=2, order="asc"))  # the SDK follows ``after``
    assert [item.content[0].text for item in every] == words
    newest: Any = sdk.responses.input_items.list(created.id, limit=1)
    assert newest.data[0].content[0].text == words[-1]
    with pytest.raises(openai.BadRequestError):
        sdk.responses.input_items.list(created.id, limit=101)


def test_function_tool_round_trip_through_previous_response_id(gateway: ServerProcess) -> None:
    sdk = client(gateway)
    asked = sdk.responses.create(model="mock-1", input="What is the weather in Paris? Use get_weather", tools=[WEATHER])
    calls = [item for item in asked.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather" and calls[0].status == "completed"
    assert "city" in json.loads(calls[0].arguments)
    answered = sdk.responses.create(
        model="mock-1",
        previous_response_id=asked.id,
        input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny, 21 C"}],
        tools=[WEATHER],
    )
    assert "sunny, 21 C" in answered.output_text
    assert answered.previous_response_id == asked.id
    # and the chain goes on: the model sees the whole conversation
    third = sdk.responses.create(model="mock-1", previous_response_id=answered.id, input="thanks")
    assert third.status == "completed" and "turn 2" in third.output_text


def test_streamed_with_create_and_with_the_stream_helper(gateway: ServerProcess) -> None:
    sdk = client(gateway)
    events = list(sdk.responses.create(model="mock-1", input="Tell me three words", stream=True))
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert [event.sequence_number for event in events] == list(range(len(events)))
    for expected in ("response.output_item.added", "response.content_part.added", "response.output_text.done",
                     "response.content_part.done", "response.output_item.done"):  # fmt: skip
        assert expected in kinds
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    final: Any = events[-1].response  # type: ignore[union-attr]
    assert final.output_text == text and final.usage.output_tokens > 0
    assert sdk.responses.retrieve(final.id).output_text == text  # a streamed response is stored too

    asking = "What is the weather in Oslo? get_weather"
    with sdk.responses.stream(model="mock-1", input=asking, tools=[WEATHER]) as stream:
        for _ in stream:
            pass
        done = stream.get_final_response()
    call = next(item for item in done.output if item.type == "function_call")
    assert call.name == "get_weather" and json.loads(call.arguments)


def test_structured_output_with_json_schema(gateway: ServerProcess) -> None:
    sdk = client(gateway)
    fmt: Any = {"type": "json_schema", "name": "report", "schema": REPORT_SCHEMA, "strict": True}
    created: Any = sdk.responses.create(model="mock-1", input="Weather report for Rome", text={"format": fmt})
    report = json.loads(created.output_text)
    assert set(report) == {"city", "celsius"} and isinstance(report["celsius"], int | float)
    assert created.text is not None and created.text.format.type == "json_schema"


def test_reasoning_comes_out_and_goes_back(gateway: ServerProcess) -> None:
    sdk = client(gateway)
    first = sdk.responses.create(model="mock-1", input="Think about 2+2", reasoning={"effort": "low"})
    reasoning = [item for item in first.output if item.type == "reasoning"]
    assert reasoning and reasoning[0].content and reasoning[0].encrypted_content
    assert first.usage is not None and first.usage.output_tokens_details.reasoning_tokens > 0
    # sent back as items (what the Agents SDK does without previous_response_id): the signature checks out
    output = [item.model_dump(exclude_none=True) for item in first.output]
    items: Any = [{"role": "user", "content": "Think about 2+2"}, *output, {"role": "user", "content": "and 3+3?"}]
    second = sdk.responses.create(model="mock-1", input=items, reasoning={"effort": "low"})
    assert second.status == "completed"
    tampered = json.loads(json.dumps(items))
    tampered[1]["encrypted_content"] = "bm90IG91cnM="
    with pytest.raises(openai.BadRequestError):
        sdk.responses.create(model="mock-1", input=tampered, reasoning={"effort": "low"})


def test_max_output_tokens_is_incomplete(gateway: ServerProcess) -> None:
    sdk = client(gateway)
    created = sdk.responses.create(model="mock-1", input="one two three four five six seven", max_output_tokens=2)
    assert created.status == "incomplete"
    assert created.incomplete_details is not None and created.incomplete_details.reason == "max_output_tokens"
    stream = sdk.responses.create(model="mock-1", input="one two three four five", max_output_tokens=2, stream=True)
    events = list(stream)
    assert events[-1].type == "response.incomplete"


def test_store_false_keeps_nothing(gateway: ServerProcess) -> None:
    sdk = client(gateway)
    created: Any = sdk.responses.create(model="mock-1", input="not kept", store=False)
    assert created.store is False
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.create(model="mock-1", input="go on", previous_response_id=created.id)


def test_another_key_cannot_reach_a_response_but_an_admin_reads_it(gateway: ServerProcess) -> None:
    created = client(gateway, "alice").responses.create(model="mock-1", input="private")
    bob = client(gateway, "bob")
    with pytest.raises(openai.NotFoundError) as read:
        bob.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError) as unknown:
        bob.responses.retrieve("resp_" + "0" * 48)
    assert str(read.value).replace(created.id, "X") == str(unknown.value).replace("resp_" + "0" * 48, "X")
    with pytest.raises(openai.NotFoundError):
        bob.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.input_items.list(created.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.create(model="mock-1", input="continue it", previous_response_id=created.id)
    admin = client(gateway, "admin")
    assert admin.responses.retrieve(created.id).id == created.id
    with pytest.raises(openai.NotFoundError):  # an admin reads, but continues only its own chains
        admin.responses.create(model="mock-1", input="continue it", previous_response_id=created.id)
    assert client(gateway, "alice").responses.retrieve(created.id).id == created.id


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"model": "mock-1"}, "input"),
        ({"model": "mock-1", "input": 5}, "input"),
        ({"model": "mock-1", "input": "x", "tools": [{"type": "web_search"}]}, "web_search"),
        ({"model": "mock-1", "input": "x", "tools": [{"type": "mcp", "server_label": "s"}]}, "server_label"),
        ({"model": "mock-1", "input": "x", "temperature": "hot"}, "temperature"),
        ({"model": "mock-1", "input": "x", "max_output_tokens": 0}, "max_output_tokens"),
        ({"model": "mock-1", "input": [{"type": "item_reference", "id": "x"}]}, "item_reference"),
        ({"model": "mock-1", "input": [{"role": "user", "content": [{"type": "input_file"}]}]}, "input_file"),
        ({"model": "mock-1", "input": "x", "text": {"format": {"type": "json_schema"}}}, "json_schema"),
        ({"model": "mock-1", "input": "x", "background": True}, "background"),
        ({"model": "mock-1", "input": "x", "previous_response_id": "../../etc"}, "previous_response_id"),
    ],
)
def test_refusals_are_bad_requests(gateway: ServerProcess, body: dict[str, Any], needle: str) -> None:
    response = httpx.post(
        gateway.base_url + "/v1/responses", json=body, headers={"Authorization": f"Bearer {KEYS['alice']}"}
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and needle in error["message"]


def test_sdk_error_classes(gateway: ServerProcess) -> None:
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=gateway.base_url + "/v1", api_key="wrong", max_retries=0).responses.create(
            model="mock-1", input="x"
        )
    with pytest.raises(openai.NotFoundError):
        client(gateway).responses.create(model="no-such-model", input="x")
    with pytest.raises(openai.BadRequestError):
        client(gateway).responses.create(model="mock-1", input="x", tool_choice={"type": "file_search"})
