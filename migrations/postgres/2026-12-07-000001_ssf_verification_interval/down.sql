ALTER TABLE ssf_streams DROP COLUMN last_verification_at;
