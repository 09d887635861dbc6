-- Stored responses of the Responses API (docs/api.md#responses-api, domain/stored_responses.py).
-- One row per response: the owner and expiry as columns (ownership is checked in
-- the application, expiry in the read), the whole StoredResponse as the msgpack
-- bytes the other backends keep too, so every backend holds exactly the same value.

CREATE TABLE stored_responses (
    id          text        PRIMARY KEY,
    owner       text        NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    record      bytea       NOT NULL
);

-- The sweep of expired rows deletes by expiry.
CREATE INDEX stored_responses_expires_at ON stored_responses (expires_at);

COMMENT ON TABLE stored_responses IS 'Responses API: stored responses, each with its bounded chain (msgpack)';
