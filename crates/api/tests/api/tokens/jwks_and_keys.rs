//! The keys and the JWKS: an independent verifier checks our tokens against the published
//! key, HTTP caching of the JWKS, and no private key material at rest.

use super::*;
use crate::helpers::*;
use crate::on_both_backends;

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
    // The key's DER as base64 (either alphabet): what a row would hold if the key were stored
    // in the clear. (A bare "MII" is no test: random ciphertext contains it now and then.)
    let der_as_text = [
        STANDARD.encode(&key.pkcs8),
        URL_SAFE_NO_PAD.encode(&key.pkcs8),
    ];
    for row in &stored {
        let text = format!("{} {} {}", row.kid, row.alg, row.encrypted_key);
        assert!(!text.contains("PRIVATE KEY"), "PEM in the row");
        for der in &der_as_text {
            assert!(!text.contains(&der[..48]), "base64 DER in the row");
        }
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

on_both_backends!(
    independent_verifier_and_signer,
    jwks_http_caching,
    no_private_key_material_at_rest,
);
