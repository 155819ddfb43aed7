//! The differential test of the deletion: one table of scenarios, each run through every path
//! a deletion can take (SQLite's transaction; on Postgres the pool's statement, a lane's
//! statement alone, the same in a group; the purge where it applies), each asserting the same
//! answer and byte-identical audit and outbox rows once ids and times are replaced by
//! placeholders. Times inside payloads keep their form (every digit becomes `9`), so two
//! spellings of one instant (`.120Z`, `.120000Z`) differ here as they would for a receiver.
//! Needs the Postgres at 127.0.0.1:5432 that the test suite needs; fails if it is unreachable.

use super::{Attempt, Deletions, LaneError};
use crate::test_databases::Databases;
use crate::{Database, DatabaseUrl, DeletionStatements, Offload, WorkerPg};
use chrono::{DateTime, Duration, Utc};
use diesel::connection::SimpleConnection;
use diesel::Connection;
use domain::audit::AuditLogConfig;
use domain::events::Recipients;
use domain::ids::{SessionId, UserId};
use domain::model::RequestContext;
use domain::ports::{
    AccountStore, AuditLogFilter, AuditLogStore, DeletedBy, Deleter, Deletion, DeletionOutcome,
    DeletionRecipients, Outbox, Purge, SessionStore,
};
use serde_json::{json, Value};
use std::sync::Arc;

/// The user a scenario starts from.
#[derive(Clone, Copy)]
struct Fixture {
    /// Whether the user exists at all.
    exists: bool,
    emails: usize,
    held: bool,
    /// Each session: created this long ago, expires this far ahead (negative: expired).
    sessions: &'static [(i64, i64)],
    /// Scheduled and due (for the purge).
    due: bool,
}

/// How the deletion is asked for.
#[derive(Clone, Copy)]
enum Asker {
    /// The user, once per listed session index (several: several requests at once); a
    /// missing index is a logged-out session (a token whose session row is gone).
    User(&'static [Option<usize>]),
    Admin,
    Purge,
}

struct Scenario {
    name: &'static str,
    fixture: Fixture,
    asker: Asker,
    /// `account.deletion.max_session_age`, in minutes.
    step_up_minutes: Option<i64>,
    /// `account.deletion.grace_period`, in minutes (a user's own deletion is scheduled).
    grace_minutes: Option<i64>,
    mask_email: bool,
    /// What each request answers, on every path.
    statuses: &'static [u16],
}

const LIVE: &[(i64, i64)] = &[(10, 60)];

fn scenarios() -> Vec<Scenario> {
    let user = |name, fixture, sessions: &'static [Option<usize>], statuses| Scenario {
        name,
        fixture,
        asker: Asker::User(sessions),
        step_up_minutes: None,
        grace_minutes: None,
        mask_email: false,
        statuses,
    };
    let one = Fixture {
        exists: true,
        emails: 1,
        held: false,
        sessions: LIVE,
        due: false,
    };
    vec![
        user("live session", one, &[Some(0)], &[204]),
        user(
            "expired session",
            Fixture {
                sessions: &[(120, -1)],
                ..one
            },
            &[Some(0)],
            &[401],
        ),
        user("logged out", one, &[None], &[401]),
        Scenario {
            step_up_minutes: Some(60),
            ..user(
                "too old for step-up",
                Fixture {
                    sessions: &[(120, 60)],
                    ..one
                },
                &[Some(0)],
                &[401],
            )
        },
        Scenario {
            step_up_minutes: Some(60),
            ..user("fresh enough for step-up", one, &[Some(0)], &[204])
        },
        // A hold is never revealed to the user: the request is scheduled, to be purged once the
        // hold is released (now, or after the grace period).
        user("held", Fixture { held: true, ..one }, &[Some(0)], &[204]),
        Scenario {
            grace_minutes: Some(60),
            ..user(
                "grace period",
                Fixture { emails: 2, ..one },
                &[Some(0)],
                &[204],
            )
        },
        Scenario {
            grace_minutes: Some(60),
            mask_email: true,
            ..user(
                "held, with a grace period, audit masked",
                Fixture { held: true, ..one },
                &[Some(0)],
                &[204],
            )
        },
        Scenario {
            grace_minutes: Some(60),
            ..user("grace period, logged out", one, &[None], &[401])
        },
        Scenario {
            grace_minutes: Some(60),
            step_up_minutes: Some(60),
            ..user(
                "grace period, too old for step-up",
                Fixture {
                    sessions: &[(120, 60)],
                    ..one
                },
                &[Some(0)],
                &[401],
            )
        },
        user(
            "already gone",
            Fixture {
                exists: false,
                ..one
            },
            &[None],
            &[401],
        ),
        user(
            "no e-mail",
            Fixture { emails: 0, ..one },
            &[Some(0)],
            &[204],
        ),
        user(
            "two e-mails",
            Fixture { emails: 2, ..one },
            &[Some(0)],
            &[204],
        ),
        Scenario {
            mask_email: true,
            ..user(
                "two e-mails, audit masked",
                Fixture { emails: 2, ..one },
                &[Some(0)],
                &[204],
            )
        },
        user(
            "two sessions of one user at once",
            Fixture {
                sessions: &[(10, 60), (5, 60)],
                ..one
            },
            &[Some(0), Some(1)],
            &[204, 401],
        ),
        user(
            "a held user asked twice at once",
            Fixture {
                held: true,
                sessions: &[(10, 60), (5, 60)],
                ..one
            },
            &[Some(0), Some(1)],
            &[204, 401],
        ),
        Scenario {
            asker: Asker::Admin,
            ..user(
                "admin (no session)",
                Fixture { emails: 2, ..one },
                &[],
                &[204],
            )
        },
        Scenario {
            asker: Asker::Admin,
            ..user("admin, held", Fixture { held: true, ..one }, &[], &[409])
        },
        Scenario {
            asker: Asker::Purge,
            mask_email: true,
            ..user(
                "purge",
                Fixture {
                    emails: 2,
                    due: true,
                    ..one
                },
                &[],
                &[204],
            )
        },
    ]
}

