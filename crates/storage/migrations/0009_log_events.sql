-- The search index of collected log events. The events themselves live in the sealed event log
-- (DATA/events); each row here points at its sealed record (seal_index) and holds what searches
-- filter on. sort_at is the source's time when plausible, else the receive time; time_flag says
-- why the source's time was not used (missing, future, past).

CREATE TABLE log_events (
    seal_index BIGINT PRIMARY KEY,
    at BIGINT,
    received_at BIGINT NOT NULL,
    sort_at BIGINT NOT NULL,
    time_flag TEXT NOT NULL,
    source TEXT NOT NULL,
    host TEXT NOT NULL,
    actor TEXT,
    action TEXT NOT NULL,
    object TEXT,
    outcome TEXT NOT NULL,
    severity INTEGER NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX log_events_sort_at ON log_events (sort_at);
CREATE INDEX log_events_object ON log_events (object, sort_at);
CREATE INDEX log_events_actor ON log_events (actor, sort_at);
CREATE INDEX log_events_host ON log_events (host, sort_at);
