-- The full device ledger: asset tag (the import key), MAC, disposal record, notes, and the
-- per-record change history shared by every registry.

ALTER TABLE assets ADD COLUMN tag TEXT NOT NULL DEFAULT '';
ALTER TABLE assets ADD COLUMN mac TEXT NOT NULL DEFAULT '';
ALTER TABLE assets ADD COLUMN disposal_method TEXT NOT NULL DEFAULT '';
ALTER TABLE assets ADD COLUMN disposed_on TEXT;
ALTER TABLE assets ADD COLUMN disposal_certificate TEXT NOT NULL DEFAULT '';
ALTER TABLE assets ADD COLUMN notes TEXT NOT NULL DEFAULT '';
UPDATE assets SET tag = 'A-' || id WHERE tag = '';
CREATE UNIQUE INDEX assets_tag ON assets (tag);
CREATE INDEX assets_status ON assets (status);
CREATE INDEX assets_location ON assets (location);

CREATE TABLE ledger_history (
    id {id},
    kind TEXT NOT NULL,
    record_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    changes TEXT NOT NULL
);
CREATE INDEX ledger_history_record ON ledger_history (kind, record_id, id);
