-- Endpoint agents (mamori-agent). An administrator makes a one-time enrolment token
-- (`agent_enrollments`, only its SHA-256 is kept); a PC that presents it with a new Ed25519 key
-- becomes an agent. Every later request is signed with that key over a nonce that only grows
-- (`last_nonce`), so a replayed request is refused. `acked_seq` is the agent's spool sequence
-- number up to which its entries are stored: entries at or below it are not taken twice.
-- The inventory is kept whole (JSON) with the SHA-256 diffs name as their base, and a small
-- `summary` (JSON) the list reads without opening every inventory. `asset_id` ties
-- the PC to its ledger asset; an agent without one is an unknown device (a finding).
CREATE TABLE agent_enrollments (
    id {id},
    token_sha256 TEXT NOT NULL UNIQUE,
    note TEXT NOT NULL,
    pc_groups TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    agent_id BIGINT
);

CREATE TABLE agents (
    id {id},
    hostname TEXT NOT NULL,
    machine_id TEXT NOT NULL,
    public_key TEXT NOT NULL UNIQUE,
    agent_version TEXT NOT NULL,
    pc_groups TEXT NOT NULL,
    note TEXT NOT NULL,
    unlock_secret TEXT NOT NULL,
    enrolled_at BIGINT NOT NULL,
    enrollment_id BIGINT NOT NULL REFERENCES agent_enrollments (id),
    revoked_at BIGINT,
    revoked_by TEXT NOT NULL,
    last_seen_at BIGINT,
    last_peer TEXT NOT NULL,
    last_nonce BIGINT NOT NULL,
    acked_seq BIGINT NOT NULL,
    asset_id BIGINT REFERENCES assets (id),
    inventory TEXT,
    inventory_sha256 TEXT NOT NULL,
    summary TEXT NOT NULL,
    inventory_full_at BIGINT,
    inventory_at BIGINT,
    gaps BIGINT NOT NULL,
    dropped BIGINT NOT NULL
);
CREATE INDEX agents_asset ON agents (asset_id);

-- The facility's removable-media policy for every agent (one row, id 1): the JSON of the
-- wire type `Policy` and a version that grows with every change (of the policy or of any
-- agent's groups), which agents compare with theirs.
CREATE TABLE agent_policy (
    id BIGINT PRIMARY KEY,
    usb TEXT NOT NULL,
    -- The facility's time server (host or host:port) agents check their clock against; empty:
    -- none.
    ntp_server TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
