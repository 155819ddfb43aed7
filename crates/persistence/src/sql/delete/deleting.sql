-- A deletion at once, after asked_*.sql and checks.sql: the user deleted (the cascade takes
-- e-mails and sessions), audit user_deleted and the user.delete event with its deliveries. A
-- held user is not deleted: the row says so, and a user's own deletion is then run again with
-- scheduling.sql (crates/persistence/src/deletion/mod.rs, `Attempt::scheduled_under_hold`).
,
gone AS (
    DELETE FROM users u USING target t WHERE u.id = t.id AND NOT t.hold RETURNING u.id, t.n
),
audit AS (
    INSERT INTO audit_logs (id, type, actor_user_id, actor_email, meta_http_request_id,
                            meta_source_ip, meta_user_agent, details, created_at)
    SELECT a.audit_id, 'user_deleted', g.id,
           CASE WHEN $6 THEN mask_email(l.primary_address) ELSE l.primary_address END,
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
-- One row per deletion, with its number: `found` when this deletion's request is the one that
-- acted on the user (found, and deleted or held), and for every operator's request of a held
-- user, so each of them hears of the hold (a user's never does: the one that acted is
-- scheduled, and the others' sessions end with it); `held` for every request of a held user.
SELECT a.n,
       coalesce(t.n = a.n OR (t.hold AND a.session_id IS NULL), false) AS found,
       coalesce(t.hold, false) AS held,
       NULL::timestamptz AS purge_after,
       coalesce(l.emails, '[]'::jsonb)::text AS emails,
       EXISTS (SELECT 1 FROM asking k WHERE k.n = a.n) AS session_live,
       EXISTS (SELECT 1 FROM fresh f WHERE f.n = a.n) AS session_fresh
FROM asked a LEFT JOIN target t ON t.id = a.user_id LEFT JOIN listed l ON l.user_id = t.id
ORDER BY a.n
