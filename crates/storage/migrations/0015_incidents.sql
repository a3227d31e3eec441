-- Incidents (インシデント対応記録). `severity` is an alert level code, `status` an incident
-- status code (`open`, `contained`, `closed`); `owner` is the name of who handles it (not
-- necessarily a mamori user). A closed incident keeps who closed it, when, and the note.
CREATE TABLE incidents (
    id {id},
    title TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    opened_by TEXT NOT NULL,
    owner TEXT NOT NULL,
    summary TEXT NOT NULL,
    closed_at BIGINT,
    closed_by TEXT,
    close_note TEXT NOT NULL
);
CREATE INDEX incidents_status ON incidents (status, opened_at);

-- The timeline of an incident, appended, never changed: `kind` is `opened`, `note`, `status`
-- (with the new status in `status`) or `alert_linked` (with the alert in `alert_id`).
CREATE TABLE incident_notes (
    id {id},
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    at BIGINT NOT NULL,
    author TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    status TEXT,
    alert_id BIGINT REFERENCES alerts (id)
);
CREATE INDEX incident_notes_incident ON incident_notes (incident_id, id);

-- The incident an alert belongs to, once one is opened for it or it is linked to one.
ALTER TABLE alerts ADD COLUMN incident_id BIGINT REFERENCES incidents (id);
CREATE INDEX alerts_incident ON alerts (incident_id);
