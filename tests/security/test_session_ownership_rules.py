"""Issue 11 item 2, the rule itself: who may continue, read and delete a session, over memory adapters."""

from __future__ import annotations

import pytest

from application.conversation import Conversations
from application.sessions import DeleteSession, GetSession
from domain.errors import InvalidRequest, NotFound
from domain.models import ANYONE, Caller, Session
from domain.ownership import end_user_of, may_continue, may_read, owner_of
from tests.unit.usecases import build_app, request

KEY_A = Caller(key_id="a1b2c3d4e5f6")
KEY_B = Caller(key_id="0f9e8d7c6b5a")
ADMIN = Caller(key_id="adadadadadad", admin=True)
NOT_FOUND = r"^session 's' not found$"


def session_of(owner: str) -> Session:
    return Session(id="s", user_id=owner)


def test_with_a_key_the_owner_is_the_key_and_the_end_user_under_it() -> None:
    assert owner_of(KEY_A, "alice") == "a1b2c3d4e5f6/alice"
    assert end_user_of(session_of("a1b2c3d4e5f6/alice")) == "alice"


def test_without_keys_the_owner_is_the_user_id_as_before() -> None:
    assert owner_of(ANYONE, "alice") == "alice"
    assert end_user_of(session_of("alice")) == "alice"


@pytest.mark.parametrize(
    ("caller", "user", "continues", "reads"),
    [
        (KEY_A, "alice", True, True),
        (KEY_A, "bob", False, False),
        (KEY_B, "alice", False, False),
        (ADMIN, "alice", False, True),
        (ANYONE, "alice", False, False),
        (Caller(admin=True), "alice", False, False),  # an admin right without a key is nobody's
    ],
)
def test_who_reaches_a_session_of_key_a_for_alice(caller: Caller, user: str, continues: bool, reads: bool) -> None:
    session = session_of(owner_of(KEY_A, "alice"))
    assert (may_continue(caller, user, session), may_read(caller, user, session)) == (continues, reads)


async def test_a_session_is_stored_under_the_key_and_answers_other_keys_as_unknown() -> None:
    app = build_app()
    await app.generate.execute(request(user_id="alice", session_id="s", caller=KEY_A))
    stored = await app.sessions.get("s")
    assert stored is not None and stored.user_id == "a1b2c3d4e5f6/alice"

    with pytest.raises(NotFound, match=NOT_FOUND):
        await app.generate.execute(request(user_id="alice", session_id="s", caller=KEY_B))
    with pytest.raises(NotFound, match=NOT_FOUND):
        await app.generate.execute(request(user_id="alice", session_id="s", caller=ADMIN))
    stored_after = await app.sessions.get("s")
    assert stored_after is not None and len(stored_after.messages) == 2


async def test_reading_and_deleting_follow_the_same_rule() -> None:
    app = build_app()
    await app.generate.execute(request(user_id="alice", session_id="s", caller=KEY_A))
    conversations = Conversations(repo=app.sessions, clock=app.clock, max_messages=100, context_window=50)
    get, delete = GetSession(conversations=conversations), DeleteSession(conversations=conversations)

    for caller, user in ((KEY_B, "alice"), (KEY_A, "bob"), (ANYONE, "alice")):
        with pytest.raises(NotFound, match=NOT_FOUND):
            await get.execute("s", user_id=user, caller=caller)
        with pytest.raises(NotFound, match=NOT_FOUND):
            await delete.execute("s", user_id=user, caller=caller)
    with pytest.raises(InvalidRequest, match="X-User-ID"):
        await get.execute("s", user_id="", caller=KEY_A)

    assert (await get.execute("s", user_id="alice", caller=KEY_A)).id == "s"
    assert (await get.execute("s", user_id="", caller=ADMIN)).id == "s"
    await delete.execute("s", user_id="", caller=ADMIN)
    assert await app.sessions.get("s") is None
