CREATE TABLE users (
    id          uuid PRIMARY KEY,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE emails (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    address     text NOT NULL,
    verified    boolean NOT NULL DEFAULT false,
    is_primary  boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE UNIQUE INDEX emails_address_ci_key ON emails (lower(address));
CREATE UNIQUE INDEX emails_one_primary_per_user ON emails (user_id) WHERE is_primary;
CREATE INDEX emails_user_id_idx ON emails (user_id);

CREATE TABLE sessions (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_agent  text,
    ip_address  text,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    last_used   timestamptz NOT NULL
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- No foreign key on actor_user_id: the audit trail outlives the user it describes.
CREATE TABLE audit_logs (
    id                    uuid PRIMARY KEY,
    type                  text NOT NULL,
    actor_user_id         uuid,
    actor_email           text,
    meta_http_request_id  text,
    meta_source_ip        text,
    meta_user_agent       text,
    details               jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at            timestamptz NOT NULL
);
CREATE INDEX audit_logs_actor_idx ON audit_logs (actor_user_id, created_at);
CREATE INDEX audit_logs_type_idx ON audit_logs (type, created_at);

CREATE TABLE jwks (
    id             uuid PRIMARY KEY,
    kid            text NOT NULL UNIQUE,
    alg            text NOT NULL,
    encrypted_key  text NOT NULL,
    created_at     timestamptz NOT NULL,
    activates_at   timestamptz NOT NULL
);

CREATE TABLE webhook_outbox (
    id               uuid PRIMARY KEY,
    event            text NOT NULL,
    payload          jsonb NOT NULL,
    created_at       timestamptz NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    delivered_at     timestamptz,
    last_error       text,
    dead             boolean NOT NULL DEFAULT false
);
CREATE INDEX webhook_outbox_due_idx ON webhook_outbox (next_attempt_at)
    WHERE delivered_at IS NULL AND NOT dead;
