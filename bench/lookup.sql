-- The session lookup an authenticated GET /me runs: one session row by primary key.
-- It reads rows first..last, which the deletion references never reach (bench.py).
\set n random(:first, :last)
SELECT id, user_id, user_agent, ip_address, created_at, expires_at, last_used FROM sessions WHERE id = md5('s' || :n)::uuid;
