DROP TABLE retention_pace;
DROP INDEX users_inactivity_warned_idx;
DROP INDEX users_unwarned_activity_idx;
ALTER TABLE users DROP COLUMN inactivity_warned_at;
ALTER TABLE users DROP COLUMN last_active_at;
