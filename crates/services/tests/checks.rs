//! Service checks against real parts on loopback: HTTP and HTTPS servers run by the test (with
//! self-signed, expiring and expired certificates made by the openssl CLI), TCP ports open and
//! closed, a private dnsmasq, ping of 127.0.0.1; and the scheduler with a clock the test moves
//! (retries, late pushes), on both databases. The alerts suite (`alerts/`: receivers of
//! notifications on loopback) is a module of this test binary.
#![allow(clippy::unwrap_used)]

mod alerts;

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use domain::{CheckPatch, CheckStatus, NewCheck, Outcome};
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use services::Clock;
use services::checks::{Checks, Settings, probe};
use storage::Store;
use tokio::net::TcpListener;
use uuid::Uuid;

fn obj(v: Value) -> domain::JsonObject {
    v.as_object().cloned().unwrap()
}

fn new(kind: &str, target: Value) -> NewCheck {
    NewCheck {
        kind: kind.into(),
        target: obj(target),
        timeout_secs: Some(5),
        ..Default::default()
    }
}

/// Runs a check described by `kind` and `target` once.
async fn run(kind: &str, target: Value) -> Outcome {
    let (check, secrets) =
        domain::Check::create(Uuid::new_v4(), new(kind, target), &Default::default()).unwrap();
    probe::run(&check, &secrets, domain::now()).await
}

async fn handle(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let reply = |status: u16, body: String| {
        Response::builder()
            .status(status)
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    Ok(match req.uri().path() {
        "/" => reply(200, "hello lab".into()),
        "/down" => reply(503, "maintenance".into()),
        "/moved" => Response::builder()
            .status(302)
            .header("location", "/")
            .body(Full::new(Bytes::new()))
            .unwrap(),
        "/whoami" => {
            let auth = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("nobody");
            reply(200, format!("you are {auth}"))
        }
        _ => reply(404, "no".into()),
    })
}

/// An HTTP (or, with a certificate and key, HTTPS) server on a loopback port.
async fn serve(tls: Option<(&Path, &Path)>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tls.map(|(cert, key)| {
        use rustls_pki_types::pem::PemObject;
        let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_file_iter(cert)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let key = rustls_pki_types::PrivateKeyDer::from_pem_file(key).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    });
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(handle);
                let http = hyper::server::conn::http1::Builder::new();
                match acceptor {
                    Some(a) => {
                        if let Ok(s) = a.accept(stream).await {
                            let _ = http.serve_connection(TokioIo::new(s), service).await;
                        }
                    }
                    None => {
                        let _ = http.serve_connection(TokioIo::new(stream), service).await;
                    }
                }
            });
        }
    });
    port
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed certificate for localhost/127.0.0.1 valid for `days`.
fn self_signed(dir: &Path, name: &str, days: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            days,
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
    );
}

/// A self-signed certificate that expired in 2021 (`openssl ca` can set both dates).
fn expired(dir: &Path) {
    std::fs::write(
        dir.join("ca.cnf"),
        "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n\
         default_md = sha256\npolicy = p\ncopy_extensions = copy\n[p]\ncommonName = supplied\n",
    )
    .unwrap();
    std::fs::write(dir.join("index.txt"), "").unwrap();
    std::fs::write(dir.join("serial"), "01\n").unwrap();
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "expired.key",
            "-out",
            "expired.csr",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
    );
    openssl(
        dir,
        &[
            "ca",
            "-batch",
            "-selfsign",
            "-config",
            "ca.cnf",
            "-keyfile",
            "expired.key",
            "-in",
            "expired.csr",
            "-out",
            "expired.pem",
            "-startdate",
            "20200101000000Z",
            "-enddate",
            "20210101000000Z",
        ],
    );
}

