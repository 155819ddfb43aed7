-- Scheduled users become ordinary users again (nothing is deleted by going down).
DROP INDEX users_purge_due_idx;
ALTER TABLE users
    DROP COLUMN deletion_scheduled_at,
    DROP COLUMN purge_after,
    DROP COLUMN hold,
    DROP COLUMN hold_reason;
