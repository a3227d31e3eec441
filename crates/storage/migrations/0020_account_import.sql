-- A system's own account list (CSV/Excel exported by the EHR, レセコン …): the mapping profile
-- of each system's export (which header holds what), kept from the last import.
CREATE TABLE account_import_profiles (
    system_id BIGINT PRIMARY KEY REFERENCES systems (id),
    login_col TEXT NOT NULL,
    name_col TEXT NOT NULL,
    kana_col TEXT NOT NULL,
    staff_no_col TEXT NOT NULL,
    enabled_col TEXT NOT NULL,
    admin_col TEXT NOT NULL,
    last_login_col TEXT NOT NULL,
    admin_values TEXT NOT NULL,
    disable_missing {bool} NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);

-- Uncertain matches of accounts to staff, for a person to confirm: the account's name (as the
-- directory or the file showed it) is one person's name, but no staff number or kana linked
-- them. `status` is `pending`, `accepted` (the account now belongs to the person) or `rejected`.
CREATE TABLE account_matches (
    id {id},
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    person_id BIGINT NOT NULL REFERENCES persons (id),
    source TEXT NOT NULL,
    source_name TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    decided_at BIGINT,
    decided_by TEXT,
    UNIQUE (account_id, person_id)
);
CREATE INDEX account_matches_status ON account_matches (status, id);
