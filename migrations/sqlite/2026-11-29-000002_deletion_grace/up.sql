-- Deletion with a grace period (scheduled, purged after purge_after) and legal hold.
ALTER TABLE users ADD COLUMN deletion_scheduled_at TEXT;
ALTER TABLE users ADD COLUMN purge_after TEXT;
ALTER TABLE users ADD COLUMN hold INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN hold_reason TEXT;
CREATE INDEX users_purge_due_idx ON users (purge_after) WHERE purge_after IS NOT NULL AND NOT hold;
