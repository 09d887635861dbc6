"""What the fake model answers to a rich request: tool calls, JSON, reasoning, cached and reasoning tokens.

Deterministic, from the request and the test's ``Script``:

- tools offered (and ``tool_choice`` not ``none``): the script's ``tool_calls``
  whose names are among the tools; ``required`` with none scripted calls the
  first tool, a named choice calls that tool (``{}`` unless scripted); after a
  turn of tool results (and the user message of images a tool returned, if
  any) an ``auto`` choice answers ``Result:`` and the results;
  ``parallel_tool_calls: false`` keeps only the first call; the script's
  ``preamble`` is the text before them (streamed first);
- ``response_format`` ``json_schema``: a small instance of the schema;
  ``json_object``: ``{"answer": <the echo>}``;
- ``script.reasoning``: returned as ``reasoning_content`` (streamed first), its
  words counted as reasoning tokens unless ``script.reasoning_tokens`` says;
- ``script.cached_tokens``: reported as ``prompt_tokens_details.cached_tokens``.

Streamed tool calls come as OpenAI sends them, split further: each call's first
fragment has its index, id and name, its arguments follow in several pieces,
and the fragments of parallel calls are interleaved by index.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Iterator
from typing import Any

from tests.vendors import openai_wire as wire
from tests.vendors.openai_script import Script


def answer(body: dict[str, Any], script: Script, ids: Iterator[int]) -> wire.Answer:
    messages = body["messages"]
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    base = wire.answer_for(messages, chunks=script.chunks, max_tokens=max_tokens)
    calls = tool_calls(body, script, ids)
    if calls:
        said = tuple(word if i == 0 else " " + word for i, word in enumerate(script.preamble.split()))
        spent = len(said) + sum(1 + len(call.arguments) // 4 for call in calls)
        base = wire.Answer(said, base.prompt_tokens, spent, "tool_calls", tool_calls=calls)
    elif _answering_results(messages):
        base = _pieces_answer(["Result:", *(_results(messages))], base.prompt_tokens, script.chunks)
    json_text = _json_answer(body.get("response_format"), base.text)
    if json_text is not None and not calls:
        base = _pieces_answer([json_text], base.prompt_tokens, None)
    reasoning_tokens = script.reasoning_tokens or len(script.reasoning.split())
    return dataclasses.replace(
        base,
        completion_tokens=base.completion_tokens + reasoning_tokens,
        reasoning=script.reasoning,
        reasoning_tokens=reasoning_tokens,
        cached_tokens=min(script.cached_tokens, base.prompt_tokens),
    )


def tool_calls(body: dict[str, Any], script: Script, ids: Iterator[int]) -> tuple[wire.ToolCall, ...]:
    names = [tool["function"]["name"] for tool in body.get("tools") or ()]
    choice = body.get("tool_choice", "auto")
    answering_results = _answering_results(body["messages"])
    if not names or choice == "none" or (choice == "auto" and answering_results):
        return ()
    wanted = [(name, arguments) for name, arguments in script.tool_calls if name in names]
    if isinstance(choice, dict):
        named = choice["function"]["name"]
        wanted = [call for call in wanted if call[0] == named] or [(named, "{}")]
    elif choice == "required" and not wanted:
        wanted = [(names[0], "{}")]
    if body.get("parallel_tool_calls") is False:
        wanted = wanted[:1]
    return tuple(wire.ToolCall(f"call_fake{next(ids):06x}", name, arguments) for name, arguments in wanted)


def tool_call_fragments(calls: tuple[wire.ToolCall, ...]) -> list[dict[str, Any]]:
    """The ``delta.tool_calls`` entries of a streamed answer, one per event, interleaved by index."""
    firsts = [
        {"index": i, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
        for i, call in enumerate(calls)
    ]
    pieces = [[{"index": i, "function": {"arguments": p}} for p in call.pieces()] for i, call in enumerate(calls)]
    rest = [fragment for row in itertools.zip_longest(*pieces) for fragment in row if fragment is not None]
    return [*firsts, *rest]


def _since_last_answer(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    trailing = list(itertools.takewhile(lambda m: m.get("role") != "assistant", reversed(messages)))
    return trailing[::-1]


def _answering_results(messages: list[dict[str, Any]]) -> bool:
    """Tool messages since the last answer (a user message may follow them: the images a tool returned)."""
    return any(m.get("role") == "tool" for m in _since_last_answer(messages))


def _results(messages: list[dict[str, Any]]) -> list[str]:
    return [str(m.get("content", "")) for m in _since_last_answer(messages) if m.get("role") == "tool"]


def _pieces_answer(words: list[str], prompt_tokens: int, chunks: int | None) -> wire.Answer:
    spaced = [w if i == 0 else " " + w for i, w in enumerate(words)]
    if chunks and chunks < len(spaced):
        size = -(-len(spaced) // chunks)
        spaced = ["".join(spaced[i : i + size]) for i in range(0, len(spaced), size)]
    return wire.Answer(tuple(spaced), prompt_tokens, len(words), "stop")


def _json_answer(response_format: Any, echo: str) -> str | None:
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_object":
        return json.dumps({"answer": echo})
    if kind == "json_schema":
        return json.dumps(instance(response_format["json_schema"]["schema"]))
    return None


def instance(schema: dict[str, Any]) -> Any:
    """A small value that satisfies ``schema`` (the keywords a response schema uses)."""
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return instance(schema[key][0])
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: instance(properties.get(name, {})) for name in schema.get("required", list(properties))}
    if kind == "array":
        return [instance(schema.get("items", {})) for _ in range(schema.get("minItems", 0))]
    return {
        "string": "text",
        "integer": schema.get("minimum", 0),
        "number": schema.get("minimum", 0),
        "boolean": False,
    }.get(kind)
