-- Key rotation (README, "Keys and rotation"): every key before this version is an RS256 key and
-- keeps its kid; a key retires when the next one starts signing; a scheduled rotation stores
-- one successor per key, whichever instance creates it.
UPDATE jwks SET alg = 'RS256';
ALTER TABLE jwks ADD COLUMN retired_at TEXT;
ALTER TABLE jwks ADD COLUMN succeeds TEXT;
CREATE UNIQUE INDEX jwks_succeeds_key ON jwks (succeeds);
UPDATE jwks SET retired_at = (
    SELECT min(o.activates_at) FROM jwks AS o WHERE o.activates_at > jwks.activates_at
);
