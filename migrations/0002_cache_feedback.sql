-- Cache feedback (SPEC §10): complaints about cached answers and the quality of
-- each cache key. Same meaning as the original's cache_feedback, cache_stats and
-- cache_quality_report; the trigger's upsert lives in the adapter's SQL instead.

CREATE TABLE cache_feedback (
    id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cache_key         text        NOT NULL,
    user_id           text        NOT NULL DEFAULT '',
    session_id        text        NOT NULL DEFAULT '',
    problem_detected  boolean     NOT NULL DEFAULT true,
    detection_method  text        NOT NULL,
    problem_keywords  text        NOT NULL DEFAULT '',
    original_prompt   text        NOT NULL DEFAULT '',
    problem_prompt    text        NOT NULL DEFAULT '',
    severity_score    integer     NOT NULL DEFAULT 1 CHECK (severity_score BETWEEN 0 AND 5),
    confidence        real        NOT NULL DEFAULT 0,
    action            text        NOT NULL DEFAULT 'none',
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX cache_feedback_cache_key_idx ON cache_feedback (cache_key);
CREATE INDEX cache_feedback_user_session_idx ON cache_feedback (user_id, session_id);
CREATE INDEX cache_feedback_created_at_idx ON cache_feedback (created_at);

CREATE TABLE cache_stats (
    cache_key         text         PRIMARY KEY,
    -- Cache hits served from this key: the denominator of its problem rate.
    total_uses        integer      NOT NULL DEFAULT 0,
    problem_reports   integer      NOT NULL DEFAULT 0,
    last_problem_at   timestamptz,
    -- 1.00 perfect .. 0.00 bad; each report after the first lowers it by 0.10.
    quality_score     numeric(3,2) NOT NULL DEFAULT 1.00 CHECK (quality_score BETWEEN 0 AND 1),
    -- A blacklisted key is neither read from nor written to the cache.
    is_blacklisted    boolean      NOT NULL DEFAULT false,
    blacklist_reason  text         NOT NULL DEFAULT '',
    blacklisted_at    timestamptz,
    created_at        timestamptz  NOT NULL DEFAULT now(),
    updated_at        timestamptz  NOT NULL DEFAULT now()
);

CREATE INDEX cache_stats_blacklisted_idx ON cache_stats (cache_key) WHERE is_blacklisted;
CREATE INDEX cache_stats_problem_reports_idx ON cache_stats (problem_reports DESC) WHERE problem_reports > 0;

CREATE VIEW cache_quality_report AS
SELECT
    cache_key,
    total_uses,
    problem_reports,
    quality_score,
    is_blacklisted,
    last_problem_at,
    CASE WHEN total_uses = 0 THEN 0::numeric
         ELSE round(problem_reports::numeric / total_uses * 100, 2)
    END AS problem_rate_percent,
    CASE WHEN quality_score >= 0.8 THEN 'EXCELLENT'
         WHEN quality_score >= 0.6 THEN 'GOOD'
         WHEN quality_score >= 0.4 THEN 'FAIR'
         WHEN quality_score >= 0.2 THEN 'POOR'
         ELSE 'CRITICAL'
    END AS quality_rating
FROM cache_stats;

COMMENT ON TABLE cache_feedback IS 'One row per detected complaint about a cached answer';
COMMENT ON TABLE cache_stats IS 'Per cache key: uses, complaints, quality score and blacklist state';
COMMENT ON VIEW cache_quality_report IS 'cache_stats with the problem rate (percent of uses) and a quality rating';
