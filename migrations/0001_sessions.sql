-- Conversations (SPEC §9): one row per session, its messages kept in order.
-- Written fresh: nothing of the original's chat-template schema is reused.

CREATE TABLE sessions (
    id          text        PRIMARY KEY,
    user_id     text        NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    -- The sequence number the next appended message gets; bumping it in the
    -- same statement that locks the row is what keeps concurrent appends ordered.
    next_seq    bigint      NOT NULL DEFAULT 0
);

CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_updated_at_idx ON sessions (updated_at);

CREATE TABLE session_messages (
    session_id  text        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq         bigint      NOT NULL,
    role        text        NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content     text        NOT NULL,
    model       text        NOT NULL DEFAULT '',
    tokens      integer     NOT NULL DEFAULT 0,
    -- The response-cache key an assistant answer was stored under, so that a
    -- later complaint can retire exactly that entry (SPEC §10).
    cache_key   text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (session_id, seq)
);

COMMENT ON TABLE sessions IS 'Conversations: (id, user_id) and the last activity; messages in session_messages';
COMMENT ON TABLE session_messages IS 'Messages of a session, oldest first by seq; trimmed to SESSION_MAX_MESSAGES';
