"""One rich generation request sent over any native surface, and its answer read back the same way.

The e2e matrix (tests/e2e/test_rich_matrix.py) writes each request once, as the
HTTP door's JSON body (docs/api.md#generation-request), and sends it over HTTP
(``POST /api/v1/generate``), SSE (``/api/v1/generate/stream``), the WebSocket
or gRPC (``Generate``, or ``GenerateStream`` for a streamed case): ``grpc_request``
spells the body as a ``GenerateRequest`` the way a gRPC client would. Every
surface's answer comes back as a ``Reply`` in the HTTP answer's names, with the
tool-call fragments a stream sent, so that one assertion checks all four; a
refusal comes back as its message, after checking it is the surface's own 400
(``invalid_request``, ``INVALID_ARGUMENT``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets
from grpclib.client import Channel
from grpclib.const import Status

from entrypoints.grpc.generated import proto as pb
from tests.support.grpc_calls import call
from tests.support.server import ServerProcess

SURFACES = ("http", "sse", "ws", "grpc")
# gRPC has a unary call and a streaming one: "grpc" is Generate, "grpc-stream" GenerateStream.
STREAMING_SURFACES = ("sse", "ws", "grpc-stream")
Body = Mapping[str, Any]
USAGE_FIELDS = ("promptTokens", "completionTokens", "cacheReadInputTokens", "cacheWriteInputTokens", "reasoningTokens")


@dataclass
class Reply:
    """An answer as every surface gives it; on a stream, ``content`` is its content events joined and
    ``fragments`` its tool-call deltas, in order."""

    content: str
    finish_reason: str
    provider: str
    tool_calls: list[dict[str, str]]
    reasoning: list[dict[str, str]]
    usage: dict[str, int]
    fragments: list[dict[str, Any]] = field(default_factory=list)
    reasoning_fragments: list[dict[str, str]] = field(default_factory=list)

    @property
    def streamed(self) -> bool:
        return bool(self.fragments or self.reasoning_fragments)

    def echoed(self) -> dict[str, Any]:
        """The answer sent back as the next request's assistant message (docs/api.md#messages)."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["toolCalls"] = self.tool_calls
        if self.reasoning:
            message["reasoning"] = self.reasoning
        return message


def assembled_reasoning(fragments: list[dict[str, str]]) -> list[dict[str, str]]:
    """Reasoning blocks joined from their stream pieces: a signature (or redacted data) closes a block."""
    blocks: list[dict[str, str]] = []
    text = ""
    for fragment in fragments:
        text += fragment.get("text", "")
        if fragment.get("signature") or fragment.get("redacted"):
            closing = {key: fragment[key] for key in ("signature", "redacted") if fragment.get(key)}
            blocks.append({"text": text, **closing})
            text = ""
    return [*blocks, {"text": text}] if text else blocks


