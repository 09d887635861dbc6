-- Cache feedback per reporter (issue 11 item 13): who each complaint counts for,
-- so that one reporter counts once per cache key and reports per reporter can be
-- rate limited. The reporter is the API key (key:<id>) or the client's network
-- (ip:<address>), never a client-sent id. Rows recorded before this migration
-- have no reporter ('') and are left out of both rules.

ALTER TABLE cache_feedback ADD COLUMN reporter text NOT NULL DEFAULT '';

-- One counted report per reporter and key; a repeat is not inserted (ON CONFLICT DO NOTHING).
CREATE UNIQUE INDEX cache_feedback_key_reporter_idx ON cache_feedback (cache_key, reporter) WHERE reporter <> '';
-- The per-reporter rate limit counts a reporter's recent reports.
CREATE INDEX cache_feedback_reporter_created_idx ON cache_feedback (reporter, created_at) WHERE reporter <> '';

COMMENT ON COLUMN cache_feedback.reporter IS 'Who the complaint counts for: key:<key id> or ip:<client network>';
COMMENT ON COLUMN cache_stats.problem_reports IS 'Distinct reporters who complained about this key';
