-- 棚卸: the security officer's periodic sign-off of the ledger.

CREATE TABLE ledger_reviews (
    id {id},
    kind TEXT NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    note TEXT NOT NULL,
    records BIGINT NOT NULL
);
CREATE INDEX ledger_reviews_kind ON ledger_reviews (kind, at);
