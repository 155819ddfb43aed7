//! Several server processes (the real binary) sharing one Postgres: key rotation seen by all,
//! prune rules, secret rotation, graceful shutdown.

use crate::helpers::*;
use crate::receiver::Receiver;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_api");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A server process; its listeners are reached through the same [`Api`] helpers as an
/// in-process [`TestApp`].
struct Server {
    child: Child,
    api: Api,
}

impl std::ops::Deref for Server {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

fn write_config(dir: &Path, name: &str, db_url: &str, secrets: &[&str]) -> PathBuf {
    write_config_with(dir, name, db_url, secrets, "")
}

fn write_config_with(
    dir: &Path,
    name: &str,
    db_url: &str,
    secrets: &[&str],
    extra: &str,
) -> PathBuf {
    let (public, admin) = (free_port(), free_port());
    let yaml = format!(
        "server:\n  public:\n    address: 127.0.0.1:{public}\n  admin:\n    address: 127.0.0.1:{admin}\n\
         database:\n  url: {db_url}\n  pool_size: 4\n\
         secrets:\n  keys: {}\n  refresh_interval: 10m\n\
         account:\n  allow_deletion: true\nlog:\n  level: warn\n{extra}",
        serde_json::to_string(secrets).expect("present and well-formed")
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, yaml).unwrap_or_else(|e| panic!("{e}"));
    path
}

fn ports_of(config: &Path) -> (String, String) {
    let text = std::fs::read_to_string(config).expect("present and well-formed");
    let addrs: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("address: "))
        .collect();
    (
        format!("http://{}", addrs[0]),
        format!("http://{}", addrs[1]),
    )
}

fn command(config: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--config").arg(config);
    for (k, _) in std::env::vars() {
        if k.starts_with("HANKO_") || k == "DATABASE_URL" {
            cmd.env_remove(k);
        }
    }
    cmd
}

async fn start(config: &Path, log: &Path) -> Server {
    start_with_env(config, log, &[]).await
}

async fn start_with_env(config: &Path, log: &Path, env: &[(&str, &str)]) -> Server {
    let log_file = std::fs::File::create(log).unwrap_or_else(|e| panic!("{e}"));
    let child = command(config)
        .envs(env.iter().copied())
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let (public, admin) = ports_of(config);
    let client = crate::helpers::http_client();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = client.get(format!("{public}/health/ready")).send().await;
        if ready.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "server did not get ready: {}",
            std::fs::read_to_string(log).expect("present and well-formed")
        );
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    Server {
        child,
        api: Api {
            public,
            admin,
            client,
        },
    }
}

impl Server {
    /// SIGTERM, then the exit status must be success.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(killed.map(|s| s.success()).unwrap_or(false));
        let status = self.child.wait().unwrap_or_else(|e| panic!("{e}"));
        assert!(status.success(), "exit status after SIGTERM: {status}");
    }
}

