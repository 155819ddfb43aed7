//! Configuration: every validation error names its key; layers override in order; secrets
//! never printed. These run the real binary (`api config check`).

use crate::helpers::SECRET;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_api");

fn write(dir: &tempfile::TempDir, yaml: &str) -> std::path::PathBuf {
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, yaml).unwrap_or_else(|e| panic!("{e}"));
    path
}

fn check(file: &std::path::Path, env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("--config").arg(file).args(["config", "check"]);
    for (k, _) in std::env::vars() {
        if k.starts_with("HANKO_") || k == "DATABASE_URL" {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().unwrap_or_else(|e| panic!("{e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const GOOD: &str = "secrets:\n  keys: [\"a-perfectly-long-secret-1\"]\n";

/// A secret made now, so it is in no file of this repository, and long enough for any listener.
fn own_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// `serve` with this file: exit code and stderr (it must exit on its own).
fn serve(file: &std::path::Path) -> (i32, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("--config").arg(file).arg("serve");
    for (k, _) in std::env::vars() {
        if k.starts_with("HANKO_") || k == "DATABASE_URL" {
            cmd.env_remove(k);
        }
    }
    let out = crate::helpers::run_briefly(cmd);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// docs/operations.md, "Safe set-ups": placeholders are refused everywhere; off loopback, secrets under 32 characters
/// and any text of this repository too. `serve` and `config check` refuse the same set-ups:
/// exit 2, one line naming the key, never the secret.
#[test]
fn placeholder_short_and_published_secrets_are_refused_by_serve_and_check() {
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let loopback = || {
        format!(
            "server:\n  public:\n    address: 127.0.0.1:{}\n  admin:\n    address: 127.0.0.1:{}\n",
            free(),
            free()
        )
    };
    let exposed = || {
        format!(
            "server:\n  public:\n    address: 0.0.0.0:{}\n  admin:\n    address: 127.0.0.1:{}\n",
            free(),
            free()
        )
    };
    let keys = |secret: &str| format!("secrets:\n  keys: [{}]\n", serde_json::json!(secret));
    let admin_exposed = |api_key: &str| {
        format!(
            "secrets:\n  keys: [\"{}\"]\nserver:\n  public:\n    address: 127.0.0.1:{}\n  admin:\n    address: 0.0.0.0:{}\n    api_key: {}\n",
            own_secret(),
            free(),
            free(),
            serde_json::json!(api_key)
        )
    };
    let published_api_key = "an-admin-api-key-that-is-long-enough-0123";
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "the old .env.example placeholder",
            keys("<openssl rand -hex 32>") + &loopback(),
            "secrets.keys",
            "<openssl rand -hex 32>",
        ),
        (
            "whitespace",
            keys("a secret with spaces in it, long") + &loopback(),
            "secrets.keys",
            "a secret with spaces",
        ),
        (
            "changeme",
            keys("changeme-changeme-changeme-0123") + &loopback(),
            "secrets.keys",
            "changeme-changeme",
        ),
        (
            "change-me, any case",
            keys("Please-CHANGE-ME-before-production-0123") + &loopback(),
            "secrets.keys",
            "CHANGE-ME",
        ),
        (
            "short off loopback",
            keys(&own_secret()[..24]) + &exposed(),
            "secrets.keys",
            "-",
        ),
        (
            "the test suite's secret off loopback",
            keys(SECRET) + &exposed(),
            "secrets.keys",
            SECRET,
        ),
        (
            "the example config's api key off loopback",
            admin_exposed(published_api_key),
            "server.admin.api_key",
            published_api_key,
        ),
        (
            "a placeholder api key",
            format!(
                "{GOOD}server:\n  admin:\n    api_key: \"<paste a long random key here, 32+>\"\n"
            ),
            "server.admin.api_key",
            "paste a long",
        ),
    ];
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (name, yaml, key, secret) in &cases {
        let file = write(&dir, yaml);
        let (code, stdout, check_err) = check(&file, &[]);
        let (serve_code, serve_err) = serve(&file);
        for (command, code, stderr) in [
            ("config check", code, &check_err),
            ("serve", serve_code, &serve_err),
        ] {
            assert_eq!(code, 2, "{name}: {command} exit code: {stderr}");
            assert_eq!(
                stderr.trim().lines().count(),
                1,
                "{name}: {command}: one line: {stderr}"
            );
            assert!(
                stderr.contains(&format!(" {key}:")),
                "{name}: {command} names {key}: {stderr}"
            );
            assert!(
                *secret == "-" || !stderr.contains(secret),
                "{name}: {command} prints the secret: {stderr}"
            );
        }
        assert!(stdout.is_empty(), "{name}: {stdout}");
    }
    // Secrets of one's own pass, off loopback too.
    let mine = format!(
        "secrets:\n  keys: [\"{}\"]\nserver:\n  public:\n    address: 0.0.0.0:8000\n  admin:\n    address: 0.0.0.0:8001\n    api_key: {}\n",
        own_secret(),
        own_secret()
    );
    let (code, _, stderr) = check(&write(&dir, &mine), &[]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn each_invalid_value_names_its_key_and_exits_2() {
    let cases: &[(&str, &str, &str)] = &[
        ("short secret", "secrets:\n  keys: [\"short\"]\n", "secrets.keys"),
        ("no secrets", "account:\n  allow_deletion: true\n", "secrets"),
        ("empty secrets", "secrets:\n  keys: []\n", "secrets.keys"),
        ("bad duration", "secrets:\n  keys: [\"a-perfectly-long-secret-1\"]\nsession:\n  lifespan: twelve hours\n", "session.lifespan"),
        ("bad duration unit", "secrets:\n  keys: [\"a-perfectly-long-secret-1\"]\ndatabase:\n  connect_timeout: 5 parsecs\n", "database.connect_timeout"),
        ("wildcard origin", "secrets:\n  keys: [\"a-perfectly-long-secret-1\"]\nserver:\n  public:\n    cors:\n      allow_origins: [\"*\"]\n", "server.public.cors.allow_origins"),
        ("origin with path", "secrets:\n  keys: [\"a-perfectly-long-secret-1\"]\nserver:\n  public:\n    cors:\n      allow_origins: [\"https://a.example/x\"]\n", "server.public.cors.allow_origins"),
        ("idle timeout under a second", "secrets:\n  keys: [\"a-perfectly-long-secret-1\"]\ndatabase:\n  idle_timeout: 100ms\n", "database.idle_timeout"),
        ("unknown scheme", "secrets:\n  keys: [\"a-perfectly-long-secret-1\"]\ndatabase:\n  url: mysql://localhost/db\n", "database.url"),
        ("bad address", "secrets:\n  keys: [\"a-perfectly-long-secret-1\"]\nserver:\n  public:\n    address: localhost\n", "server.public.address"),
        ("unknown algorithm", "secrets:\n  keys: [\"a-perfectly-long-secret-1\"]\n  algorithm: HS256\n", "secrets.algorithm"),
        ("publish_ahead under the JWKS max-age", "secrets:\n  keys: [\"a-perfectly-long-secret-1\"]\n  jwks_max_age: 10m\n  rotation:\n    interval: 30d\n    publish_ahead: 5m\n", "secrets.rotation.publish_ahead"),
        ("default publish_ahead under a longer max-age is still twice it", "secrets:\n  keys: [\"a-perfectly-long-secret-1\"]\n  jwks_max_age: 1h\n  rotation:\n    interval: 90m\n", "secrets.rotation.interval"),
        ("zero JWKS max-age", "secrets:\n  keys: [\"a-perfectly-long-secret-1\"]\n  jwks_max_age: 0s\n", "secrets.jwks_max_age"),
        ("rsa size", "secrets:\n  keys: [\"a-perfectly-long-secret-1\"]\n  rsa_bits: 1024\n", "secrets.rsa_bits"),
        ("same_site", "secrets:\n  keys: [\"a-perfectly-long-secret-1\"]\nsession:\n  cookie:\n    same_site: sometimes\n", "session.cookie.same_site"),
        ("typo", "secrets:\n  keys: [\"a-perfectly-long-secret-1\"]\naccount:\n  allow_deleton: true\n", "account"),
        ("hook format", "secrets:\n  keys: [\"a-perfectly-long-secret-1\"]\nwebhooks:\n  hooks:\n    - url: http://h.example/x\n      events: [user]\n      format: sms\n", "webhooks.hooks.0.format"),
        ("standard hook without a secret", "secrets:\n  keys: [\"a-perfectly-long-secret-1\"]\nwebhooks:\n  hooks:\n    - url: http://h.example/x\n      events: [user]\n      format: standard\n", "webhooks.hooks.0.secrets"),
        ("standard hook with a plain secret", "secrets:\n  keys: [\"a-perfectly-long-secret-1\"]\nwebhooks:\n  hooks:\n    - url: http://h.example/x\n      events: [user]\n      format: standard\n      secrets: [\"not-a-whsec-secret-0123456789\"]\n", "webhooks.hooks.0.secrets"),
        ("standard hook with a short secret", "secrets:\n  keys: [\"a-perfectly-long-secret-1\"]\nwebhooks:\n  hooks:\n    - url: http://h.example/x\n      events: [user]\n      format: standard\n      secrets: [\"whsec_c2hvcnQ=\"]\n", "webhooks.hooks.0.secrets"),
        ("set hook without an audience", "secrets:\n  keys: [\"a-perfectly-long-secret-1\"]\nsession:\n  issuer: https://auth.example\nwebhooks:\n  hooks:\n    - url: http://h.example/x\n      events: [user]\n      format: set\n", "webhooks.hooks.0.audience"),
        ("set hook without an issuer", "secrets:\n  keys: [\"a-perfectly-long-secret-1\"]\nwebhooks:\n  hooks:\n    - url: http://h.example/x\n      events: [user]\n      format: set\n      audience: [https://rp.example]\n", "session.issuer"),
        ("backchannel_logout hook without a client id", "secrets:\n  keys: [\"a-perfectly-long-secret-1\"]\nsession:\n  issuer: https://auth.example\nwebhooks:\n  hooks:\n    - url: http://rp.example/logout\n      events: [user, session]\n      format: backchannel_logout\n", "webhooks.hooks.0.audience"),
        ("backchannel_logout hook without an issuer", "secrets:\n  keys: [\"a-perfectly-long-secret-1\"]\nwebhooks:\n  hooks:\n    - url: http://rp.example/logout\n      events: [user]\n      format: backchannel_logout\n      audience: [rp-client]\n", "session.issuer"),
        ("backchannel_logout hook for an event that ends no session", "secrets:\n  keys: [\"a-perfectly-long-secret-1\"]\nsession:\n  issuer: https://auth.example\nwebhooks:\n  hooks:\n    - url: http://rp.example/logout\n      events: [user.delete.cancelled]\n      format: backchannel_logout\n      audience: [rp-client]\n", "webhooks.hooks.0.events"),
        ("hook audience is the session audience", "secrets:\n  keys: [\"a-perfectly-long-secret-1\"]\nwebhooks:\n  hooks:\n    - url: http://h.example/x\n      events: [user]\n      audience: [localhost]\n", "webhooks.hooks.0.audience"),
        ("two hooks, one key", "secrets:\n  keys: [\"a-perfectly-long-secret-1\"]\nwebhooks:\n  hooks:\n    - url: http://h.example/x?token=a\n      events: [user]\n    - url: http://h.example/x?token=b\n      events: [user]\n", "webhooks.hooks.1.name"),
    ];
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (name, yaml, key) in cases {
        let (code, stdout, stderr) = check(&write(&dir, yaml), &[]);
        assert_eq!(code, 2, "{name}: exit code; stderr {stderr}");
        assert!(stdout.is_empty(), "{name}: nothing on stdout");
        let line = stderr.trim();
        assert_eq!(line.lines().count(), 1, "{name}: one line: {line}");
        assert!(
            line.contains(&format!(" {key}:")) || line.contains(&format!(" {key}.")),
            "{name}: {line:?} names {key}"
        );
    }
}

#[test]
fn wildcard_origin_is_accepted_only_with_the_unsafe_flag() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let yaml = format!("{GOOD}server:\n  public:\n    cors:\n      allow_origins: [\"*\"]\n      unsafe_wildcard_origin_allowed: true\n");
    let (code, _, stderr) = check(&write(&dir, &yaml), &[]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn environment_overrides_the_file_and_database_url_is_honoured() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let yaml = format!("{GOOD}account:\n  allow_deletion: false\nserver:\n  public:\n    address: 127.0.0.1:8000\n");
    let file = write(&dir, &yaml);
    let (code, stdout, stderr) = check(
        &file,
        &[
            ("HANKO_ACCOUNT__ALLOW_DELETION", "true"),
            ("HANKO_SERVER__PUBLIC__ADDRESS", "0.0.0.0:9000"),
            ("DATABASE_URL", "postgres://app:pw@db:5432/hanko"),
            ("HANKO_SECRETS__KEYS", &format!("[\"{}\"]", own_secret())),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("allow_deletion: true"), "{stdout}");
    assert!(stdout.contains("address: 0.0.0.0:9000"), "{stdout}");
    assert!(
        stdout.contains("url: postgres://app:***@db:5432/hanko"),
        "{stdout}"
    );

    // HANKO_DATABASE__URL wins over DATABASE_URL.
    let (_, stdout, _) = check(
        &file,
        &[
            ("DATABASE_URL", "postgres://a@db/one"),
            ("HANKO_DATABASE__URL", "postgres://a@db/two"),
        ],
    );
    assert!(stdout.contains("postgres://a@db/two"), "{stdout}");
}

#[test]
fn secrets_never_appear_in_config_check() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let yaml = "secrets:\n  keys: [\"first-very-secret-value\", \"second-very-secret-value\"]\nserver:\n  admin:\n    api_key: admin-key-very-secret-0123456789-xyz\ndatabase:\n  url: postgres://u:db-password-secret@h/db\n";
    let (code, stdout, stderr) = check(&write(&dir, yaml), &[]);
    assert_eq!(code, 0, "{stderr}");
    for secret in [
        "first-very-secret-value",
        "second-very-secret-value",
        "admin-key-very-secret-0123456789-xyz",
        "db-password-secret",
    ] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret} leaked"
        );
    }
    assert!(stdout.contains("***"));
}

#[test]
fn missing_config_file_named_on_the_command_line_is_an_error() {
    let (code, _, stderr) = check(std::path::Path::new("/nonexistent/config.yaml"), &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--config"), "{stderr}");
}

/// Unsafe set-ups are refused by `serve` itself: exit 2, one line naming the key, and
/// before anything listens: the test holds every configured address while `serve` runs, so
/// a server that bound one first would fail on it instead of naming the key.
#[test]
fn unsafe_setups_are_refused_before_anything_listens() {
    let dev = "dev-only-secret-change-me-0123456789";
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "open admin off loopback",
            format!("secrets:\n  keys: [\"{}\"]\nserver:\n  public:\n    address: 127.0.0.1:{}\n  admin:\n    address: 0.0.0.0:{}\n", own_secret(), free(), free()),
            "server.admin.api_key",
        ),
        (
            "short api key",
            format!("{GOOD}server:\n  public:\n    address: 127.0.0.1:{}\n  admin:\n    address: 127.0.0.1:{}\n    api_key: only-twenty-chars-xx\n", free(), free()),
            "server.admin.api_key",
        ),
        (
            "development secret on a public address",
            format!("secrets:\n  keys: [\"{dev}\"]\nserver:\n  public:\n    address: 0.0.0.0:{}\n  admin:\n    address: 127.0.0.1:{}\n", free(), free()),
            "secrets.keys",
        ),
        (
            "development secret among others, admin exposed with a key",
            format!("secrets:\n  keys: [\"{}\", \"{dev}\"]\nserver:\n  public:\n    address: 127.0.0.1:{}\n  admin:\n    address: 0.0.0.0:{}\n    api_key: {}\n", own_secret(), free(), free(), own_secret()),
            "secrets.keys",
        ),
        (
            "short secret",
            format!("secrets:\n  keys: [\"short\"]\nserver:\n  public:\n    address: 127.0.0.1:{}\n", free()),
            "secrets.keys",
        ),
    ];
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (name, yaml, key) in &cases {
        let addresses: Vec<String> = yaml
            .lines()
            .filter_map(|l| l.trim().strip_prefix("address: "))
            .map(str::to_owned)
            .collect();
        assert!(!addresses.is_empty(), "{name}: no address to hold");
        let held = crate::helpers::occupy(&addresses);
        let (code, stderr) = serve(&write(&dir, yaml));
        drop(held);
        assert_eq!(code, 2, "{name}: {stderr}");
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "{name}: one line: {stderr}"
        );
        assert!(
            stderr.contains(&format!(" {key}:")),
            "{name}: names {key}: {stderr}"
        );
        assert!(
            !stderr.contains(dev),
            "{name}: the secret itself is not printed"
        );
    }
    // The opt-out: an operator who guards the admin API by other means.
    let yaml = format!(
        "secrets:\n  keys: [\"{}\"]\nserver:\n  admin:\n    address: 0.0.0.0:8001\n    allow_unauthenticated: true\n",
        own_secret()
    );
    let (code, _, stderr) = check(&write(&dir, &yaml), &[]);
    assert_eq!(code, 0, "{stderr}");
}
