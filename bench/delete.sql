-- Reference, statement by statement: the transaction an implementation without data-modifying
-- CTEs runs for DELETE /user (session lookup of the auth check, then lock, session re-check,
-- e-mails, cascade delete, audit insert, outbox insert), rows shaped exactly like the
-- server's (an event with no subscribed hook has no delivery rows).
SELECT s.id AS sid, s.user_id AS uid, s.expires_at FROM sessions s WHERE s.id = (SELECT md5('s' || nextval('bench_seq'))::uuid) \gset
BEGIN;
SELECT id FROM users WHERE id = :uid LIMIT 1 FOR UPDATE;
SELECT count(*) FROM sessions WHERE id = :sid AND user_id = :uid AND expires_at > now();
SELECT id, user_id, address, verified, is_primary, created_at, updated_at FROM emails WHERE user_id = :uid ORDER BY created_at, id;
DELETE FROM users WHERE id = :uid;
INSERT INTO audit_logs (id, type, actor_user_id, actor_email, meta_http_request_id, meta_source_ip, meta_user_agent, details, created_at) VALUES (gen_random_uuid(), 'user_deleted', :uid, 'bench@example.com', 'req', '127.0.0.1', 'wrk', '{"by": "user"}', now());
INSERT INTO webhook_outbox (id, event, payload, created_at) VALUES (gen_random_uuid(), 'user.delete', '{"id": "x", "emails": [{"id": "x", "address": "bench@example.com", "is_verified": true, "is_primary": true, "created_at": "now", "updated_at": "now"}], "deleted_at": "now"}', now());
COMMIT;