impl Server {
    /// SIGKILL: no shutdown, no flush, whatever was in flight is cut.
    fn kill_hard(mut self) {
        self.child
            .kill()
            .unwrap_or_else(|e| panic!("killing the server: {e}"));
        self.child
            .wait()
            .unwrap_or_else(|e| panic!("waiting for the killed server: {e}"));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Stopped already (or killed): then there is nothing left to end.
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn cli(config: &Path, args: &[&str]) -> Output {
    cli_with_env(config, &[], args)
}

fn cli_with_env(config: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    command(config)
        .envs(env.iter().copied())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn post(client: &reqwest::Client, url: String, body: Value) -> Value {
    let res = client.post(url).json(&body).fetch().await;
    assert!(res.status().is_success(), "{}", res.status());
    res.json()
}

/// The status `GET /me` answers for this token.
async fn me(server: &Server, token: &str) -> u16 {
    server.get_me(token).await.status().as_u16()
}

fn kid_of(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().expect("present and well-formed");
    let json: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .expect("present and well-formed"),
    )
    .expect("present and well-formed");
    json["kid"].str().to_owned()
}

#[actix_rt::test]
async fn rotation_across_two_processes_prune_and_secret_rotation() {
    let db = TestDb::new(Backend::Postgres);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config_a = write_config(dir.path(), "a", &db.url, &[SECRET]);
    let config_b = write_config(dir.path(), "b", &db.url, &[SECRET]);
    let a = start(&config_a, &dir.path().join("a.log")).await;
    let b = start(&config_b, &dir.path().join("b.log")).await;
    let client = crate::helpers::http_client();

    let user_id = a.create_user("rot@example.com").await;
    let old_token = a.login(&user_id).await.token;
    assert_eq!(me(&b, &old_token).await, 200);

    // Rotate through A. B's refresh interval is 10 minutes: only the unknown-kid reload can
    // make it accept the new key, and it must on the very first request.
    let rotated = post(&client, format!("{}/jwks/rotate", a.admin), json!({})).await;
    let new_kid = rotated["kid"].str().to_owned();
    let new_token = a.login(&user_id).await.token;
    assert_eq!(
        kid_of(&new_token),
        new_kid,
        "A signs with the new key at once"
    );
    assert_eq!(
        me(&b, &new_token).await,
        200,
        "B accepts the new key on first sight"
    );
    let jwks_b: Value = client
        .get(format!("{}/.well-known/jwks.json", b.public))
        .fetch()
        .await
        .json();
    assert_eq!(
        jwks_b["keys"].as_array().map(Vec::len),
        Some(2),
        "B publishes both keys"
    );
    // Old tokens stay valid on both until the old key is pruned.
    assert_eq!(me(&a, &old_token).await, 200);
    assert_eq!(me(&b, &old_token).await, 200);

    // Prune refuses keys that sign or may have signed live tokens.
    let refused = cli(&config_a, &["jwk", "prune", "--older-than", "0s"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("refusing"),
        "{refused:?}"
    );
    let old_kid = kid_of(&old_token);
    let two_days_ago = (chrono::Utc::now() - chrono::Duration::days(2)).to_rfc3339();
    db.exec(&format!("UPDATE jwks SET created_at = '{two_days_ago}', activates_at = '{two_days_ago}' WHERE kid = '{old_kid}'"));
    let still_needed = cli(&config_a, &["jwk", "prune", "--older-than", "1d"]);
    assert!(
        !still_needed.status.success(),
        "retired just now: its tokens may live 12h more"
    );
    assert!(String::from_utf8_lossy(&still_needed.stderr).contains(&old_kid));
    let listed = cli(&config_a, &["jwk", "list"]);
    let listing = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(
        listing.contains(&old_kid) && listing.contains(&new_kid),
        "{listing}"
    );

    // Secret rotation: restart A with a new secret in front of the old one; every key still loads.
    a.stop();
    let config_a2 = write_config(
        dir.path(),
        "a2",
        &db.url,
        &["a-brand-new-secret-0123456789", SECRET],
    );
    let a2 = start(&config_a2, &dir.path().join("a2.log")).await;
    assert_eq!(me(&a2, &old_token).await, 200);
    assert_eq!(me(&a2, &new_token).await, 200);
    let jwks_a2: Value = client
        .get(format!("{}/.well-known/jwks.json", a2.public))
        .fetch()
        .await
        .json();
    assert_eq!(jwks_a2["keys"].as_array().map(Vec::len), Some(2));

    // Forced prune removes the old key; after a restart its tokens are refused.
    let forced = cli(
        &config_a2,
        &["jwk", "prune", "--older-than", "1d", "--force"],
    );
    assert!(forced.status.success(), "{forced:?}");
    assert!(String::from_utf8_lossy(&forced.stdout).contains(&old_kid));
    a2.stop();
    let a3 = start(&config_a2, &dir.path().join("a3.log")).await;
    assert_eq!(me(&a3, &old_token).await, 401);
    assert_eq!(me(&a3, &new_token).await, 200);
    b.stop();
    a3.stop();
}

/// A wrong secret never produces a fresh key (the fleet would split); `secrets reencrypt`
/// moves every key under the new secret so the old one can go.
#[actix_rt::test]
async fn a_wrong_secret_is_refused_and_reencrypt_retires_the_old_one() {
    let db = TestDb::new(Backend::Postgres);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let new_secret = "the-replacement-secret-0123456789";
    let first = write_config(dir.path(), "first", &db.url, &[SECRET]);
    let server = start(&first, &dir.path().join("first.log")).await;
    let user_id = server.create_user("keys@example.com").await;
    let token = server.login(&user_id).await.token;
    server.stop();
    assert_eq!(db.count("jwks", "1=1"), 1);

    let wrong = write_config(
        dir.path(),
        "wrong",
        &db.url,
        &["a-completely-wrong-secret-0123"],
    );
    // Refused before it listens: with its addresses held by the test, a server that bound
    // them first would fail on the address instead of naming the key.
    let (public, admin) = ports_of(&wrong);
    let held = crate::helpers::occupy(&[
        public.trim_start_matches("http://").to_owned(),
        admin.trim_start_matches("http://").to_owned(),
    ]);
    let mut serve = command(&wrong);
    serve.arg("serve");
    let out = crate::helpers::run_briefly(serve);
    drop(held);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("secrets.keys"), "{stderr}");
    assert_eq!(db.count("jwks", "1=1"), 1, "no fresh key was written");
    let refused = cli(&wrong, &["secrets", "reencrypt"]);
    assert!(!refused.status.success(), "{refused:?}");

    let both = write_config(dir.path(), "both", &db.url, &[new_secret, SECRET]);
    let before = db.count("jwks", "1=1");
    let reencrypted = cli(&both, &["secrets", "reencrypt"]);
    assert!(reencrypted.status.success(), "{reencrypted:?}");
    assert!(String::from_utf8_lossy(&reencrypted.stdout).contains("re-encrypted 1 "));
    assert_eq!(db.count("jwks", "1=1"), before);

    let only_new = write_config(dir.path(), "new", &db.url, &[new_secret]);
    let server = start(&only_new, &dir.path().join("new.log")).await;
    assert_eq!(me(&server, &token).await, 200, "old tokens still verify");
    assert_eq!(db.count("jwks", "1=1"), 1, "the same key, not a new one");
    server.stop();
}

/// A fleet whose instances hold different secrets would split: a key rotated under a secret
/// one instance lacks is published, signs the other's tokens, and is refused here. So an
/// instance that finds such a key on reload is not ready (and names the kid in its log), and
/// one that finds it at start does not start (docs/operations.md, "Safe set-ups").
#[actix_rt::test]
async fn a_published_key_no_secret_opens_stops_start_and_readiness() {
    let db = TestDb::new(Backend::Postgres);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let other_secret = format!("a-secret-only-one-instance-has-{}", std::process::id());
    let old_only = write_config(dir.path(), "old", &db.url, &[SECRET]);
    let both = write_config(dir.path(), "both", &db.url, &[&other_secret, SECRET]);
    let old_log = dir.path().join("old.log");
    let behind = start(&old_only, &old_log).await;
    let ahead = start(&both, &dir.path().join("both.log")).await;
    let client = crate::helpers::http_client();
    let rotated = post(&client, format!("{}/jwks/rotate", ahead.admin), json!({})).await;
    let kid = rotated["kid"].str().to_owned();
    let user_id = ahead.create_user("split@example.com").await;
    let token = ahead.login(&user_id).await.token;
    assert_eq!(kid_of(&token), kid);

    // The token's unknown kid makes the instance reload: it cannot open the key.
    assert_eq!(me(&behind, &token).await, 401);
    for url in [&behind.public, &behind.admin] {
        let ready = client.get(format!("{url}/health/ready")).fetch().await;
        assert_eq!(ready.status(), 503, "{ready}");
    }
    let written = std::fs::read_to_string(&old_log).expect("present and well-formed");
    assert!(written.contains(&kid), "the log names the kid: {written}");
    assert!(!written.contains(&other_secret), "never the secret");

    // A new instance with the old secret alone does not start.
    let late = write_config(dir.path(), "late", &db.url, &[SECRET]);
    let mut serve = command(&late);
    serve.arg("serve");
    let out = crate::helpers::run_briefly(serve);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains(" secrets.keys:") && stderr.contains(&kid),
        "names the key and the kid: {stderr}"
    );

    // Given the secret, the instance that was behind is ready and accepts the token.
    behind.stop();
    let fixed = start(
        &write_config(dir.path(), "fixed", &db.url, &[&other_secret, SECRET]),
        &dir.path().join("fixed.log"),
    )
    .await;
    assert_eq!(me(&fixed, &token).await, 200);
    fixed.stop();
    ahead.stop();
}

#[actix_rt::test]
async fn cli_user_and_jwt_create_then_delete_over_http() {
    let db = TestDb::new(Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = write_config(dir.path(), "c", &db.url, &[SECRET]);
    let migrated = cli(&config, &["migrate", "up"]);
    assert!(migrated.status.success(), "{migrated:?}");
    let status = cli(&config, &["migrate", "status"]);
    assert!(
        String::from_utf8_lossy(&status.stdout).starts_with("applied "),
        "{status:?}"
    );
    let created = cli(
        &config,
        &["user", "create", "--email", "cli@example.com", "--verified"],
    );
    assert!(created.status.success(), "{created:?}");
    let user_id = String::from_utf8_lossy(&created.stdout).trim().to_owned();
    assert!(uuid::Uuid::parse_str(&user_id).is_ok(), "{user_id}");
    let duplicate = cli(&config, &["user", "create", "--email", "CLI@example.com"]);
    assert!(
        !duplicate.status.success(),
        "addresses are unique, case-insensitively"
    );
    let jwt = cli(&config, &["jwt", "create", &user_id]);
    assert!(jwt.status.success(), "{jwt:?}");
    let token = String::from_utf8_lossy(&jwt.stdout).trim().to_owned();
    assert_eq!(
        token.split('.').count(),
        3,
        "only the token on stdout: {token}"
    );

    // A stage shorter than the JWKS max-age (10m) would reach clients whose cached copy lacks
    // the key: refused unless forced.
    let early = cli(&config, &["jwk", "rotate", "--stage", "1m"]);
    assert!(!early.status.success(), "{early:?}");
    let refusal = String::from_utf8_lossy(&early.stderr);
    assert!(
        refusal.contains("max-age") && refusal.contains("--force"),
        "{refusal}"
    );
    let forced = cli(&config, &["jwk", "rotate", "--stage", "1m", "--force"]);
    assert!(forced.status.success(), "{forced:?}");
    // A staged key is published at once but does not sign yet.
    let staged = cli(&config, &["jwk", "rotate", "--stage", "1h"]);
    assert!(staged.status.success(), "{staged:?}");
    let staged_kid = String::from_utf8_lossy(&staged.stdout).trim().to_owned();
    let listing = String::from_utf8_lossy(&cli(&config, &["jwk", "list"]).stdout).into_owned();
    let staged_line = listing
        .lines()
        .find(|l| l.starts_with(&staged_kid))
        .expect("present and well-formed");
    assert!(staged_line.ends_with(" no"), "{listing}");
    assert_eq!(
        listing.lines().filter(|l| l.ends_with(" yes")).count(),
        1,
        "{listing}"
    );

    let server = start(&config, &dir.path().join("c.log")).await;
    let client = crate::helpers::http_client();
    assert_eq!(me(&server, &token).await, 200);
    let jwks: Value = client
        .get(format!("{}/.well-known/jwks.json", server.public))
        .fetch()
        .await
        .json();
    assert!(
        jwks["keys"]
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k["kid"] == staged_kid.as_str())),
        "staged key published"
    );
    let fresh = post(
        &client,
        format!("{}/sessions", server.admin),
        json!({"user_id": user_id}),
    )
    .await;
    assert_ne!(
        kid_of(fresh["session_token"].str()),
        staged_kid,
        "staged key does not sign yet"
    );
    let deleted = client
        .delete(format!("{}/user", server.public))
        .bearer_auth(&token)
        .fetch()
        .await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(me(&server, &token).await, 401);
    server.stop();
}

