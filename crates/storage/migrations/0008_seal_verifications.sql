-- Every verification of the sealed log (the ログ page's button and the daily check): when, by
-- whom (a user's label, or "system"), what was covered and the result. A failure keeps the first
-- bad record (NULL when the failure is not tied to one) and the verifier's code and reason.

CREATE TABLE seal_verifications (
    id {id},
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    first_index BIGINT NOT NULL,
    tree_size BIGINT NOT NULL,
    ok {bool} NOT NULL,
    bad_index BIGINT,
    code TEXT NOT NULL,
    reason TEXT NOT NULL,
    duration_ms BIGINT NOT NULL
);
CREATE INDEX seal_verifications_at ON seal_verifications (at);
