-- Key rotation (README, "Keys and rotation"): every key before this version is an RS256 key and
-- keeps its kid; a key retires when the next one starts signing; a scheduled rotation stores
-- one successor per key, whichever instance creates it.
UPDATE jwks SET alg = 'RS256';
ALTER TABLE jwks ADD COLUMN retired_at timestamptz;
ALTER TABLE jwks ADD COLUMN succeeds text;
CREATE UNIQUE INDEX jwks_succeeds_key ON jwks (succeeds);
UPDATE jwks AS k SET retired_at = (
    SELECT min(o.activates_at) FROM jwks AS o WHERE o.activates_at > k.activates_at
);
