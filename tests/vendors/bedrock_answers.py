"""The fake Bedrock's model: what it answers to a valid request, whole or as ConverseStream events.

The answer's content blocks are Converse's: ``reasoningContent`` first when
thinking is on (``reasoningText`` with a signature the fake remembers, and a
``redactedContent`` block if scripted), then either ``toolUse`` blocks or one
``text`` block. Tool calls: the scripted calls (``Script.tool_calls``) whose
tool is offered and not yet called in the conversation; a forced
``toolChoice`` narrows them to its tool, or calls it (``tool``) or the last
offered tool (``any``) with an empty input when none is scripted; a scripted
``preamble`` is a text block before the calls. The text
answers the last user turn's words, or the results it carries. With
``inferenceConfig.stopSequences`` the text ends before the first sequence it
holds, with stop reason ``stop_sequence``; which one matched comes back as
``additionalModelResponseFields.stop_sequence`` (null when none matched) only
when the request asks for the ``/stop_sequence`` path, as Claude on Bedrock does.

Streams send the real order: ``messageStart``; per block ``contentBlockStart``
(only for ``toolUse``, with id and name), ``contentBlockDelta``s (text,
``toolUse.input`` fragments, ``reasoningContent`` text then its signature),
``contentBlockStop``; ``messageStop``; ``metadata`` with the usage.

Usage counts words (CountTokens answers the words of the system prompt and
messages); a ``cachePoint`` after the system prompt or the tools makes the
words before it cached: written on the first request with that prefix, read on
the next ones, and left out of ``inputTokens`` as Bedrock does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.vendors.bedrock_script import Script, ScriptedCall, answer_for, split_chunks

Block = dict[str, Any]
STOP_SEQUENCE_PATH = "/stop_sequence"


@dataclass(frozen=True)
class Answer:
    blocks: list[Block]
    stop_reason: str
    usage: dict[str, int]
    response_fields: dict[str, Any] | None = None  # additionalModelResponseFields, when asked for


class FakeModel:
    """Answers requests, remembering the signatures it gave (each with its text) and the prompt prefixes it cached."""

    def __init__(self) -> None:
        self.signatures: dict[str, str] = {}
        self.prompt_cache: set[str] = set()

    def answer(self, body: dict[str, Any], script: Script) -> Answer:
        blocks = self._reasoning(body, script)
        calls = _calls(body, script)
        matched: str | None = None
        if calls:
            blocks += [{"text": script.preamble}] if script.preamble else []
            blocks += [{"toolUse": {"toolUseId": f"tooluse_{uuid.uuid4().hex[:22]}", **call}} for call in calls]
            stop_reason = "tool_use"
        else:
            text, matched = _cut_at_stop(script.answer or answer_for(_last_user_words(body)), body)
            blocks.append({"text": text})
            stop_reason = "stop_sequence" if matched is not None else script.stop_reason
        usage = self._usage(body, blocks, script)
        asked = STOP_SEQUENCE_PATH in body.get("additionalModelResponseFieldPaths", [])
        fields = {"stop_sequence": matched} if asked else None
        return Answer(blocks=blocks, stop_reason=stop_reason, usage=usage, response_fields=fields)

    def _reasoning(self, body: dict[str, Any], script: Script) -> list[Block]:
        if "thinking" not in body.get("additionalModelRequestFields", {}):
            return []
        text = script.reasoning or f"Thinking about: {_last_user_words(body)}"
        signature = base64.b64encode(hashlib.sha256(f"{uuid.uuid4()}{text}".encode()).digest()).decode()
        self.signatures[signature] = text
        blocks: list[Block] = [{"reasoningContent": {"reasoningText": {"text": text, "signature": signature}}}]
        if script.redacted_reasoning is not None:
            redacted = base64.b64encode(script.redacted_reasoning).decode()
            blocks.append({"reasoningContent": {"redactedContent": redacted}})
        return blocks

    def _usage(self, body: dict[str, Any], blocks: list[Block], script: Script) -> dict[str, int]:
        tools = body.get("toolConfig", {}).get("tools", [])
        sent = _words(json.dumps(tools)) if tools else 0
        sent += conversation_tokens(body)
        usage = {"inputTokens": sent, "outputTokens": sum(_words(_block_words(block)) for block in blocks)}
        cached, prefix = _cached_prefix(body)
        if cached:
            usage["inputTokens"] -= cached
            key = "cacheReadInputTokens" if prefix in self.prompt_cache else "cacheWriteInputTokens"
            usage[key] = cached
            self.prompt_cache.add(prefix)
        if script.input_tokens is not None:
            usage["inputTokens"] = script.input_tokens
        if script.output_tokens is not None:
            usage["outputTokens"] = script.output_tokens
        total = usage["inputTokens"] + usage["outputTokens"]
        usage["totalTokens"] = total + usage.get("cacheReadInputTokens", 0) + usage.get("cacheWriteInputTokens", 0)
        return usage


def _cut_at_stop(text: str, body: dict[str, Any]) -> tuple[str, str | None]:
    """The text up to the first stop sequence in it (the sequence left out, as models do), and that sequence."""
    found = [(text.find(stop), stop) for stop in body.get("inferenceConfig", {}).get("stopSequences", [])]
    hits = [(at, stop) for at, stop in found if at >= 0]
    if not hits:
        return text, None
    at, stop = min(hits)
    return text[:at], stop


def _calls(body: dict[str, Any], script: Script) -> list[dict[str, Any]]:
    tool_config = body.get("toolConfig", {})
    offered = [tool["toolSpec"]["name"] for tool in tool_config.get("tools", []) if "toolSpec" in tool]
    called = {use["name"] for message in body["messages"] for use in _uses(message)}
    calls = [call for call in script.tool_calls if call.name in offered and call.name not in called]
    choice = tool_config.get("toolChoice", {})
    if "tool" in choice:
        forced = choice["tool"]["name"]
        calls = [call for call in calls if call.name == forced] or [ScriptedCall(forced)]
    elif "any" in choice and not calls:
        calls = [ScriptedCall(offered[-1])]
    return [{"name": call.name, "input": call.input} for call in calls]


def _uses(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [block["toolUse"] for block in message["content"] if "toolUse" in block]


def _last_user_words(body: dict[str, Any]) -> str:
    last_user = next(m for m in reversed(body["messages"]) if m["role"] == "user")
    words = []
    for block in last_user["content"]:
        if "text" in block:
            words.append(block["text"])
        for inner in block.get("toolResult", {}).get("content", []):
            words.append(inner.get("text") or json.dumps(inner.get("json", "")))
    return " ".join(word for word in words if word)


def conversation_tokens(body: dict[str, Any]) -> int:
    """The words of the system prompt and the messages: Converse's input count without the tools, and
    what CountTokens answers for them."""
    sent = sum(_words(block.get("text", "")) for block in body.get("system", []))
    return sent + sum(_words(_block_words(block)) for message in body["messages"] for block in message["content"])


def _block_words(block: Block) -> str:
    if "text" in block:
        return str(block["text"])
    if "toolUse" in block:
        return json.dumps(block["toolUse"].get("input", {}))
    if "toolResult" in block:
        return " ".join(inner.get("text", "") for inner in block["toolResult"]["content"])
    return str(block.get("reasoningContent", {}).get("reasoningText", {}).get("text", ""))


def _words(text: str) -> int:
    return len(text.split())


def _cached_prefix(body: dict[str, Any]) -> tuple[int, str]:
    """The words before the last cache point of the tools and system prompt, and that prefix's digest."""
    prefix: list[Block] = []
    cached: list[Block] = []
    for block in [*body.get("toolConfig", {}).get("tools", []), *body.get("system", [])]:
        if "cachePoint" in block:
            cached = list(prefix)
        else:
            prefix.append(block)
    if not cached:
        return 0, ""
    words = sum(_words(json.dumps(block["toolSpec"]) if "toolSpec" in block else block["text"]) for block in cached)
    return words, hashlib.sha256(json.dumps(cached, sort_keys=True).encode()).hexdigest()


