-- Reference for a server that groups deletions (the group form of crates/persistence/src/sql/delete/):
-- the one-statement deletion of bench/delete_cte.sql for :batch users at once (8 by default;
-- bench.py passes -D batch=8 and counts batch deletions per transaction). Grouping is not
-- something a pgbench client gets from arrivals, as the server does, so this is the reference
-- at its most favourable: always full batches, no waiting for them to fill.
WITH ids AS MATERIALIZED (
    SELECT md5('u' || q.n)::uuid AS uid, md5('s' || q.n)::uuid AS sid
    FROM (SELECT nextval('bench_seq') AS n FROM generate_series(1, :batch)) q
),
target AS (
    SELECT u.id, u.hold FROM users u JOIN ids ON u.id = ids.uid
    WHERE EXISTS (SELECT 1 FROM sessions s
                  WHERE s.id = ids.sid AND s.user_id = u.id AND s.expires_at > now())
    ORDER BY u.id
    FOR UPDATE OF u
),
mails AS (
    SELECT e.user_id, e.id, e.address, e.verified, e.is_primary, e.created_at, e.updated_at
    FROM emails e JOIN target t ON e.user_id = t.id
),
listed AS (
    SELECT m.user_id, jsonb_agg(jsonb_build_object('id', m.id, 'address', m.address,
               'is_verified', m.verified, 'is_primary', m.is_primary,
               'created_at', m.created_at, 'updated_at', m.updated_at)) AS emails,
           (array_agg(m.address) FILTER (WHERE m.is_primary))[1] AS primary_address
    FROM mails m GROUP BY m.user_id
),
gone AS (
    DELETE FROM users u USING target t WHERE u.id = t.id AND NOT t.hold RETURNING u.id
),
audit AS (
    INSERT INTO audit_logs (id, type, actor_user_id, actor_email, meta_http_request_id,
                            meta_source_ip, meta_user_agent, details, created_at)
    SELECT gen_random_uuid(), 'user_deleted', g.id, l.primary_address, 'req', '127.0.0.1', 'wrk',
           '{"by": "user"}', now()
    FROM gone g LEFT JOIN listed l ON l.user_id = g.id
),
event AS (
    INSERT INTO webhook_outbox (id, event, payload, created_at)
    SELECT gen_random_uuid(), 'user.delete',
           jsonb_build_object('id', g.id, 'emails', coalesce(l.emails, '[]'::jsonb), 'deleted_at', now()), now()
    FROM gone g LEFT JOIN listed l ON l.user_id = g.id
    RETURNING id
)
SELECT t.id, l.emails::text FROM target t LEFT JOIN listed l ON l.user_id = t.id;
