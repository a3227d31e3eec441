-- Account hygiene: what the directory says about each password (last set, never expires,
-- locked out), and who approved an account's administrator rights and when (2-④).

ALTER TABLE accounts ADD COLUMN pw_last_set_on TEXT;
ALTER TABLE accounts ADD COLUMN pw_never_expires {bool} NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN locked_out {bool} NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN admin_approved_by BIGINT REFERENCES persons (id);
ALTER TABLE accounts ADD COLUMN admin_approved_on TEXT;
