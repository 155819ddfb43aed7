-- The one deletion of the statement, from scalar parameters (see checks.sql for the numbers).
    SELECT $1::uuid AS user_id, $2::uuid AS session_id, $3::timestamptz AS now,
           $4::uuid AS audit_id, $7::text AS request_id, $8::text AS source_ip,
           $9::text AS user_agent, $10::jsonb AS details, $11::uuid AS event_id,
           $12::text AS deleted_at, $14::timestamptz AS created_after,
           $16::timestamptz AS purge_after, 1::bigint AS n