def stream_events(answer: Answer, chunks: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """The ConverseStream events of ``answer``, in Bedrock's order, each ``(event type, payload)``."""
    yield "messageStart", {"role": "assistant"}
    for index, block in enumerate(answer.blocks):
        if "toolUse" in block:
            use = block["toolUse"]
            start = {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}
            yield "contentBlockStart", {"contentBlockIndex": index, "start": start}
        for delta in _deltas(block, chunks):
            yield "contentBlockDelta", {"contentBlockIndex": index, "delta": delta}
        yield "contentBlockStop", {"contentBlockIndex": index}
    stop: dict[str, Any] = {"stopReason": answer.stop_reason}
    if answer.response_fields is not None:
        stop["additionalModelResponseFields"] = answer.response_fields
    yield "messageStop", stop


def _deltas(block: Block, chunks: int) -> Iterator[Block]:
    if "text" in block:
        yield from ({"text": piece} for piece in split_chunks(block["text"], chunks))
    elif "toolUse" in block:
        arguments = block["toolUse"]["input"]
        if arguments:  # a call without arguments streams no input at all
            yield from ({"toolUse": {"input": piece}} for piece in split_chunks(json.dumps(arguments), chunks))
    elif "redactedContent" in block["reasoningContent"]:
        yield {"reasoningContent": {"redactedContent": block["reasoningContent"]["redactedContent"]}}
    else:
        text = block["reasoningContent"]["reasoningText"]
        yield from ({"reasoningContent": {"text": piece}} for piece in split_chunks(text["text"], chunks))
        yield {"reasoningContent": {"signature": text["signature"]}}
