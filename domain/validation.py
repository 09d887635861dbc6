"""Request validation and defaults (docs/api.md#generation-request).

Absent and zero are different: ``temperature: 0`` is a real greedy request and
``maxTokens: 0`` is refused; neither is silently replaced by a default.
"""

from __future__ import annotations

import math
import re

import msgspec

from domain.catalogue import Catalogue
from domain.errors import InvalidRequest
from domain.models import ANYONE, Caller, GenerationRequest
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
    prompt = check_prompt(fields.prompt, limits)
    system = fields.system if fields.system else (fields.system_prompt or "")
    check_text(system, "system")
    check_text(fields.model, "model")
    check_text(fields.provider, "provider")
    check_context(context)
    resolution = catalogue.resolve(fields.model or "", fields.provider or "")
    cap = resolution.info.max_output_tokens if resolution.info else UNKNOWN_MODEL_TOKEN_CAP
    if cap <= 0:
        raise InvalidRequest(f"model '{resolution.model}' does not generate text")
    return GenerationRequest(
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
