-- Alerts raised by detection rules. Detections of one rule and one group (an account, a host …)
-- join the open alert of that group: `count` and `last_at` grow, and the first events are
-- linked in `alert_events` by their sealed record number. A closed alert takes no more; the
-- next detection of its group opens a new one. `raised_at` is when mamori raised it (the
-- receive clock), `first_at`/`last_at` the events' own times.
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
    raised_at BIGINT NOT NULL,
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

-- Notifications of alerts (e-mail, webhook, syslog), an outbox: a row is written before it is
-- sent and marked sent only after the channel took it, so a restart resends what was not.
CREATE TABLE alert_notifications (
    id {id},
    alert_id BIGINT NOT NULL REFERENCES alerts (id),
    kind TEXT NOT NULL,
    channel TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    sent_at BIGINT,
    attempts BIGINT NOT NULL,
    error TEXT NOT NULL
);
CREATE INDEX alert_notifications_due ON alert_notifications (sent_at, due_at);
CREATE INDEX alert_notifications_alert ON alert_notifications (alert_id, kind);

CREATE TABLE alert_events (
    alert_id BIGINT NOT NULL REFERENCES alerts (id),
    seal_index BIGINT NOT NULL,
    PRIMARY KEY (alert_id, seal_index)
);
