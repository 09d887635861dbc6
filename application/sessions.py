"""Use-cases: read and delete a session (``/api/v1/sessions/{id}``), owner or admin key only.

The ids are checked before any store is asked, so an id no store could hold
is a 400 naming the field rather than a storage error.
"""

from __future__ import annotations

from application.conversation import Conversations
from domain.models import Caller, Session
from domain.validation import check_session_lookup


class GetSession:
    def __init__(self, *, conversations: Conversations) -> None:
        self._conversations = conversations

    async def execute(self, session_id: str, *, user_id: str, caller: Caller) -> Session:
        check_session_lookup(session_id, user_id, caller)
        return await self._conversations.owned(session_id, user_id, caller)


class DeleteSession:
    def __init__(self, *, conversations: Conversations) -> None:
        self._conversations = conversations

    async def execute(self, session_id: str, *, user_id: str, caller: Caller) -> None:
        check_session_lookup(session_id, user_id, caller)
        await self._conversations.delete(session_id, user_id, caller)
