//! The database going away and coming back, without a restart (Postgres behind a TCP proxy
//! the test can cut).

use crate::helpers::*;
use serde_json::json;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A TCP proxy that can refuse service: `cut` kills every open connection and drops new ones.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        // The other side may have closed it already: nothing to report then.
        to.shutdown(Shutdown::Both).ok();
    });
}

impl Proxy {
    fn start(target: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let port = listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("{e}"));
        let up = Arc::new(AtomicBool::new(true));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (up2, open2) = (up.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if !up2.load(Ordering::SeqCst) {
                    client.shutdown(Shutdown::Both).ok();
                    continue;
                }
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                if let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) {
                    if let Ok(mut list) = open2.lock() {
                        list.push(c2);
                        list.push(s2);
                    }
                }
                if let (Ok(c), Ok(s)) = (client.try_clone(), server.try_clone()) {
                    pipe(c, s);
                }
                pipe(server, client);
            }
        });
        Self { port, up, open }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        if let Ok(mut list) = self.open.lock() {
            for s in list.drain(..) {
                s.shutdown(Shutdown::Both).ok();
            }
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[actix_rt::test]
async fn database_outage_and_recovery_without_restart() {
    let db = TestDb::new(Backend::Postgres);
    let proxy = Proxy::start("127.0.0.1:5432");
    let name = db.pg_name().expect("a Postgres database").to_owned();
    let proxied = format!(
        "postgres://postgres@127.0.0.1:{}/{name}?{NO_TLS}",
        proxy.port
    );
    let app = TestApp::builder(Backend::Postgres)
        .on(db)
        .config(json!({"database": {"url": proxied, "connect_timeout": "1s"}}))
        .start()
        .await;
    let login = app.user_with_session("outage@example.com").await;
    assert_eq!(app.get_me(&login.token).await.status(), 200);
    // A deletion before the cut leaves the worker a connection of its own, which dies with it.
    let early = app.user_with_session("early@example.com").await;
    assert_eq!(app.delete_user(&early.token).await.status(), 204);
    let doomed = app.user_with_session("doomed@example.com").await;

    proxy.cut();

    // The deletion, on the worker's dead connection or a new one that cannot open: an honest
    // 500 within the timeout, and nothing deleted (checked once the database is back).
    let started = Instant::now();
    assert_error(app.delete_user(&doomed.token).await, 500);
    assert_error(app.delete_user(&doomed.token).await, 500);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    // A good token needs the session row: an honest 500, within the pool timeout, not a hang.
    let started = Instant::now();
    let res = app.get_me(&login.token).await;
    assert_error(res, 500);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let again = app.get_me(&login.token).await;
    assert_error(again, 500);

    // A forged token is refused before any query: 401, not 500.
    assert_error(app.get_me("eyJhbGciOiJSUzI1NiJ9.e30.c2ln").await, 401);

    let ready = app
        .client
        .get(format!("{}/health/ready", app.public))
        .fetch()
        .await;
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.json::<serde_json::Value>(), json!({"ready": false}));
    let alive = app
        .client
        .get(format!("{}/health/alive", app.public))
        .send()
        .await;
    assert_eq!(
        alive
            .map(|r| r.status().as_u16())
            .expect("GET /health/alive"),
        200,
        "alive while the DB is down"
    );

    proxy.restore();

    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let ready = app
            .client
            .get(format!("{}/health/ready", app.public))
            .send()
            .await;
        if ready.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not ready again after the database came back"
        );
        actix_rt::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        app.get_me(&login.token).await.status(),
        200,
        "recovered without restart"
    );
    assert_eq!(
        app.get_me(&doomed.token).await.status(),
        200,
        "the failed deletion changed nothing"
    );
    assert_eq!(app.delete_user(&login.token).await.status(), 204);
    assert_eq!(app.delete_user(&doomed.token).await.status(), 204);
}
