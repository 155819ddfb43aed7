-- The deletions of the statement, one per element of the array parameters, numbered in order.
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::uuid[], $7::text[],
                         $8::text[], $9::text[], $10::jsonb[], $11::uuid[], $12::text[],
                         $14::timestamptz[], $16::timestamptz[])
        WITH ORDINALITY AS a(user_id, session_id, now, audit_id, request_id, source_ip,
                             user_agent, details, event_id, deleted_at, created_after,
                             purge_after, n)
