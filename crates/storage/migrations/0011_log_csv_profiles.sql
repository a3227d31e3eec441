-- Mapping profiles of access-log CSV exports (EHR, レセコン) defined by the facility: how to read
-- one system's export (columns, encoding, date format, operation values), as JSON in body. The
-- profiles mamori ships are not stored here. system_id optionally ties a profile to the system
-- in the ledger whose export it reads.

CREATE TABLE log_csv_profiles (
    id {id},
    name TEXT NOT NULL UNIQUE,
    system_id BIGINT REFERENCES systems (id),
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