#[tokio::test]
async fn http_checks_status_keyword_redirects_and_headers() {
    let port = serve(None).await;
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let up = run("http", json!({"url": url("/")})).await;
    assert_eq!(up.status, CheckStatus::Up, "{up:?}");
    assert!(up.latency_ms.unwrap() > 0.0);

    let down = run("http", json!({"url": url("/down")})).await;
    assert_eq!(down.status, CheckStatus::Down);
    assert_eq!(down.error.as_deref(), Some("HTTP 503 (expected 200-299)"));
    let accepted = run(
        "http",
        json!({"url": url("/down"), "expected_status": "200-299,503"}),
    )
    .await;
    assert_eq!(accepted.status, CheckStatus::Up);

    let present = run("http", json!({"url": url("/"), "keyword": "lab"})).await;
    assert_eq!(present.status, CheckStatus::Up);
    let missing = run("http", json!({"url": url("/"), "keyword": "kitchen"})).await;
    assert_eq!(missing.status, CheckStatus::Down);
    assert!(missing.error.unwrap().contains("does not contain"));
    let absent = run(
        "http",
        json!({"url": url("/"), "keyword": "hello", "keyword_absent": true}),
    )
    .await;
    assert_eq!(absent.status, CheckStatus::Down);

    let followed = run("http", json!({"url": url("/moved"), "keyword": "hello"})).await;
    assert_eq!(followed.status, CheckStatus::Up, "{followed:?}");
    let not_followed = run(
        "http",
        json!({"url": url("/moved"), "follow_redirects": false}),
    )
    .await;
    assert_eq!(
        not_followed.error.as_deref(),
        Some("HTTP 302 (expected 200-299)")
    );

    let with_auth = run(
        "http",
        json!({"url": url("/whoami"), "keyword": "you are Bearer lab-token",
               "headers": [{"name": "Authorization", "value": "Bearer lab-token"}]}),
    )
    .await;
    assert_eq!(with_auth.status, CheckStatus::Up, "{with_auth:?}");

    // Nothing listens: refused, with the address named.
    let closed = testsupport::free_port();
    let refused = run(
        "http",
        json!({"url": format!("http://127.0.0.1:{closed}/")}),
    )
    .await;
    assert_eq!(refused.status, CheckStatus::Down);
    assert!(refused.error.unwrap().contains("cannot connect"));
}

#[tokio::test]
async fn https_checks_judge_certificates() {
    let dir = tempfile::tempdir().unwrap();
    self_signed(dir.path(), "good", "365");
    self_signed(dir.path(), "soon", "5");
    expired(dir.path());
    let cert = |n: &str| {
        (
            dir.path().join(format!("{n}.pem")),
            dir.path().join(format!("{n}.key")),
        )
    };
    let (gc, gk) = cert("good");
    let (sc, sk) = cert("soon");
    let (ec, ek) = cert("expired");
    let good = serve(Some((&gc, &gk))).await;
    let soon = serve(Some((&sc, &sk))).await;
    let old = serve(Some((&ec, &ek))).await;
    let https = |port: u16| format!("https://127.0.0.1:{port}/");

    let untrusted = run("http", json!({"url": https(good)})).await;
    assert_eq!(untrusted.status, CheckStatus::Down);
    assert!(
        untrusted
            .error
            .as_deref()
            .unwrap()
            .contains("TLS handshake failed"),
        "{untrusted:?}"
    );

    let allowed = run(
        "http",
        json!({"url": https(good), "allow_self_signed": true}),
    )
    .await;
    assert_eq!(allowed.status, CheckStatus::Up, "{allowed:?}");
    let expires = allowed
        .cert_expires_at
        .expect("expiry read from the certificate");
    let days = (expires - Utc::now()).num_days();
    assert!((363..=365).contains(&days), "{days}");

    let expiring = run(
        "http",
        json!({"url": https(soon), "allow_self_signed": true}),
    )
    .await;
    assert_eq!(expiring.status, CheckStatus::Degraded, "{expiring:?}");
    assert!(expiring.error.unwrap().contains("expires in 4 days"));
    let no_warning = run(
        "http",
        json!({"url": https(soon), "allow_self_signed": true, "cert_expiry_warn_days": 3}),
    )
    .await;
    assert_eq!(no_warning.status, CheckStatus::Up);

    let gone = run(
        "http",
        json!({"url": https(old), "allow_self_signed": true}),
    )
    .await;
    assert_eq!(gone.status, CheckStatus::Down);
    assert_eq!(
        gone.error.as_deref(),
        Some("the TLS certificate expired on 2021-01-01")
    );
    let verified = run("http", json!({"url": https(old)})).await;
    assert_eq!(verified.status, CheckStatus::Down, "{verified:?}");
}

