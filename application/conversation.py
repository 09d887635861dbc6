"""Conversational sessions (docs/api.md#sessions).

A turn holds the session's lock from the moment its history is read until the
answer is stored, so concurrent turns on one session are serialised and none
is lost. The history reaches the provider as real messages, parts and all.

The history sent is the last ``context_window`` messages, starting at a user
message, so it never opens with a tool result whose call was left out; when
the last stored answer asked for tool calls, the window reaches back to the
user message before it, however small the window, so that the results this
turn brings meet their calls.

Who may reach a session is ``domain.ownership``'s rule. A session the caller
may not reach is answered exactly as one that does not exist (``NotFound``,
same message), so that the answer never tells whether someone else's session
id is in use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from domain.content import Part, TextPart
from domain.errors import NotFound
from domain.message_rules import check_tool_pairing
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
        """Yield the request's session, holding its lock; a chain's history (``request.history``) as a session of
        no id; ``None`` when stateless."""
        if not request.has_session:
            yield Session(id="", user_id="", messages=request.history) if request.history else None
            return
        async with self._repo.lock(request.session_id):
            session = await self._repo.get(request.session_id)
            if session is not None and not may_continue(request.caller, request.user_id, session):
                raise _not_found(request.session_id)
            yield session

    def call_for(self, request: GenerationRequest, session: Session | None) -> ProviderCall:
        """The provider call of this turn; ``InvalidRequest`` if its tool results do not meet their calls."""
        history = self._history(session)
        check_tool_pairing(history, request.messages, prompt_follows=bool(request.prompt))
        return ProviderCall(
            model=request.model,
            messages=(*history, *request.turn),
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            system=request.system,
            request_id=request.request_id,
            tools=request.tools,
            tool_choice=request.tool_choice,
            parallel_tool_calls=request.parallel_tool_calls,
            output_format=request.output_format,
            sampling=request.sampling,
            reasoning=request.reasoning,
            cache_marks=request.cache_marks,
        )

    async def record(self, request: GenerationRequest, answer: Answer) -> None:
        """Store the completed turn: the request's messages and the answer, with its cache key and cost."""
        if not request.has_session:
            return
        now = self._clock.now()
        sent = tuple(Message(role=m.role, content=m.content, parts=m.parts, created_at=now) for m in request.turn)
        turn = (*sent, answer_message(answer, now))
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
        if session is None:
            return ()
        messages = session.messages
        start = len(messages) - self._context_window if self._context_window > 0 else len(messages)
        start = min(max(start, 0), _pending_turn_start(messages))
        while start < len(messages) and messages[start].role != "user":  # providers expect the user to open
            start += 1
        return tuple(Message(role=m.role, content=m.content, parts=m.parts) for m in messages[start:])


def _pending_turn_start(messages: tuple[Message, ...]) -> int:
    """Where the turn whose answer asked for tool calls begins (its user message); past the end if none."""
    if not messages or messages[-1].role != "assistant" or not messages[-1].tool_calls:
        return len(messages)
    for index in range(len(messages) - 2, -1, -1):
        if messages[index].role == "user":
            return index
    return len(messages)


def answer_message(answer: Answer, now: float) -> Message:
    """The answer as a stored assistant message: text alone, or its reasoning, text and tool calls as parts."""
    cost = answer.cached_usage.total if answer.cached else answer.usage.total
    parts: tuple[Part, ...] = ()
    if answer.tool_calls or answer.reasoning:
        text = (TextPart(text=answer.content),) if answer.content else ()
        parts = (*answer.reasoning, *text, *answer.tool_calls)
    return Message(
        role="assistant",
        content="" if parts else answer.content,
        parts=parts,
        model=answer.model,
        tokens=cost,
        cache_key=answer.cache_key,
        created_at=now,
    )


def _not_found(session_id: str) -> NotFound:
    return NotFound(f"session '{session_id}' not found")
