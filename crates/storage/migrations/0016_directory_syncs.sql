-- Every directory sync (Active Directory / LDAP → the accounts of one ledger system), applied or
-- refused: when, which system, how it was started (`scheduled`, `manual` from the page, `cli`),
-- the result code (empty when applied, else `DIR00xx`) with its detail, and the counts. An
-- applied sync writes its row in the transaction that changes the accounts.
CREATE TABLE directory_syncs (
    id {id},
    at BIGINT NOT NULL,
    system TEXT NOT NULL,
    via TEXT NOT NULL,
    code TEXT NOT NULL,
    detail TEXT NOT NULL,
    users BIGINT NOT NULL,
    added BIGINT NOT NULL,
    changed BIGINT NOT NULL,
    disabled BIGINT NOT NULL
);
CREATE INDEX directory_syncs_at ON directory_syncs (at);
