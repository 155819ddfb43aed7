-- When a stream's last verification was requested: the next one waits min_verification_interval.
ALTER TABLE ssf_streams ADD COLUMN last_verification_at TEXT;
