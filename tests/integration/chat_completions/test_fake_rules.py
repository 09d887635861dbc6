"""The fake OpenAI upstream refuses what OpenAI refuses, with OpenAI's error body.

Raw requests, so that each rule is seen on its own (the adapters never send a
body that breaks one: ``test_rich.py``, whose every request passes these rules).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest

from tests.vendors.azure_openai import FakeAzureOpenAI

USER = {"role": "user", "content": "hi"}
CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
ASKED = {"role": "assistant", "content": None, "tool_calls": [CALL]}
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
SCHEMA = {"type": "object", "properties": {}}


@pytest.fixture
async def upstream() -> AsyncIterator[FakeAzureOpenAI]:
    async with FakeAzureOpenAI() as fake:
        yield fake


async def post(fake: FakeAzureOpenAI, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(headers={"authorization": f"Bearer {fake.api_key}"}) as client:
        return await client.post(f"{fake.openai_base_url}/chat/completions", json=body)


REFUSED: list[tuple[str, dict[str, Any], str | None, str | None]] = [
    # (what, body beyond model, param, code)
    (
        "tool message without a call before it",
        {"messages": [USER, {"role": "tool", "tool_call_id": "call_1", "content": "x"}]},
        "messages.[1].role",
        None,
    ),
    (
        "tool message answering another call",
        {"messages": [USER, ASKED, {"role": "tool", "tool_call_id": "call_2", "content": "x"}]},
        "messages.[2].tool_call_id",
        None,
    ),
    (
        "tool message without tool_call_id",
        {"messages": [USER, ASKED, {"role": "tool", "content": "x"}]},
        "messages.[2].tool_call_id",
        None,
    ),
    ("a call left unanswered", {"messages": [USER, ASKED, USER]}, "messages.[1].role", None),
    ("a call unanswered at the end", {"messages": [USER, ASKED]}, "messages.[1].role", None),
    (
        "tool name with a space",
        {"messages": [USER], "tools": [{"type": "function", "function": {"name": "get weather"}}]},
        "tools[0].function.name",
        "invalid_value",
    ),
    (
        "tool name of 65 characters",
        {"messages": [USER], "tools": [{"type": "function", "function": {"name": "f" * 65}}]},
        "tools[0].function.name",
        "string_above_max_length",
    ),
    ("tool without a function", {"messages": [USER], "tools": [{"type": "function"}]}, "tools[0].function", None),
    ("tool_choice without tools", {"messages": [USER], "tool_choice": "required"}, "tool_choice", None),
    (
        "parallel_tool_calls without tools",
        {"messages": [USER], "parallel_tool_calls": False},
        "parallel_tool_calls",
        None,
    ),
    (
        "tool_choice naming a missing tool",
        {"messages": [USER], "tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "g"}}},
        "tool_choice",
        None,
    ),
    (
        "json_schema without a name",
        {"messages": [USER], "response_format": {"type": "json_schema", "json_schema": {"schema": SCHEMA}}},
        "response_format.json_schema.name",
        "missing_required_parameter",
    ),
    (
        "json_schema without a schema",
        {"messages": [USER], "response_format": {"type": "json_schema", "json_schema": {"name": "r"}}},
        "response_format.json_schema.schema",
        "missing_required_parameter",
    ),
    (
        "json_object without the word json",
        {"messages": [USER], "response_format": {"type": "json_object"}},
        "messages",
        None,
    ),
    (
        "an image in an assistant message",
        {
            "messages": [
                USER,
                {"role": "assistant", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
                USER,
            ]
        },
        "messages[1].content[0]",
        "invalid_value",
    ),
    (
        "a data URL that is not an image",
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "data:text/plain;base64,aGk="}}],
                }
            ]
        },
        "messages[0].content[0].image_url.url",
        "invalid_image_format",
    ),
    (
        "reasoning_effort to a model without reasoning",
        {"messages": [USER], "reasoning_effort": "low"},
        "reasoning_effort",
        "unsupported_parameter",
    ),
]
REASONING_REFUSED: list[tuple[str, dict[str, Any], str, str]] = [
    ("max_tokens", {"max_tokens": 5}, "max_tokens", "unsupported_parameter"),
    ("a temperature", {"temperature": 0.5}, "temperature", "unsupported_value"),
    ("top_p", {"top_p": 0.5}, "top_p", "unsupported_parameter"),
    ("stop", {"stop": ["x"]}, "stop", "unsupported_parameter"),
]


@pytest.mark.parametrize(("what", "body", "param", "code"), REFUSED, ids=[case[0] for case in REFUSED])
async def test_the_fake_refuses_what_openai_refuses(
    upstream: FakeAzureOpenAI, what: str, body: dict[str, Any], param: str | None, code: str | None
) -> None:
    response = await post(upstream, {"model": "gpt-4o-mini", **body})
    assert response.status_code == 400, what
    assert [r.status for r in upstream.requests] == [400]  # recorded as refused, for the e2e tests to check
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)
    assert error["message"]


@pytest.mark.parametrize(("what", "extra", "param", "code"), REASONING_REFUSED, ids=[c[0] for c in REASONING_REFUSED])
async def test_the_fake_refuses_what_reasoning_models_refuse(
    upstream: FakeAzureOpenAI, what: str, extra: dict[str, Any], param: str, code: str
) -> None:
    response = await post(upstream, {"model": "o3-mini", "messages": [USER], **extra})
    assert response.status_code == 400, what
    assert response.json()["error"] | {"message": ""} == {
        "type": "invalid_request_error",
        "param": param,
        "code": code,
        "message": "",
    }


async def test_the_fake_takes_a_complete_tool_turn_and_valid_images(upstream: FakeAzureOpenAI) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    body = {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "look"}, image]},
            ASKED,
            {"role": "tool", "tool_call_id": "call_1", "content": "done"},
        ],
        "tools": [TOOL],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": SCHEMA}},
    }
    response = await post(upstream, body)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "{}"
    assert [r.status for r in upstream.requests] == [200]


async def test_a_tool_message_must_answer_the_assistant_message_right_before_it(upstream: FakeAzureOpenAI) -> None:
    # call_1 was made two assistant turns earlier and answered already: answering it again is refused.
    answered = {"role": "tool", "tool_call_id": "call_1", "content": "done"}
    later = {"role": "assistant", "content": "It is done."}
    body = {"model": "gpt-4o-mini", "messages": [USER, ASKED, answered, later, answered], "tools": [TOOL]}
    response = await post(upstream, body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages.[4].role"


async def test_streamed_tool_calls_come_split_across_chunks_by_index(upstream: FakeAzureOpenAI) -> None:
    upstream.script.tool_calls = [("f", '{"city": "Lima", "days": 3}'), ("f", '{"city": "Cusco"}')]
    body = {"model": "gpt-4o-mini", "messages": [USER], "tools": [TOOL], "stream": True}
    async with httpx.AsyncClient(headers={"authorization": f"Bearer {upstream.api_key}"}) as client:
        response = await client.post(f"{upstream.openai_base_url}/chat/completions", json=body)
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    fragments = [f for e in events[:-1] for f in msgspec.json.decode(e)["choices"][0]["delta"].get("tool_calls", [])]
    assert all(len(msgspec.json.decode(e)["choices"][0]["delta"].get("tool_calls", [])) <= 1 for e in events[:-1])
    by_index: dict[int, str] = {}
    for fragment in fragments:
        by_index[fragment["index"]] = by_index.get(fragment["index"], "") + fragment["function"]["arguments"]
    assert by_index == {0: '{"city": "Lima", "days": 3}', 1: '{"city": "Cusco"}'}
    assert sum(1 for f in fragments if f["index"] == 0) > 2  # the arguments come in several pieces
    assert [f["index"] for f in fragments if "id" in f] == [0, 1]  # only each call's first fragment has its id
