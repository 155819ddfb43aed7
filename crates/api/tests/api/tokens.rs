//! Keys, tokens and the JWKS (SPEC §5, §6): an independent verifier and signer, the bad-token
//! battery through the verifier and through both HTTP carriers, key material at rest.

use crate::helpers::*;
use crate::on_both_backends;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair, RsaPublicKeyComponents};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use domain::ports::KeyStore;
use jwks::TokenError;
use persistence::Database;
use serde_json::{json, Value};

const ISSUER: &str = "https://auth.example";

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The server's current signing key, decrypted from the database as only a holder of the
/// secret can.
struct ServerKey {
    kid: String,
    pkcs8: Vec<u8>,
}

fn server_key(app: &TestApp) -> ServerKey {
    let db = Database::connect(&app.config.database);
    let stored = db.list_keys().unwrap_or_else(|e| panic!("{e}"));
    let key = stored.last().unwrap_or_else(|| panic!("no key stored"));
    let pkcs8 = jwks::crypto::decrypt(app.config.secrets.keys.all(), &key.kid, &key.encrypted_key)
        .unwrap_or_else(|e| panic!("{e}"));
    ServerKey {
        kid: key.kid.clone(),
        pkcs8,
    }
}

/// An independent JWS signer: aws-lc-rs directly, no jsonwebtoken.
fn sign_with(
    pkcs8: &[u8],
    alg: &'static dyn signature::RsaEncoding,
    header: &Value,
    claims: &Value,
) -> String {
    let pair = RsaKeyPair::from_pkcs8(pkcs8).unwrap_or_else(|e| panic!("{e}"));
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let mut sig = vec![0; pair.public_modulus_len()];
    pair.sign(
        alg,
        &aws_lc_rs::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    format!("{input}.{}", b64(sig))
}

fn sign_raw(pkcs8: &[u8], header: &Value, payload: &[u8]) -> String {
    let pair = RsaKeyPair::from_pkcs8(pkcs8).unwrap_or_else(|e| panic!("{e}"));
    let input = format!("{}.{}", b64(header.to_string()), b64(payload));
    let mut sig = vec![0; pair.public_modulus_len()];
    pair.sign(
        &signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    format!("{input}.{}", b64(sig))
}

fn hs256(secret: &[u8], header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    format!(
        "{input}.{}",
        b64(aws_lc_rs::hmac::sign(&key, input.as_bytes()))
    )
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn good_claims(login: &Login) -> Value {
    json!({
        "sub": login.user_id,
        "session_id": login.session_id,
        "iat": now(),
        "exp": now() + 3600,
        "aud": ["localhost"],
        "iss": ISSUER,
    })
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn without(mut v: Value, key: &str) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove(key);
    }
    v
}

async fn issuer_app(backend: Backend) -> TestApp {
    TestApp::builder(backend)
        .config(json!({"session": {"issuer": ISSUER}}))
        .start()
        .await
}

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
            for req in [by_header, by_cookie] {
                let res = req.fetch().await;
                assert_eq!(res.status(), 401, "{name} {path}");
                assert_error(res, 401);
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

async fn tokens_for_dead_sessions_are_refused(backend: Backend) {
    let app = issuer_app(backend).await;
    let victim = app.user_with_session("s@example.com").await;
    let other = app.user_with_session("o@example.com").await;
    let key = server_key(&app);
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": key.kid});
    let sign = |c: &Value| sign_with(&key.pkcs8, &signature::RSA_PKCS1_SHA256, &header, c);
    let cases = [
        (
            "no such session",
            sign(&with(
                good_claims(&victim),
                "session_id",
                json!(uuid::Uuid::new_v4().to_string()),
            )),
        ),
        (
            "someone else's session",
            sign(&with(
                good_claims(&victim),
                "session_id",
                json!(other.session_id),
            )),
        ),
    ];
    for (name, token) in cases {
        assert!(
            app.key_manager().verify(&token, chrono::Utc::now()).is_ok(),
            "{name}: signature fine"
        );
        let res = app.get_me(&token).await;
        assert_eq!(res.status(), 401, "{name}");
        assert_error(app.delete_user(&token).await, 401);
    }
    // An expired session row refuses a token that is otherwise valid.
    let past = (chrono::Utc::now() - chrono::Duration::minutes(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    app.db.exec(&format!(
        "UPDATE sessions SET expires_at = '{past}' WHERE id = '{}'",
        victim.session_id
    ));
    assert_error(app.get_me(&victim.token).await, 401);
    assert_eq!(app.rows_of_user(&victim.user_id), 3);
    assert_eq!(app.rows_of_user(&other.user_id), 3);
}

async fn carriers_and_their_variants(backend: Backend) {
    let app = issuer_app(backend).await;
    let login = app.user_with_session("carrier@example.com").await;
    let me = format!("{}/me", app.public);
    let cases: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
        (
            "lowercase bearer",
            app.client
                .get(&me)
                .header("authorization", format!("bearer {}", login.token)),
            200,
        ),
        (
            "uppercase BEARER",
            app.client
                .get(&me)
                .header("authorization", format!("BEARER {}", login.token)),
            200,
        ),
        (
            "garbage header, good cookie",
            app.client
                .get(&me)
                .header("authorization", "Bearer garbage")
                .header("cookie", format!("hanko={}", login.token)),
            200,
        ),
        (
            "two cookies, bad first",
            app.client
                .get(&me)
                .header("cookie", format!("hanko=garbage; hanko={}", login.token)),
            200,
        ),
        (
            "two cookies, both bad",
            app.client.get(&me).header("cookie", "hanko=a.b.c; hanko=x"),
            401,
        ),
        (
            "empty cookie",
            app.client.get(&me).header("cookie", "hanko="),
            401,
        ),
        (
            "Basic scheme",
            app.client
                .get(&me)
                .header("authorization", format!("Basic {}", login.token)),
            401,
        ),
        (
            "bearer without token",
            app.client.get(&me).header("authorization", "Bearer"),
            401,
        ),
        (
            "non-UTF-8 cookie",
            app.client.get(&me).header(
                "cookie",
                reqwest::header::HeaderValue::from_bytes(b"hanko=\xff\xfe")
                    .unwrap_or_else(|e| panic!("{e}")),
            ),
            401,
        ),
    ];
    for (name, req, status) in cases {
        let res = req.fetch().await;
        assert_eq!(res.status().as_u16(), status, "{name}");
    }
}

async fn independent_verifier_and_signer(backend: Backend) {
    let app = issuer_app(backend).await;
    let login = app.user_with_session("indie@example.com").await;

    // Our token, verified from the published JWKS with raw RSA (no jsonwebtoken).
    let jwks: Value = app
        .get_json(format!("{}/.well-known/jwks.json", app.public))
        .await;
    let parts: Vec<&str> = login.token.split('.').collect();
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(parts[0])
            .expect("present and well-formed"),
    )
    .expect("present and well-formed");
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == header["kid"]))
        .unwrap_or_else(|| panic!("kid {} not published in {jwks}", header["kid"]));
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["use"], "sig");
    assert_eq!(jwk["alg"], "RS256");
    let members: Vec<&str> = jwk
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .expect("present and well-formed");
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(
            !members.contains(&private),
            "private member {private} published"
        );
    }
    let n = URL_SAFE_NO_PAD
        .decode(jwk["n"].str())
        .expect("present and well-formed");
    let e = URL_SAFE_NO_PAD
        .decode(jwk["e"].str())
        .expect("present and well-formed");
    assert_ne!(n[0], 0, "n is minimal (no leading zero)");
    assert_eq!(e, vec![1, 0, 1]);
    let signature = URL_SAFE_NO_PAD
        .decode(parts[2])
        .expect("present and well-formed");
    let public = RsaPublicKeyComponents { n: &n, e: &e };
    public
        .verify(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &signature,
        )
        .expect("independent verification");
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(parts[1])
            .expect("present and well-formed"),
    )
    .expect("present and well-formed");
    assert_eq!(claims["sub"], login.user_id.as_str());
    assert_eq!(claims["session_id"], login.session_id.as_str());
    assert_eq!(claims["aud"], json!(["localhost"]));
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["email"], "indie@example.com");
    assert_eq!(claims["exp"].int() - claims["iat"].int(), 12 * 3600);

    // A token made by an independent signer with the private key is accepted by ours.
    let key = server_key(&app);
    let theirs = sign_with(
        &key.pkcs8,
        &signature::RSA_PKCS1_SHA256,
        &json!({"alg": "RS256", "kid": key.kid}),
        &good_claims(&login),
    );
    assert_eq!(app.get_me(&theirs).await.status(), 200);
}