/// The ids of one scenario's fixture.
struct Made {
    user: UserId,
    sessions: Vec<SessionId>,
}

/// Writes the fixture with plain SQL (the same on both backends). E-mail times end in 000
/// microseconds: the spelling of such a time is what differed between the paths.
fn make(
    url: &str,
    postgres: bool,
    fixture: &Fixture,
    addresses: &Addresses,
    now: DateTime<Utc>,
) -> Made {
    let user = UserId::new_random();
    let sessions: Vec<SessionId> = fixture
        .sessions
        .iter()
        .map(|_| SessionId::new_random())
        .collect();
    if !fixture.exists {
        return Made { user, sessions };
    }
    let t = |at: DateTime<Utc>| domain::time::rfc3339_micros(&at);
    let (yes, no) = if postgres {
        ("true", "false")
    } else {
        ("1", "0")
    };
    let created = USER_CREATED;
    let (scheduled, purge_after) = if fixture.due {
        (
            format!("'{}'", t(now - Duration::days(31))),
            format!("'{}'", t(now - Duration::days(1))),
        )
    } else {
        ("NULL".to_owned(), "NULL".to_owned())
    };
    let mut sql = format!(
        "INSERT INTO users (id, created_at, updated_at, deletion_scheduled_at, purge_after, hold, hold_reason, last_active_at) \
         VALUES ('{user}', '{created}', '{created}', {scheduled}, {purge_after}, {}, NULL, '{created}');",
        if fixture.held { yes } else { no }
    );
    for i in 0..fixture.emails {
        sql += &format!(
            "INSERT INTO emails (id, user_id, address, verified, is_primary, created_at, updated_at) \
             VALUES ('{}', '{user}', '{}', {yes}, {}, '{}', '{created}');",
            uuid::Uuid::new_v4(),
            addresses.address(i, user).replace('\'', "''"),
            if i == 0 { yes } else { no },
            email_created(i)
        );
    }
    for (session, (created_ago, expires_in)) in sessions.iter().zip(fixture.sessions) {
        sql += &format!(
            "INSERT INTO sessions (id, user_id, user_agent, ip_address, created_at, expires_at, last_used) \
             VALUES ('{session}', '{user}', 'ua', '127.0.0.1', '{}', '{}', '{}');",
            t(now - Duration::minutes(*created_ago)),
            t(now + Duration::minutes(*expires_in)),
            t(now)
        );
    }
    let result = if postgres {
        diesel::PgConnection::establish(url).map(|mut c| c.batch_execute(&sql))
    } else {
        diesel::SqliteConnection::establish(url.trim_start_matches("sqlite://"))
            .map(|mut c| c.batch_execute(&sql))
    };
    result.unwrap().unwrap();
    Made { user, sessions }
}

