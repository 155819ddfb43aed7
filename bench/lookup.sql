-- The session lookup an authenticated GET /me runs: one session row by primary key.
\set n random(1, :targets)
SELECT id, user_id, user_agent, ip_address, created_at, expires_at, last_used FROM sessions WHERE id = md5('s' || :n)::uuid;
