-- DELETE /user and admin deletion on Postgres in ONE statement (one round trip, prepared once
-- per connection): lock the user (only if the asking session, when there is one, is still
-- live), read the e-mails, delete the user (the cascade takes e-mails and sessions), write
-- the audit entry and the user.delete event with its deliveries. A held user is locked and
-- reported, not deleted. Every CTE sees the same snapshot; data-modifying ones always run.
-- Parameters (#n below is $n in the statement):
--  #1 user id            #2 session id (NULL: an admin)   #3 now
--  #4 audit entry id     #5 audit enabled                 #6 mask the e-mail in the audit
--  #7 request id         #8 source ip                     #9 user agent
--  #10 audit details     #11 event id                     #12 deleted_at as serialised
--  #13 the hooks to deliver the event to
--  #14 the oldest session creation allowed (RFC 9470 step-up; NULL: any age)
-- The asking session is checked here too, so DELETE /user needs no other round trip.
WITH asking AS (
    SELECT s.created_at FROM sessions s
    WHERE s.id = $2 AND s.user_id = $1 AND s.expires_at > $3
),
fresh AS (
    SELECT 1 FROM asking a WHERE $14::timestamptz IS NULL OR a.created_at >= $14
),
target AS (
    SELECT u.id, u.hold FROM users u
    WHERE u.id = $1 AND ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM fresh))
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
               'created_at', to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               'updated_at', to_char(m.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
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
    SELECT $4, 'user_deleted', g.id,
           CASE WHEN $6 THEN left(l.primary_address, 1) || '***@' || substring(l.primary_address FROM '[^@]*$')
                ELSE l.primary_address END,
           $7, $8, $9, $10, $3
    FROM gone g, listed l
    WHERE $5
),
event AS (
    INSERT INTO webhook_outbox (id, event, payload, created_at)
    SELECT $11, 'user.delete',
           jsonb_build_object('id', g.id, 'emails', l.emails, 'deleted_at', $12::text), $3
    FROM gone g, listed l
    RETURNING id
),
deliveries AS (
    INSERT INTO webhook_deliveries (event_id, hook, attempts, next_attempt_at, delivered_at,
                                    last_error, dead)
    SELECT e.id, h.hook, 0, $3, NULL, NULL, false
    FROM event e, unnest($13::text[]) AS h(hook)
)
SELECT EXISTS (SELECT 1 FROM target) AS found,
       coalesce((SELECT t.hold FROM target t), false) AS held,
       (SELECT l.emails::text FROM listed l) AS emails,
       EXISTS (SELECT 1 FROM asking) AS session_live,
       EXISTS (SELECT 1 FROM fresh) AS session_fresh
