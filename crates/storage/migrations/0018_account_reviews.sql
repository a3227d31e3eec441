-- アカウント棚卸 (account review campaigns). A campaign covers the enabled accounts of one
-- system and/or one department at the moment it opens; each account is an item with what the
-- reviewer saw (system, login, owner, department, kind, admin, last login, hints) kept as it was,
-- so the record stays readable after the accounts change. `decision` is `pending`, `keep` or
-- `revoke`; a revoked account is disabled in the ledger in the same transaction.
CREATE TABLE account_reviews (
    id {id},
    title TEXT NOT NULL,
    system_id BIGINT REFERENCES systems (id),
    department TEXT NOT NULL,
    due_on TEXT,
    opened_at BIGINT NOT NULL,
    opened_by TEXT NOT NULL,
    closed_at BIGINT,
    closed_by TEXT,
    close_note TEXT NOT NULL
);
CREATE INDEX account_reviews_opened ON account_reviews (opened_at);

CREATE TABLE account_review_items (
    review_id BIGINT NOT NULL REFERENCES account_reviews (id),
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    system TEXT NOT NULL,
    login_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    department TEXT NOT NULL,
    kind TEXT NOT NULL,
    is_admin {bool} NOT NULL,
    last_login_on TEXT,
    hints TEXT NOT NULL,
    decision TEXT NOT NULL,
    decided_at BIGINT,
    decided_by TEXT,
    comment TEXT NOT NULL,
    PRIMARY KEY (review_id, account_id)
);
