//! `sessions.last_used` refreshes never wait on a row another transaction holds (a deletion's
//! cascade, another instance's flush): they skip it, so they cannot deadlock with it.

use crate::helpers::*;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use domain::ids::SessionId;
use domain::ports::SessionStore;
use persistence::Database;
use std::time::Duration;

#[actix_rt::test]
async fn a_flush_skips_rows_locked_elsewhere_instead_of_waiting() {
    let app = TestApp::builder(Backend::Postgres).start().await;
    let user = app.create_user("touch@example.com").await;
    let (locked, free) = (app.login(&user).await, app.login(&user).await);
    app.db
        .exec("UPDATE sessions SET last_used = now() - interval '2 minutes'");

    let mut holder = PgConnection::establish(&app.db.url).expect("connect");
    holder
        .batch_execute(&format!(
            "BEGIN; SELECT id FROM sessions WHERE id = '{}' FOR UPDATE",
            locked.session_id
        ))
        .expect("lock one session row");

    let db = Database::connect(&app.config.database);
    let ids: Vec<SessionId> = [&locked, &free]
        .iter()
        .map(|l| l.session_id.parse().expect("a session id"))
        .collect();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let flushed = db.touch_sessions(&ids, chrono::Utc::now(), chrono::Duration::seconds(60));
        // The test waits for this answer (and fails after 10 s without it).
        done.send(flushed)
            .unwrap_or_else(|_| panic!("the test stopped waiting for the flush"));
    });
    let result = finished
        .recv_timeout(Duration::from_secs(10))
        .expect("the flush waited on the locked row");
    result.expect("the flush succeeds");
    let refreshed = |id: &str| {
        app.db.count(
            "sessions",
            &format!("id = '{id}' AND last_used > now() - interval '1 minute'"),
        )
    };
    assert_eq!(refreshed(&free.session_id), 1, "the free row is refreshed");
    assert_eq!(
        refreshed(&locked.session_id),
        0,
        "the locked row is skipped"
    );
    holder.batch_execute("COMMIT").expect("release");
}
