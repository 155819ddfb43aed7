-- Users, e-mails and sessions for pgbench to work on, shaped like the server's own rows.
CREATE TABLE bench_targets (n integer PRIMARY KEY, user_id uuid NOT NULL, session_id uuid NOT NULL);
CREATE SEQUENCE bench_seq;
-- Ids derive from n, so a reference finds its row by primary key alone, as the server does.
INSERT INTO bench_targets SELECT g, md5('u' || g)::uuid, md5('s' || g)::uuid FROM generate_series(1, :count) g;
INSERT INTO users (id, created_at, updated_at, last_active_at) SELECT user_id, now(), now(), now() FROM bench_targets;
INSERT INTO emails SELECT gen_random_uuid(), user_id, 'pg-' || n || '@example.com', true, true, now(), now() FROM bench_targets;
INSERT INTO sessions SELECT session_id, user_id, 'pgbench', '127.0.0.1', now(), now() + interval '12 hours', now() FROM bench_targets;
ANALYZE;
