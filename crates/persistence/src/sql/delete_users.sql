-- DELETE /user for several requests in ONE statement: what sql/delete_user.sql does for one
-- deletion, for each of the arrays' elements (one per request, in order). An HTTP worker sends
-- it when deletions arrive while its statements are all out, so Postgres parses, plans and
-- commits once for all of them. Each deletion keeps its own checks and rows; the statement is
-- atomic as a whole (a failure changes nothing for any of them; the worker then runs each
-- alone). Two requests for one user: the first with a live, fresh session speaks for the user,
-- the others find it gone, as if they had come just after. Users are locked in id order, so
-- two such statements never wait on each other in a cycle.
-- Parameters (#n below is $n in the statement; arrays have one element per request):
--  #1 user ids           #2 session ids (NULL: an admin)  #3 now
--  #4 audit entry ids    #5 audit enabled (all)           #6 mask the e-mail in the audit (all)
--  #7 request ids        #8 source ips                    #9 user agents
--  #10 audit details     #11 event ids                    #12 deleted_at as serialised
--  #13 the hooks to deliver the events to (all)
--  #14 the oldest session creation allowed (RFC 9470 step-up; NULL: any age)
WITH asked AS MATERIALIZED (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::uuid[], $7::text[],
                         $8::text[], $9::text[], $10::jsonb[], $11::uuid[], $12::text[],
                         $14::timestamptz[])
        WITH ORDINALITY AS a(user_id, session_id, now, audit_id, request_id, source_ip,
                             user_agent, details, event_id, deleted_at, created_after, n)
),
asking AS (
    SELECT a.n, s.created_at FROM asked a
    JOIN sessions s ON s.id = a.session_id AND s.user_id = a.user_id AND s.expires_at > a.now
),
fresh AS (
    SELECT k.n FROM asking k JOIN asked a ON a.n = k.n
    WHERE a.created_after IS NULL OR k.created_at >= a.created_after
),
speaking AS (
    SELECT DISTINCT ON (a.user_id) a.n, a.user_id FROM asked a
    WHERE a.session_id IS NULL OR a.n IN (SELECT f.n FROM fresh f)
    ORDER BY a.user_id, a.n
),
target AS (
    SELECT u.id, u.hold, p.n FROM users u JOIN speaking p ON p.user_id = u.id
    ORDER BY u.id
    FOR UPDATE OF u
),
mails AS (
    SELECT e.user_id, e.id, e.address, e.verified, e.is_primary, e.created_at, e.updated_at
    FROM emails e JOIN target t ON e.user_id = t.id
),
listed AS (
    SELECT m.user_id,
           jsonb_agg(jsonb_build_object(
               'id', m.id,
               'address', m.address,
               'is_verified', m.verified,
               'is_primary', m.is_primary,
               'created_at', to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               'updated_at', to_char(m.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
               ORDER BY m.created_at, m.id) AS emails,
           (array_agg(m.address) FILTER (WHERE m.is_primary))[1] AS primary_address
    FROM mails m
    GROUP BY m.user_id
),
gone AS (
    DELETE FROM users u USING target t WHERE u.id = t.id AND NOT t.hold RETURNING u.id, t.n
),
audit AS (
    INSERT INTO audit_logs (id, type, actor_user_id, actor_email, meta_http_request_id,
                            meta_source_ip, meta_user_agent, details, created_at)
    SELECT a.audit_id, 'user_deleted', g.id,
           CASE WHEN $6 THEN left(l.primary_address, 1) || '***@' || substring(l.primary_address FROM '[^@]*$')
                ELSE l.primary_address END,
           a.request_id, a.source_ip, a.user_agent, a.details, a.now
    FROM gone g JOIN asked a ON a.n = g.n LEFT JOIN listed l ON l.user_id = g.id
    WHERE $5
),
event AS (
    INSERT INTO webhook_outbox (id, event, payload, created_at)
    SELECT a.event_id, 'user.delete',
           jsonb_build_object('id', g.id, 'emails', coalesce(l.emails, '[]'::jsonb),
                              'deleted_at', a.deleted_at), a.now
    FROM gone g JOIN asked a ON a.n = g.n LEFT JOIN listed l ON l.user_id = g.id
    RETURNING id, created_at
),
deliveries AS (
    INSERT INTO webhook_deliveries (event_id, hook, attempts, next_attempt_at, delivered_at,
                                    last_error, dead)
    SELECT e.id, h.hook, 0, e.created_at, NULL, NULL, false
    FROM event e, unnest($13::text[]) AS h(hook)
)
SELECT a.n,
       t.n IS NOT NULL AS found,
       coalesce(t.hold, false) AS held,
       coalesce(l.emails, '[]'::jsonb)::text AS emails,
       EXISTS (SELECT 1 FROM asking k WHERE k.n = a.n) AS session_live,
       EXISTS (SELECT 1 FROM fresh f WHERE f.n = a.n) AS session_fresh
FROM asked a LEFT JOIN target t ON t.n = a.n LEFT JOIN listed l ON l.user_id = t.id
ORDER BY a.n
