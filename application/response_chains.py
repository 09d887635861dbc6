"""Use-cases of the Responses API's stored responses (docs/api.md#responses-api): keep, read, continue, delete.

The door maps the wire onto ``Generate``/``GenerateStream`` like any other;
this is only what the Responses API adds: ``previous_response_id`` read into
``GenerationRequest.history`` (so the history reaches the provider, the
context window and the feedback loop exactly as a session's does), and the
finished response kept in the session backend (``ResponseStore``) for the
retention period.

A response the caller may not reach is answered exactly as one that does not
exist (``NotFound``, same message): the answer never tells whether someone
else's id is in use. An expired one is gone too.
"""

from __future__ import annotations

from application.conversation import answer_message
from domain.errors import NotFound
from domain.models import Answer, Caller, GenerationRequest, Message
from domain.ports import Clock, ResponseStore
from domain.stored_responses import (
    StoredResponse,
    bounded_chain,
    may_continue_response,
    may_read_response,
    response_owner,
)


class ResponseChains:
    def __init__(self, *, store: ResponseStore, clock: Clock, retention_seconds: int, max_messages: int) -> None:
        self._store = store
        self._clock = clock
        self._retention = retention_seconds
        self._max_messages = max_messages

    async def history_of(self, previous_id: str, caller: Caller) -> tuple[Message, ...]:
        """The conversation that ``previous_id`` ended; only its owner continues it."""
        stored = await self._store.get(previous_id, now=self._clock.now())
        if stored is None or not may_continue_response(caller, stored):
            raise _not_found(previous_id)
        return stored.history

    async def keep(
        self, response_id: str, request: GenerationRequest, answer: Answer, *, document: bytes, input_items: bytes
    ) -> None:
        """Store a finished response: its chain (history, this turn, the answer) bounded, and its documents."""
        now = self._clock.now()
        turn = tuple(Message(role=m.role, content=m.content, parts=m.parts, created_at=now) for m in request.turn)
        history = bounded_chain((*request.history, *turn, answer_message(answer, now)), self._max_messages)
        stored = StoredResponse(
            id=response_id,
            owner=response_owner(request.caller),
            created_at=now,
            expires_at=now + self._retention,
            history=history,
            document=document,
            input_items=input_items,
        )
        await self._store.put(stored)

    async def read(self, response_id: str, caller: Caller) -> StoredResponse:
        stored = await self._store.get(response_id, now=self._clock.now())
        if stored is None or not may_read_response(caller, stored):
            raise _not_found(response_id)
        return stored

    async def delete(self, response_id: str, caller: Caller) -> None:
        await self.read(response_id, caller)
        await self._store.delete(response_id)


def _not_found(response_id: str) -> NotFound:
    return NotFound(f"Response with id '{response_id}' not found.")