/// Random parts of a scenario's addresses (the same on every path of the scenario): what comes
/// before `jane{i}-<user id>` in the local part, and the domain. Masking takes the local part's
/// first character, so it meets non-ASCII, punctuation and a quote here.
struct Addresses {
    prefix: &'static str,
    domain: &'static str,
}

impl Addresses {
    fn random() -> Self {
        const PREFIXES: [&str; 6] = ["", "é", "+", "o'", "ß.", "Ω_"];
        const DOMAINS: [&str; 4] = ["example.com", "x.io", "münchen.de", "a.b.example"];
        let bytes = uuid::Uuid::new_v4().into_bytes();
        Self {
            prefix: PREFIXES[usize::from(bytes[0]) % PREFIXES.len()],
            domain: DOMAINS[usize::from(bytes[1]) % DOMAINS.len()],
        }
    }

    fn address(&self, i: usize, user: UserId) -> String {
        format!("{}jane{i}-{}@{}", self.prefix, user.0.simple(), self.domain)
    }
}

/// The deletions a scenario's requests make, one per request.
fn deletions(scenario: &Scenario, made: &Made, now: DateTime<Utc>) -> Vec<Deletion> {
    let user_asks = matches!(scenario.asker, Asker::User(_));
    let base = |by: DeletedBy, request: usize| Deletion {
        user_id: made.user,
        by,
        purge_after: scenario
            .grace_minutes
            .filter(|_| user_asks)
            .map(|m| now + Duration::minutes(m)),
        context: RequestContext {
            request_id: format!("request-{request}"),
            source_ip: Some("203.0.113.7".into()),
            user_agent: Some("differential".into()),
        },
        audit: AuditLogConfig {
            enabled: true,
            mask_email: scenario.mask_email,
        },
        at: now,
        recipients: recipients(),
    };
    match scenario.asker {
        Asker::User(sessions) => sessions
            .iter()
            .enumerate()
            .map(|(request, index)| {
                let session = index
                    .and_then(|i| made.sessions.get(i).copied())
                    .unwrap_or_else(SessionId::new_random);
                base(
                    DeletedBy::User {
                        sessions: vec![session],
                        created_after: scenario.step_up_minutes.map(|m| now - Duration::minutes(m)),
                    },
                    request,
                )
            })
            .collect(),
        Asker::Admin => vec![base(DeletedBy::Admin, 0)],
        // As the purge asks: no request behind it.
        Asker::Purge => vec![Deletion {
            context: RequestContext::default(),
            ..base(DeletedBy::Purge, 0)
        }],
    }
}

/// What a request's answer is to the client: the status it gets.
fn status(outcome: &Result<DeletionOutcome, String>) -> u16 {
    match outcome {
        Ok(DeletionOutcome::Deleted(_) | DeletionOutcome::Scheduled(_)) => 204,
        Ok(DeletionOutcome::Held) => 409,
        Ok(
            DeletionOutcome::Gone
            | DeletionOutcome::NoSession
            | DeletionOutcome::ReauthenticationRequired,
        ) => 401,
        Err(_) => 500,
    }
}

