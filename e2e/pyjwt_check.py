"""PyJWT, a standard JOSE client, verifies a session token using only the published JWKS.

Usage: python3 pyjwt_check.py JWKS_URL TOKEN EXPECTED_SUB [ALG [AUDIENCE [ISSUER]]]
"""
import sys

import jwt

jwks_url, token, expected_sub = sys.argv[1:4]
alg = sys.argv[4] if len(sys.argv) > 4 else "RS256"
audience = sys.argv[5] if len(sys.argv) > 5 else "localhost"
issuer = sys.argv[6] if len(sys.argv) > 6 else None
signing_key = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(token)
assert signing_key.algorithm_name == alg, (signing_key.algorithm_name, alg)
claims = jwt.decode(token, signing_key.key, algorithms=[alg], audience=audience, issuer=issuer)
assert claims["sub"] == expected_sub, claims
assert isinstance(claims["session_id"], str), claims
print(f"pyjwt ok ({alg})")
