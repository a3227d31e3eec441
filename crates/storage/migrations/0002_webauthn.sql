-- Security keys and passkeys (WebAuthn) as a second factor, and the short-lived ceremony state.

CREATE TABLE webauthn_credentials (
    id {id},
    user_id BIGINT NOT NULL REFERENCES users (id),
    credential_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    passkey TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials (user_id);

CREATE TABLE webauthn_challenges (
    session_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
