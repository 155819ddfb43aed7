-- A deletion scheduled, after asked_*.sql and checks.sql: when the deletion carries a
-- purge_after (a grace period), or when a user asked under legal hold (purge_after = now; the
-- hold is never revealed to them, and the purge waits for its release). The user is marked,
-- every session removed, audit user_deletion_scheduled and the user.delete.scheduled event with
-- its deliveries written; the purge deletes the user later with deleting.sql.
,
scheduled AS (
    UPDATE users u SET deletion_scheduled_at = a.now, purge_after = a.purge_after,
                       updated_at = a.now
    FROM target t JOIN asked a ON a.n = t.n
    WHERE u.id = t.id
    RETURNING u.id, t.n, a.purge_after,
              to_char(a.purge_after AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS purge_after_text
),
ended AS (
    DELETE FROM sessions s USING scheduled c WHERE s.user_id = c.id
),
audit AS (
    INSERT INTO audit_logs (id, type, actor_user_id, actor_email, meta_http_request_id,
                            meta_source_ip, meta_user_agent, details, created_at)
    SELECT a.audit_id, 'user_deletion_scheduled', c.id,
           CASE WHEN $6 THEN mask_email(l.primary_address) ELSE l.primary_address END,
           a.request_id, a.source_ip, a.user_agent,
           a.details || jsonb_build_object('purge_after', c.purge_after_text), a.now
    FROM scheduled c JOIN asked a ON a.n = c.n LEFT JOIN listed l ON l.user_id = c.id
    WHERE $5
),
event AS (
    INSERT INTO webhook_outbox (id, event, payload, created_at)
    SELECT a.event_id, 'user.delete.scheduled',
           jsonb_build_object('id', c.id, 'emails', coalesce(l.emails, '[]'::jsonb),
                              'purge_after', c.purge_after_text), a.now
    FROM scheduled c JOIN asked a ON a.n = c.n LEFT JOIN listed l ON l.user_id = c.id
    RETURNING id, created_at
),
deliveries AS (
    INSERT INTO webhook_deliveries (event_id, hook, attempts, next_attempt_at, delivered_at,
                                    last_error, dead)
    SELECT e.id, h.hook, 0, e.created_at, NULL, NULL, false
    FROM event e, unnest($15::text[]) AS h(hook)
)
-- One row per deletion, with its number: `found` when this deletion's request is the one that
-- scheduled the user; `purge_after` then.
SELECT a.n,
       coalesce(t.n = a.n, false) AS found,
       coalesce(t.hold, false) AS held,
       c.purge_after,
       coalesce(l.emails, '[]'::jsonb)::text AS emails,
       EXISTS (SELECT 1 FROM asking k WHERE k.n = a.n) AS session_live,
       EXISTS (SELECT 1 FROM fresh f WHERE f.n = a.n) AS session_fresh
FROM asked a LEFT JOIN target t ON t.id = a.user_id LEFT JOIN listed l ON l.user_id = t.id
     LEFT JOIN scheduled c ON c.n = a.n
ORDER BY a.n