/// Waits (up to 30 s) until the database marks `expected` deliveries delivered, then asserts
/// what "once each" means where it is recorded: every delivery delivered, with at most
/// `max_attempts` attempts, none pending, none leased, none dead. A receiver that counts the
/// answers it gave cannot see a re-delivery still to come (a lost "delivered" mark is only
/// retried after the lease); the rows can.
async fn assert_delivered_once(db: &TestDb, expected: i64, max_attempts: i32) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while db.count("webhook_deliveries", "delivered_at IS NOT NULL") < expected {
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {expected} deliveries marked delivered after 30 s; pending: {}",
            db.count("webhook_deliveries", "delivered_at IS NOT NULL"),
            db.count("webhook_deliveries", "delivered_at IS NULL")
        );
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        db.count("webhook_deliveries", "1=1"),
        expected,
        "one row per event and hook"
    );
    assert_eq!(
        db.count(
            "webhook_deliveries",
            &format!("delivered_at IS NULL OR dead OR attempts > {max_attempts} OR attempts < 1")
        ),
        0,
        "every delivery delivered, within {max_attempts} attempt(s), none pending or dead"
    );
}

fn webhook_yaml(url: &str) -> String {
    format!("webhooks:\n  hooks:\n    - url: {url}\n      events: [\"user.delete\"]\n  initial_backoff: 100ms\n  max_attempts: 50\n  timeout: 2s\n")
}

#[actix_rt::test]
async fn a_restart_mid_retry_still_delivers() {
    let receiver = Receiver::start();
    receiver.state.failing.store(true, Ordering::SeqCst);
    let db = TestDb::new(Backend::Postgres);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = write_config_with(
        dir.path(),
        "w",
        &db.url,
        &[SECRET],
        &webhook_yaml(&receiver.url),
    );
    let server = start(&config, &dir.path().join("w1.log")).await;
    let client = crate::helpers::http_client();
    let user_id = server.create_user("restart@example.com").await;
    let token = server.login(&user_id).await.token;
    let deleted = client
        .delete(format!("{}/user", server.public))
        .bearer_auth(&token)
        .fetch()
        .await;
    assert_eq!(deleted.status(), 204);
    receiver
        .wait_for("two failed attempts", |a| a.len() >= 2)
        .await;
    server.stop();

    receiver.state.failing.store(false, Ordering::SeqCst);
    let restarted = start(&config, &dir.path().join("w2.log")).await;
    let attempts = receiver
        .wait_for("delivery after restart", |a| {
            a.iter().any(|x| x.status == 200)
        })
        .await;
    let ids: std::collections::HashSet<&str> =
        attempts.iter().map(|a| a.webhook_id.as_str()).collect();
    assert_eq!(ids.len(), 1, "one event, one Webhook-Id across processes");
    // Delivered for good: the row says so, so nothing will send it again.
    assert_delivered_once(&db, 1, 50).await;
    assert_eq!(receiver.delivered().len(), 1);
    restarted.stop();
}

