-- Reference, the fastest SQL for the same atomic work: the session lookup of the auth check,
-- then ONE statement with data-modifying CTEs (session check, lock, e-mails, cascade delete,
-- audit, outbox event), as the server's own statement does (crates/persistence/src/sql/).
SELECT s.id AS sid, s.user_id AS uid, s.expires_at FROM sessions s WHERE s.id = (SELECT md5('s' || nextval('bench_seq'))::uuid) \gset
WITH target AS (
    SELECT u.id, u.hold FROM users u
    WHERE u.id = :uid
      AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = :sid AND s.user_id = u.id AND s.expires_at > now())
    FOR UPDATE OF u
),
mails AS (
    SELECT e.id, e.address, e.verified, e.is_primary, e.created_at, e.updated_at
    FROM emails e JOIN target t ON e.user_id = t.id
),
listed AS (
    SELECT coalesce(jsonb_agg(jsonb_build_object('id', m.id, 'address', m.address,
               'is_verified', m.verified, 'is_primary', m.is_primary,
               'created_at', m.created_at, 'updated_at', m.updated_at)), '[]'::jsonb) AS emails,
           (SELECT p.address FROM mails p WHERE p.is_primary LIMIT 1) AS primary_address
    FROM mails m
),
gone AS (
    DELETE FROM users u USING target t WHERE u.id = t.id AND NOT t.hold RETURNING u.id
),
audit AS (
    INSERT INTO audit_logs (id, type, actor_user_id, actor_email, meta_http_request_id,
                            meta_source_ip, meta_user_agent, details, created_at)
    SELECT gen_random_uuid(), 'user_deleted', g.id, l.primary_address, 'req', '127.0.0.1', 'wrk',
           '{"by": "user"}', now()
    FROM gone g, listed l
),
event AS (
    INSERT INTO webhook_outbox (id, event, payload, created_at)
    SELECT gen_random_uuid(), 'user.delete',
           jsonb_build_object('id', g.id, 'emails', l.emails, 'deleted_at', now()), now()
    FROM gone g, listed l
    RETURNING id
)
SELECT EXISTS (SELECT 1 FROM target), (SELECT l.emails::text FROM listed l);
