"""PyJWT, a standard JOSE client, verifies a session token using only the published JWKS.

Usage: python3 pyjwt_check.py JWKS_URL TOKEN EXPECTED_SUB
"""
import sys

import jwt

jwks_url, token, expected_sub = sys.argv[1:4]
signing_key = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(token)
claims = jwt.decode(token, signing_key.key, algorithms=["RS256"], audience="localhost")
assert claims["sub"] == expected_sub, claims
assert isinstance(claims["session_id"], str), claims
print("pyjwt ok")
