-- Same meaning as the Postgres schema: ids are UUID text, times are UTC RFC 3339 text with
-- microseconds (written by the application, so they compare correctly as text), JSON is text,
-- booleans are 0/1.
CREATE TABLE users (
    id          TEXT PRIMARY KEY NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE emails (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    address     TEXT NOT NULL,
    verified    INTEGER NOT NULL DEFAULT 0,
    is_primary  INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX emails_address_ci_key ON emails (lower(address));
CREATE UNIQUE INDEX emails_one_primary_per_user ON emails (user_id) WHERE is_primary;
CREATE INDEX emails_user_id_idx ON emails (user_id);

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_agent  TEXT,
    ip_address  TEXT,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    last_used   TEXT NOT NULL
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE audit_logs (
    id                    TEXT PRIMARY KEY NOT NULL,
    type                  TEXT NOT NULL,
    actor_user_id         TEXT,
    actor_email           TEXT,
    meta_http_request_id  TEXT,
    meta_source_ip        TEXT,
    meta_user_agent       TEXT,
    details               TEXT NOT NULL DEFAULT '{}',
    created_at            TEXT NOT NULL
);
CREATE INDEX audit_logs_actor_idx ON audit_logs (actor_user_id, created_at);
CREATE INDEX audit_logs_type_idx ON audit_logs (type, created_at);

CREATE TABLE jwks (
    id             TEXT PRIMARY KEY NOT NULL,
    kid            TEXT NOT NULL UNIQUE,
    alg            TEXT NOT NULL,
    encrypted_key  TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    activates_at   TEXT NOT NULL
);

CREATE TABLE webhook_outbox (
    id               TEXT PRIMARY KEY NOT NULL,
    event            TEXT NOT NULL,
    payload          TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    delivered_at     TEXT,
    last_error       TEXT,
    dead             INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webhook_outbox_due_idx ON webhook_outbox (next_attempt_at)
    WHERE delivered_at IS NULL AND NOT dead;
