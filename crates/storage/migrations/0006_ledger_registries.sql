-- The other registries of the ledger: systems with delivery model, responsibility split,
-- password policy and two-factor plan, persons and accounts with dates and notes, vendors with
-- contract, certifications and data location, contacts, remote-maintenance connection points
-- and vendor documents. Every registry is matched on import by a unique key.

ALTER TABLE persons ADD COLUMN notes TEXT NOT NULL DEFAULT '';

ALTER TABLE systems ADD COLUMN asset_ids TEXT NOT NULL DEFAULT '';
ALTER TABLE systems ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE systems ADD COLUMN two_factor_status TEXT NOT NULL DEFAULT 'none';
UPDATE systems SET two_factor_status = 'all' WHERE two_factor = 1;
ALTER TABLE systems DROP COLUMN two_factor;
ALTER TABLE systems ADD COLUMN two_factor_plan_on TEXT;
ALTER TABLE systems ADD COLUMN access_log BIGINT;
ALTER TABLE systems ADD COLUMN in_use_r9 BIGINT;
ALTER TABLE systems ADD COLUMN pw_min_length BIGINT;
ALTER TABLE systems ADD COLUMN pw_complexity BIGINT;
ALTER TABLE systems ADD COLUMN pw_max_age_days BIGINT;
ALTER TABLE systems ADD COLUMN pw_history BIGINT;
ALTER TABLE systems ADD COLUMN pw_lockout BIGINT;
ALTER TABLE systems ADD COLUMN resp_os_patch TEXT NOT NULL DEFAULT '';
ALTER TABLE systems ADD COLUMN resp_access TEXT NOT NULL DEFAULT '';
ALTER TABLE systems ADD COLUMN resp_backup TEXT NOT NULL DEFAULT '';
ALTER TABLE systems ADD COLUMN resp_logs TEXT NOT NULL DEFAULT '';
ALTER TABLE systems ADD COLUMN resp_network TEXT NOT NULL DEFAULT '';
ALTER TABLE systems ADD COLUMN resp_incident TEXT NOT NULL DEFAULT '';
ALTER TABLE systems ADD COLUMN notes TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX systems_name ON systems (name);

ALTER TABLE accounts ADD COLUMN created_on TEXT;
ALTER TABLE accounts ADD COLUMN disabled_on TEXT;
ALTER TABLE accounts ADD COLUMN notes TEXT NOT NULL DEFAULT '';

ALTER TABLE vendors ADD COLUMN emergency_contact TEXT NOT NULL DEFAULT '';
ALTER TABLE vendors ADD COLUMN contract_start TEXT;
ALTER TABLE vendors ADD COLUMN contract_end TEXT;
ALTER TABLE vendors ADD COLUMN contract_scope TEXT NOT NULL DEFAULT '';
ALTER TABLE vendors ADD COLUMN certifications TEXT NOT NULL DEFAULT '';
ALTER TABLE vendors ADD COLUMN data_location TEXT NOT NULL DEFAULT '';
ALTER TABLE vendors ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE vendors ADD COLUMN notes TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX vendors_name ON vendors (name);

CREATE TABLE contacts (
    id {id},
    role TEXT NOT NULL,
    organization TEXT NOT NULL,
    name TEXT NOT NULL,
    phone TEXT NOT NULL,
    phone_after_hours TEXT NOT NULL,
    email TEXT NOT NULL,
    vendor_id BIGINT REFERENCES vendors (id),
    verified_on TEXT,
    active {bool} NOT NULL,
    notes TEXT NOT NULL,
    UNIQUE (role, organization, name)
);

CREATE TABLE remote_points (
    id {id},
    name TEXT NOT NULL UNIQUE,
    vendor_id BIGINT REFERENCES vendors (id),
    system_id BIGINT REFERENCES systems (id),
    asset_id BIGINT REFERENCES assets (id),
    route TEXT NOT NULL,
    allowed_source TEXT NOT NULL,
    approver TEXT NOT NULL,
    session_log {bool},
    active {bool} NOT NULL,
    notes TEXT NOT NULL
);

CREATE TABLE vendor_documents (
    id {id},
    vendor_id BIGINT REFERENCES vendors (id),
    doc_type TEXT NOT NULL,
    title TEXT NOT NULL,
    version TEXT NOT NULL,
    received_on TEXT,
    file_name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    current {bool} NOT NULL,
    notes TEXT NOT NULL,
    UNIQUE (vendor_id, doc_type, title, version)
);

-- Files attached to ledger records (vendor documents, disposal certificates), by content hash.
CREATE TABLE ledger_files (
    id {id},
    kind TEXT NOT NULL,
    record_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    bytes {blob} NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL
);
CREATE INDEX ledger_files_record ON ledger_files (kind, record_id, id);
