-- Scheduled users become ordinary users again (nothing is deleted by going down).
DROP INDEX users_purge_due_idx;
ALTER TABLE users DROP COLUMN deletion_scheduled_at;
ALTER TABLE users DROP COLUMN purge_after;
ALTER TABLE users DROP COLUMN hold;
ALTER TABLE users DROP COLUMN hold_reason;