def assembled(fragments: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Tool calls joined from their stream fragments by index, as a client must."""
    calls: dict[int, dict[str, str]] = {}
    for fragment in fragments:
        built = calls.setdefault(fragment["index"], {"id": "", "name": "", "arguments": ""})
        built["id"] = built["id"] or fragment.get("id", "")
        built["name"] = built["name"] or fragment.get("name", "")
        built["arguments"] += fragment.get("arguments", "")
    return [calls[i] for i in sorted(calls)]


async def ask(surface: str, server: ServerProcess, body: Body) -> Reply:
    """``body`` answered over ``surface`` (one of ``SURFACES`` or ``STREAMING_SURFACES``)."""
    if surface == "http":
        return _from_json(await _http_answer(server, body))
    if surface == "sse":
        return _from_events(await _sse_events(server, body))
    if surface == "ws":
        return _from_events(await _ws_frames(server, body))
    if surface in ("grpc", "grpc-stream"):
        return await _grpc_answer(server, body, stream=surface == "grpc-stream")
    raise ValueError(f"unknown surface {surface!r}")


async def refused(surface: str, server: ServerProcess, body: Body) -> str:
    """The message of the surface's request error for ``body`` (400 ``invalid_request`` or INVALID_ARGUMENT)."""
    if surface in ("http", "sse"):
        path = "/api/v1/generate" if surface == "http" else "/api/v1/generate/stream"
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(server.base_url + path, json=dict(body))
        assert response.status_code == 400, response.text
        error = response.json()
        assert error["code"] == "invalid_request", error
        return str(error["error"])
    if surface == "ws":
        async with websockets.connect(f"ws://127.0.0.1:{server.ws_port}/ws") as socket:
            await socket.send(json.dumps({**body, "id": "refused"}))
            frame = json.loads(await socket.recv())
        assert frame.get("code") == "invalid_request" and frame["finished"] and frame["id"] == "refused", frame
        return str(frame["error"])
    if surface == "grpc":
        async with Channel("127.0.0.1", server.grpc_port) as channel:
            outcome = await call(channel, "Generate", grpc_request(body))
        assert outcome.error is not None, "expected INVALID_ARGUMENT, the call succeeded"
        assert outcome.error.status == Status.INVALID_ARGUMENT, repr(outcome.error)
        assert outcome.trailing.get("x-error-code") == "invalid_request", outcome.trailing
        return str(outcome.error.message)
    raise ValueError(f"unknown surface {surface!r}")


async def _http_answer(server: ServerProcess, body: Body) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(server.base_url + "/api/v1/generate", json=dict(body))
    assert response.status_code == 200, response.text
    decoded: dict[str, Any] = response.json()
    return decoded


def _from_json(answer: Mapping[str, Any]) -> Reply:
    assert "error" not in answer, answer
    return Reply(
        content=answer["content"],
        finish_reason=answer["finishReason"],
        provider=answer["provider"],
        tool_calls=list(answer.get("toolCalls", [])),
        reasoning=list(answer.get("reasoning", [])),
        usage={name: answer[name] for name in USAGE_FIELDS if name in answer},
    )


async def _sse_events(server: ServerProcess, body: Body) -> list[dict[str, Any]]:
    """The stream's event objects; each tool-call and reasoning event is checked to name its kind."""
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(server.base_url + "/api/v1/generate/stream", json=dict(body))
    assert response.status_code == 200, response.text
    events = []
    for block in response.text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        event = json.loads(lines["data"])
        assert lines.get("event", "message") == event.get("type", "message"), block
        events.append(event)
    return events


async def _ws_frames(server: ServerProcess, body: Body) -> list[dict[str, Any]]:
    async with websockets.connect(f"ws://127.0.0.1:{server.ws_port}/ws") as socket:
        await socket.send(json.dumps({**body, "id": "matrix"}))
        frames = [json.loads(await socket.recv())]
        while not frames[-1].get("finished"):
            frames.append(json.loads(await socket.recv()))
    assert all(frame["id"] == "matrix" for frame in frames), frames
    return frames


def _from_events(events: list[dict[str, Any]]) -> Reply:
    *deltas, final = events
    assert final["finished"] is True and not any(event["finished"] for event in deltas), events
    assert [event["index"] for event in events] == list(range(len(events)))
    assert final["content"] == "", final  # the text is in the content events only (docs/api.md#stream)
    reply = _from_json(final)
    reply.fragments = [f for event in deltas if event.get("type") == "toolCall" for f in event["toolCalls"]]
    reply.content = "".join(event["content"] for event in deltas if event.get("type", "message") == "message")
    reply.reasoning_fragments = [event["reasoning"] for event in deltas if event.get("type") == "reasoning"]
    return reply


async def _grpc_answer(server: ServerProcess, body: Body, *, stream: bool) -> Reply:
    async with Channel("127.0.0.1", server.grpc_port) as channel:
        outcome = await call(channel, "GenerateStream" if stream else "Generate", grpc_request(body))
    assert outcome.error is None, repr(outcome.error)
    if not stream:
        return _from_proto(outcome.reply)
    *chunks, last = outcome.replies
    assert last.finished and not any(chunk.finished for chunk in chunks)
    assert last.content == "", last
    reply = _from_proto(last)
    reply.fragments = [
        {"index": d.index, "id": d.id, "name": d.name, "arguments": d.arguments}
        for chunk in chunks
        for d in chunk.tool_call_deltas
    ]
    reply.content = "".join(chunk.content for chunk in chunks)
    reply.reasoning_fragments = [_reasoning_json(c.reasoning_delta) for c in chunks if c.reasoning_delta is not None]
    return reply


def _from_proto(answer: pb.GenerateResponse | pb.StreamChunk) -> Reply:
    usage = {
        "promptTokens": answer.prompt_tokens,
        "completionTokens": answer.completion_tokens,
        "cacheReadInputTokens": answer.cache_read_input_tokens,
        "cacheWriteInputTokens": answer.cache_write_input_tokens,
        "reasoningTokens": answer.reasoning_tokens,
    }
    return Reply(
        content=answer.content,
        finish_reason=answer.finish_reason,
        provider=answer.provider,
        tool_calls=[{"id": c.id, "name": c.name, "arguments": c.arguments} for c in answer.tool_calls],
        reasoning=[_reasoning_json(block) for block in answer.reasoning],
        # proto3 has no "absent": the HTTP answer leaves out what is 0, and so does this.
        usage={name: value for name, value in usage.items() if value or name in USAGE_FIELDS[:2]},
    )


def _reasoning_json(block: pb.Reasoning) -> dict[str, str]:
    """As the JSON answer spells a block: its text always, a signature and redacted data when it has them."""
    spelled = {"text": block.text}
    if block.signature:
        spelled["signature"] = block.signature
    if block.redacted:
        spelled["redacted"] = base64.b64encode(block.redacted).decode()
    return spelled


# ---- the HTTP body as a gRPC GenerateRequest -------------------------------------------------------


def grpc_request(body: Body) -> pb.GenerateRequest:
    """``body`` (the HTTP door's JSON) as the ``GenerateRequest`` a gRPC client would send."""
    request = pb.GenerateRequest()
    for name, setter in _FIELDS.items():
        if name in body:
            setter(request, body[name])
    return request


def _set(attribute: str, convert: Callable[[Any], Any] = lambda value: value) -> Callable[[Any, Any], None]:
    return lambda request, value: setattr(request, attribute, convert(value))


def _messages(messages: list[dict[str, Any]]) -> list[pb.Message]:
    return [_message(message) for message in messages]


def _message(message: dict[str, Any]) -> pb.Message:
    """A message in parts unless it is text only; the HTTP shorthands spelled out as parts."""
    role, content = message["role"], message.get("content", "")
    if role == "tool" and "toolCallId" in message:
        result = pb.ToolResult(call_id=message["toolCallId"], content=content, is_error=message.get("isError", False))
        return pb.Message(role=role, parts=[pb.Part(tool_result=result)])
    reasoning = [pb.Part(reasoning=_reasoning_block(block)) for block in message.get("reasoning", [])]
    calls = [pb.Part(tool_call=_tool_call(c)) for c in message.get("toolCalls", [])]
    if isinstance(content, str) and not reasoning and not calls:
        return pb.Message(role=role, content=content)
    if isinstance(content, str):
        text = [pb.Part(text=content)] if content else []
    else:
        text = [_part(part) for part in content]
    return pb.Message(role=role, parts=[*reasoning, *text, *calls])


def _part(part: dict[str, Any]) -> pb.Part:
    kind = part["type"]
    if kind == "text":
        return pb.Part(text=part["text"])
    if kind == "image":
        data = base64.b64decode(part["data"]) if "data" in part else b""
        return pb.Part(image=pb.Image(media_type=part.get("mediaType", ""), data=data, url=part.get("url", "")))
    if kind == "toolCall":
        return pb.Part(tool_call=_tool_call(part))
    if kind == "toolResult":
        result = pb.ToolResult(call_id=part["callId"], content=part["content"], is_error=part.get("isError", False))
        return pb.Part(tool_result=result)
    if kind == "reasoning":
        return pb.Part(reasoning=_reasoning_block(part))
    raise ValueError(f"no gRPC spelling for a {kind!r} part")


def _tool_call(spelled: dict[str, Any]) -> pb.ToolCall:
    arguments = spelled["arguments"]
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return pb.ToolCall(id=spelled["id"], name=spelled["name"], arguments=text)


def _reasoning_block(block: dict[str, Any]) -> pb.Reasoning:
    redacted = base64.b64decode(block["redacted"]) if block.get("redacted") else b""
    return pb.Reasoning(text=block.get("text", ""), signature=block.get("signature", ""), redacted=redacted)


def _tools(tools: list[dict[str, Any]]) -> list[pb.Tool]:
    return [
        pb.Tool(
            name=tool["name"],
            description=tool.get("description", ""),
            parameters_json=json.dumps(tool["parameters"]) if "parameters" in tool else "",
        )
        for tool in tools
    ]


def _tool_choice(choice: str | dict[str, str]) -> pb.ToolChoice:
    return pb.ToolChoice(mode="tool", name=choice["name"]) if isinstance(choice, dict) else pb.ToolChoice(mode=choice)


def _response_format(spelled: dict[str, Any]) -> pb.ResponseFormat:
    schema = json.dumps(spelled["schema"]) if "schema" in spelled else ""
    return pb.ResponseFormat(
        type=spelled["type"], name=spelled.get("name", ""), schema_json=schema, strict=spelled.get("strict", False)
    )


def _reasoning_config(spelled: dict[str, Any]) -> pb.ReasoningConfig:
    return pb.ReasoningConfig(effort=spelled.get("effort", ""), budget_tokens=spelled.get("budgetTokens", 0))


_FIELDS: dict[str, Callable[[pb.GenerateRequest, Any], None]] = {
    "prompt": _set("prompt"),
    "system": _set("system"),
    "model": _set("model"),
    "provider": _set("provider"),
    "maxTokens": _set("max_tokens"),
    "temperature": _set("temperature"),
    "topP": _set("top_p"),
    "stop": _set("stop", lambda stop: [stop] if isinstance(stop, str) else list(stop)),
    "seed": _set("seed"),
    "parallelToolCalls": _set("parallel_tool_calls"),
    "messages": _set("messages", _messages),
    "tools": _set("tools", _tools),
    "toolChoice": _set("tool_choice", _tool_choice),
    "responseFormat": _set("response_format", _response_format),
    "reasoning": _set("reasoning", _reasoning_config),
}
