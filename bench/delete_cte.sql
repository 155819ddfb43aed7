-- Reference, the fastest SQL for the same atomic work, in ONE round trip as the server's own
-- statement (crates/persistence/src/sql/delete/) does it: session check, lock, e-mails,
-- cascade delete, audit entry, outbox event, all data-modifying CTEs of one statement. The ids
-- derive from a sequence number (bench/targets.sql), drawn inside the statement.
WITH ids AS MATERIALIZED (
    SELECT md5('u' || q.n)::uuid AS uid, md5('s' || q.n)::uuid AS sid
    FROM (SELECT nextval('bench_seq') AS n) q
),
target AS (
    SELECT u.id, u.hold FROM users u JOIN ids ON u.id = ids.uid
    WHERE EXISTS (SELECT 1 FROM sessions s
                  WHERE s.id = ids.sid AND s.user_id = u.id AND s.expires_at > now())
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
