"""The native JSON of a rich request: messages, parts, shorthands, and the way back from stored messages."""

from __future__ import annotations

import base64
from typing import Any

import msgspec
import pytest

from domain.content import ImagePart, ReasoningPart, TextPart, ToolCallPart, ToolChoice, ToolResultPart
from domain.errors import InvalidRequest
from domain.models import Message
from entrypoints.native_json import GenerateBody
from entrypoints.native_messages import MessageBody, content_json, messages_of

PNG = b"\x89PNG\r\n\x1a\n\x00"


def decoded(*messages: dict[str, Any]) -> tuple[Message, ...]:
    return messages_of(msgspec.convert(list(messages), list[MessageBody]))


def test_a_string_and_a_single_text_part_are_the_same_message() -> None:
    assert decoded({"role": "user", "content": "hi"}) == decoded(
        {"role": "user", "content": [{"type": "text", "text": "hi"}]}
    )


def test_an_answer_sent_back_with_its_tool_calls_and_reasoning() -> None:
    message = {
        "role": "assistant",
        "content": "calling",
        "toolCalls": [{"id": "c1", "name": "f", "arguments": {"x": 1}}],
        "reasoning": [{"text": "t", "signature": "s", "redacted": base64.b64encode(b"\x00").decode()}],
    }
    assert decoded(message) == (
        Message(
            role="assistant",
            parts=(
                ReasoningPart(text="t", signature="s", redacted=b"\x00"),
                TextPart(text="calling"),
                ToolCallPart(id="c1", name="f", arguments='{"x":1}'),
            ),
        ),
    )


def test_a_tool_message_by_its_call_id() -> None:
    assert decoded({"role": "tool", "toolCallId": "c1", "content": "42", "isError": True}) == (
        Message(role="tool", parts=(ToolResultPart(call_id="c1", content="42", is_error=True),)),
    )


def test_a_data_url_becomes_bytes_with_its_media_type() -> None:
    url = "data:image/PNG;base64," + base64.b64encode(PNG).decode()
    [message] = decoded({"role": "user", "content": [{"type": "image", "url": url}]})
    assert message.parts == (ImagePart(media_type="image/png", data=PNG),)


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (
            {"role": "user", "content": [{"type": "image", "url": "data:image/png,%89PNG"}]},
            "messages[0].content[0].url",
        ),
        (
            {"role": "user", "content": [{"type": "image", "url": "data:image/png;base64,@@"}]},
            "messages[0].content[0].url",
        ),
        ({"role": "user", "toolCalls": []}, "messages[0]: only an assistant"),
        ({"role": "user", "toolCallId": "c"}, "messages[0].toolCallId"),
        (
            {"role": "tool", "toolCallId": "c", "content": [{"type": "toolCall", "id": "a", "name": "b"}]},
            "messages[0].content[0]: a tool result holds",
        ),
    ],
)
def test_what_cannot_be_converted_names_its_field(message: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decoded(message)
    assert caught.value.message.startswith(field)


def test_stored_rich_messages_render_as_parts_that_decode_to_the_same_message() -> None:
    message = Message(
        role="assistant",
        parts=(ReasoningPart(text="t", signature="s"), TextPart(text="x"), ToolCallPart(id="c", name="f")),
    )
    back = decoded({"role": "assistant", "content": content_json(message)})
    assert back == (message,)
    image = Message(role="user", parts=(TextPart(text="look"), ImagePart(media_type="image/png", data=PNG)))
    assert decoded({"role": "user", "content": content_json(image)}) == (image,)


def test_the_body_maps_every_rich_field() -> None:
    body = msgspec.json.decode(
        b'{"prompt": "p", "toolChoice": {"name": "f"}, "tools": [{"name": "f"}], "stop": "END",'
        b' "parallelToolCalls": false, "reasoning": {"effort": "high"}, "topP": 0.5, "seed": 1}',
        type=GenerateBody,
    )
    fields = body.fields()
    assert fields.tool_choice == ToolChoice(mode="tool", name="f") and fields.stop == ("END",)
    assert (fields.parallel_tool_calls, fields.reasoning.effort, fields.top_p, fields.seed) == (False, "high", 0.5, 1)
    assert fields.tools[0].parameters == {"type": "object", "properties": {}}
    assert msgspec.json.decode(b'{"prompt": "p"}', type=GenerateBody).fields().parallel_tool_calls is True
