-- How an audit entry shows an e-mail address when audit_log.mask_email is on: the first
-- character of the local part, then ***@ and the domain; *** for text with no @. The Rust
-- definition is domain::audit::mask_email (SQLite's); a property test keeps the two equal.
-- One SQL expression, IMMUTABLE: the planner inlines it where it is called.
CREATE FUNCTION mask_email(address text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN strpos(address, '@') = 0 THEN '***'
        ELSE left(substring(address FROM '^(.*)@'), 1) || '***@' || substring(address FROM '[^@]*$')
    END
$$;