/// The rows a scenario left about its user, in a form every path must match exactly.
fn rows(db: &Database, user: UserId, at: DateTime<Utc>) -> Value {
    let audit: Vec<Value> = db
        .list_audit_logs(&AuditLogFilter {
            kind: None,
            actor_user_id: Some(user),
            page: 1,
            per_page: 100,
        })
        .unwrap()
        .into_iter()
        .map(|a| {
            json!({
                "type": a.kind,
                "actor_user_id": a.actor_user_id.map(|id| id.to_string()),
                "actor_email": a.actor_email,
                "request_id": a.meta_http_request_id,
                "source_ip": a.meta_source_ip,
                "user_agent": a.meta_user_agent,
                "details": a.details,
                "created_at": same_time(a.created_at, at),
            })
        })
        .collect();
    let events: Vec<Value> = db
        .list_deliveries(None, 1, 1000)
        .unwrap()
        .items
        .into_iter()
        .filter(|d| d.event.payload["id"] == user.to_string())
        .map(|d| {
            json!({
                "event": d.event.event,
                "payload": d.event.payload,
                "created_at": same_time(d.event.created_at, at),
                "hook": d.hook,
                "attempts": d.attempts,
                "due_at_the_deletion": d.next_attempt_at == at,
                "delivered": d.delivered_at.is_some(),
                "dead": d.dead,
            })
        })
        .collect();
    assert_email_times(&events);
    // What is left of the user: gone with everything of theirs, or kept (held, refused,
    // scheduled), and every path must leave the same.
    let found = db.find_user(user).unwrap();
    let left = json!({
        "user": found.is_some(),
        "emails": found.as_ref().map_or(0, |u| u.emails.len()),
        "sessions": db.list_sessions(user).unwrap().len(),
    });
    // An announced deletion happened: the event is never written for a user still there.
    if events.iter().any(|e| e["event"] == "user.delete") {
        assert_eq!(
            left,
            json!({"user": false, "emails": 0, "sessions": 0}),
            "{events:?}"
        );
    }
    placeholders(
        json!({"audit": audit, "outbox": events, "left": left}),
        user,
    )
}

/// A stored time: the deletion's own, or not.
fn same_time(stored: DateTime<Utc>, at: DateTime<Utc>) -> &'static str {
    if stored == at {
        "<at>"
    } else {
        "<another time>"
    }
}

/// The fixture's times, which a deletion must copy as they are (an e-mail's `created_at` and
/// `updated_at` in the event), kept verbatim by `placeholders`.
fn fixture_time(s: &str) -> bool {
    s == USER_CREATED || (0..3).any(|i| s == email_created(i))
}

const USER_CREATED: &str = "2026-01-02T03:04:05.120000Z";

fn email_created(i: usize) -> String {
    format!("2026-01-02T03:04:0{i}.250000Z")
}

/// Every e-mail an event describes carries its row's times (`…jane{i}-…`: `email_created(i)`,
/// updated at `USER_CREATED`), on every path: comparing paths with each other alone would pass
/// if all of them wrote the deletion's own time.
fn assert_email_times(events: &[Value]) {
    for event in events {
        let emails = event["payload"]["emails"].as_array().into_iter().flatten();
        for email in emails {
            let address = email["address"].as_str().unwrap_or_default();
            let i: usize = address
                .split_once("jane")
                .and_then(|(_, rest)| rest.split('-').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("not a fixture address: {email}"));
            assert_eq!(email["created_at"], email_created(i).as_str(), "{event}");
            assert_eq!(email["updated_at"], USER_CREATED, "{event}");
        }
    }
}

/// The user's id becomes `<user>`, any other id `<id>`; a fixture's time stays as it is, and
/// of any other time every digit becomes `9` (its form is compared, not its value).
fn placeholders(value: Value, user: UserId) -> Value {
    match value {
        Value::String(s) if s == user.to_string() => Value::String("<user>".into()),
        // The fixture's addresses carry the user's id, so paths never share one.
        Value::String(s) if s.contains(&user.0.simple().to_string()) => {
            Value::String(s.replace(&user.0.simple().to_string(), "<user>"))
        }
        Value::String(s) if uuid::Uuid::parse_str(&s).is_ok() => Value::String("<id>".into()),
        Value::String(s) if fixture_time(&s) => Value::String(s),
        Value::String(s) if s.parse::<DateTime<Utc>>().is_ok() => Value::String(
            s.chars()
                .map(|c| if c.is_ascii_digit() { '9' } else { c })
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| placeholders(v, user)).collect())
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, placeholders(v, user)))
                .collect(),
        ),
        other => other,
    }
}

/// One path's result: each request's status, and the rows.
type Seen = (Vec<u16>, Value);

