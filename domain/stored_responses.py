"""Stored responses of OpenAI's Responses API (docs/api.md#responses-api): what is kept, who reaches it.

A response created with ``store`` (the default) is kept for the retention
period, owned as a session is (``domain.ownership``: the API key that created
it; the bare empty owner without keys). It holds:

- ``history``: the conversation up to and including its answer, as domain
  messages: what ``previous_response_id`` continues. Each stored response
  carries its whole chain (bounded by ``SESSION_MAX_MESSAGES``), so a chain is
  continued with one read on any replica, a fork of an older response is just
  another response, and no chain of ids is ever followed (a loop cannot exist);
- ``document`` and ``input_items``: the response object and the request's input
  items as the door rendered them (JSON, opaque here), returned by
  ``GET /v1/responses/{id}`` and ``.../input_items`` unchanged.

The bound never separates a tool call from its result: the kept history starts
at a user message (``bounded_chain``).
"""

from __future__ import annotations

import secrets

import msgspec

from domain.models import Caller, Message
from domain.ownership import is_admin, owner_of

RESPONSE_ID_PREFIX = "resp_"


class StoredResponse(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    owner: str  # domain.ownership.owner_of(caller, "") of the key that created it
    created_at: float
    expires_at: float
    history: tuple[Message, ...]
    document: bytes  # the response object (JSON)
    input_items: bytes  # the request's input items (a JSON array)


def new_response_id() -> str:
    """Random, never derived from anything a client sends (a request id is client-chosen)."""
    return RESPONSE_ID_PREFIX + secrets.token_hex(24)


def response_owner(caller: Caller) -> str:
    return owner_of(caller, "")


def may_continue_response(caller: Caller, stored: StoredResponse) -> bool:
    """Only the owner continues a chain: an admin's turn would mix two identities in one history."""
    return stored.owner == response_owner(caller)


def may_read_response(caller: Caller, stored: StoredResponse) -> bool:
    """The owner, or an admin key, reads and deletes."""
    return is_admin(caller) or may_continue_response(caller, stored)


def bounded_chain(messages: tuple[Message, ...], max_messages: int) -> tuple[Message, ...]:
    """The last ``max_messages`` messages, starting at a user message, so that no tool result
    is kept without the call it answers (and no call loses the user turn that asked)."""
    if len(messages) <= max_messages:
        return messages
    start = len(messages) - max_messages
    while start < len(messages) and messages[start].role != "user":
        start += 1
    return messages[start:]
