DROP INDEX jwks_succeeds_key;
ALTER TABLE jwks DROP COLUMN succeeds;
ALTER TABLE jwks DROP COLUMN retired_at;
