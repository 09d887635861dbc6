"""A stream as the Responses API's typed events (docs/api.md#responses-streams).

    event: response.created                   {"type", "sequence_number": 0, "response": {"status": "in_progress"}}
    event: response.in_progress
    event: response.output_item.added         a reasoning item, a message, a function_call or an mcp_call, at its index
    event: response.content_part.added        the message's output_text part (a reasoning item's reasoning_text)
    event: response.output_text.delta         (response.reasoning_text.delta, response.function_call_arguments.delta)
    event: response.output_text.done          (response.reasoning_text.done, response.function_call_arguments.done)
    event: response.content_part.done
    event: response.output_item.done          the item as the final response has it
    event: response.completed                 or response.incomplete (max_output_tokens): the whole response

Every event carries a ``sequence_number``, counted from 0 per stream. An item is
closed when an item of another kind starts and at the end; a call's fragments
carry its index in the answer, so parallel calls keep their own items. A
failure once the stream has started is an ``error`` event, then
``response.failed`` with the error on the response. ``conclude`` builds the
final response before its frames are written, so that the door can store it
first (the pump renders each event before it pulls the next).
"""

from __future__ import annotations

import time
from typing import Any

import msgspec

from application.tool_loop import ToolRound
from domain import errors
from domain.content import ReasoningPart, ToolCallPart
from domain.models import Answer, StreamDelta, StreamEvent
from entrypoints.http.openai.responses.errors import RESPONSES_ERRORS, responses_error_object
from entrypoints.http.openai.responses.mapping import (
    ResponseHead,
    call_item,
    item_id,
    mcp_call_item,
    message_item,
    reasoning_item,
    round_calls,
    status_of,
)

_encode = msgspec.json.Encoder().encode


class _Open(msgspec.Struct, kw_only=True):
    """The item being streamed at ``index`` of the output."""

    kind: str  # message | reasoning | function_call
    index: int
    id: str
    text: str = ""
    name: str = ""
    call_id: str = ""
    signature: str = ""
    redacted: bytes = b""


