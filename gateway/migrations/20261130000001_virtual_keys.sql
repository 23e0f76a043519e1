-- Virtual keys: stored by the SHA-256 of the key (the key itself is shown once, at creation).
-- One schema for SQLite and Postgres: types both accept, times as Unix seconds, JSON as text.
CREATE TABLE wasmgate_keys (
    token TEXT PRIMARY KEY,
    key_alias TEXT,
    key_preview TEXT NOT NULL,
    models TEXT NOT NULL,
    max_budget DOUBLE PRECISION,
    budget_duration TEXT,
    budget_reset_at BIGINT,
    spend DOUBLE PRECISION NOT NULL DEFAULT 0,
    rpm_limit BIGINT,
    tpm_limit BIGINT,
    max_parallel_requests BIGINT,
    metadata TEXT NOT NULL,
    expires BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE UNIQUE INDEX wasmgate_keys_alias ON wasmgate_keys (key_alias);

-- One row per request served with a virtual key.
CREATE TABLE wasmgate_spend_logs (
    request_id TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    model TEXT NOT NULL,
    spend DOUBLE PRECISION NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    started_at BIGINT NOT NULL
);

CREATE INDEX wasmgate_spend_logs_token ON wasmgate_spend_logs (token, started_at);
