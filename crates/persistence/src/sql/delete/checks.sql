-- The deletion on Postgres: its checks, once. Every deletion statement is a head, this file,
-- then one action (crates/persistence/src/deletion/statement.rs joins them):
--  * heads say which deletions the statement carries as the CTE `asked` (one row per deletion,
--    numbered n from 1): asked_one.sql, one deletion from scalar parameters; asked_group.sql,
--    several from arrays (one deletion does not pay for unnest);
--  * actions: deleting.sql (a deletion at once: a user's own, an operator's, the purge's) and
--    scheduling.sql (a deletion after a grace period, or a user's own under legal hold).
-- For each deletion this file locks the user, only if the asking session, when there is one
-- (an operator and the purge have none: NULL), is still live and, for a step-up, fresh, and
-- reads the e-mails. Several deletions of one user: the first whose session speaks (live and
-- fresh, or none asked) acts; the others find the user gone, or scheduled. Users are locked in
-- id order, so two statements never wait on each other in a cycle. Every CTE sees the same
-- snapshot; data-modifying ones always run, which is why the action at once and the scheduled
-- one are two statements: the hot path does not pay for the branch it does not take.
-- Parameters (#n below is $n; one element per deletion in the group head):
--  #1 user id            #2 session id (NULL: an operator or the purge)   #3 now
--  #4 audit entry id     #5 audit enabled (all)       #6 mask the e-mail in the audit (all)
--  #7 request id         #8 source ip                 #9 user agent
--  #10 audit details     #11 event id                 #12 now as serialised
--  #13 the hooks user.delete goes to (all)
--  #14 the oldest session creation allowed (RFC 9470 step-up; NULL: any age)
--  #15 the hooks user.delete.scheduled goes to (all)
--  #16 purge after (scheduling.sql; NULL in deleting.sql)
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
)
