-- The last TOTP time step used per user, so that a code is accepted once.
ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;
