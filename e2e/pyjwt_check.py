"""PyJWT, a standard JOSE client, verifies a session token using only the published JWKS.

Usage: python3 pyjwt_check.py JWKS_URL TOKEN|@FILE EXPECTED_SUB [ALG [AUDIENCE [ISSUER]]]
"""
import sys

import jwt

jwks_url, token, expected_sub = sys.argv[1:4]
alg = sys.argv[4] if len(sys.argv) > 4 else "RS256"
audience = sys.argv[5] if len(sys.argv) > 5 else "localhost"
issuer = sys.argv[6] if len(sys.argv) > 6 else None
# TOKEN may be @FILE: one token per line, all for EXPECTED_SUB.
tokens = open(token[1:]).read().split() if token.startswith("@") else [token]
client = jwt.PyJWKClient(jwks_url)
for token in tokens:
    signing_key = client.get_signing_key_from_jwt(token)
    assert signing_key.algorithm_name == alg, (signing_key.algorithm_name, alg)
    claims = jwt.decode(token, signing_key.key, algorithms=[alg], audience=audience, issuer=issuer)
    assert claims["sub"] == expected_sub, claims
    assert isinstance(claims["session_id"], str), claims
print(f"pyjwt ok ({alg})" if len(tokens) == 1 else f"pyjwt ok ({alg}, {len(tokens)} tokens)")
