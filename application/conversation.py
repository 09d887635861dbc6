"""Conversational sessions (docs/api.md#sessions).

A turn holds the session's lock from the moment its history is read until the
answer is stored, so concurrent turns on one session are serialised and none
is lost. The history reaches the provider as real messages.

Who may reach a session is ``domain.ownership``'s rule. A session the caller
may not reach is answered exactly as one that does not exist (``NotFound``,
same message), so that the answer never tells whether someone else's session
id is in use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from domain.errors import NotFound
from domain.models import Answer, Caller, GenerationRequest, Message, ProviderCall, Session
from domain.ownership import may_continue, may_read, owner_of
from domain.ports import Clock, SessionRepo


class Conversations:
    def __init__(self, *, repo: SessionRepo, clock: Clock, max_messages: int, context_window: int) -> None:
        self._repo = repo
        self._clock = clock
        self._max_messages = max_messages
        self._context_window = context_window
        self.turns_recorded = 0

    @asynccontextmanager
    async def turn(self, request: GenerationRequest) -> AsyncIterator[Session | None]:
        """Yield the request's session (``None`` when stateless), holding its lock."""
        if not request.has_session:
            yield None
            return
        async with self._repo.lock(request.session_id):
            session = await self._repo.get(request.session_id)
            if session is not None and not may_continue(request.caller, request.user_id, session):
                raise _not_found(request.session_id)
            yield session

    def call_for(self, request: GenerationRequest, session: Session | None) -> ProviderCall:
        return ProviderCall(
            model=request.model,
            messages=(*self._history(session), Message(role="user", content=request.prompt)),
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            system=request.system,
            request_id=request.request_id,
        )

    async def record(self, request: GenerationRequest, answer: Answer) -> None:
        """Store the completed turn: the user's prompt and the answer, with its cache key and cost."""
        if not request.has_session:
            return
        now = self._clock.now()
        cost = answer.cached_usage.total if answer.cached else answer.usage.total
        turn = (
            Message(role="user", content=request.prompt, created_at=now),
            Message(
                role="assistant",
                content=answer.content,
                model=answer.model,
                tokens=cost,
                cache_key=answer.cache_key,
                created_at=now,
            ),
        )
        owner = owner_of(request.caller, request.user_id)
        await self._repo.append(request.session_id, owner, turn, max_messages=self._max_messages, now=now)
        self.turns_recorded += 1

    async def owned(self, session_id: str, user_id: str, caller: Caller) -> Session:
        """The session, if ``caller`` speaking for ``user_id`` may read it; else ``NotFound``."""
        session = await self._repo.get(session_id)
        if session is None or not may_read(caller, user_id, session):
            raise _not_found(session_id)
        return session

    async def delete(self, session_id: str, user_id: str, caller: Caller) -> None:
        async with self._repo.lock(session_id):
            await self.owned(session_id, user_id, caller)
            await self._repo.delete(session_id)

    def _history(self, session: Session | None) -> tuple[Message, ...]:
        if session is None or self._context_window <= 0:
            return ()
        window = list(session.messages[-self._context_window :])
        while window and window[0].role != "user":  # providers expect a conversation to open with the user
            window.pop(0)
        return tuple(Message(role=m.role, content=m.content) for m in window)


def _not_found(session_id: str) -> NotFound:
    return NotFound(f"session '{session_id}' not found")