#[tokio::test]
async fn tcp_ping_and_dns_checks() {
    let open = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = open.local_addr().unwrap().port();
    let up = run("tcp", json!({"host": "127.0.0.1", "port": port})).await;
    assert_eq!(up.status, CheckStatus::Up);
    drop(open);
    let closed = run("tcp", json!({"host": "127.0.0.1", "port": port})).await;
    assert_eq!(closed.status, CheckStatus::Down);
    assert!(closed.error.unwrap().contains("refused"));

    let ping = run("ping", json!({"host": "127.0.0.1"})).await;
    assert_eq!(ping.status, CheckStatus::Up, "{ping:?}");
    assert!(ping.latency_ms.is_some());

    let Some(dns) =
        testsupport::Dnsmasq::start(&[("nas.lab.test", "10.1.2.3"), ("nas.lab.test", "fd00::3")])
    else {
        return;
    };
    let server = format!("127.0.0.1:{}", dns.port);
    let a = run("dns", json!({"name": "nas.lab.test", "server": server})).await;
    assert_eq!(a.status, CheckStatus::Up, "{a:?}");
    let expected = run(
        "dns",
        json!({"name": "nas.lab.test", "server": server, "expected": ["10.1.2.3"]}),
    )
    .await;
    assert_eq!(expected.status, CheckStatus::Up);
    let aaaa = run(
        "dns",
        json!({"name": "nas.lab.test", "server": server, "record_type": "AAAA",
               "expected": ["fd00::3"]}),
    )
    .await;
    assert_eq!(aaaa.status, CheckStatus::Up, "{aaaa:?}");
    let wrong = run(
        "dns",
        json!({"name": "nas.lab.test", "server": server, "expected": ["10.9.9.9"]}),
    )
    .await;
    assert_eq!(wrong.status, CheckStatus::Down);
    assert!(wrong.error.unwrap().contains("resolves to 10.1.2.3"));
    let unknown = run("dns", json!({"name": "nope.lab.test", "server": server})).await;
    assert_eq!(unknown.status, CheckStatus::Down, "{unknown:?}");
}

testsupport::on_both_backends!(
    scheduler_retries_late_pushes_and_history,
    chatty_heartbeats_are_recorded_sparingly_and_late_ones_go_down,
);

/// A clock the test moves; starts at a whole hour.
fn manual_clock() -> (Clock, Arc<AtomicI64>) {
    let start = (Utc::now().timestamp() / 3600 + 1) * 3600;
    let now = Arc::new(AtomicI64::new(start * 1_000_000));
    let read = now.clone();
    let clock =
        Clock::new(move || DateTime::from_timestamp_micros(read.load(Ordering::SeqCst)).unwrap());
    (clock, now)
}

/// The checks service on `store` with a clock the test moves (and its microseconds).
fn scheduled(store: &Arc<dyn Store>) -> (Checks, Arc<AtomicI64>) {
    let (clock, now) = manual_clock();
    let settings = Settings {
        clock,
        poll: Duration::from_millis(20),
        ..Default::default()
    };
    (Checks::new(store.clone(), settings), now)
}

