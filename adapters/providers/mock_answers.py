"""What the offline ``mock`` provider answers (docs/api.md#providers), derived from the call alone.

* A plain prompt: ``Mock answer (turn N): <the prompt's words>`` (and the system prompt).
* Tools offered and the last user message names one (or the choice is
  ``required`` or one named tool): a call of each tool named, in the order the
  prompt names them (only the first when parallel calls are off), with
  arguments that satisfy the tool's schema; no text, finish reason ``tool_calls``.
* The last messages are tool results: a text answer quoting each result, of every tool message at the end.
* Images in the last user message: a short description of each (type and size).
* Stop sequences: a text answer ends before the first one its text holds
  (finish reason ``stop``, the matched sequence as ``stop_sequence``).
* ``json_object``: ``{"answer": <the text>}``; ``json_schema``: an instance of the schema.
* A reasoning config: a reasoning block before the answer, whose signature is
  checked when it comes back in a later turn, as real providers do, so that a
  client that alters it is told.

Token counts: one per whitespace-separated word sent and returned (a JSON
answer: one per 16 characters; a tool call: one for its name and one per 16
characters of its arguments, so that a call costs output as it does upstream);
reasoning words count as reasoning tokens.
"""

from __future__ import annotations

import hashlib
import itertools

import msgspec

from adapters.providers.mock_schema import instance_of
from domain.content import ImagePart, ReasoningPart, TextPart, ToolCallPart, ToolResultPart, ToolSpec
from domain.errors import UpstreamBadRequest
from domain.models import Message, ProviderCall, Usage

JSON_PIECE_CHARS = 16
_encoder = msgspec.json.Encoder()


class MockAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """The answer, with ``pieces``: the units it streams in (and counts as tokens)."""

    pieces: tuple[str, ...]
    tool_calls: tuple[ToolCallPart, ...] = ()
    reasoning: tuple[ReasoningPart, ...] = ()
    finish_reason: str = "stop"
    stop_sequence: str | None = None  # the stop sequence the text was cut at

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def usage(self, call: ProviderCall) -> Usage:
        sent = sum(len(_words_of(message)) for message in call.messages) + len(call.system.split())
        thought = sum(len(block.text.split()) for block in self.reasoning)
        calling = sum(1 + -(-len(call.arguments) // JSON_PIECE_CHARS) for call in self.tool_calls)
        return Usage(
            prompt_tokens=sent, completion_tokens=len(self.pieces) + calling + thought, reasoning_tokens=thought
        )


def answer(call: ProviderCall) -> MockAnswer:
    check_signatures(call.messages)
    reasoning = _reasoning(call) if call.reasoning.requested else ()
    calls = _tool_calls(call)
    if calls:
        return MockAnswer(pieces=(), tool_calls=calls, reasoning=reasoning, finish_reason="tool_calls")
    words = _words(call)
    if call.output_format.type != "text":
        return _json(call, " ".join(words), reasoning)
    pieces, matched = _cut_at_stop(_spaced(words), call.sampling.stop)
    if len(pieces) > call.max_tokens:
        return MockAnswer(pieces=pieces[: call.max_tokens], reasoning=reasoning, finish_reason="length")
    return MockAnswer(pieces=pieces, reasoning=reasoning, stop_sequence=matched)


def signature_of(text: str) -> str:
    return "mock-" + hashlib.sha256(text.encode()).hexdigest()[:32]


def check_signatures(messages: tuple[Message, ...]) -> None:
    """Refuse reasoning sent back altered, as a provider that signs its reasoning does."""
    for i, message in enumerate(messages):
        for part in message.parts:
            if isinstance(part, ReasoningPart) and part.signature and part.signature != signature_of(part.text):
                raise UpstreamBadRequest(
                    f"mock: the reasoning of message {i} was altered (its signature does not match)"
                )


def _reasoning(call: ProviderCall) -> tuple[ReasoningPart, ...]:
    text = f"The user said: {_last_user_text(call)} I answer from what was said."
    return (ReasoningPart(text=text, signature=signature_of(text)),)


def _tool_calls(call: ProviderCall) -> tuple[ToolCallPart, ...]:
    last = call.messages[-1] if call.messages else None
    if not call.tools or call.tool_choice.mode == "none" or last is None or last.role != "user":
        return ()
    chosen = _chosen_tools(call, last.text)
    conversation = _encoder.encode(call.messages)
    return tuple(
        ToolCallPart(
            id="call_" + hashlib.sha256(conversation + f"|{i}|{tool.name}".encode()).hexdigest()[:24],
            name=tool.name,
            arguments=_encoder.encode(instance_of(tool.parameters)).decode(),
        )
        for i, tool in enumerate(chosen)
    )


def _chosen_tools(call: ProviderCall, prompt: str) -> list[ToolSpec]:
    if call.tool_choice.mode == "tool":
        return [tool for tool in call.tools if tool.name == call.tool_choice.name]
    named = sorted((tool for tool in call.tools if tool.name in prompt), key=lambda tool: prompt.index(tool.name))
    if not named and call.tool_choice.mode == "required":
        named = [call.tools[0]]
    return named if call.parallel_tool_calls else named[:1]


def _words(call: ProviderCall) -> list[str]:
    turn = sum(1 for message in call.messages if message.role == "user")
    words = ["Mock", "answer", f"(turn {turn}):", *(w for message in _last_turn(call) for w in _words_of(message))]
    if call.system:
        words += ["[system:", *call.system.split(), "]"]
    return words


def _last_turn(call: ProviderCall) -> list[Message]:
    """The last message, or all the tool messages at the end (one per result, as a client may send them)."""
    if not call.messages:
        return [Message(role="user")]
    trailing = list(itertools.takewhile(lambda message: message.role == "tool", reversed(call.messages)))
    return trailing[::-1] or [call.messages[-1]]


def _words_of(message: Message) -> list[str]:
    """The words of a message: its text, what each tool returned, and a description of each image."""
    if not message.parts:
        return message.content.split()
    words: list[str] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            words += part.text.split()
        elif isinstance(part, ImagePart):
            words += _described(part)
        elif isinstance(part, ToolResultPart):
            words += ["[tool", f"{part.call_id}", "error]" if part.is_error else "returned]", *part.text.split()]
    return words


def _described(image: ImagePart) -> list[str]:
    if image.url:
        return ["[image", image.url + "]"]
    return ["[image", image.media_type + ",", f"{len(image.data)}", "bytes]"]


def _last_user_text(call: ProviderCall) -> str:
    for message in reversed(call.messages):
        if message.role == "user":
            return message.text
    return ""


def _json(call: ProviderCall, text: str, reasoning: tuple[ReasoningPart, ...]) -> MockAnswer:
    schema = call.output_format.schema
    value = instance_of(schema) if call.output_format.type == "json_schema" else {"answer": text}
    encoded = _encoder.encode(value).decode()
    pieces = tuple(encoded[i : i + JSON_PIECE_CHARS] for i in range(0, len(encoded), JSON_PIECE_CHARS))
    if len(pieces) > call.max_tokens:
        return MockAnswer(pieces=pieces[: call.max_tokens], reasoning=reasoning, finish_reason="length")
    return MockAnswer(pieces=pieces, reasoning=reasoning)


def _cut_at_stop(pieces: tuple[str, ...], stops: tuple[str, ...]) -> tuple[tuple[str, ...], str | None]:
    """The pieces before the first stop sequence in their text (the sequence left out, as models do), and
    the sequence; the pieces unchanged and None when none occurs. Of two starting at one place, the longer."""
    text = "".join(pieces)
    hits = [(text.find(stop), -len(stop), stop) for stop in stops if stop and stop in text]
    if not hits:
        return pieces, None
    at, _, matched = min(hits)
    kept: list[str] = []
    for piece in pieces:
        if at <= 0:
            break
        kept.append(piece[:at])
        at -= len(piece)
    return tuple(kept), matched


def _spaced(words: list[str]) -> tuple[str, ...]:
    return tuple(word if i == 0 else " " + word for i, word in enumerate(words))
