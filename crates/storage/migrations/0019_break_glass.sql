-- 非常時（ブレークグラス）用アカウント: who holds each emergency account's sealed credentials and
-- where they are kept (`holders` one per line), and when the current password was sealed. Every
-- use is appended to `break_glass_uses`: declared by a person, or seen in the logs (`alert_id`
-- is the alert the detection rule raised). An account used after `sealed_at` stays flagged until
-- its password is changed and sealed again.
CREATE TABLE break_glass (
    account_id BIGINT PRIMARY KEY REFERENCES accounts (id),
    holders TEXT NOT NULL,
    location TEXT NOT NULL,
    notes TEXT NOT NULL,
    sealed_at BIGINT NOT NULL,
    sealed_by TEXT NOT NULL
);

CREATE TABLE break_glass_uses (
    id {id},
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    used_at BIGINT NOT NULL,
    recorded_at BIGINT NOT NULL,
    via TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    alert_id BIGINT REFERENCES alerts (id)
);
CREATE INDEX break_glass_uses_account ON break_glass_uses (account_id, used_at);