async fn eventually<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn scheduler_retries_late_pushes_and_history(store: Arc<dyn Store>) {
    let (_, component) = testsupport::project_with_component(&*store, "lab", "nas").await;
    let (checks, now) = scheduled(&store);
    let advance = |secs: i64| now.fetch_add(secs * 1_000_000, Ordering::SeqCst);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut tcp = new("tcp", json!({"host": "127.0.0.1", "port": port}));
    tcp.retries = Some(1);
    tcp.interval_secs = Some(60);
    tcp.retry_interval_secs = Some(20);
    let tcp = checks.create(component, tcp).await.unwrap().check.check;
    let mut push = new("push", json!({"grace_secs": 30}));
    push.interval_secs = Some(300);
    let created = checks.create(component, push).await.unwrap();
    let token = created.push_token.expect("a push check gets a token");
    let push = created.check.check;

    let scheduler = tokio::spawn(checks.clone().run_scheduler());
    // Let it start (and find nothing overdue) before the clock moves.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = |id: Uuid| {
        let checks = checks.clone();
        async move { checks.get(id).await.unwrap().state }
    };
    // The first run comes within ten seconds of creation.
    advance(10);
    eventually("the TCP check is up", async || {
        (status(tcp.id).await.status == CheckStatus::Up).then_some(())
    })
    .await;

    // The target goes away: the first failure is a retry (20 s later), the second is "down".
    drop(listener);
    advance(60);
    eventually("one failure counted", async || {
        let s = status(tcp.id).await;
        (s.failures == 1).then_some(s)
    })
    .await;
    assert_eq!(
        status(tcp.id).await.status,
        CheckStatus::Up,
        "still up: retrying"
    );
    advance(20);
    let s = eventually("down after the retry", async || {
        let s = status(tcp.id).await;
        (s.status == CheckStatus::Down).then_some(s)
    })
    .await;
    assert!(s.last_error.unwrap().contains("refused"));
    let history = checks.history(tcp.id, 1, 10).await.unwrap();
    assert_eq!(history.len(), 3, "{history:?}");
    assert_eq!(history[0].status, CheckStatus::Down);
    let uptime = checks.uptime(tcp.id).await.unwrap();
    assert_eq!((uptime[0].up, uptime[0].down), (1, 2));
    assert!((uptime[0].ratio.unwrap() - 1.0 / 3.0).abs() < 1e-9);

    // Pushes: up when called, down once an interval and the grace pass without one. "Test
    // now" cannot run a push check: it tells when the last push came and whether that is
    // recent enough at this moment.
    assert_eq!(status(push.id).await.status, CheckStatus::Unknown);
    let never = checks.test(push.id).await.unwrap();
    assert_eq!(never.outcome, Outcome::down("nothing received yet"));
    assert_eq!(never.last_seen_at, None);
    assert_eq!(
        checks.push(&token).await.unwrap().state.status,
        CheckStatus::Up
    );
    let pushed_at = status(push.id).await.last_checked_at;
    assert!(checks.push("not-the-token").await.is_err());
    advance(300 + 29);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        status(push.id).await.status,
        CheckStatus::Up,
        "within the grace"
    );
    let recent = checks.test(push.id).await.unwrap();
    assert_eq!(recent.outcome.status, CheckStatus::Up);
    assert_eq!(recent.last_seen_at, pushed_at);
    advance(2);
    // Late now, whether or not the scheduler has recorded it yet.
    let tested = checks.test(push.id).await.unwrap();
    assert_eq!(tested.last_seen_at, pushed_at);
    assert_eq!(
        tested.outcome.error.as_deref(),
        Some("late: last received 331 s ago, expected every 300 s (+30 s grace)")
    );
    let late = eventually("the push check is late", async || {
        let s = status(push.id).await;
        (s.status == CheckStatus::Down).then_some(s)
    })
    .await;
    assert!(late.last_error.unwrap().contains("no push within 300 s"));
    assert_eq!(
        checks.push(&token).await.unwrap().state.status,
        CheckStatus::Up
    );

    // Pausing stops the runs.
    let paused = checks
        .update(
            tcp.id,
            None,
            CheckPatch {
                paused: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(paused.state.next_due_at, None);
    let runs = checks.history(tcp.id, 2, 100).await.unwrap().len();
    advance(600);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(checks.history(tcp.id, 2, 100).await.unwrap().len(), runs);

    // Every transition went through the outbox: up, down for TCP; up, late, up, and late again
    // (the ten minutes above passed without a push) for the push check.
    let events = store
        .claim_outbox(500, domain::now() + chrono::Duration::days(1))
        .await
        .unwrap();
    let states: Vec<(String, String)> = events
        .iter()
        .filter(|e| e.kind.starts_with("check.") && e.payload.contains_key("status"))
        .map(|e| {
            (
                e.payload["check_id"].as_str().unwrap().to_owned(),
                e.topic.clone(),
            )
        })
        .collect();
    let of = |id: Uuid| -> Vec<&str> {
        states
            .iter()
            .filter(|(c, _)| *c == id.to_string())
            .map(|(_, t)| t.as_str())
            .collect()
    };
    assert_eq!(
        of(tcp.id),
        ["tracker/events/checks/up", "tracker/events/checks/down"]
    );
    assert_eq!(
        of(push.id),
        [
            "tracker/events/checks/up",
            "tracker/events/checks/down",
            "tracker/events/checks/up",
            "tracker/events/checks/down"
        ]
    );
    scheduler.abort();
}

async fn chatty_heartbeats_are_recorded_sparingly_and_late_ones_go_down(store: Arc<dyn Store>) {
    let (_, component) = testsupport::project_with_component(&*store, "lab", "sensor").await;
    let (checks, now) = scheduled(&store);
    let advance = |secs: i64| now.fetch_add(secs * 1_000_000, Ordering::SeqCst);
    let mut mqtt = new(
        "mqtt",
        json!({"topic_filter": "tracker/events/lab/+/alive", "grace_secs": 10}),
    );
    mqtt.interval_secs = Some(60);
    let id = checks.create(component, mqtt).await.unwrap().check.check.id;
    let scheduler = tokio::spawn(checks.clone().run_scheduler());
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Messages every ten seconds for 50 s: recorded at 0 and 40 (half an interval apart) only.
    assert_eq!(
        checks
            .heartbeat("tracker/events/lab/sensor/alive")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        checks
            .heartbeat("tracker/events/lab/sensor/gone")
            .await
            .unwrap(),
        0
    );
    for _ in 0..5 {
        advance(10);
        checks
            .heartbeat("tracker/events/lab/sensor/alive")
            .await
            .unwrap();
    }
    assert_eq!(checks.history(id, 1, 100).await.unwrap().len(), 2);
    // Due at 40 + 70: the arrival at 50 counts, and moves the deadline to 50 + 70.
    advance(60);
    eventually("the unrecorded arrival is counted", async || {
        let h = checks.history(id, 1, 100).await.unwrap();
        (h.len() == 3).then_some(())
    })
    .await;
    assert_eq!(checks.get(id).await.unwrap().state.status, CheckStatus::Up);
    // "Test now" tells the last arrival (50 s ago, 10 s after the last one recorded).
    let tested = checks.test(id).await.unwrap();
    assert_eq!(tested.outcome.status, CheckStatus::Up);
    let arrivals: Vec<_> = checks
        .history(id, 1, 100)
        .await
        .unwrap()
        .iter()
        .map(|r| r.at)
        .collect();
    assert_eq!(tested.last_seen_at, arrivals.first().copied());
    advance(11);
    let late = eventually("silence past the interval and grace is down", async || {
        let s = checks.get(id).await.unwrap().state;
        (s.status == CheckStatus::Down).then_some(s)
    })
    .await;
    assert!(
        late.last_error
            .unwrap()
            .contains("no message on tracker/events/lab/+/alive")
    );
    assert_eq!(checks.history(id, 1, 100).await.unwrap().len(), 4);
    scheduler.abort();
}