/// Deletes one other user in the same statement, so a group is sent even for one request.
fn filler(db_url: &str, now: DateTime<Utc>) -> Deletion {
    let made = make(
        db_url,
        true,
        &Fixture {
            exists: true,
            emails: 1,
            held: false,
            sessions: LIVE,
            due: false,
        },
        &Addresses::random(),
        now,
    );
    Deletion {
        user_id: made.user,
        by: DeletedBy::Admin,
        purge_after: None,
        context: RequestContext::default(),
        audit: AuditLogConfig::default(),
        at: now,
        recipients: recipients(),
    }
}

/// Each event to two hooks of its own (a path that sends an event to the other's hooks differs).
fn recipients() -> DeletionRecipients {
    DeletionRecipients {
        deleted: Recipients(vec!["hook-a".into(), "hook-b".into()]),
        scheduled: Recipients(vec!["hook-s".into()]),
    }
}

#[test]
fn every_path_writes_the_same_rows() {
    let dbs = Databases::new();
    let sqlite_url = match dbs.sqlite.url() {
        DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
        other => panic!("{other:?}"),
    };
    let mut failures = Vec::new();
    for scenario in scenarios() {
        let mut seen: Vec<(&str, Seen)> = Vec::new();
        // Each path gets the scenario's own fixture; `at` is shared, at the database's precision.
        let now = crate::types::db_time(Utc::now());
        let addresses = Addresses::random();

        // SQLite, through the entry point (or the purge).
        let made = make(&sqlite_url, false, &scenario.fixture, &addresses, now);
        let statuses = actix_rt::System::new().block_on(async {
            let deletions = Deletions::pooled(dbs.sqlite.clone(), Offload::new(4));
            run_requests(&deletions, &scenario, &made, now).await
        });
        seen.push(("sqlite", (statuses, rows(&dbs.sqlite, made.user, now))));

        // Postgres, the pool's statement (Diesel), through the entry point (or the purge).
        let made = make(&dbs.pg_url, true, &scenario.fixture, &addresses, now);
        let statuses = actix_rt::System::new().block_on(async {
            let deletions = Deletions::pooled(dbs.postgres.clone(), Offload::new(4));
            run_requests(&deletions, &scenario, &made, now).await
        });
        seen.push((
            "postgres pool",
            (statuses, rows(&dbs.postgres, made.user, now)),
        ));

        // Postgres, a lane's statement: each request alone, one after the other.
        let made = make(&dbs.pg_url, true, &scenario.fixture, &addresses, now);
        let statuses = actix_rt::System::new().block_on(async {
            let lanes = lanes(&dbs.pg_url);
            let mut statuses = Vec::new();
            for deletion in deletions(&scenario, &made, now) {
                for attempt in Attempt::of(deletion) {
                    let answer = lanes.delete_together(&[attempt]).await.pop().unwrap();
                    statuses.push(status(&lane_answer(answer)));
                }
            }
            statuses
        });
        seen.push((
            "postgres alone",
            (statuses, rows(&dbs.postgres, made.user, now)),
        ));

        // Postgres, a lane's group statement: the requests at once, with another user's.
        let made = make(&dbs.pg_url, true, &scenario.fixture, &addresses, now);
        let statuses = actix_rt::System::new().block_on(async {
            let lanes = lanes(&dbs.pg_url);
            let mut attempts: Vec<Attempt> = deletions(&scenario, &made, now)
                .into_iter()
                .flat_map(Attempt::of)
                .collect();
            attempts.push(Attempt::of(filler(&dbs.pg_url, now)).remove(0));
            let mut answers = lanes.delete_together(&attempts).await;
            let filler = answers.pop().map(lane_answer);
            assert_eq!(
                filler.as_ref().map(status),
                Some(204),
                "{}: the other user",
                scenario.name
            );
            answers
                .into_iter()
                .map(|a| status(&lane_answer(a)))
                .collect::<Vec<u16>>()
        });
        seen.push((
            "postgres grouped",
            (statuses, rows(&dbs.postgres, made.user, now)),
        ));

        let (first_name, first) = &seen[0];
        for (name, other) in &seen[1..] {
            if other != first {
                failures.push(format!(
                    "{}: {name} differs from {first_name}:\n  {first_name}: {}\n  {name}: {}",
                    scenario.name,
                    json!(first),
                    json!(other)
                ));
            }
        }
        // The scenario does what it says, on the first path (the others equal it).
        if first.0 != scenario.statuses {
            failures.push(format!(
                "{}: answered {:?}, expected {:?}",
                scenario.name, first.0, scenario.statuses
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The requests of a scenario through [`Deletions`], all at once (the purge: one pass).
async fn run_requests(
    deletions: &Deletions,
    scenario: &Scenario,
    made: &Made,
    now: DateTime<Utc>,
) -> Vec<u16> {
    if let Asker::Purge = scenario.asker {
        let purged = deletions
            .purge_next(Purge {
                audit: AuditLogConfig {
                    enabled: true,
                    mask_email: scenario.mask_email,
                },
                recipients: Recipients(vec!["hook-a".into(), "hook-b".into()]),
                at: now,
            })
            .await
            .map_err(|e| e.to_string());
        assert_eq!(
            purged.as_ref().ok().and_then(|p| p.as_ref()).map(|p| p.id),
            Some(made.user),
            "{}: purged",
            scenario.name
        );
        return vec![204];
    }
    let mut statuses = Vec::new();
    for deletion in deletions_in_order(scenario, made, now) {
        statuses.push(status(
            &deletions.delete(deletion).await.map_err(|e| e.to_string()),
        ));
    }
    statuses
}

fn deletions_in_order(scenario: &Scenario, made: &Made, now: DateTime<Utc>) -> Vec<Deletion> {
    deletions(scenario, made, now)
}

fn lane_answer(answer: Result<DeletionOutcome, LaneError>) -> Result<DeletionOutcome, String> {
    answer.map_err(|e| format!("{e:?}"))
}

fn lanes(url: &str) -> WorkerPg {
    WorkerPg::new(
        url,
        1,
        std::time::Duration::from_secs(2),
        std::time::Duration::from_secs(60),
        Arc::new(DeletionStatements::default()),
    )
    .unwrap()
}

/// The audit log's masking has one definition per backend: `mask_email` in Postgres (the
/// deletion's statement calls it) and `domain::audit::mask_email` in Rust (SQLite's transaction
/// and every other audit entry). They agree on arbitrary text: addresses, an empty local part
/// (`@x.io`), several `@`, none at all, non-ASCII anywhere (Postgres text holds no NUL).
#[test]
fn masking_is_the_same_in_postgres_and_in_rust() {
    use diesel::RunQueryDsl;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let dbs = Databases::new();
    let pg = std::cell::RefCell::new(diesel::PgConnection::establish(&dbs.pg_url).unwrap());
    let text = |pattern: &'static str| proptest::string::string_regex(pattern).unwrap();
    let address = prop_oneof![
        text("[a-zA-Z0-9._%+-]{1,12}@[a-z0-9.-]{1,12}\\.[a-z]{2,4}"),
        text("@[a-z]{1,5}\\.io"),
        text("[^@\\x00]{0,12}"),
        text("[^\\x00]{0,6}@[^\\x00]{0,6}@[^\\x00]{0,6}"),
        text("[éßΩ字🙂'\"\\\\ ]{0,4}@[^\\x00@]{0,8}"),
        any::<String>().prop_map(|s| s.replace('\0', "")),
    ];
    let mut runner = TestRunner::new(Config {
        cases: 12,
        ..Config::default()
    });
    let checked = std::cell::Cell::new(0usize);
    runner
        .run(
            &proptest::collection::vec(address, 1000..=1000),
            |addresses| {
                #[derive(diesel::QueryableByName)]
                struct Masked {
                    #[diesel(sql_type = diesel::sql_types::Text)]
                    masked: String,
                }
                let masked: Vec<Masked> = diesel::sql_query(
                    "SELECT mask_email(a) AS masked FROM unnest($1::text[]) WITH ORDINALITY AS t(a, n) ORDER BY n",
                )
                .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(&addresses)
                .load(&mut *pg.borrow_mut())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(masked.len(), addresses.len());
                for (address, masked) in addresses.iter().zip(&masked) {
                    prop_assert_eq!(
                        &masked.masked,
                        &domain::audit::mask_email(address),
                        "{:?}",
                        address
                    );
                }
                checked.set(checked.get() + addresses.len());
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let checked = checked.get();
    assert!(checked >= 10_000, "{checked} addresses");
    eprintln!("{checked} addresses masked alike");
}
