-- SCIM 2.0 provisioning (README, "SCIM provisioning"): what identity providers keep on a user,
-- and the providers' clients, known by the hash of their token.
-- username as given; username_key is its lowercased form (Rust's Unicode lowercasing, the same
-- on both backends), unique: RFC 7643 compares userName without case.
ALTER TABLE users ADD COLUMN username TEXT;
ALTER TABLE users ADD COLUMN username_key TEXT;
ALTER TABLE users ADD COLUMN external_id TEXT;
-- {"name": {...}, "displayName": "...", "<enterprise extension URN>": {...}} as given.
ALTER TABLE users ADD COLUMN scim_profile TEXT;
-- Set while the user is deactivated: no session lives or can be created.
ALTER TABLE users ADD COLUMN deactivated_at TEXT;
CREATE UNIQUE INDEX users_username_key ON users (username_key);
CREATE INDEX users_external_id_idx ON users (external_id) WHERE external_id IS NOT NULL;
-- An address's SCIM type (work, home, ...), as given.
ALTER TABLE emails ADD COLUMN kind TEXT;

CREATE TABLE scim_clients (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);
