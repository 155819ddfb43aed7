//! What receivers and clients must not be able to do to us (docs/events.md "Where pushes may go"):
//! aim our dispatcher at our own listeners or private networks, grow our memory with an
//! endless answer, hold up other destinations by answering slowly, turn waiting polls into
//! database work, take more than a receiver's share, pass another kind of JWT or a twin
//! signature as a session token, or hold a connection with a trickled body or huge headers.

use crate::helpers::*;
use crate::on_both_backends;
use crate::receiver::Receiver;
use crate::ssf::receiver as receiver_token;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ISSUER: &str = "https://auth.example";
const PUSH: &str = "urn:ietf:rfc:8935";
const POLL: &str = "urn:ietf:rfc:8936";

/// Test config with the SSF transmitter on, merged with `more`.
fn ssf_config(more: Value) -> Value {
    let mut config = json!({
        "session": {"issuer": ISSUER},
        "server": {"public": {"base_url": ISSUER}},
        "ssf": {"enabled": true},
        "webhooks": {"initial_backoff": "50ms", "timeout": "5s", "max_attempts": 3}
    });
    merge(&mut config, more);
    config
}

fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(into), Value::Object(from)) => {
            for (k, v) in from {
                merge(into.entry(k).or_insert(Value::Null), v);
            }
        }
        (into, from) => *into = from,
    }
}

async fn ssf_call(app: &TestApp, method: &str, path: &str, token: &str, body: Value) -> Reply {
    app.client
        .request(
            method.parse().expect("a method"),
            format!("{}{path}", app.public),
        )
        .bearer_auth(token)
        .json(&body)
        .fetch()
        .await
}

async fn create_push(app: &TestApp, token: &str, url: &str) -> Reply {
    ssf_call(
        app,
        "POST",
        "/ssf/stream",
        token,
        json!({"delivery": {"method": PUSH, "endpoint_url": url}}),
    )
    .await
}

async fn verify(app: &TestApp, token: &str, stream: &str) -> Reply {
    ssf_call(
        app,
        "POST",
        "/ssf/verify",
        token,
        json!({"stream_id": stream}),
    )
    .await
}

