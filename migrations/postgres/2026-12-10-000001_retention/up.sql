-- Inactive accounts (docs/retention.md): when each user was last active, whether they were warned
-- of the deletion their inactivity leads to, and the fleet's pace through what is due.
-- last_active_at: the latest of creation, a session created, a session used (the last_used
-- flush carries it) and a reactivation; existing users get it from what their rows hold.
ALTER TABLE users ADD COLUMN last_active_at timestamptz;
UPDATE users u SET last_active_at = GREATEST(
    u.created_at,
    (SELECT max(GREATEST(s.created_at, s.last_used)) FROM sessions s WHERE s.user_id = u.id));
ALTER TABLE users ALTER COLUMN last_active_at SET NOT NULL;
-- Set when the inactivity warning went out; a warning older than last_active_at is withdrawn.
ALTER TABLE users ADD COLUMN inactivity_warned_at timestamptz;
-- What a pass claims: the oldest inactive users not warned, and the warned ones.
CREATE INDEX users_unwarned_activity_idx ON users (last_active_at) WHERE inactivity_warned_at IS NULL;
CREATE INDEX users_inactivity_warned_idx ON users (inactivity_warned_at) WHERE inactivity_warned_at IS NOT NULL;

-- One row: the instant from which the fleet may act on its next users (account.retention.rate
-- shared by every instance: each reserves its batch's share of time here).
CREATE TABLE retention_pace (
    id          integer PRIMARY KEY CHECK (id = 1),
    not_before  timestamptz NOT NULL
);
INSERT INTO retention_pace (id, not_before) VALUES (1, '1970-01-01T00:00:00Z');
