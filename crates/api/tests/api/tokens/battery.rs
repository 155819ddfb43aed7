//! The bad-token battery: every forged, malformed or mis-claimed token, refused by our
//! verifier with the right reason and by both HTTP carriers with a plain 401.

use super::*;
use crate::helpers::*;
use crate::on_both_backends;

/// Every bad token, with the reason our verifier must give.
fn battery(
    key: &ServerKey,
    login: &Login,
    jku_url: &str,
) -> Vec<(&'static str, String, TokenError)> {
    let claims = good_claims(login);
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": key.kid});
    let sign = |h: &Value, c: &Value| sign_with(&key.pkcs8, &signature::RSA_PKCS1_SHA256, h, c);
    let good = sign(&header, &claims);
    let parts: Vec<&str> = good.split('.').collect();
    let (h, p, s) = (parts[0], parts[1], parts[2]);

    let attacker = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .unwrap_or_else(|e| panic!("{e}"));
    let attacker_pkcs8 = attacker
        .as_der()
        .unwrap_or_else(|e| panic!("{e}"))
        .as_ref()
        .to_vec();
    let attacker_sign =
        |h: &Value, c: &Value| sign_with(&attacker_pkcs8, &signature::RSA_PKCS1_SHA256, h, c);
    let attacker_pub = attacker.public_key();
    let attacker_jwk = json!({
        "kty": "RSA",
        "n": b64(attacker_pub.modulus().big_endian_without_leading_zero()),
        "e": b64(attacker_pub.exponent().big_endian_without_leading_zero()),
    });

    let ours = RsaKeyPair::from_pkcs8(&key.pkcs8).unwrap_or_else(|e| panic!("{e}"));
    let spki = ours.public_key().as_der().unwrap_or_else(|e| panic!("{e}"));
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        STANDARD
            .encode(spki.as_ref())
            .as_bytes()
            .chunks(64)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let our_jwk = json!({
        "kty": "RSA", "kid": key.kid, "use": "sig", "alg": "RS256",
        "n": b64(ours.public_key().modulus().big_endian_without_leading_zero()),
        "e": b64(ours.public_key().exponent().big_endian_without_leading_zero()),
    })
    .to_string();
    let hs_header = json!({"alg": "HS256", "typ": "JWT", "kid": key.kid});
    let flipped = {
        let mut sig = s.to_owned().into_bytes();
        sig[10] = if sig[10] == b'A' { b'B' } else { b'A' };
        String::from_utf8_lossy(&sig).into_owned()
    };

    use TokenError as E;
    vec![
        (
            "alg none, no signature",
            format!(
                "{}.{p}.",
                b64(json!({"alg": "none", "kid": key.kid}).to_string())
            ),
            E::Malformed,
        ),
        (
            "alg none, with signature",
            format!(
                "{}.{p}.{s}",
                b64(json!({"alg": "none", "kid": key.kid}).to_string())
            ),
            E::Algorithm,
        ),
        (
            "alg None",
            format!(
                "{}.{p}.{s}",
                b64(json!({"alg": "None", "kid": key.kid}).to_string())
            ),
            E::Algorithm,
        ),
        (
            "alg nOnE",
            format!(
                "{}.{p}.{s}",
                b64(json!({"alg": "nOnE", "kid": key.kid}).to_string())
            ),
            E::Algorithm,
        ),
        (
            "alg missing",
            format!("{}.{p}.{s}", b64(json!({"kid": key.kid}).to_string())),
            E::Algorithm,
        ),
        (
            "alg rs256 lowercase",
            sign(&json!({"alg": "rs256", "kid": key.kid}), &claims),
            E::Algorithm,
        ),
        (
            "HS256 keyed with the public key PEM",
            hs256(pem.as_bytes(), &hs_header, &claims),
            E::Algorithm,
        ),
        (
            "HS256 keyed with the public JWK",
            hs256(our_jwk.as_bytes(), &hs_header, &claims),
            E::Algorithm,
        ),
        (
            "RS512 with our key",
            sign_with(
                &key.pkcs8,
                &signature::RSA_PKCS1_SHA512,
                &json!({"alg": "RS512", "kid": key.kid}),
                &claims,
            ),
            E::Algorithm,
        ),
        (
            "PS256 with our key",
            sign_with(
                &key.pkcs8,
                &signature::RSA_PSS_SHA256,
                &json!({"alg": "PS256", "kid": key.kid}),
                &claims,
            ),
            E::Algorithm,
        ),
        (
            "null signature",
            format!("{h}.{p}.{}", b64(vec![0u8; 256])),
            E::Signature,
        ),
        (
            "broken signature",
            format!("{h}.{p}.{flipped}"),
            E::Signature,
        ),
        (
            "signature of the other segments",
            format!(
                "{h}.{}.{s}",
                b64(with(
                    claims.clone(),
                    "sub",
                    json!(uuid::Uuid::new_v4().to_string())
                )
                .to_string())
            ),
            E::Signature,
        ),
        (
            "attacker key under our kid",
            attacker_sign(&header, &claims),
            E::Signature,
        ),
        (
            "attacker key embedded as jwk",
            attacker_sign(
                &json!({"alg": "RS256", "kid": key.kid, "jwk": attacker_jwk}),
                &claims,
            ),
            E::Signature,
        ),
        (
            "unknown kid",
            sign(&json!({"alg": "RS256", "kid": "no-such-kid"}), &claims),
            E::UnknownKid,
        ),
        (
            "oversized kid",
            sign(&json!({"alg": "RS256", "kid": "k".repeat(200)}), &claims),
            E::Kid,
        ),
        (
            "numeric kid",
            sign(&json!({"alg": "RS256", "kid": 7}), &claims),
            E::Kid,
        ),
        (
            "kid missing",
            sign(&json!({"alg": "RS256"}), &claims),
            E::Kid,
        ),
        (
            "jku to a local listener",
            attacker_sign(
                &json!({"alg": "RS256", "kid": "attacker", "jku": jku_url}),
                &claims,
            ),
            E::UnknownKid,
        ),
        (
            "x5u to a local listener",
            attacker_sign(
                &json!({"alg": "RS256", "kid": "attacker", "x5u": jku_url}),
                &claims,
            ),
            E::UnknownKid,
        ),
        (
            "unknown crit",
            sign(
                &json!({"alg": "RS256", "kid": key.kid, "crit": ["urn:x"], "urn:x": 1}),
                &claims,
            ),
            E::Crit,
        ),
        (
            "empty crit",
            sign(
                &json!({"alg": "RS256", "kid": key.kid, "crit": []}),
                &claims,
            ),
            E::Crit,
        ),
        (
            "typed as a Security Event Token",
            sign(
                &json!({"alg": "RS256", "typ": "secevent+jwt", "kid": key.kid}),
                &claims,
            ),
            E::Type,
        ),
        (
            "typed as a logout token",
            sign(
                &json!({"alg": "RS256", "typ": "logout+jwt", "kid": key.kid}),
                &claims,
            ),
            E::Type,
        ),
        (
            "typ not a string",
            sign(&json!({"alg": "RS256", "typ": 1, "kid": key.kid}), &claims),
            E::Type,
        ),
        (
            "expired",
            sign(&header, &with(claims.clone(), "exp", json!(now() - 10))),
            E::Expired,
        ),
        (
            "nbf in the future",
            sign(&header, &with(claims.clone(), "nbf", json!(now() + 600))),
            E::NotYetValid,
        ),
        (
            "iat in the future",
            sign(&header, &with(claims.clone(), "iat", json!(now() + 600))),
            E::IssuedInFuture,
        ),
        (
            "wrong aud",
            sign(
                &header,
                &with(claims.clone(), "aud", json!(["evil.example"])),
            ),
            E::Audience,
        ),
        (
            "aud missing",
            sign(&header, &without(claims.clone(), "aud")),
            E::Claims,
        ),
        (
            "wrong iss",
            sign(
                &header,
                &with(claims.clone(), "iss", json!("https://evil.example")),
            ),
            E::Issuer,
        ),
        (
            "exp missing",
            sign(&header, &without(claims.clone(), "exp")),
            E::Claims,
        ),
        (
            "exp as a string",
            sign(
                &header,
                &with(claims.clone(), "exp", json!((now() + 3600).to_string())),
            ),
            E::Claims,
        ),
        (
            "sub missing",
            sign(&header, &without(claims.clone(), "sub")),
            E::Claims,
        ),
        (
            "sub not a uuid",
            sign(&header, &with(claims.clone(), "sub", json!("admin"))),
            E::Claims,
        ),
        (
            "sub a number",
            sign(&header, &with(claims.clone(), "sub", json!(1))),
            E::Claims,
        ),
        (
            "session_id missing",
            sign(&header, &without(claims.clone(), "session_id")),
            E::Claims,
        ),
        (
            "session_id a number",
            sign(&header, &with(claims.clone(), "session_id", json!(42))),
            E::Claims,
        ),
        (
            "claims not JSON",
            sign_raw(&key.pkcs8, &header, b"not json"),
            E::Claims,
        ),
        (
            "claims an array",
            sign_raw(&key.pkcs8, &header, b"[1,2]"),
            E::Claims,
        ),
        ("two segments", format!("{h}.{p}"), E::Malformed),
        ("four segments", format!("{h}.{p}.{s}.{s}"), E::Malformed),
        (
            "five segments",
            format!("{h}.{p}.{s}.{s}.{s}"),
            E::Malformed,
        ),
        ("base64 padding", format!("{h}=.{p}.{s}"), E::Malformed),
        ("whitespace inside", format!("{h}. {p}.{s}"), E::Malformed),
        (
            "standard base64 alphabet",
            format!("{h}.{p}.{}+/", &s[..s.len() - 2]),
            E::Malformed,
        ),
        (
            "header not JSON",
            format!("{}.{p}.{s}", b64("alg=RS256")),
            E::Header,
        ),
        (
            "100 KB",
            format!("{h}.{}.{s}", "A".repeat(100 * 1024)),
            E::TooLarge,
        ),
    ]
}

