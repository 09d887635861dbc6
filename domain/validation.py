"""Request validation and defaults (docs/api.md#generation-request).

Absent and zero are different: ``temperature: 0`` is a real greedy request and
``maxTokens: 0`` is refused; neither is silently replaced by a default.

A rich request (``messages``, tools, an output format, ...) is checked by the
rules of ``domain.message_rules`` and ``domain.option_rules``; how its tool
calls and results pair up also depends on the stored history, so that rule
runs once the history is read (``application.conversation``).
"""

from __future__ import annotations

import math
import re

import msgspec

from domain.catalogue import Catalogue
from domain.content import (
    AUTO_TOOLS,
    NO_CACHE_MARKS,
    NO_REASONING,
    TEXT_OUTPUT,
    CacheMarks,
    OutputFormat,
    ReasoningConfig,
    Sampling,
    ToolChoice,
    ToolSpec,
)
from domain.errors import InvalidRequest
from domain.message_rules import check_messages
from domain.models import ANYONE, Caller, GenerationRequest, Message, ModelInfo
from domain.option_rules import (
    check_output_format,
    check_reasoning,
    check_sampling,
    check_tool_choice,
    check_tools,
)
from domain.ownership import is_admin

MAX_TEMPERATURE = 2.0
# For models the catalogue does not know, the cap is unknown; refuse only the absurd.
UNKNOWN_MODEL_TOKEN_CAP = 1_000_000

# User and session ids become storage keys (a PostgreSQL row, a Redis key, a lock), a path
# segment of /api/v1/sessions/{id} and a log field. So: short, ASCII, no '/' (it could never
# be read back through the path, and it separates a key from its end user in a session's
# owner), no '%' or spaces (escaping), and a letter or digit first, so that no id is a '.'
# or '..' path segment that URL normalisation would remove.
MAX_ID_LENGTH = 128
ID_CHARACTERS = "A-Z a-z 0-9 . _ : @ -"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]*")
USER_ID_FIELD = "X-User-ID (userId)"
SESSION_ID_FIELD = "X-Session-ID (sessionId)"


class GenerateFields(msgspec.Struct, frozen=True, kw_only=True):
    """The generation request as any transport received it, before defaults."""

    prompt: str | None = None
    model: str | None = None
    provider: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    system: str | None = None
    system_prompt: str | None = None
    messages: tuple[Message, ...] = ()
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = AUTO_TOOLS
    parallel_tool_calls: bool = True
    output_format: OutputFormat = TEXT_OUTPUT
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    reasoning: ReasoningConfig = NO_REASONING
    top_k: int | None = None
    cache_marks: CacheMarks = NO_CACHE_MARKS


class RequestLimits(msgspec.Struct, frozen=True, kw_only=True):
    max_prompt_chars: int = 100_000
    default_max_tokens: int = 4096
    default_temperature: float = 0.7


class RequestContext(msgspec.Struct, frozen=True, kw_only=True):
    """Who is asking: taken from headers, metadata or message fields."""

    request_id: str = ""
    user_id: str = ""
    session_id: str = ""
    skip_cache_read: bool = False
    caller: Caller = ANYONE


def check_prompt(prompt: str | None, limits: RequestLimits) -> str:
    if prompt is None or not prompt.strip():
        raise InvalidRequest("prompt is required and must not be empty")
    if len(prompt) > limits.max_prompt_chars:
        raise InvalidRequest(f"prompt is too long: {len(prompt)} characters, the limit is {limits.max_prompt_chars}")
    check_text(prompt, "prompt")
    return prompt


def check_text(value: str | None, field: str) -> None:
    """Refuse a NUL character: PostgreSQL text cannot hold one, and the turn would fail after the provider was paid."""
    if value and "\x00" in value:
        raise InvalidRequest(f"{field} must not contain NUL (U+0000) characters")


def check_id(value: str, field: str) -> str:
    """A user or session id that every store and every route can hold (see ``MAX_ID_LENGTH``)."""
    if len(value) > MAX_ID_LENGTH:
        raise InvalidRequest(f"{field} is too long: {len(value)} characters, the limit is {MAX_ID_LENGTH}")
    if not _ID.fullmatch(value):
        raise InvalidRequest(f"{field} may contain only {ID_CHARACTERS} and must start with a letter or digit")
    return value


def check_session_pair(user_id: str, session_id: str) -> None:
    if bool(user_id) != bool(session_id):
        raise InvalidRequest("X-User-ID and X-Session-ID must be sent together to use a session")


