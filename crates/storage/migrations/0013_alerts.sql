-- Alerts raised by detection rules. Detections of one rule and one group (an account, a host …)
-- join the open alert of that group: `count` and `last_at` grow, and the first events are
-- linked in `alert_events` by their sealed record number. A closed alert takes no more; the
-- next detection of its group opens a new one.
CREATE TABLE alerts (
    id {id},
    rule_id TEXT NOT NULL,
    title TEXT NOT NULL,
    level TEXT NOT NULL,
    level_rank INTEGER NOT NULL,
    status TEXT NOT NULL,
    group_key TEXT NOT NULL,
    host TEXT NOT NULL,
    actor TEXT,
    first_at BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    count BIGINT NOT NULL,
    owner TEXT,
    note TEXT NOT NULL,
    closed_at BIGINT,
    closed_by TEXT
);
CREATE INDEX alerts_open ON alerts (rule_id, group_key, status);
CREATE INDEX alerts_last ON alerts (status, last_at);

CREATE TABLE alert_events (
    alert_id BIGINT NOT NULL REFERENCES alerts (id),
    seal_index BIGINT NOT NULL,
    PRIMARY KEY (alert_id, seal_index)
);
