-- The session lookup an authenticated GET /me runs (SPEC §6).
\set n random(1, :targets)
SELECT s.id, s.user_id, s.user_agent, s.ip_address, s.created_at, s.expires_at, s.last_used FROM sessions s JOIN bench_targets t ON t.session_id = s.id WHERE t.n = :n;