async fn the_bad_token_battery(backend: Backend) {
    let app = issuer_app(backend).await;
    let victim = app.user_with_session("victim@example.com").await;
    let key = server_key(&app);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    listener
        .set_nonblocking(true)
        .unwrap_or_else(|e| panic!("{e}"));
    let jku = format!(
        "http://{}/jwks.json",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    let cases = battery(&key, &victim, &jku);
    assert!(cases.len() >= 30);

    let verifier = app.key_manager();
    // The control: the same construction with nothing wrong verifies.
    let good = sign_with(
        &key.pkcs8,
        &signature::RSA_PKCS1_SHA256,
        &json!({"alg": "RS256", "typ": "JWT", "kid": key.kid}),
        &good_claims(&victim),
    );
    assert!(verifier.verify(&good, chrono::Utc::now()).is_ok());

    for (name, token, reason) in &cases {
        assert_eq!(
            verifier.verify(token, chrono::Utc::now()).err(),
            Some(*reason),
            "{name}"
        );
        for (method, path) in [("GET", "/me"), ("DELETE", "/user")] {
            let url = format!("{}{path}", app.public);
            let method =
                reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
            let by_header = app.client.request(method.clone(), &url).bearer_auth(token);
            let by_cookie = app
                .client
                .request(method, &url)
                .header("cookie", format!("hanko={token}"));
            // A token too large for the request's headers is refused before it is read.
            let refused = if token.len() > 16 * 1024 { 431 } else { 401 };
            for req in [by_header, by_cookie] {
                let res = req.fetch().await;
                assert_eq!(res.status(), refused, "{name} {path}");
                assert_error(res, refused);
            }
        }
    }
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "a jku/x5u URL was fetched"
    );
    // The victim survived all of it, and their real token still works.
    assert_eq!(app.rows_of_user(&victim.user_id), 3);
    assert_eq!(app.get_me(&victim.token).await.status(), 200);
}

on_both_backends!(the_bad_token_battery);
