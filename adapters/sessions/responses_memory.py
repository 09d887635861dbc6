"""Stored responses in this process (``SESSION_BACKEND=memory``): bounded, expiring, lost on restart."""

from __future__ import annotations

from collections import OrderedDict

from domain.stored_responses import StoredResponse


class MemoryResponseStore:
    """A ``ResponseStore`` in a dict: at most ``max_responses`` (the oldest go first), each until its expiry.

    Anyone able to create responses could otherwise grow the process without end. Never raises.
    """

    def __init__(self, *, max_responses: int = 10_000) -> None:
        if max_responses < 1:
            raise ValueError("max_responses must be at least 1")
        self._max = max_responses
        self._responses: OrderedDict[str, StoredResponse] = OrderedDict()  # oldest first

    async def put(self, response: StoredResponse) -> None:
        self._responses[response.id] = response
        self._responses.move_to_end(response.id)
        while len(self._responses) > self._max:
            self._responses.popitem(last=False)

    async def get(self, response_id: str, *, now: float) -> StoredResponse | None:
        stored = self._responses.get(response_id)
        if stored is None:
            return None
        if stored.expires_at <= now:
            del self._responses[response_id]
            return None
        return stored

    async def delete(self, response_id: str) -> bool:
        return self._responses.pop(response_id, None) is not None

    def __len__(self) -> int:
        return len(self._responses)
