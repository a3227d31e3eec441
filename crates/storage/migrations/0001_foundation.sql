-- The foundation: the facility, mamori's own users and their security, the audit trail,
-- and the first ledger tables the demo and dashboard stand on.

CREATE TABLE facility (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    beds BIGINT,
    idle_lock_minutes BIGINT NOT NULL,
    require_2fa_all {bool} NOT NULL,
    ledger_review_cycle_days BIGINT NOT NULL,
    dormant_account_days BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE vendors (
    id {id},
    name TEXT NOT NULL,
    services TEXT NOT NULL,
    phone TEXT NOT NULL,
    email TEXT NOT NULL,
    remote_maintenance {bool}
);

CREATE TABLE users (
    id {id},
    login_id TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    must_change_password {bool} NOT NULL,
    password_changed_at BIGINT NOT NULL,
    totp_secret TEXT,
    totp_enabled {bool} NOT NULL,
    disabled {bool} NOT NULL,
    vendor_id BIGINT REFERENCES vendors (id),
    created_at BIGINT NOT NULL
);

CREATE TABLE password_history (
    id {id},
    user_id BIGINT NOT NULL REFERENCES users (id),
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX password_history_user ON password_history (user_id, created_at);

CREATE TABLE recovery_codes (
    id {id},
    user_id BIGINT NOT NULL REFERENCES users (id),
    code_hash TEXT NOT NULL,
    used_at BIGINT
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    stage TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    source TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    locked {bool} NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE login_throttle (
    key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL
);

CREATE TABLE audit_events (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    source TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash {blob} NOT NULL,
    hash {blob} NOT NULL
);

CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash {blob} NOT NULL
);

CREATE TABLE systems (
    id {id},
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    vendor_id BIGINT REFERENCES vendors (id),
    delivery TEXT NOT NULL,
    two_factor {bool} NOT NULL
);

CREATE TABLE persons (
    id {id},
    staff_no TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    name_kana TEXT NOT NULL,
    job TEXT NOT NULL,
    department TEXT NOT NULL,
    joined_on TEXT,
    left_on TEXT
);

CREATE TABLE assets (
    id {id},
    class TEXT NOT NULL,
    name TEXT NOT NULL,
    location TEXT NOT NULL,
    purpose TEXT NOT NULL,
    department TEXT NOT NULL,
    vendor_id BIGINT REFERENCES vendors (id),
    os TEXT NOT NULL,
    ip TEXT NOT NULL,
    serial TEXT NOT NULL,
    installed_on TEXT,
    eol_on TEXT,
    last_patch_on TEXT,
    status TEXT NOT NULL,
    external_connection TEXT NOT NULL
);
CREATE INDEX assets_class ON assets (class);

CREATE TABLE accounts (
    id {id},
    system_id BIGINT NOT NULL REFERENCES systems (id),
    login_id TEXT NOT NULL,
    person_id BIGINT REFERENCES persons (id),
    kind TEXT NOT NULL,
    is_admin {bool} NOT NULL,
    enabled {bool} NOT NULL,
    last_login_on TEXT,
    two_factor {bool} NOT NULL,
    UNIQUE (system_id, login_id)
);
