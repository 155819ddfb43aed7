-- Postgres gains mask_email(text) here; SQLite masks in Rust (domain::audit::mask_email).
-- This migration keeps the two backends' versions the same.
SELECT 1;
