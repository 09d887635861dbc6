"""Who owns a session, and who may reach it (docs/api.md#sessions, docs/security.md).

With API keys configured, a session belongs to the key that created it, and
the client-sent user id (``X-User-ID``) names an end user *within* that key:
the owner stored with the session is ``<key id>/<user id>``. A key therefore
reaches only the sessions created under it, and within the key only those of
the same end-user id, whatever user id it sends. An admin key may read and
delete any session, but continues only its own: a turn appended under an
admin key would mix two identities in one history.

Without keys (the embedded default) nobody is authenticated, so the user id
is trusted as sent and is the owner by itself, as before. That mode is for
private networks only.

User ids cannot contain ``/`` (``domain.validation.check_id``), so the
separator is unambiguous and a keyless caller can never name a keyed owner.
"""

from __future__ import annotations

from domain.models import Caller, Session

OWNER_SEPARATOR = "/"


def owner_of(caller: Caller, user_id: str) -> str:
    """The owner a session created by ``caller`` for end user ``user_id`` is stored under."""
    if caller.authenticated:
        return f"{caller.key_id}{OWNER_SEPARATOR}{user_id}"
    return user_id


def end_user_of(session: Session) -> str:
    """The end-user id a session was created for, without the key it is scoped under."""
    return session.user_id.rpartition(OWNER_SEPARATOR)[2]


def may_continue(caller: Caller, user_id: str, session: Session) -> bool:
    """Whether ``caller``, speaking for ``user_id``, may add a turn to ``session``."""
    return session.user_id == owner_of(caller, user_id)


def may_read(caller: Caller, user_id: str, session: Session) -> bool:
    """Whether ``caller``, speaking for ``user_id``, may read or delete ``session``."""
    return is_admin(caller) or may_continue(caller, user_id, session)


def is_admin(caller: Caller) -> bool:
    """An admin *key*: without keys nobody is authenticated, so nobody reads other users' sessions."""
    return caller.authenticated and caller.admin
