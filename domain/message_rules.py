"""The rules of a conversation (docs/api.md#messages).

Each message holds only the parts its role may hold (a ``user`` text and
images; an ``assistant`` text, tool calls and reasoning; a ``tool`` message
tool results; a ``system`` message text), none of them empty. Tool calls and
results pair up the way every provider requires: each call id is used once in
the whole conversation; each result answers a call of the assistant message
right before it (only tool messages in between); and every call of an
assistant message is answered before the next user or assistant turn.

Fields are named as the native API spells them, ``messages[2].content[0].callId``;
a message of the stored history is named as such, and the request's ``prompt``
as ``prompt``.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from domain.content import (
    CAP_VISION,
    IMAGE_TYPES,
    ImagePart,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from domain.errors import InvalidRequest
from domain.models import Message, ModelInfo, Role

MAX_CALL_ID_LENGTH = 128
HISTORY_FIELD = "the session's history"

_ALLOWED: dict[Role, tuple[type[Part], ...]] = {
    "system": (TextPart,),
    "user": (TextPart, ImagePart),
    "assistant": (TextPart, ToolCallPart, ReasoningPart),
    "tool": (ToolResultPart,),
}
_KIND: dict[type[Part], str] = {
    TextPart: "text",
    ImagePart: "image",
    ToolCallPart: "toolCall",
    ToolResultPart: "toolResult",
    ReasoningPart: "reasoning",
}


def check_messages(messages: Sequence[Message], model: ModelInfo | None) -> None:
    """Each message on its own: the parts its role may hold, none empty, images the model can take."""
    for i, message in enumerate(messages):
        check_message(message, f"messages[{i}]", model)


def check_message(message: Message, field: str, model: ModelInfo | None) -> None:
    if message.parts and message.content:
        raise InvalidRequest(f"{field}: give its content as text or as parts, not both")
    if message.role == "tool" and not message.parts:
        raise InvalidRequest(f"{field}.content: a tool message holds tool results (toolResult parts)")
    if not message.parts:
        _check_text(message.content, f"{field}.content")
    for j, part in enumerate(message.parts):
        at = f"{field}.content[{j}]"
        if not isinstance(part, _ALLOWED[message.role]):
            raise InvalidRequest(f"{at}: a {message.role} message cannot hold a {_KIND[type(part)]} part")
        check_part(part, at, model)


def check_part(part: Part, field: str, model: ModelInfo | None) -> None:
    if isinstance(part, TextPart):
        _check_text(part.text, f"{field}.text")
    elif isinstance(part, ImagePart):
        _check_image(part, field, model)
    elif isinstance(part, ToolCallPart):
        _check_call(part, field)
    elif isinstance(part, ToolResultPart):
        _check_result(part, field, model)
    else:
        _check_reasoning(part, field)


def _check_text(text: str, field: str) -> None:
    if not text.strip():
        raise InvalidRequest(f"{field} must not be empty")
    _no_nul(text, field)


def _no_nul(value: str, field: str) -> None:
    # PostgreSQL text cannot hold NUL, and the turn would fail after the provider was paid.
    if "\x00" in value:
        raise InvalidRequest(f"{field} must not contain NUL (U+0000) characters")


def _check_image(part: ImagePart, field: str, model: ModelInfo | None) -> None:
    if model is not None and not model.can(CAP_VISION):
        raise InvalidRequest(f"{field}: model '{model.id}' does not take images")
    if bool(part.data) == bool(part.url):
        raise InvalidRequest(f"{field}: an image has either data or a url")
    if (part.data or part.media_type) and part.media_type not in IMAGE_TYPES:
        shown = part.media_type or "none"
        raise InvalidRequest(f"{field}.mediaType: image type {shown} is not one of {', '.join(IMAGE_TYPES)}")
    if part.url and not part.url.startswith(("https://", "http://")):
        raise InvalidRequest(f"{field}.url must be an http(s) URL or a data URL")
    _no_nul(part.url, f"{field}.url")


def _check_call(part: ToolCallPart, field: str) -> None:
    _check_id(part.id, f"{field}.id")
    _check_text(part.name, f"{field}.name")
    _no_nul(part.arguments, f"{field}.arguments")
    try:
        arguments = msgspec.json.decode(part.arguments)
    except msgspec.DecodeError:
        arguments = None
    if not isinstance(arguments, dict):
        raise InvalidRequest(f"{field}.arguments must be the JSON text of an object")


def _check_result(part: ToolResultPart, field: str, model: ModelInfo | None) -> None:
    _check_id(part.call_id, f"{field}.callId")
    if part.parts and part.content:
        raise InvalidRequest(f"{field}: give the result as text or as parts, not both")
    _no_nul(part.content, f"{field}.content")
    for k, inner in enumerate(part.parts):
        check_part(inner, f"{field}.content[{k}]", model)


def _check_reasoning(part: ReasoningPart, field: str) -> None:
    if not (part.text or part.signature or part.redacted):
        raise InvalidRequest(f"{field}: a reasoning part has text, a signature or redacted data")
    _no_nul(part.text, f"{field}.text")
    _no_nul(part.signature, f"{field}.signature")


def _check_id(value: str, field: str) -> None:
    if not value or len(value) > MAX_CALL_ID_LENGTH:
        raise InvalidRequest(f"{field} must be 1 to {MAX_CALL_ID_LENGTH} characters")
    _no_nul(value, field)


def check_tool_pairing(history: Sequence[Message], messages: Sequence[Message], *, prompt_follows: bool) -> None:
    """Tool calls and results pair up across ``history`` (already stored), ``messages`` and the prompt."""
    pairing = _Pairing()
    offset = len(history)
    for i, message in enumerate((*history, *messages)):
        pairing.add(message, f"messages[{i - offset}]" if i >= offset else HISTORY_FIELD)
    if prompt_follows:
        pairing.close("prompt")
    elif pairing.open:
        raise _unanswered(next(iter(pairing.open)), f"messages[{len(messages) - 1}]" if messages else "prompt")


class _Pairing:
    """The calls seen so far, and those of the last assistant message still waiting for a result."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.open: dict[str, None] = {}  # insertion-ordered, so the first unanswered call is named

    def add(self, message: Message, field: str) -> None:
        if message.role in ("user", "assistant"):
            self.close(field)
        for j, part in enumerate(message.parts):
            if isinstance(part, ToolCallPart):
                self._call(part, f"{field}.content[{j}]")
            elif isinstance(part, ToolResultPart):
                self._result(part, f"{field}.content[{j}]")

    def close(self, field: str) -> None:
        if self.open:
            raise _unanswered(next(iter(self.open)), field)

    def _call(self, part: ToolCallPart, field: str) -> None:
        if part.id in self.seen:
            raise InvalidRequest(f"{field}.id: tool call id '{part.id}' is used twice in the conversation")
        self.seen.add(part.id)
        self.open[part.id] = None

    def _result(self, part: ToolResultPart, field: str) -> None:
        if part.call_id in self.open:
            del self.open[part.call_id]
            return
        if part.call_id in self.seen:
            raise InvalidRequest(
                f"{field}.callId: tool call '{part.call_id}' is already answered, or was not made by the "
                "assistant message right before this result"
            )
        raise InvalidRequest(f"{field}.callId: no earlier tool call has id '{part.call_id}'")


def _unanswered(call_id: str, field: str) -> InvalidRequest:
    return InvalidRequest(
        f"{field}: tool call '{call_id}' has no result; a tool message must answer every call of an "
        "assistant message before the conversation goes on"
    )
