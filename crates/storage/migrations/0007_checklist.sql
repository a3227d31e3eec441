-- The checklist: the facility's own documents and records (rules, plans, drills, restore tests,
-- log reviews) as a ledger registry, two device fields the checklist asks about (接続元制限 for
-- 2-⑭, 代替措置 for 2-⑥), and the answers given to each checklist item, kept in full: an answer
-- is never overwritten, the newest row per item is the current one.

ALTER TABLE assets ADD COLUMN source_restriction BIGINT;
ALTER TABLE assets ADD COLUMN compensating_control TEXT NOT NULL DEFAULT '';

CREATE TABLE documents (
    id {id},
    doc_type TEXT NOT NULL,
    title TEXT NOT NULL,
    version TEXT NOT NULL,
    dated_on TEXT,
    next_review_on TEXT,
    topics TEXT NOT NULL,
    asset_classes TEXT NOT NULL,
    system_ids TEXT NOT NULL,
    approver TEXT NOT NULL,
    file_name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    current {bool} NOT NULL,
    notes TEXT NOT NULL,
    UNIQUE (doc_type, title, dated_on)
);

CREATE TABLE checklist_answers (
    id {id},
    edition TEXT NOT NULL,
    variant TEXT NOT NULL,
    fiscal_year BIGINT NOT NULL,
    -- '' for the facility's own form; 'vendor:{id}:system:{id}' for a vendor's form.
    scope TEXT NOT NULL,
    item_key TEXT NOT NULL,
    answer TEXT NOT NULL,
    confirmed_on TEXT NOT NULL,
    target_on TEXT,
    remarks TEXT NOT NULL,
    -- The evidence when the answer was given, frozen: its verdict, canonical JSON and SHA-256.
    verdict TEXT NOT NULL,
    evidence TEXT NOT NULL,
    evidence_sha256 TEXT NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL
);
CREATE INDEX checklist_answers_item ON checklist_answers (edition, variant, fiscal_year, scope, item_key, id);
