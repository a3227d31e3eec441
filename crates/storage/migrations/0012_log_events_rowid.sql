-- log_events keyed by its sealed record number itself. On SQLite a `BIGINT PRIMARY KEY` is a
-- unique index beside the table's own rowid B-tree; `INTEGER PRIMARY KEY` makes the record
-- number the rowid, one B-tree fewer to write per collected event. ({pk64}: INTEGER PRIMARY KEY
-- on SQLite, BIGINT PRIMARY KEY on PostgreSQL.) `words` holds the values of the event's other
-- fields (EventData, structured data …), so that a word search finds more than the message.

CREATE TABLE log_events_new (
    seal_index {pk64},
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
    message TEXT NOT NULL,
    words TEXT NOT NULL
);
INSERT INTO log_events_new (seal_index, at, received_at, sort_at, time_flag, source, host, actor,
    action, object, outcome, severity, message, words)
    SELECT seal_index, at, received_at, sort_at, time_flag, source, host, actor, action, object,
    outcome, severity, message, '' FROM log_events;
DROP TABLE log_events;
ALTER TABLE log_events_new RENAME TO log_events;
CREATE INDEX log_events_sort_at ON log_events (sort_at);
CREATE INDEX log_events_object ON log_events (object, sort_at);
CREATE INDEX log_events_actor ON log_events (actor, sort_at);
CREATE INDEX log_events_host ON log_events (host, sort_at);
