-- Rich messages (docs/api.md#messages): the tool role, and the content parts of a
-- message that is more than text (images, tool calls and results, reasoning).
-- A text-only message keeps its text in content and NULL in parts, as every row
-- written before this migration has, so old rows read back unchanged.

ALTER TABLE session_messages DROP CONSTRAINT session_messages_role_check;
ALTER TABLE session_messages
    ADD CONSTRAINT session_messages_role_check CHECK (role IN ('system', 'user', 'assistant', 'tool'));

-- The parts as the JSON array domain.content encodes: each part tagged by its
-- "type", bytes (image data, redacted reasoning) in base64.
ALTER TABLE session_messages ADD COLUMN parts jsonb;

COMMENT ON COLUMN session_messages.parts IS 'Content parts of a rich message (JSON, tagged by type); NULL for text only';
