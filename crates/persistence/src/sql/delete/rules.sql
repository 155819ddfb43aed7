-- The deletion on Postgres: every rule of it, once. Two statements are made of this file
-- (crates/persistence/src/deletion/statement.rs): the same rules after one of two heads, which
-- say which deletions the statement carries as the CTE `asked` (one row per deletion, numbered
-- n from 1): asked_one.sql, one deletion from scalar parameters; asked_group.sql, several from
-- arrays. A user's own deletion (at once or scheduled), an operator's and the purge's (no
-- session: NULL) all run these rules; only the head differs (one deletion does not pay for
-- unnest).
-- For each deletion: lock the user (only if the asking session, when there is one, is still
-- live and, for a step-up, fresh), read the e-mails, then one of three:
--  * scheduled, when the deletion carries a purge_after (a grace period), or when a user asks
--    while under legal hold (purge_after = now; the hold is never revealed to them, and the
--    purge waits for its release): the user marked, every session removed, audit
--    user_deletion_scheduled and the user.delete.scheduled event with its deliveries;
--  * held, when an operator or the purge meets a legal hold: nothing changes;
--  * else deleted (the cascade takes e-mails and sessions): audit user_deleted and the
--    user.delete event with its deliveries.
-- Several deletions of one user: the first whose session speaks (live and fresh, or none
-- asked) acts; the others find the user gone (or, held, find the hold). Users are locked in id
-- order, so two statements never wait on each other in a cycle. Every CTE sees the same
-- snapshot; data-modifying ones always run.
-- Parameters (#n below is $n; one element per deletion in the group head):
--  #1 user id            #2 session id (NULL: an operator or the purge)   #3 now
--  #4 audit entry id     #5 audit enabled (all)       #6 mask the e-mail in the audit (all)
--  #7 request id         #8 source ip                 #9 user agent
--  #10 audit details     #11 event id                 #12 now as serialised
--  #13 the hooks user.delete goes to (all)
--  #14 the oldest session creation allowed (RFC 9470 step-up; NULL: any age)
--  #15 the hooks user.delete.scheduled goes to (all)
--  #16 purge after (NULL: delete at once, unless a user asks under legal hold)
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
decided AS (
    SELECT t.id, t.n, t.hold,
           CASE WHEN a.purge_after IS NOT NULL THEN a.purge_after
                WHEN t.hold AND a.session_id IS NOT NULL THEN a.now END AS purge_after
    FROM target t JOIN asked a ON a.n = t.n
),
gone AS (
    DELETE FROM users u USING decided d
    WHERE u.id = d.id AND NOT d.hold AND d.purge_after IS NULL
    RETURNING u.id, d.n
),
scheduled AS (
    UPDATE users u SET deletion_scheduled_at = a.now, purge_after = d.purge_after,
                       updated_at = a.now
    FROM decided d JOIN asked a ON a.n = d.n
    WHERE u.id = d.id AND d.purge_after IS NOT NULL
    RETURNING u.id, d.n, d.purge_after,
              to_char(d.purge_after AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS purge_after_text
),
ended AS (
    DELETE FROM sessions s USING scheduled c WHERE s.user_id = c.id
),
acted AS (
    SELECT g.id, g.n, 'user_deleted' AS audit_type, 'user.delete' AS event,
           a.details AS details, 'deleted_at' AS time_key, a.deleted_at AS time_text
    FROM gone g JOIN asked a ON a.n = g.n
    UNION ALL
    SELECT c.id, c.n, 'user_deletion_scheduled', 'user.delete.scheduled',
           a.details || jsonb_build_object('purge_after', c.purge_after_text),
           'purge_after', c.purge_after_text
    FROM scheduled c JOIN asked a ON a.n = c.n
),
audit AS (
    INSERT INTO audit_logs (id, type, actor_user_id, actor_email, meta_http_request_id,
                            meta_source_ip, meta_user_agent, details, created_at)
    SELECT a.audit_id, x.audit_type, x.id,
           CASE WHEN $6 THEN mask_email(l.primary_address) ELSE l.primary_address END,
           a.request_id, a.source_ip, a.user_agent, x.details, a.now
    FROM acted x JOIN asked a ON a.n = x.n LEFT JOIN listed l ON l.user_id = x.id
    WHERE $5
),
event AS (
    INSERT INTO webhook_outbox (id, event, payload, created_at)
    SELECT a.event_id, x.event,
           jsonb_build_object('id', x.id, 'emails', coalesce(l.emails, '[]'::jsonb),
                              x.time_key, x.time_text), a.now
    FROM acted x JOIN asked a ON a.n = x.n LEFT JOIN listed l ON l.user_id = x.id
    RETURNING id, event, created_at
),
deliveries AS (
    INSERT INTO webhook_deliveries (event_id, hook, attempts, next_attempt_at, delivered_at,
                                    last_error, dead)
    SELECT e.id, h.hook, 0, e.created_at, NULL, NULL, false
    FROM event e,
         unnest(CASE WHEN e.event = 'user.delete' THEN $13::text[] ELSE $15::text[] END) AS h(hook)
)
-- One row per deletion, with its number: `found` when this deletion's request is the one that
-- acted on the user (found, and deleted, scheduled or held), and for every operator's request
-- of a held user, so each of them hears of the hold (a user's never does: another request of
-- theirs acted, and their session is gone); `purge_after` when this request scheduled it.
SELECT a.n,
       coalesce(t.n = a.n OR (t.hold AND a.session_id IS NULL), false) AS found,
       coalesce(t.hold, false) AS held,
       (SELECT c.purge_after FROM scheduled c WHERE c.n = a.n) AS purge_after,
       coalesce(l.emails, '[]'::jsonb)::text AS emails,
       EXISTS (SELECT 1 FROM asking k WHERE k.n = a.n) AS session_live,
       EXISTS (SELECT 1 FROM fresh f WHERE f.n = a.n) AS session_fresh
FROM asked a LEFT JOIN target t ON t.id = a.user_id LEFT JOIN listed l ON l.user_id = t.id
ORDER BY a.n
