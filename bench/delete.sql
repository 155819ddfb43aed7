-- The same transaction DELETE /user runs (SPEC §7.1), as pgbench runs it: the session lookup
-- of the auth check, then lock, session re-check, e-mails, cascade delete, audit, outbox.
SELECT s.id AS sid, s.user_id AS uid FROM sessions s JOIN bench_targets t ON t.session_id = s.id WHERE t.n = (SELECT nextval('bench_seq')) \gset
BEGIN;
SELECT id FROM users WHERE id = :uid LIMIT 1 FOR UPDATE;
SELECT count(*) FROM sessions WHERE id = :sid AND user_id = :uid AND expires_at > now();
SELECT id, user_id, address, verified, is_primary, created_at, updated_at FROM emails WHERE user_id = :uid ORDER BY created_at, id;
DELETE FROM users WHERE id = :uid;
INSERT INTO audit_logs (id, type, actor_user_id, actor_email, meta_http_request_id, meta_source_ip, meta_user_agent, details, created_at) VALUES (gen_random_uuid(), 'user_deleted', :uid, 'bench@example.com', 'req', '127.0.0.1', 'wrk', '{"by":"user"}', now());
INSERT INTO webhook_outbox (id, event, payload, created_at, attempts, next_attempt_at, delivered_at, last_error, dead) VALUES (gen_random_uuid(), 'user.delete', '{"id":"x","emails":[],"deleted_at":"now"}', now(), 0, now(), NULL, NULL, false);
COMMIT;