/// A server stopped with deliveries claimed and queued behind the ones in flight finishes
/// those in flight, starts no other, and hands the queued back: none is left leased (a lease
/// would hold them from every other server for a minute), and the next server sends each once.
#[actix_rt::test]
async fn a_stopping_server_hands_back_the_deliveries_it_queued() {
    let receiver = Receiver::start();
    receiver.state.hold_ms.store(1000, Ordering::SeqCst);
    let db = TestDb::new(Backend::Postgres);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let hook = format!(
        "webhooks:\n  hooks:\n    - name: slow\n      url: {}\n      events: [\"user.delete\"]\n      format: standard\n      secrets: [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]\n  timeout: 2s\n",
        receiver.url
    );
    let config = write_config_with(dir.path(), "q", &db.url, &[SECRET], &hook);
    let server = start(&config, &dir.path().join("q1.log")).await;
    // 300 events, as the deletion's statement writes them: more than one lane holds.
    db.exec(
        "INSERT INTO webhook_outbox (id, event, payload, created_at) \
         SELECT gen_random_uuid(), 'user.delete', \
                jsonb_build_object('id', gen_random_uuid(), 'emails', '[]'::jsonb), now() \
         FROM generate_series(1, 300); \
         INSERT INTO webhook_deliveries (event_id, hook, attempts, next_attempt_at, dead) \
         SELECT id, 'slow', 0, now(), false FROM webhook_outbox",
    );
    // Claimed: the first attempts are under way (each held open for a second).
    let deadline = Instant::now() + Duration::from_secs(10);
    while db.count("webhook_deliveries", "attempts > 0") == 0 {
        assert!(Instant::now() < deadline, "nothing claimed within 10 s");
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop();

    // The attempts in flight ended and were recorded; no other began.
    let delivered = db.count("webhook_deliveries", "delivered_at IS NOT NULL");
    let attempted = receiver.attempts().len();
    assert_eq!(i64::try_from(attempted).unwrap_or(-1), delivered);
    assert!(
        (1..=32).contains(&attempted),
        "{attempted} attempts: at most one destination's share (32) in flight, none after the stop"
    );
    assert_eq!(
        db.count(
            "webhook_deliveries",
            "delivered_at IS NULL AND (attempts <> 0 OR next_attempt_at > now())"
        ),
        0,
        "every delivery not made is due again, its attempt uncounted ({delivered} made)"
    );
    receiver.state.hold_ms.store(0, Ordering::SeqCst);
    let restarted = start(&config, &dir.path().join("q2.log")).await;
    assert_delivered_once(&db, 300, 1).await;
    assert_eq!(receiver.attempts().len(), 300, "none sent twice");
    restarted.stop();
}

#[actix_rt::test]
async fn two_processes_deliver_200_deletions_once_each_without_overlap() {
    // Three hooks, one per format: each must hear of each deletion once.
    let (hanko, standard, set) = (Receiver::start(), Receiver::start(), Receiver::start());
    let db = TestDb::new(Backend::Postgres);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let hooks = format!(
        "session:\n  issuer: https://auth.example\n\
         webhooks:\n  hooks:\n\
         \x20   - url: {}\n      events: [user.delete]\n\
         \x20   - url: {}\n      events: [user.delete]\n      format: standard\n      secrets: [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]\n\
         \x20   - url: {}\n      events: [user.delete]\n      format: set\n      audience: [https://rp.example]\n\
         \x20 initial_backoff: 100ms\n  max_attempts: 50\n  timeout: 2s\n",
        hanko.url, standard.url, set.url
    );
    let a = start(
        &write_config_with(dir.path(), "a", &db.url, &[SECRET], &hooks),
        &dir.path().join("a.log"),
    )
    .await;
    let b = start(
        &write_config_with(dir.path(), "b", &db.url, &[SECRET], &hooks),
        &dir.path().join("b.log"),
    )
    .await;
    let client = crate::helpers::http_client();

    let mut victims = Vec::new();
    for i in 0..200 {
        let user_id = a.create_user(&format!("many{i}@example.com")).await;
        let token = a.login(&user_id).await.token;
        victims.push((user_id, token));
    }
    // Delete through both instances at once, 16 in flight.
    let deletions = victims.iter().enumerate().map(|(i, (_, token))| {
        let url = format!("{}/user", if i % 2 == 0 { &a.public } else { &b.public });
        let client = client.clone();
        let token = token.clone();
        async move {
            client
                .delete(url)
                .bearer_auth(token)
                .fetch()
                .await
                .status()
                .as_u16()
        }
    });
    use futures_util::StreamExt;
    let statuses: Vec<u16> = futures_util::stream::iter(deletions)
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 204), "{statuses:?}");

    let user_ids: std::collections::HashSet<String> =
        victims.iter().map(|(id, _)| id.clone()).collect();
    let claims_of = |jws: &str| -> Option<Value> {
        use base64::Engine;
        let payload = jws.split('.').nth(1)?;
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .ok()?,
        )
        .ok()
    };
    for (format, receiver) in [("hanko", &hanko), ("standard", &standard), ("set", &set)] {
        let attempts = receiver
            .wait_for(&format!("200 {format} deliveries"), |a| {
                a.iter().filter(|x| x.status == 200).count() >= 200
            })
            .await;
        let ids: std::collections::HashSet<String> =
            attempts.iter().map(|a| a.webhook_id.clone()).collect();
        assert_eq!(ids.len(), 200, "{format}: every event delivered");
        let users: std::collections::HashSet<String> = attempts
            .iter()
            .filter_map(|a| match format {
                "hanko" => claims_of(a.body["token"].as_str()?)?["data"]["id"]
                    .as_str()
                    .map(str::to_owned),
                "standard" => a.body["data"]["id"].as_str().map(str::to_owned),
                _ => claims_of(a.body.as_str()?)?["sub_id"]["id"]
                    .as_str()
                    .map(str::to_owned),
            })
            .collect();
        assert_eq!(users, user_ids, "{format}: one event per deleted user");
        assert_eq!(
            receiver.state.overlaps.load(Ordering::SeqCst),
            0,
            "{format}: no event attempted twice at once"
        );
        assert_eq!(attempts.len(), 200, "{format}: none delivered twice");
    }
    // The receivers never failed: every delivery took one attempt, and the rows say each is
    // delivered for good (none left to be sent again after a lease).
    assert_delivered_once(&db, 600, 1).await;
    for receiver in [&hanko, &standard, &set] {
        assert_eq!(receiver.attempts().len(), 200, "no attempt after the marks");
    }
    a.stop();
    b.stop();
}

