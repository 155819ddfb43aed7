-- Inactive accounts (docs/retention.md): when each user was last active, whether they were warned
-- of the deletion their inactivity leads to, and the fleet's pace through what is due.
-- last_active_at: the latest of creation, a session created, a session used (the last_used
-- flush carries it) and a reactivation; existing users get it from what their rows hold. The
-- application writes it with every user (as every time here); the empty default only lets
-- SQLite add a NOT NULL column.
ALTER TABLE users ADD COLUMN last_active_at TEXT NOT NULL DEFAULT '';
UPDATE users SET last_active_at = max(
    created_at,
    coalesce((SELECT max(max(s.created_at, s.last_used)) FROM sessions s WHERE s.user_id = users.id), ''));
-- Set when the inactivity warning went out; a warning older than last_active_at is withdrawn.
ALTER TABLE users ADD COLUMN inactivity_warned_at TEXT;
-- What a pass claims: the oldest inactive users not warned, and the warned ones.
CREATE INDEX users_unwarned_activity_idx ON users (last_active_at) WHERE inactivity_warned_at IS NULL;
CREATE INDEX users_inactivity_warned_idx ON users (inactivity_warned_at) WHERE inactivity_warned_at IS NOT NULL;

-- One row: the instant from which the instance may act on its next users (account.retention.rate).
CREATE TABLE retention_pace (
    id          INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    not_before  TEXT NOT NULL
);
INSERT INTO retention_pace (id, not_before) VALUES (1, '1970-01-01T00:00:00.000000Z');