fn port_of(url: &str) -> u16 {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.port())
        .unwrap_or_else(|| panic!("{url}: no port"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn assert_refusal_names(res: Reply, status: u16, named: &str) {
    let text = res.text();
    assert_eq!(res.status().as_u16(), status, "{res}");
    let body: Value = res.json();
    assert!(
        body["detail"].as_str().is_some_and(|d| d.contains(named)),
        "the refusal names {named:?}: {text}"
    );
}

/// Every spelling of a loopback, private, link-local, CGNAT or ULA address is refused when the
/// stream is created; a name that resolves to one passes creation, and every push to it dies
/// with "address not allowed" before anything connects. Admitted by `allow_networks`, the same
/// sink receives the push, and a 201 counts as delivered; our own listeners stay out of reach.
async fn pushes_reach_only_public_or_admitted_addresses(backend: Backend) {
    let sink = Receiver::start();
    let port = port_of(&sink.url);
    let app = TestApp::builder(backend)
        .config(ssf_config(json!({})))
        .start()
        .await;
    let token = receiver_token(&app, "https://rp.example").await;
    for host in [
        "127.0.0.1",
        "2130706433",
        "0x7f000001",
        "0177.0.0.1",
        "127.1",
        "0",
        "0.0.0.0",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "169.254.169.254",
        "10.0.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "[fd00::1]",
    ] {
        let url = format!("http://{host}:{port}/hook");
        // IPv6 literals are not accepted as push endpoints at all (the endpoint's pattern).
        let named = if host.starts_with('[') {
            "endpoint_url"
        } else {
            "address not allowed"
        };
        assert_refusal_names(create_push(&app, &token, &url).await, 400, named);
    }
    // A name: judged on what it resolves to, at each delivery.
    let by_name = create_push(&app, &token, &format!("http://localhost:{port}/hook"))
        .await
        .expect_status(201)
        .json::<Value>()["stream_id"]
        .str()
        .to_owned();
    verify(&app, &token, &by_name).await.expect_status(204);
    let dead = format!(
        "hook = 'ssf:{by_name}' AND dead AND attempts = 1 AND last_error LIKE '%address not allowed%'"
    );
    wait_until("the push by name is dead", || {
        app.db.count("webhook_deliveries", &dead) == 1
    })
    .await;
    assert!(sink.attempts().is_empty(), "nothing reached the sink");

    // Admitted: the same sink receives the push; any 2xx is a delivery.
    let admitted = TestApp::builder(backend)
        .config(ssf_config(
            json!({"ssf": {"push": {"allow_networks": ["127.0.0.0/8"]}}}),
        ))
        .start()
        .await;
    let token = receiver_token(&admitted, "https://rp.example").await;
    *sink.state.answer.lock().unwrap_or_else(|e| e.into_inner()) = Some((201, String::new()));
    let stream = create_push(&admitted, &token, &sink.url)
        .await
        .expect_status(201)
        .json::<Value>()["stream_id"]
        .str()
        .to_owned();
    verify(&admitted, &token, &stream).await.expect_status(204);
    sink.wait_for("the admitted push", |a| a.len() == 1).await;
    let delivered = format!("hook = 'ssf:{stream}' AND delivered_at IS NOT NULL AND attempts = 1");
    wait_until("the 201 counts as delivered", || {
        admitted.db.count("webhook_deliveries", &delivered) == 1
    })
    .await;

    // Our own listeners, whatever allow_networks says.
    let keys_before = admitted.db.count("jwks", "1 = 1");
    for listener in [&admitted.admin, &admitted.public] {
        let own = port_of(listener);
        for url in [
            format!("http://127.0.0.1:{own}/jwks/rotate"),
            format!("http://0:{own}/jwks/rotate"),
            format!("http://0x7f000001:{own}/jwks/rotate"),
        ] {
            assert_refusal_names(
                create_push(&admitted, &token, &url).await,
                400,
                "address not allowed",
            );
        }
    }
    let own = port_of(&admitted.admin);
    let aimed = create_push(
        &admitted,
        &token,
        &format!("http://localhost:{own}/jwks/rotate"),
    )
    .await
    .expect_status(201)
    .json::<Value>()["stream_id"]
        .str()
        .to_owned();
    verify(&admitted, &token, &aimed).await.expect_status(204);
    let dead = format!(
        "hook = 'ssf:{aimed}' AND dead AND attempts = 1 AND last_error LIKE '%address not allowed%'"
    );
    wait_until("the push at our admin API is dead", || {
        admitted.db.count("webhook_deliveries", &dead) == 1
    })
    .await;
    assert_eq!(
        admitted.db.count("jwks", "1 = 1"),
        keys_before,
        "no key was rotated by a push"
    );
}

/// An operator's hook may reach private addresses, never this instance's own listeners, by
/// address or by name.
async fn hooks_never_reach_the_instance_itself(backend: Backend) {
    let admin = free_port();
    let fast = Receiver::start();
    let app = TestApp::builder(backend)
        .config(json!({
            "server": {"admin": {"address": format!("127.0.0.1:{admin}")}},
            "webhooks": {"initial_backoff": "50ms", "max_attempts": 3, "hooks": [
                {"name": "by-address", "url": format!("http://127.0.0.1:{admin}/jwks/rotate"), "events": ["user.delete"]},
                {"name": "by-name", "url": format!("http://localhost:{admin}/jwks/rotate"), "events": ["user.delete"]},
                {"name": "private", "url": fast.url, "events": ["user.delete"]}
            ]}
        }))
        .start()
        .await;
    let keys_before = app.db.count("jwks", "1 = 1");
    let login = app.user_with_session("hook-aimed@example.com").await;
    app.delete_user(&login.token).await.expect_status(204);
    fast.wait_for("the private hook's delivery", |a| a.len() == 1)
        .await;
    wait_until("both hooks aimed at us are dead", || {
        app.db.count(
            "webhook_deliveries",
            "hook IN ('by-address', 'by-name') AND dead AND attempts = 1 \
             AND last_error LIKE '%address not allowed%'",
        ) == 2
    })
    .await;
    assert_eq!(app.db.count("jwks", "1 = 1"), keys_before);
}

/// A receiver that answers with an endless body: the dispatcher keeps 4 KiB and hangs up, so
/// the receiver gets to send little more than what the sockets buffer.
async fn an_answer_is_read_only_as_far_as_it_is_kept(backend: Backend) {
    const ANNOUNCED: usize = 256 * 1024 * 1024;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let url = format!(
        "http://127.0.0.1:{}/hook",
        listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("{e}"))
    );
    let sent = Arc::new(AtomicUsize::new(0));
    let hung_up = Arc::new(AtomicBool::new(false));
    {
        let (sent, hung_up) = (sent.clone(), hung_up.clone());
        std::thread::spawn(move || {
            let Ok((mut conn, _)) = listener.accept() else {
                return;
            };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // The request: its head, then as many body bytes as Content-Length says.
            loop {
                let n = conn.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    return;
                }
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).to_lowercase();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {ANNOUNCED}\r\n\r\n");
            if conn.write_all(head.as_bytes()).is_err() {
                return;
            }
            let chunk = vec![b'x'; 64 * 1024];
            while sent.load(Ordering::SeqCst) < ANNOUNCED {
                match conn.write(&chunk) {
                    Ok(n) if n > 0 => {
                        sent.fetch_add(n, Ordering::SeqCst);
                    }
                    _ => break,
                }
            }
            hung_up.store(true, Ordering::SeqCst);
        });
    }
    let app = TestApp::builder(backend)
        .config(json!({"webhooks": {"timeout": "20s", "hooks": [
            {"name": "endless", "url": url, "events": ["user.delete"]}
        ]}}))
        .start()
        .await;
    let login = app.user_with_session("endless-answer@example.com").await;
    app.delete_user(&login.token).await.expect_status(204);
    wait_until("the delivery is recorded as delivered", || {
        app.db.count(
            "webhook_deliveries",
            "hook = 'endless' AND delivered_at IS NOT NULL",
        ) == 1
    })
    .await;
    wait_until("the dispatcher hung up", || hung_up.load(Ordering::SeqCst)).await;
    let sent = sent.load(Ordering::SeqCst);
    assert!(
        sent < 32 * 1024 * 1024,
        "the receiver sent {sent} bytes before we hung up: the answer was read past what is kept"
    );
}