async fn jwks_http_caching(backend: Backend) {
    let app = issuer_app(backend).await;
    let url = format!("{}/.well-known/jwks.json", app.public);
    let first = app
        .client
        .get(&url)
        .header("origin", "https://anywhere.example")
        .fetch()
        .await;
    assert_eq!(first.status(), 200);
    let h = first.headers().clone();
    let get = |name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .expect("present and well-formed")
            .to_owned()
    };
    assert_eq!(get("content-type"), "application/json");
    assert_eq!(
        get("cache-control"),
        "public, max-age=600, stale-while-revalidate=60, stale-if-error=86400"
    );
    assert_eq!(get("access-control-allow-origin"), "*");
    assert!(
        h.get("access-control-allow-credentials").is_none(),
        "* never with credentials"
    );
    let etag = get("etag");
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"),
        "strong etag {etag}"
    );
    let body = first.bytes();

    let again = app.client.get(&url).fetch().await;
    assert_eq!(
        header(again.headers(), "etag").as_deref(),
        Some(etag.as_str())
    );
    assert_eq!(again.bytes(), body);

    for inm in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"other\", {etag}"),
        "*".to_owned(),
    ] {
        let res = app
            .client
            .get(&url)
            .header("if-none-match", inm.as_str())
            .fetch()
            .await;
        assert_eq!(res.status(), 304, "{inm}");
        assert_eq!(
            header(res.headers(), "etag").as_deref(),
            Some(etag.as_str())
        );
        assert!(res.bytes().is_empty());
    }
    let stale = app
        .client
        .get(&url)
        .header("if-none-match", "\"stale\"")
        .fetch()
        .await;
    assert_eq!(stale.status(), 200);

    // The document is serialised once per key-set change: two reads share the same bytes.
    let keys = app.key_manager();
    let (a, b) = (keys.jwks(), keys.jwks());
    assert_eq!(
        a.body.as_ptr(),
        b.body.as_ptr(),
        "same allocation, not re-serialised"
    );
    assert_eq!(a.body, body);
    // A rotation changes the document and its ETag.
    let rotated = app
        .client
        .post(format!("{}/jwks/rotate", app.admin))
        .fetch()
        .await;
    assert_eq!(rotated.status(), 201);
    let res = app
        .client
        .get(&url)
        .header("if-none-match", etag.as_str())
        .fetch()
        .await;
    assert_eq!(res.status(), 200, "new key set, new etag");
    let doc: Value = res.json();
    assert_eq!(doc["keys"].as_array().map(Vec::len), Some(2));
}