def check_context(context: RequestContext) -> None:
    """The session a request names: both ids or neither, each one a valid id."""
    check_session_pair(context.user_id, context.session_id)
    if context.session_id:
        check_id(context.user_id, USER_ID_FIELD)
        check_id(context.session_id, SESSION_ID_FIELD)


def check_session_lookup(session_id: str, user_id: str, caller: Caller) -> None:
    """``GET``/``DELETE /api/v1/sessions/{id}``: a valid id, and the end user unless an admin key asks."""
    check_id(session_id, "the session id")
    if user_id:
        check_id(user_id, USER_ID_FIELD)
    elif not is_admin(caller):
        raise InvalidRequest("X-User-ID header is required to read or delete a session")


def build_request(
    fields: GenerateFields, *, catalogue: Catalogue, limits: RequestLimits, context: RequestContext
) -> GenerationRequest:
    prompt = check_prompt(fields.prompt, limits) if fields.prompt or not fields.messages else ""
    system = fields.system if fields.system else (fields.system_prompt or "")
    check_text(system, "system")
    check_text(fields.model, "model")
    check_text(fields.provider, "provider")
    check_context(context)
    resolution = catalogue.resolve(fields.model or "", fields.provider or "")
    cap = resolution.info.max_output_tokens if resolution.info else UNKNOWN_MODEL_TOKEN_CAP
    if cap <= 0:
        raise InvalidRequest(f"model '{resolution.model}' does not generate text")
    plain = GenerationRequest(
        prompt=prompt,
        model=resolution.model,
        provider=resolution.provider,
        max_tokens=_max_tokens(fields.max_tokens, cap, limits, resolution.model),
        temperature=_temperature(fields.temperature, limits),
        system=system,
        request_id=context.request_id,
        user_id=context.user_id,
        session_id=context.session_id,
        skip_cache_read=context.skip_cache_read,
        caller=context.caller,
    )
    return _with_rich_fields(plain, fields, resolution.info, limits)


def _with_rich_fields(
    request: GenerationRequest, fields: GenerateFields, model: ModelInfo | None, limits: RequestLimits
) -> GenerationRequest:
    """The request with its messages (system ones folded into ``system``) and its checked options."""
    check_messages(fields.messages, model)
    _check_turn_size(fields.messages, request.prompt, limits)
    check_tools(fields.tools, model)
    check_tool_choice(fields.tool_choice, fields.tools)
    sampling = Sampling(top_p=fields.top_p, stop=fields.stop, seed=fields.seed, top_k=fields.top_k)
    check_sampling(sampling)
    check_reasoning(fields.reasoning, model, request.max_tokens)
    systems = [m.text for m in fields.messages if m.role == "system"]
    turns = tuple(m for m in fields.messages if m.role != "system")
    if not turns and not request.prompt:
        raise InvalidRequest("messages: the conversation needs a message besides the system ones, or a prompt")
    return msgspec.structs.replace(
        request,
        system="\n\n".join(text for text in (request.system, *systems) if text),
        messages=turns,
        tools=fields.tools,
        tool_choice=fields.tool_choice,
        parallel_tool_calls=fields.parallel_tool_calls,
        output_format=check_output_format(fields.output_format, model),
        sampling=sampling,
        reasoning=fields.reasoning,
        cache_marks=fields.cache_marks,
    )


def _check_turn_size(messages: tuple[Message, ...], prompt: str, limits: RequestLimits) -> None:
    """The text of the new turn counts against the prompt limit, however it is split into messages."""
    if not messages:
        return
    size = len(prompt) + sum(_text_size(m) for m in messages)
    if size > limits.max_prompt_chars:
        limit = limits.max_prompt_chars
        raise InvalidRequest(f"messages are too long: {size} characters of text, the limit is {limit}")


def _text_size(message: Message) -> int:
    return len(message.content) + sum(len(getattr(part, "text", "")) for part in message.parts)


def _max_tokens(value: int | None, cap: int, limits: RequestLimits, model: str) -> int:
    if value is None:
        return min(limits.default_max_tokens, cap)
    if isinstance(value, bool) or value < 1 or value > cap:
        raise InvalidRequest(f"maxTokens must be between 1 and {cap} for model '{model}', got {value}")
    return value


def _temperature(value: float | None, limits: RequestLimits) -> float:
    if value is None:
        return limits.default_temperature
    if isinstance(value, bool) or not math.isfinite(value) or not 0.0 <= value <= MAX_TEMPERATURE:
        raise InvalidRequest(f"temperature must be between 0.0 and {MAX_TEMPERATURE}, got {value}")
    return float(value)