/// A hook that answers after 3 s holds its own lane only: another hook hears of each deletion
/// within a second.
async fn a_slow_destination_delays_no_other(backend: Backend) {
    let slow = {
        let server = actix_web::HttpServer::new(|| {
            actix_web::App::new().default_service(actix_web::web::to(|| async {
                actix_rt::time::sleep(Duration::from_secs(3)).await;
                actix_web::HttpResponse::Ok().finish()
            }))
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap_or_else(|e| panic!("{e}"));
        let port = server.addrs()[0].port();
        actix_rt::spawn(server.run());
        format!("http://127.0.0.1:{port}/slow")
    };
    let fast = Receiver::start();
    let app = TestApp::builder(backend)
        .config(json!({"webhooks": {"timeout": "10s", "hooks": [
            {"name": "slow", "url": slow, "events": ["user.delete"]},
            {"name": "fast", "url": fast.url, "events": ["user.delete"]}
        ]}}))
        .start()
        .await;
    for i in 0..10 {
        let login = app
            .user_with_session(&format!("slow-{i}@example.com"))
            .await;
        app.delete_user(&login.token).await.expect_status(204);
        let deleted = Instant::now();
        while fast.attempts().len() < i + 1 {
            // The slow hook holds each delivery 10 s: waiting behind it would take that long,
            // not waiting stays far below it even on a loaded machine (the release binary's
            // figure, well under 1 s, is bench/receivers' to measure).
            assert!(
                deleted.elapsed() < Duration::from_secs(3),
                "deletion {i}: the fast hook waited {:?} behind the slow one",
                deleted.elapsed()
            );
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// At most `ssf.poll.max_waiting_per_stream` long polls wait on a stream (429 with
/// `Retry-After` beyond); a client that hangs up frees its place, and a waiting poll is woken
/// by the event it waits for.
async fn long_polls_wait_in_bounded_numbers_and_end_with_their_client(backend: Backend) {
    // The default: 2 per stream.
    let app = TestApp::builder(backend)
        .config(ssf_config(json!({})))
        .start()
        .await;
    let token = receiver_token(&app, "https://poller.example").await;
    let stream = ssf_call(
        &app,
        "POST",
        "/ssf/stream",
        &token,
        json!({"delivery": {"method": POLL}}),
    )
    .await
    .expect_status(201)
    .json::<Value>()["stream_id"]
        .str()
        .to_owned();
    let url = format!("{}/ssf/poll/{stream}", app.public);
    let long_poll = || {
        let (client, url, token) = (http_client(), url.clone(), token.clone());
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"maxEvents": 10, "returnImmediately": false}))
                .send()
                .await
        }
    };
    // Three at once: whichever comes last is refused, the other two wait.
    let mut polls: Vec<_> = (0..3).map(|_| actix_rt::spawn(long_poll())).collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    let refused = loop {
        if let Some(i) = polls.iter().position(|p| p.is_finished()) {
            let res = polls
                .remove(i)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(res.status(), 429, "{res:?}");
            break res;
        }
        assert!(
            Instant::now() < deadline,
            "a third long poll is never refused"
        );
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    };
    let retry_after = header(refused.headers(), "retry-after")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("429 without a Retry-After in seconds: {refused:?}"));
    assert!(
        (1..=30).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    assert!(
        polls.iter().all(|p| !p.is_finished()),
        "the other two are still waiting"
    );
    // Both clients hang up: their places are free again.
    for poll in polls {
        poll.abort();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let waiting = loop {
        let poll = actix_rt::spawn(long_poll());
        actix_rt::time::sleep(Duration::from_millis(300)).await;
        if !poll.is_finished() {
            break poll; // waiting, not refused
        }
        assert!(
            Instant::now() < deadline,
            "the places of polls whose clients hung up are never freed"
        );
    };
    // The event it waits for wakes it.
    let login = app.user_with_session("long-poll@example.com").await;
    app.delete_user(&login.token).await.expect_status(204);
    let answer = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .unwrap_or_else(|_| panic!("the waiting poll was not woken by the event"))
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(body["sets"].as_object().map(|s| s.len()), Some(1), "{body}");
}

/// `ssf.max_streams_per_receiver` (409 beyond) and `min_verification_interval` (429 with
/// `Retry-After` sooner).
async fn a_receiver_takes_no_more_than_its_share(backend: Backend) {
    // The defaults: 10 streams, 30 s between verifications.
    let app = TestApp::builder(backend)
        .config(ssf_config(json!({})))
        .start()
        .await;
    let token = receiver_token(&app, "https://greedy.example").await;
    let first = create_push(&app, &token, "https://greedy.example/1")
        .await
        .expect_status(201)
        .json::<Value>();
    assert_eq!(first["min_verification_interval"], 30);
    for i in 2..=10 {
        create_push(&app, &token, &format!("https://greedy.example/{i}"))
            .await
            .expect_status(201);
    }
    assert_refusal_names(
        create_push(&app, &token, "https://greedy.example/11").await,
        409,
        "max_streams_per_receiver",
    );
    assert_eq!(app.db.count("ssf_streams", "1 = 1"), 10);
    // Another receiver has a share of its own.
    let other = receiver_token(&app, "https://other.example").await;
    create_push(&app, &other, "https://other.example/1")
        .await
        .expect_status(201);

    let stream = first["stream_id"].str();
    verify(&app, &token, stream).await.expect_status(204);
    let again = verify(&app, &token, stream).await;
    let retry_after = header(again.headers(), "retry-after")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no Retry-After: {again}"));
    assert!(
        (29..=30).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    assert_refusal_names(again, 429, "min_verification_interval");
    assert_eq!(
        app.db.count("webhook_outbox", "event = 'ssf.verification'"),
        1,
        "the refused verification wrote no event"
    );
}

/// A receiver whose audience is a session audience would receive SETs that carry it: refused
/// with 400 naming `audience`.
async fn a_receiver_audience_is_never_a_session_audience(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(ssf_config(json!({})))
        .start()
        .await;
    let res = app
        .client
        .post(format!("{}/ssf/receivers", app.admin))
        .json(&json!({"name": "confused", "audience": "localhost"}))
        .fetch()
        .await;
    assert_refusal_names(res, 400, "audience");
    assert_eq!(app.db.count("ssf_receivers", "1 = 1"), 0);
}

fn claims_of(token: &str) -> Value {
    let payload = token
        .split('.')
        .nth(1)
        .unwrap_or_else(|| panic!("not a JWS: {token}"));
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"))
}

/// A token typed as anything but a JWT (a SET, a logout token) never passes as a session,
/// even with a session's claims and audience.
async fn only_plain_jwts_pass_as_sessions(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let login = app.user_with_session("typed@example.com").await;
    let claims = claims_of(&login.token);
    let keys = app.key_manager();
    let now = chrono::Utc::now();
    for (typ, status) in [
        ("JWT", 200),
        ("jwt", 200),
        ("secevent+jwt", 401),
        ("logout+jwt", 401),
        ("at+jwt", 401),
    ] {
        let token = keys
            .sign_typed(&claims, typ, now)
            .unwrap_or_else(|e| panic!("{e}"));
        let res = app.get_me(&token).await;
        assert_eq!(res.status().as_u16(), status, "typ {typ}: {res}");
    }
}

/// P-256's order n, big-endian.
const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// n − s, big-endian.
fn twin(s: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(P256_N[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = u8::try_from(d).unwrap_or_else(|e| panic!("{e}"));
    }
    out
}

/// Our ES256 signatures are the low-s one of their twins, and the high-s twin, which verifies
/// mathematically, is refused.
async fn es256_signatures_are_low_s_and_the_twin_is_refused(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(json!({"secrets": {"algorithm": "ES256"}}))
        .start()
        .await;
    let login = app.user_with_session("low-s@example.com").await;
    let mut tokens = vec![login.token.clone()];
    for _ in 0..63 {
        tokens.push(app.login(&login.user_id).await.token);
    }
    for token in &tokens {
        let (input, signature) = token
            .rsplit_once('.')
            .unwrap_or_else(|| panic!("not a JWS: {token}"));
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(signature.len(), 64);
        let s = &signature[32..];
        let high_twin = twin(s);
        assert!(
            s <= &high_twin[..],
            "s is the low one of the twins: {}",
            URL_SAFE_NO_PAD.encode(s)
        );
        app.get_me(token).await.expect_status(200);
        let mut malleated = signature[..32].to_vec();
        malleated.extend_from_slice(&high_twin);
        let forged = format!("{input}.{}", URL_SAFE_NO_PAD.encode(&malleated));
        assert_eq!(
            app.get_me(&forged).await.status(),
            401,
            "the high-s twin is refused"
        );
    }
}

/// Sends `head` then trickles `body` a byte every 200 ms; returns the status line the server
/// answers with within `within`, if any.
fn trickle(addr: &str, head: &str, body: &[u8], within: Duration) -> Option<String> {
    let mut conn = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{addr}: {e}"));
    conn.write_all(head.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut writer = conn.try_clone().unwrap_or_else(|e| panic!("{e}"));
    let body = body.to_vec();
    std::thread::spawn(move || {
        for byte in body {
            std::thread::sleep(Duration::from_millis(200));
            if writer.write_all(&[byte]).is_err() {
                return;
            }
        }
    });
    conn.set_read_timeout(Some(within))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.windows(2).any(|w| w == b"\r\n") {
        match conn.read(&mut buf) {
            Ok(n) if n > 0 => answer.extend_from_slice(&buf[..n]),
            _ => return None,
        }
    }
    let text = String::from_utf8_lossy(&answer);
    text.lines().next().map(str::to_owned)
}

/// A body that does not arrive within `server.body_timeout` (10 s by default) ends with 408,
/// on either listener, authenticated or not.
async fn a_trickled_body_ends_with_408(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(ssf_config(json!({})))
        .start()
        .await;
    let token = receiver_token(&app, "https://trickle.example").await;
    let body = br#"{"emails":[{"address":"slow@example.com"}],"padding":"0123456789012345678901234567890123456789"}"#;
    let admin = app.admin.trim_start_matches("http://").to_owned();
    let public = app.public.trim_start_matches("http://").to_owned();
    let cases = [
        (
            admin.clone(),
            format!(
                "POST /users HTTP/1.1\r\nHost: {admin}\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n",
                body.len()
            ),
        ),
        (
            public.clone(),
            format!(
                "POST /ssf/stream HTTP/1.1\r\nHost: {public}\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            ),
        ),
    ];
    // Both at once: a 10 s wait each.
    let started = Instant::now();
    let trickles: Vec<_> = cases
        .into_iter()
        .map(|(addr, head)| {
            actix_web::rt::task::spawn_blocking(move || {
                let status = trickle(&addr, &head, body, Duration::from_secs(14));
                (addr, status)
            })
        })
        .collect();
    for trickle in trickles {
        let (addr, status) = trickle.await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            status.as_deref(),
            Some("HTTP/1.1 408 Request Timeout"),
            "{addr}: a trickled body ends with 408"
        );
    }
    let elapsed = started.elapsed();
    assert!(
        (Duration::from_secs(9)..Duration::from_secs(13)).contains(&elapsed),
        "answered after {elapsed:?}, not after the 10 s body timeout"
    );
}

/// Headers over 16 KiB get 431 (a JSON error), headers under it are read.
async fn headers_over_16_kib_get_431(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    for base in [&app.public, &app.admin] {
        let big = "x".repeat(20 * 1024);
        let res = app
            .client
            .get(format!("{base}/health/alive"))
            .header("x-big", &big)
            .fetch()
            .await;
        assert_error(res, 431);
        let fits = "x".repeat(15 * 1024);
        app.client
            .get(format!("{base}/health/alive"))
            .header("x-big", &fits)
            .fetch()
            .await
            .expect_status(200);
    }
}

on_both_backends!(
    pushes_reach_only_public_or_admitted_addresses,
    hooks_never_reach_the_instance_itself,
    an_answer_is_read_only_as_far_as_it_is_kept,
    a_slow_destination_delays_no_other,
    long_polls_wait_in_bounded_numbers_and_end_with_their_client,
    a_receiver_takes_no_more_than_its_share,
    a_receiver_audience_is_never_a_session_audience,
    only_plain_jwts_pass_as_sessions,
    es256_signatures_are_low_s_and_the_twin_is_refused,
    a_trickled_body_ends_with_408,
    headers_over_16_kib_get_431,
);
