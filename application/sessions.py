"""Use-cases: read and delete a session, owner only (``/api/v1/sessions/{id}``)."""

from __future__ import annotations

from application.conversation import Conversations
from domain.models import Session


class GetSession:
    def __init__(self, *, conversations: Conversations) -> None:
        self._conversations = conversations

    async def execute(self, session_id: str, user_id: str) -> Session:
        return await self._conversations.owned(session_id, user_id)


class DeleteSession:
    def __init__(self, *, conversations: Conversations) -> None:
        self._conversations = conversations

    async def execute(self, session_id: str, user_id: str) -> None:
        await self._conversations.delete(session_id, user_id)
