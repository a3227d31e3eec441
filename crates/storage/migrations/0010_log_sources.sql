-- Where collected events come from. A source is a name that events are sealed under: a syslog
-- sender (`syslog/<address>`), a JSON-lines forwarder with its own token, or an imported file.
-- Counters are kept as events are stored, so that the per-source view never scans log_events.

CREATE TABLE log_sources (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    token_sha256 TEXT UNIQUE,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    first_seen BIGINT,
    last_seen BIGINT,
    last_peer TEXT NOT NULL,
    events BIGINT NOT NULL,
    bad BIGINT NOT NULL,
    dropped BIGINT NOT NULL,
    disabled {bool} NOT NULL
);

-- Per source and hour of receipt: events stored, input refused, and the clock estimate.
-- offset_max is the largest (source time - receive time) seen in the hour: the event that
-- waited least on the way, so the best estimate of how far the source's clock is ahead.
CREATE TABLE log_source_hours (
    source TEXT NOT NULL,
    hour BIGINT NOT NULL,
    events BIGINT NOT NULL,
    bad BIGINT NOT NULL,
    offset_max BIGINT,
    PRIMARY KEY (source, hour)
);

-- Examples of refused input per source (the newest few are kept), to show what went wrong.
CREATE TABLE log_rejects (
    id {id},
    source TEXT NOT NULL,
    at BIGINT NOT NULL,
    code TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX log_rejects_source ON log_rejects (source, id);

-- Log reviews: a reviewer marks a period of collected events as reviewed, with notes.
CREATE TABLE log_reviews (
    id {id},
    period_from BIGINT NOT NULL,
    period_to BIGINT NOT NULL,
    reviewed_at BIGINT NOT NULL,
    reviewer TEXT NOT NULL,
    events BIGINT NOT NULL,
    notes TEXT NOT NULL
);
CREATE INDEX log_reviews_period ON log_reviews (period_to);

-- Checks of mamori's own clock against the facility's time server (SNTP): receive times, and
-- so every source's clock estimate, are only as good as this clock.
CREATE TABLE clock_checks (
    id {id},
    at BIGINT NOT NULL,
    server TEXT NOT NULL,
    offset_ms BIGINT,
    error TEXT NOT NULL
);