/// Schedules the deletion of `n` new users (half through each server); returns their ids.
async fn schedule_many(servers: &[&Server], n: usize, tag: &str) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let server = servers[i % servers.len()];
        let user = server
            .user_with_session(&format!("{tag}{i}@example.com"))
            .await;
        server.delete_user(&user.token).await.expect_status(204);
        ids.push(user.user_id);
    }
    ids
}

/// Waits until none of `ids` is left in the users table (up to `within`).
async fn wait_until_purged(db: &TestDb, ids: &[String], within: Duration) {
    let list = ids
        .iter()
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(",");
    let deadline = Instant::now() + within;
    loop {
        let left = db.count("users", &format!("id IN ({list})"));
        if left == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{left} users never purged");
        actix_rt::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every user purged exactly once: one `user_deleted` audit entry by the purge and one
/// `user.delete` event each, and nothing of theirs left.
fn assert_purged_once(db: &TestDb, ids: &[String]) {
    let list = ids
        .iter()
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(",");
    let n = i64::try_from(ids.len()).expect("a count");
    assert_eq!(
        db.count(
            "audit_logs",
            &format!("type = 'user_deleted' AND actor_user_id IN ({list})")
        ),
        n,
        "one audit entry each"
    );
    let purged_by = db.count(
        "audit_logs",
        &format!("type = 'user_deleted' AND actor_user_id IN ({list}) AND CAST(details AS TEXT) LIKE '%purge%'"),
    );
    assert_eq!(purged_by, n, "all by the purge");
    let events = db
        .events()
        .into_iter()
        .filter(|e| e["event"] == "user.delete")
        .filter(|e| ids.iter().any(|id| e["payload"]["id"] == id.as_str()))
        .count();
    assert_eq!(events, ids.len(), "one user.delete event each");
    for table in ["users", "emails", "sessions"] {
        let column = if table == "users" { "id" } else { "user_id" };
        assert_eq!(
            db.count(table, &format!("{column} IN ({list})")),
            0,
            "nothing of theirs left in {table}"
        );
    }
}

fn grace_yaml(period: &str) -> String {
    format!("  deletion:\n    grace_period: {period}\n    purge_interval: 200ms\n")
}

/// Two instances purging the same database: each user is purged once, by one of them.
#[actix_rt::test]
async fn two_processes_purge_200_scheduled_users_once_each() {
    let db = TestDb::new(Backend::Postgres);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // `account:` is already in the base config: the grace keys nest under it.
    let extra = grace_yaml("2s");
    let config = |name: &str| {
        let path = write_config_with(dir.path(), name, &db.url, &[SECRET], "");
        let text = std::fs::read_to_string(&path).expect("config");
        std::fs::write(
            &path,
            text.replace(
                "account:\n  allow_deletion: true\n",
                &format!("account:\n  allow_deletion: true\n{extra}"),
            ),
        )
        .expect("config");
        path
    };
    let (log_a, log_b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    let a = start(&config("a"), &log_a).await;
    let b = start(&config("b"), &log_b).await;
    let ids = schedule_many(&[&a, &b], 200, "purge").await;
    wait_until_purged(&db, &ids, Duration::from_secs(60)).await;
    a.stop();
    b.stop();
    assert_purged_once(&db, &ids);
    for log in [&log_a, &log_b] {
        let written = std::fs::read_to_string(log).expect("a log");
        assert!(
            !written.contains("ERROR") && !written.contains("WARN"),
            "{}: {written}",
            log.display()
        );
    }
}

/// A server killed (SIGKILL) while it purges: after a restart every due user is purged exactly
/// once, none half (a purge is one transaction).
#[actix_rt::test]
async fn a_kill_during_the_purge_leaves_no_user_half_deleted() {
    let db = TestDb::new(Backend::Postgres);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = write_config_with(dir.path(), "k", &db.url, &[SECRET], "");
    let text = std::fs::read_to_string(&path).expect("config");
    std::fs::write(
        &path,
        text.replace(
            "account:\n  allow_deletion: true\n",
            &format!("account:\n  allow_deletion: true\n{}", grace_yaml("3s")),
        ),
    )
    .expect("config");
    let server = start(&path, &dir.path().join("k1.log")).await;
    let ids = schedule_many(&[&server], 300, "killed").await;
    // Kill it as soon as the purge has started and before it is done.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let purged = db.count("audit_logs", "type = 'user_deleted'");
        if purged > 0 {
            assert!(
                purged < 300,
                "the purge finished before the kill: make it slower"
            );
            break;
        }
        assert!(Instant::now() < deadline, "the purge never started");
        actix_rt::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill_hard();
    let at_kill = db.count("audit_logs", "type = 'user_deleted'");
    assert!(at_kill < 300, "killed mid-purge ({at_kill} of 300 done)");
    // Nobody half-deleted: every audit entry has its deletion, every remaining user is whole.
    let list = ids
        .iter()
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        db.count("users", &format!("id IN ({list})")) + at_kill,
        300,
        "each user is either whole or deleted with its audit entry"
    );
    let restarted = start(&path, &dir.path().join("k2.log")).await;
    wait_until_purged(&db, &ids, Duration::from_secs(60)).await;
    restarted.stop();
    assert_purged_once(&db, &ids);
}

#[actix_rt::test]
async fn secrets_never_reach_the_log() {
    let db = TestDb::new(Backend::Postgres);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // Trust auth ignores the password, so the URL can carry one to look for.
    let url = db.url.replace("postgres@", "postgres:db-password-in-url@");
    // A hook that always fails (nothing listens there) and whose URL carries credentials.
    let (public, admin, closed) = (free_port(), free_port(), free_port());
    let config = dir.path().join("s.yaml");
    let yaml = format!(
        "server:\n  public:\n    address: 127.0.0.1:{public}\n  admin:\n    address: 127.0.0.1:{admin}\n    api_key: admin-api-key-0123456789-abcdefghij\n\
         database:\n  url: {url}\nsecrets:\n  keys: [\"{SECRET}\"]\nlog:\n  level: debug\n\
         account:\n  allow_deletion: true\n\
         webhooks:\n  hooks:\n    - url: http://hookuser:hook-pass-s3cret@127.0.0.1:{closed}/services/T0001/hook-path-s3cret?token=hook-token-s3cret\n      events: [user.delete]\n    - name: alerts\n      url: http://127.0.0.1:{closed}/named/named-path-s3cret\n      events: [user.delete]\n  initial_backoff: 50ms\n  max_attempts: 2\n"
    );
    std::fs::write(&config, yaml).unwrap_or_else(|e| panic!("{e}"));
    let log = dir.path().join("s.log");
    let server = start(&config, &log).await;
    let client = crate::helpers::http_client();
    // Requests whose refusals are logged (at debug): each must reach its check, or the leak
    // check below covers nothing.
    client
        .get(format!("{}/me", server.public))
        .bearer_auth("bad.token.here")
        .fetch()
        .await
        .expect_status(401);
    client
        .get(format!("{}/users", server.admin))
        .bearer_auth("wrong-key-0123456789")
        .fetch()
        .await
        .expect_status(401);
    let key = "admin-api-key-0123456789-abcdefghij";
    let user: Value = client
        .post(format!("{}/users", server.admin))
        .bearer_auth(key)
        .json(&json!({"emails": [{"address": "logged@example.com", "is_primary": true}]}))
        .fetch()
        .await
        .expect_status(201)
        .json();
    let token: Value = client
        .post(format!("{}/sessions", server.admin))
        .bearer_auth(key)
        .json(&json!({"user_id": user["id"]}))
        .fetch()
        .await
        .expect_status(200)
        .json();
    server
        .delete_user(token["session_token"].str())
        .await
        .expect_status(204);
    let deadline = Instant::now() + Duration::from_secs(15);
    let deliveries = loop {
        let listing = client
            .get(format!("{}/webhooks/deliveries?status=dead", server.admin))
            .bearer_auth(key)
            .fetch()
            .await
            .expect_status(200);
        if !listing.json::<Vec<Value>>().is_empty() {
            break listing.text();
        }
        assert!(Instant::now() < deadline, "the event never died");
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    };
    server.stop();
    // A hook is shown by its name, else by scheme, host and port: any part of the URL after
    // them may be its credential (a Slack hook's path is).
    let hooks: Vec<String> = serde_json::from_str::<Vec<Value>>(&deliveries)
        .expect("present and well-formed")
        .iter()
        .map(|d| d["hook"].str().to_owned())
        .collect();
    assert!(
        hooks.contains(&format!("http://127.0.0.1:{closed}"))
            && hooks.contains(&"alerts".to_owned()),
        "{deliveries}"
    );
    for secret in [
        "hook-pass-s3cret",
        "hook-token-s3cret",
        "hookuser",
        "hook-path-s3cret",
        "named-path-s3cret",
        "/services/",
    ] {
        assert!(
            !deliveries.contains(secret),
            "{secret} in the deliveries API"
        );
    }
    let written = std::fs::read_to_string(&log).expect("present and well-formed");
    assert!(
        written.contains("DEBUG") || written.contains("INFO"),
        "logging at debug: {written}"
    );
    assert!(
        written.contains(&format!("http://127.0.0.1:{closed}:")) && written.contains("alerts:"),
        "the failing hooks are named in the log: {written}"
    );
    for secret in [
        SECRET,
        "db-password-in-url",
        "admin-api-key-0123456789-abcdefghij",
        "hook-pass-s3cret",
        "hook-token-s3cret",
        "hook-path-s3cret",
        "named-path-s3cret",
    ] {
        assert!(!written.contains(secret), "{secret} in the log");
    }
    let check = cli(&config, &["config", "check"]);
    let printed = String::from_utf8_lossy(&check.stdout);
    for secret in [
        SECRET,
        "db-password-in-url",
        "admin-api-key-0123456789-abcdefghij",
        "hook-pass-s3cret",
        "hook-token-s3cret",
        "hook-path-s3cret",
        "named-path-s3cret",
    ] {
        assert!(!printed.contains(secret), "{secret} in config check");
    }
    assert!(
        printed.contains(&format!("url: http://127.0.0.1:{closed}\n")),
        "{printed}"
    );
}

/// A libpq environment variable (here `PGAPPNAME`) would change how libpq connects but not how
/// the asynchronous driver does: the deletion then keeps to the pool (libpq), says so once in
/// the log, and works as before.
#[actix_rt::test]
async fn a_libpq_environment_keeps_deletions_on_the_pool() {
    let db = TestDb::new(Backend::Postgres);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = write_config(dir.path(), "env", &db.url, &[SECRET]);
    let log = dir.path().join("env.log");
    let server = start_with_env(&config, &log, &[("PGAPPNAME", "pooled-by-env")]).await;
    let victim = server.user_with_session("env@example.com").await;
    server.delete_user(&victim.token).await.expect_status(204);
    assert_eq!(db.count("users", "1=1"), 0);
    let condition =
        |name: &str| format!("datname = current_database() AND application_name = '{name}'");
    assert_eq!(
        db.count("pg_stat_activity", &condition("hanko-api deletions")),
        0
    );
    assert!(
        db.count("pg_stat_activity", &condition("pooled-by-env")) >= 1,
        "the pool's connections are libpq's, which read PGAPPNAME"
    );
    server.stop();
    let written = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        written.contains("deletions go through the connection pool")
            && written.contains("PGAPPNAME"),
        "{written}"
    );
}

/// The SET event types a poll stream holds for `user_id` (unacknowledged: each poll sees them
/// all), waiting up to 10 s until `expected` are there.
async fn set_types_for(
    server: &Server,
    receiver_token: &str,
    stream_id: &str,
    user_id: &str,
    expected: usize,
) -> Vec<String> {
    use base64::Engine;
    let mut types = Vec::new();
    for _ in 0..100 {
        let polled: Value = server
            .client
            .post(format!("{}/ssf/poll/{stream_id}", server.public))
            .bearer_auth(receiver_token)
            .json(&json!({"maxEvents": 100, "returnImmediately": true}))
            .fetch()
            .await
            .expect_status(200)
            .json();
        types = polled["sets"]
            .as_object()
            .expect("sets: an object")
            .values()
            .map(|set| {
                let payload = set.str().split('.').nth(1).expect("a JWS payload");
                let claims: Value = serde_json::from_slice(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(payload)
                        .unwrap_or_else(|e| panic!("{e}")),
                )
                .unwrap_or_else(|e| panic!("{e}"));
                assert!(claims.to_string().contains(user_id), "{claims}");
                let events = claims["events"].as_object().expect("events: an object");
                events.keys().next().expect("one event").clone()
            })
            .collect();
        if types.len() >= expected {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    types.sort();
    types
}

/// The command line is a door to the same use cases as the admin API: with `ssf.enabled`,
/// `api user restore` announces `user.delete.cancelled` to the streams as well as to the
/// webhooks (RISC account-enabled), and a server's dispatcher delivers it.
async fn the_command_line_restore_reaches_the_ssf_streams(backend: Backend) {
    const RISC: &str = "https://schemas.openid.net/secevent/risc/event-type";
    let db = TestDb::new(backend);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = write_config(dir.path(), "ssf", &db.url, &[SECRET]);
    let env = [
        ("HANKO_SSF__ENABLED", "true"),
        ("HANKO_SESSION__ISSUER", "https://auth.example"),
        ("HANKO_SERVER__PUBLIC__BASE_URL", "https://auth.example"),
        ("HANKO_ACCOUNT__DELETION__GRACE_PERIOD", "1h"),
    ];
    let server = start_with_env(&config, &dir.path().join("ssf.log"), &env).await;
    let receiver = post(
        &server.client,
        format!("{}/ssf/receivers", server.admin),
        json!({"name": "cli", "audience": "https://cli.example"}),
    )
    .await;
    let token = receiver["token"].str().to_owned();
    let stream: Value = server
        .client
        .post(format!("{}/ssf/stream", server.public))
        .bearer_auth(&token)
        .json(&json!({"delivery": {"method": "urn:ietf:rfc:8936"}}))
        .fetch()
        .await
        .expect_status(201)
        .json();
    let stream_id = stream["stream_id"].str().to_owned();
    let login = server.user_with_session("cli-ssf@example.com").await;
    server.delete_user(&login.token).await.expect_status(204);
    assert_eq!(
        set_types_for(&server, &token, &stream_id, &login.user_id, 1).await,
        [format!("{RISC}/account-disabled")]
    );

    let restored = cli_with_env(&config, &env, &["user", "restore", &login.user_id]);
    assert!(restored.status.success(), "{restored:?}");
    assert!(
        String::from_utf8_lossy(&restored.stdout).contains(": active"),
        "{restored:?}"
    );
    assert_eq!(
        set_types_for(&server, &token, &stream_id, &login.user_id, 2).await,
        [
            format!("{RISC}/account-disabled"),
            format!("{RISC}/account-enabled")
        ],
        "the restoration reaches the stream"
    );
    server.stop();
}

mod command_line_events {
    use super::the_command_line_restore_reaches_the_ssf_streams;
    use crate::on_both_backends;
    on_both_backends!(the_command_line_restore_reaches_the_ssf_streams);
}

/// One SCIM request from a provider's client: the answer must be `expect`.
async fn scim_call(
    server: &Server,
    token: &str,
    method: reqwest::Method,
    path: String,
    body: Option<Value>,
    expect: u16,
) -> Value {
    let mut request = server
        .client
        .request(method, format!("{}/scim/v2{path}", server.public))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    let reply = request.fetch().await.expect_status(expect);
    if expect == 204 {
        Value::Null
    } else {
        reply.json()
    }
}

/// Eight provider clients on two instances over one Postgres: 2,000 users provisioned, 1,000
/// deactivated, 500 deleted. Every request succeeds; each change is written once (events and
/// audit entries counted exactly), whichever instance took it.
#[actix_rt::test]
async fn eight_scim_clients_on_two_instances_write_each_change_once() {
    let db = TestDb::new(Backend::Postgres);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = |name: &str| {
        write_config_with(
            dir.path(),
            name,
            &db.url,
            &[SECRET],
            "scim:\n  enabled: true\n",
        )
    };
    let (log_a, log_b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    let a = start(&config("a"), &log_a).await;
    let b = start(&config("b"), &log_b).await;
    let created: Value = post(
        &a.client,
        format!("{}/scim/clients", a.admin),
        json!({"name": "idp"}),
    )
    .await;
    let token = created["token"].str().to_owned();
    let servers = [&a, &b];

    // Provision: 8 clients, 250 users each, alternating instances.
    let provision = (0..8).map(|c| {
        let token = token.clone();
        async move {
            let mut ids = Vec::new();
            for i in 0..250 {
                let server = servers[(c + i) % 2];
                let n = c * 250 + i;
                let user = scim_call(
                    server,
                    &token,
                    reqwest::Method::POST,
                    "/Users".into(),
                    Some(json!({"userName": format!("staff{n}"), "externalId": format!("e{n}"),
                                "emails": [{"value": format!("staff{n}@corp.example"), "primary": true}],
                                "active": true})),
                    201,
                )
                .await;
                ids.push(user["id"].str().to_owned());
            }
            ids
        }
    });
    let ids: Vec<String> = futures_util::future::join_all(provision).await.concat();
    assert_eq!(ids.len(), 2000);

    // Deactivate the first 1,000 (Okta's PATCH), delete the first 500 of them, 8 at once.
    let change = (0..8).map(|c| {
        let (token, ids) = (token.clone(), ids.clone());
        async move {
            for i in (c..1000).step_by(8) {
                let server = servers[i % 2];
                scim_call(
                    server,
                    &token,
                    reqwest::Method::PATCH,
                    format!("/Users/{}", ids[i]),
                    Some(
                        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                "Operations": [{"op": "replace", "value": {"active": false}}]}),
                    ),
                    200,
                )
                .await;
                if i < 500 {
                    let other = servers[(i + 1) % 2];
                    scim_call(
                        other,
                        &token,
                        reqwest::Method::DELETE,
                        format!("/Users/{}", ids[i]),
                        None,
                        204,
                    )
                    .await;
                }
            }
        }
    });
    futures_util::future::join_all(change).await;
    a.stop();
    b.stop();

    assert_eq!(db.count("users", "true"), 1500);
    assert_eq!(db.count("users", "deactivated_at IS NOT NULL"), 500);
    for (event, n) in [
        ("user.deactivated", 1000),
        ("user.delete", 500),
        ("user.reactivated", 0),
    ] {
        assert_eq!(
            db.count("webhook_outbox", &format!("event = '{event}'")),
            n,
            "{event}"
        );
        // No user has two of these events.
        assert_eq!(
            db.count(
                "webhook_outbox o",
                &format!(
                    "o.event = '{event}' AND NOT EXISTS (SELECT 1 FROM webhook_outbox p \
                     WHERE p.event = o.event AND p.payload->>'id' = o.payload->>'id' AND p.id <> o.id)"
                )
            ),
            n,
            "{event}: each user once"
        );
    }
    for (kind, n) in [
        ("user_created", 2000),
        ("user_updated", 1000),
        ("user_deleted", 500),
    ] {
        assert_eq!(
            db.count("audit_logs", &format!("type = '{kind}'")),
            n,
            "{kind}"
        );
        assert_eq!(
            db.count(
                "audit_logs",
                &format!("type = '{kind}' AND details->'scim_client'->>'name' = 'idp'")
            ),
            n,
            "{kind}: naming the client"
        );
    }
    for log in [&log_a, &log_b] {
        let written = std::fs::read_to_string(log).expect("a log");
        assert!(!written.contains("ERROR"), "{}: {written}", log.display());
    }
}

/// Two instances running the inactivity policy on one Postgres, 600 inactive users seeded in
/// the database: each is warned exactly once and deleted exactly once (`by: retention`), and
/// `api retention preview` agrees with the admin API before anything happens.
#[actix_rt::test]
async fn two_processes_warn_and_delete_each_inactive_user_once() {
    let db = TestDb::new(Backend::Postgres);
    let n = 600;
    db.exec(&format!(
        "INSERT INTO users (id, created_at, updated_at, last_active_at) \
         SELECT md5('r' || g)::uuid, now() - interval '400 days', now() - interval '400 days', \
                now() - interval '400 days' + g * interval '1 second' FROM generate_series(1, {n}) g;\
         INSERT INTO emails (id, user_id, address, verified, is_primary, created_at, updated_at) \
         SELECT md5('e' || g)::uuid, md5('r' || g)::uuid, 'r' || g || '@example.com', true, true, now(), now() \
         FROM generate_series(1, {n}) g;"
    ));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let policy = "  retention:\n    inactive_after: 365d\n    warn_before: 3s\n    interval: 200ms\n    rate: 1000\n";
    let config = |name: &str, policy: &str| {
        let path = write_config_with(dir.path(), name, &db.url, &[SECRET], "");
        let text = std::fs::read_to_string(&path).expect("config");
        std::fs::write(
            &path,
            text.replace(
                "account:\n  allow_deletion: true\n",
                &format!("account:\n  allow_deletion: true\n{policy}"),
            ),
        )
        .expect("config");
        path
    };
    // The preview from the command line, before any instance runs: every user to warn.
    let preview = command(&config("cli", policy))
        .args(["retention", "preview", "--at", "2030-01-01T00:00:00Z"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let printed = String::from_utf8_lossy(&preview.stdout);
    assert!(
        preview.status.success(),
        "{printed} {}",
        String::from_utf8_lossy(&preview.stderr)
    );
    assert!(
        printed.starts_with(&format!(
            "at 2030-01-01T00:00:00.000000Z: {n} to warn, 0 to delete\n"
        )),
        "{printed}"
    );
    assert_eq!(
        printed.lines().filter(|l| l.starts_with("warn\t")).count(),
        100,
        "{printed}"
    );
    assert_eq!(
        db.count("users", "inactivity_warned_at IS NOT NULL"),
        0,
        "nothing changed"
    );

    let (log_a, log_b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    let a = start(&config("a", policy), &log_a).await;
    let b = start(&config("b", policy), &log_b).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while db.count("users", "id = md5('r1')::uuid OR id = md5('r600')::uuid") > 0
        || db.count("users", "last_active_at < now() - interval '1 day'") > 0
    {
        assert!(Instant::now() < deadline, "never all deleted");
        actix_rt::time::sleep(Duration::from_millis(200)).await;
    }
    a.stop();
    b.stop();
    let once = |kind: &str| {
        db.count(
            "audit_logs",
            &format!("type = '{kind}' AND CAST(details AS TEXT) LIKE '%retention%'"),
        )
    };
    assert_eq!(once("user_inactivity_warned"), n, "one warning entry each");
    assert_eq!(once("user_deleted"), n, "one deletion entry each");
    let events = db.events();
    for name in ["user.inactivity_warning", "user.delete"] {
        let mut ids: Vec<&str> = events
            .iter()
            .filter(|e| e["event"] == name)
            .filter_map(|e| e["payload"]["id"].as_str())
            .collect();
        assert_eq!(ids.len(), usize::try_from(n).unwrap_or(0), "{name}");
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(
            ids.len(),
            usize::try_from(n).unwrap_or(0),
            "{name}: each user once"
        );
    }
    for log in [&log_a, &log_b] {
        let written = std::fs::read_to_string(log).expect("a log");
        assert!(
            !written.contains("ERROR") && !written.contains("WARN"),
            "{}: {written}",
            log.display()
        );
    }
}