async fn no_private_key_material_at_rest(backend: Backend) {
    let app = issuer_app(backend).await;
    let key = server_key(&app);
    let db = Database::connect(&app.config.database);
    let stored = db.list_keys().unwrap_or_else(|e| panic!("{e}"));
    let ours = RsaKeyPair::from_pkcs8(&key.pkcs8).unwrap_or_else(|e| panic!("{e}"));
    let modulus = ours
        .public_key()
        .modulus()
        .big_endian_without_leading_zero()
        .to_vec();
    for row in &stored {
        let text = format!("{} {} {}", row.kid, row.alg, row.encrypted_key);
        assert!(!text.contains("PRIVATE KEY"), "PEM in the row");
        assert!(!text.contains("MII"), "base64 DER in the row");
        let raw = URL_SAFE_NO_PAD
            .decode(&row.encrypted_key)
            .expect("present and well-formed");
        assert!(
            !raw.windows(32)
                .any(|w| key.pkcs8.windows(32).any(|p| p == w)),
            "plaintext key bytes stored"
        );
        assert!(
            !raw.windows(16).any(|w| modulus.windows(16).any(|m| m == w)),
            "even the modulus is not in clear"
        );
    }
}

/// Verified tokens are remembered (by the hash of their bytes); their time claims are not.
async fn a_remembered_token_still_expires(backend: Backend) {
    let app = issuer_app(backend).await;
    let login = app.user_with_session("short@example.com").await;
    let key = server_key(&app);
    let exp = now() + 2;
    let token = sign_with(
        &key.pkcs8,
        &signature::RSA_PKCS1_SHA256,
        &json!({"alg": "RS256", "kid": key.kid}),
        &with(good_claims(&login), "exp", json!(exp)),
    );
    let verifier = app.key_manager();
    for _ in 0..3 {
        assert!(verifier.verify(&token, chrono::Utc::now()).is_ok());
        assert_eq!(app.get_me(&token).await.status(), 200);
    }
    while now() < exp {
        actix_rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        verifier.verify(&token, chrono::Utc::now()).err(),
        Some(TokenError::Expired)
    );
    assert_error(app.get_me(&token).await, 401);
    // A one-byte change is a different token: the remembered verdict does not carry over.
    let mut tampered = login.token.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8_lossy(&tampered).into_owned();
    assert_eq!(app.get_me(&login.token).await.status(), 200);
    assert_error(app.get_me(&tampered).await, 401);
}

on_both_backends!(
    a_remembered_token_still_expires,
    the_bad_token_battery,
    tokens_for_dead_sessions_are_refused,
    carriers_and_their_variants,
    independent_verifier_and_signer,
    jwks_http_caching,
    no_private_key_material_at_rest,
);
