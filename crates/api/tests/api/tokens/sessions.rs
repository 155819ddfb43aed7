//! A token is only as good as its session: dead sessions, carriers (header, cookie) and
//! their variants, and the verified-token memory that must not outlive `exp`.

use super::*;
use crate::helpers::*;
use crate::on_both_backends;

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

/// A stale token in the header (logged out, or its session deleted) does not hide a good
/// cookie: the first candidate with a live session wins, for reads and for `DELETE /user`.
async fn a_logged_out_header_token_does_not_hide_a_live_cookie(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let user = app.user_with_session("fallback@example.com").await;
    let stale = app.login(&user.user_id).await;
    app.client
        .post(format!("{}/logout", app.public))
        .bearer_auth(&stale.token)
        .fetch()
        .await
        .expect_status(204);
    assert_error(app.get_me(&stale.token).await, 401);
    let with_both = |req: reqwest::RequestBuilder| {
        req.bearer_auth(&stale.token)
            .header("cookie", format!("hanko={}", user.token))
    };
    let me: Value = with_both(app.client.get(format!("{}/me", app.public)))
        .fetch()
        .await
        .expect_status(200)
        .json();
    assert_eq!(me["id"], user.user_id.as_str());
    with_both(app.client.delete(format!("{}/user", app.public)))
        .fetch()
        .await
        .expect_status(204);
    assert_eq!(app.rows_of_user(&user.user_id), 0);
}

/// A request acts for one user (ARCHITECTURE.md, "Invariants"): the first token we signed names it, and a token of
/// another user is never tried after it. The double click after switching accounts in
/// another tab: user A's token in the header, user B's cookie, sent twice.
async fn a_dead_header_token_never_acts_on_another_user_s_cookie(backend: Backend) {
    let app = issuer_app(backend).await;
    let a = app.user_with_session("a@example.com").await;
    let b = app.user_with_session("b@example.com").await;
    let (me, user) = (format!("{}/me", app.public), format!("{}/user", app.public));
    let cookie_b = format!("hanko={}", b.token);
    let a_then_b = |req: reqwest::RequestBuilder, header_token: &str| {
        req.bearer_auth(header_token).header("cookie", &cookie_b)
    };
    a_then_b(app.client.delete(&user), &a.token)
        .fetch()
        .await
        .expect_status(204);
    assert_eq!(app.rows_of_user(&a.user_id), 0, "the first click deletes A");
    // A's token still verifies, but its session is gone: the request is A's, and A is gone.
    assert_error(
        a_then_b(app.client.delete(&user), &a.token).fetch().await,
        401,
    );
    assert_error(a_then_b(app.client.get(&me), &a.token).fetch().await, 401);
    assert_eq!(app.rows_of_user(&b.user_id), 3, "B is untouched");

    // A token of ours whose claims are refused (expired, another audience) names its user all
    // the same; a token whose signature fails names no one, so B's cookie counts after it.
    let c = app.user_with_session("c@example.com").await;
    let key = server_key(&app);
    let sign = |claims: &Value| {
        sign_with(
            &key.pkcs8,
            &signature::RSA_PKCS1_SHA256,
            &json!({"alg": "RS256", "typ": "JWT", "kid": key.kid}),
            claims,
        )
    };
    let expired = sign(&with(good_claims(&c), "exp", json!(now() - 10)));
    let elsewhere = sign(&with(good_claims(&c), "aud", json!(["another-app"])));
    let mut forged = c.token.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8_lossy(&forged).into_owned();
    for (name, header_token) in [("expired", &expired), ("another audience", &elsewhere)] {
        let res = a_then_b(app.client.get(&me), header_token).fetch().await;
        assert_eq!(res.status(), 401, "{name}: {res}");
        let res = a_then_b(app.client.delete(&user), header_token)
            .fetch()
            .await;
        assert_eq!(res.status(), 401, "{name}: {res}");
    }
    assert_eq!(app.rows_of_user(&b.user_id), 3, "B is still untouched");
    assert_eq!(app.rows_of_user(&c.user_id), 3, "and so is C");
    let answer: Value = a_then_b(app.client.get(&me), &forged)
        .fetch()
        .await
        .expect_status(200)
        .json();
    assert_eq!(
        answer["id"],
        b.user_id.as_str(),
        "a forged header names no one"
    );
}

/// No cache keeps an authenticated answer (nor an answer to a credentialed request).
async fn authenticated_responses_are_not_stored(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let login = app.user_with_session("nostore@example.com").await;
    for res in [
        app.get_me(&login.token).await.expect_status(200),
        app.client
            .get(format!("{}/users/{}", app.public, login.user_id))
            .header("cookie", format!("hanko={}", login.token))
            .fetch()
            .await
            .expect_status(200),
        app.get_me("not.a.token").await.expect_status(401),
    ] {
        assert_eq!(
            header(res.headers(), "cache-control").as_deref(),
            Some("no-store"),
            "{res}"
        );
    }
    let jwks = app
        .client
        .get(format!("{}/.well-known/jwks.json", app.public))
        .bearer_auth(&login.token)
        .fetch()
        .await
        .expect_status(200);
    assert!(
        header(jwks.headers(), "cache-control").is_some_and(|c| c.starts_with("public")),
        "the JWKS keeps its own policy: {jwks}"
    );
}

on_both_backends!(
    a_logged_out_header_token_does_not_hide_a_live_cookie,
    a_dead_header_token_never_acts_on_another_user_s_cookie,
    authenticated_responses_are_not_stored,
    tokens_for_dead_sessions_are_refused,
    carriers_and_their_variants,
    a_remembered_token_still_expires,
);
