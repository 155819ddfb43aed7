-- Diagnosis, not part of bench/run: the server's own deletion statement (crates/persistence/src/sql/
-- delete_user.sql) run by pgbench on the reference's rows, to compare the database's cost of the two
-- statements alone: pgbench -n -M prepared -c 16 -j 2 -T 5 -f bench/delete_server_statement.sql URL
-- on a database seeded by bench/targets.sql (BENCH_KEEP_DB=1 keeps one). pgbench would read the
-- ':' of to_char's format as variables, so the format is spelled with chr(58).
SELECT md5('u' || x)::uuid AS uid, md5('s' || x)::uuid AS sid FROM (SELECT nextval('bench_seq') AS x) q \gset
WITH asking AS (
    SELECT s.created_at FROM sessions s
    WHERE s.id = :sid AND s.user_id = :uid AND s.expires_at > now()
),
fresh AS (
    SELECT 1 FROM asking a WHERE NULL::timestamptz IS NULL OR a.created_at >= NULL::timestamptz
),
target AS (
    SELECT u.id, u.hold FROM users u
    WHERE u.id = :uid AND (:sid::uuid IS NULL OR EXISTS (SELECT 1 FROM fresh))
    FOR UPDATE OF u
),
mails AS (
    SELECT e.id, e.address, e.verified, e.is_primary, e.created_at, e.updated_at
    FROM emails e JOIN target t ON e.user_id = t.id
),
listed AS (
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'id', m.id,
               'address', m.address,
               'is_verified', m.verified,
               'is_primary', m.is_primary,
               'created_at', to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS.US"Z"'),
               'updated_at', to_char(m.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS.US"Z"'))
               ORDER BY m.created_at, m.id), '[]'::jsonb) AS emails,
           (SELECT p.address FROM mails p WHERE p.is_primary LIMIT 1) AS primary_address
    FROM mails m
),
gone AS (
    DELETE FROM users u USING target t WHERE u.id = t.id AND NOT t.hold RETURNING u.id
),
audit AS (
    INSERT INTO audit_logs (id, type, actor_user_id, actor_email, meta_http_request_id,
                            meta_source_ip, meta_user_agent, details, created_at)
    SELECT gen_random_uuid(), 'user_deleted', g.id,
           CASE WHEN false THEN left(l.primary_address, 1) || '***@' || substring(l.primary_address FROM '[^@]*$')
                ELSE l.primary_address END,
           'req', '127.0.0.1', 'wrk', '{"by":"user"}', now()
    FROM gone g, listed l
    WHERE true
),
event AS (
    INSERT INTO webhook_outbox (id, event, payload, created_at)
    SELECT gen_random_uuid(), 'user.delete',
           jsonb_build_object('id', g.id, 'emails', l.emails, 'deleted_at', now()::text), now()
    FROM gone g, listed l
    RETURNING id
),
deliveries AS (
    INSERT INTO webhook_deliveries (event_id, hook, attempts, next_attempt_at, delivered_at,
                                    last_error, dead)
    SELECT e.id, h.hook, 0, now(), NULL, NULL, false
    FROM event e, unnest('{}'::text[]) AS h(hook)
)
SELECT EXISTS (SELECT 1 FROM target) AS found,
       coalesce((SELECT t.hold FROM target t), false) AS held,
       (SELECT l.emails::text FROM listed l) AS emails,
       EXISTS (SELECT 1 FROM asking) AS session_live,
       EXISTS (SELECT 1 FROM fresh) AS session_fresh