class ResponseEvents:
    """Renders one stream's events; one instance per stream (it numbers the events and tracks open items)."""

    def __init__(self, head: ResponseHead) -> None:
        self._head = head
        self._sequence = 0
        self._started = False
        self._output: list[dict[str, Any]] = []  # closed items, in output order (open ones hold their place)
        self._text: _Open | None = None  # the open message or reasoning item
        self._calls: dict[int, _Open] = {}  # open function calls by the answer's call index
        self._closing: bytes | None = None

    def __call__(self, event: StreamEvent | ToolRound) -> bytes:
        framed = self._start()
        if isinstance(event, ToolRound):  # MCP calls the gateway ran between two rounds: mcp_call items
            framed += self._close_text() + self._close_calls()
            for ran, result in round_calls(event):
                index = len(self._output)
                done = mcp_call_item(ran, result, item_id("mcp_call", self._head.id, index))
                self._output.append(done)
                added = {**done, "status": "in_progress", "output": None, "error": None}
                framed += self._event("response.output_item.added", output_index=index, item=added)
                framed += self._event("response.output_item.done", output_index=index, item=done)
            return framed
        if not isinstance(event, StreamDelta):
            if self._closing is None:
                self.conclude(event.answer)
            assert self._closing is not None
            return framed + self._closing
        if event.tool_calls:
            framed += self._close_text()
            for delta in event.tool_calls:
                call = self._calls.get(delta.index)
                if call is None:
                    call = self._open("function_call", name=delta.name, call_id=delta.id)
                    self._calls[delta.index] = call
                    framed += self._item_added(call)
                if delta.arguments:
                    call.text += delta.arguments
                    framed += self._event(
                        "response.function_call_arguments.delta",
                        item_id=call.id,
                        output_index=call.index,
                        delta=delta.arguments,
                    )
            return framed
        if event.reasoning is not None:
            return framed + self._reasoning(event.reasoning.text, event.reasoning.signature, event.reasoning.redacted)
        if event.content:
            framed += self._ensure_text("message")
            assert self._text is not None
            self._text.text += event.content
            framed += self._event(
                "response.output_text.delta",
                item_id=self._text.id,
                output_index=self._text.index,
                content_index=0,
                delta=event.content,
                logprobs=[],
            )
        return framed

    def conclude(self, answer: Answer) -> bytes:
        """Close every open item; the final response's JSON, encoded once for its event and for the store
        (its frames go out with the end event)."""
        framed = self._start() + self._close_text() + self._close_calls()
        if not self._output:  # an empty answer is still one (empty) message, as the plain answer is
            framed += self._ensure_text("message") + self._close_text()
        status, _ = status_of(answer)
        final = _encode(self._head.answered(answer, self._output, int(time.time())))
        kind = "response.completed" if status == "completed" else "response.incomplete"
        self._closing = framed + self._event(kind, response=msgspec.Raw(final))
        return final

    def error(self, error: errors.DomainError) -> bytes:
        """A failure after the 200: ``error``, then ``response.failed``."""
        body = responses_error_object(RESPONSES_ERRORS.status_of(error), error.code, error.message)
        framed = self._start()
        framed += self._event("error", code=body["code"], message=body["message"], param=body["param"])
        closed = [item for item in self._output if item]
        failed = self._head.json(status="failed", output=closed, error={"code": body["code"], "message": error.message})
        return framed + self._event("response.failed", response=failed)

    # -- items ----------------------------------------------------------------------------------------------------

    def _start(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        head = msgspec.Raw(_encode(self._head.json(status="in_progress")))  # encoded once for both events
        return self._event("response.created", response=head) + self._event("response.in_progress", response=head)

    def _open(self, kind: str, **fields: Any) -> _Open:
        item = _Open(kind=kind, index=len(self._output), id=item_id(kind, self._head.id, len(self._output)), **fields)
        self._output.append({})  # its place; filled when it closes
        return item

    def _item_json(self, item: _Open, status: str) -> dict[str, Any]:
        if item.kind == "message":
            return message_item(item.text, item.id, status=status)
        if item.kind == "reasoning":
            block = ReasoningPart(text=item.text, signature=item.signature, redacted=item.redacted)
            return reasoning_item(block, item.id, status=status)
        call = ToolCallPart(id=item.call_id, name=item.name, arguments=item.text)
        return call_item(call, item.id, status=status)

    def _item_added(self, item: _Open) -> bytes:
        added = self._item_json(item, "in_progress")
        if item.kind == "message" or item.kind == "reasoning":
            added["content"] = []
        framed = self._event("response.output_item.added", output_index=item.index, item=added)
        if item.kind == "message":
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            framed += self._part_event("response.content_part.added", item, part)
        elif item.kind == "reasoning":
            framed += self._part_event("response.content_part.added", item, {"type": "reasoning_text", "text": ""})
        return framed

    def _ensure_text(self, kind: str) -> bytes:
        if self._text is not None and self._text.kind == kind and not (self._text.signature or self._text.redacted):
            return b""
        framed = self._close_text() + self._close_calls()
        self._text = self._open(kind)
        return framed + self._item_added(self._text)

    def _reasoning(self, text: str, signature: str, redacted: bytes) -> bytes:
        framed = self._ensure_text("reasoning")
        item = self._text
        assert item is not None
        if text:
            item.text += text
            framed += self._event(
                "response.reasoning_text.delta", item_id=item.id, output_index=item.index, content_index=0, delta=text
            )
        item.signature += signature
        item.redacted += redacted
        return framed

    def _close_text(self) -> bytes:
        item = self._text
        if item is None:
            return b""
        self._text = None
        done = self._item_json(item, "completed")
        if item.kind == "message":
            framed = self._event(
                "response.output_text.done",
                item_id=item.id,
                output_index=item.index,
                content_index=0,
                text=item.text,
                logprobs=[],
            )
            framed += self._part_event("response.content_part.done", item, done["content"][0])
        else:
            part = {"type": "reasoning_text", "text": item.text}
            framed = self._event(
                "response.reasoning_text.done",
                item_id=item.id,
                output_index=item.index,
                content_index=0,
                text=item.text,
            )
            framed += self._part_event("response.content_part.done", item, part)
        self._output[item.index] = done
        return framed + self._event("response.output_item.done", output_index=item.index, item=done)

    def _close_calls(self) -> bytes:
        framed = b""
        for call in self._calls.values():
            done = self._item_json(call, "completed")
            framed += self._event(
                "response.function_call_arguments.done",
                item_id=call.id,
                output_index=call.index,
                name=call.name,
                arguments=call.text,
            )
            self._output[call.index] = done
            framed += self._event("response.output_item.done", output_index=call.index, item=done)
        self._calls.clear()
        return framed

    def _part_event(self, kind: str, item: _Open, part: dict[str, Any]) -> bytes:
        return self._event(kind, item_id=item.id, output_index=item.index, content_index=0, part=part)

    def _event(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + _encode(payload) + b"\n\n"
