//! The real binary as a user runs it: first start, API key handling, config check, healthcheck,
//! migrations, PostgreSQL, and graceful shutdown on SIGTERM.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{ScratchPostgres, Server, http_as, read_response, run, taylordash};

/// `http_as` with an optional API key.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let auth = key.map(|k| format!("X-API-Key: {k}"));
    http_as(addr, auth.as_deref(), method, path, body)
}

#[test]
fn first_start_creates_data_dir_and_prints_the_key_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("fresh/data");
    let mut server = Server::start(taylordash(&data));
    assert!(
        data.join("taylordash.db").exists(),
        "SQLite file created in the data dir"
    );
    let key_file = data.join("api_key");
    let key = std::fs::read_to_string(&key_file)
        .expect("key file")
        .trim()
        .to_owned();
    assert_eq!(key.len(), 64, "256-bit key, hex");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file)
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "key file readable by the owner only");
    }
    // The server re-executed itself with glibc's arenas capped (same pid; see memory.rs).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let environ = std::fs::read(format!("/proc/{}/environ", server.child.id()))
            .expect("the server's environment");
        assert!(
            environ
                .split(|b| *b == 0)
                .any(|var| var.starts_with(b"MALLOC_ARENA_MAX=")),
            "MALLOC_ARENA_MAX is set in the running server"
        );
    }
    let banner = server.early_stderr.join("\n");
    assert!(banner.contains(&key), "the key is shown on first start");
    assert!(
        banner.contains(&key_file.display().to_string()),
        "with its location"
    );

    let (status, _) = http(server.addr, "GET", "/api/v1/projects", Some(&key), None);
    assert_eq!(status, 200);
    let (status, _) = http(
        server.addr,
        "GET",
        "/api/v1/projects",
        Some("guess-guess-guess-guess"),
        None,
    );
    assert_eq!(status, 401);
    let (status, body) = http(
        server.addr,
        "POST",
        "/api/v1/projects",
        Some(&key),
        Some(r#"{"name":"survives restarts"}"#),
    );
    assert_eq!(status, 201, "{body}");
    server.terminate();
    assert!(server.wait(Duration::from_secs(10)).success());
    let log = server.output();
    assert!(
        log.contains("TaylorDash is ready"),
        "the log was captured: {log}"
    );
    assert!(!log.contains(&key), "the key never reaches the log");

    let server = Server::start(taylordash(&data));
    let again = server.early_stderr.join("\n");
    assert!(!again.contains(&key), "the key is printed only once");
    let (status, body) = http(server.addr, "GET", "/api/v1/projects", Some(&key), None);
    assert_eq!(status, 200);
    assert!(body.contains("survives restarts"), "data persisted: {body}");
}

#[test]
fn sigterm_lets_in_flight_requests_finish() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(taylordash(tmp.path()));
    // A request whose headers have started to arrive is in flight.
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
        .expect("write");
    std::thread::sleep(Duration::from_millis(200));
    server.terminate();
    std::thread::sleep(Duration::from_millis(300));
    stream.write_all(b"\r\n").expect("finish request");
    let (status, body) = read_response(&mut stream);
    assert_eq!(status, 200, "in-flight request answered: {body}");
    assert!(body.contains("alive"));
    assert!(server.wait(Duration::from_secs(10)).success(), "clean exit");
    assert!(
        TcpStream::connect(server.addr).is_err(),
        "no longer accepting connections"
    );
    let log = server.output();
    assert!(
        log.contains("finishing in-flight requests") && log.contains("stopped"),
        "{log}"
    );
}

#[test]
fn healthcheck_reports_ready_and_not_ready() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(taylordash(tmp.path()));
    let ok = run(taylordash(tmp.path()).args(["healthcheck", "--addr", &server.addr.to_string()]));
    assert!(ok.status.success(), "{ok:?}");
    drop(server);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let down = run(taylordash(tmp.path()).args([
        "healthcheck",
        "--addr",
        &addr.to_string(),
        "--timeout",
        "2",
    ]));
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stderr).contains("not ready"));
}

#[test]
fn config_check_validates_and_redacts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = run(taylordash(tmp.path())
        .args(["config", "check"])
        .env("DATABASE_URL", "postgres://app:db-password-1@db:5432/td")
        .env("API_KEY", "k-0123456789-secret-key")
        .env("MQTT_PASSWORD", "broker-password-2"));
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    for secret in [
        "db-password-1",
        "k-0123456789-secret-key",
        "broker-password-2",
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert!(
        text.contains("postgres://app:********@db:5432/td"),
        "{text}"
    );
    assert!(
        text.contains("bind = \"127.0.0.1:0\"  # env TAYLORDASH_BIND"),
        "{text}"
    );

    let bad = run(taylordash(tmp.path())
        .args(["config", "check"])
        .env("MQTT_PORT", "none"));
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("mqtt.port") && err.contains("MQTT_PORT"),
        "{err}"
    );

    let bad = run(taylordash(tmp.path())
        .env("MQTT_HOST", "127.0.0.1")
        .env("MQTT_TLS", "true")
        .env("MQTT_CA_FILE", tmp.path().join("missing-ca.pem")));
    assert_eq!(bad.status.code(), Some(1), "{bad:?}");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("MQTT_CA_FILE"));

    let bad = run(taylordash(tmp.path()).env("TAYLORDASH_BIND", "localhost"));
    assert_eq!(
        bad.status.code(),
        Some(2),
        "serve refuses to start on bad config"
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("bind"));
}

#[test]
fn migrate_is_repeatable_and_unreachable_database_is_explained() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for _ in 0..2 {
        let out = run(taylordash(tmp.path()).arg("migrate"));
        assert!(out.status.success(), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("migrations applied (sqlite)"));
    }
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let started = Instant::now();
    let out = run(taylordash(tmp.path())
        .env(
            "DATABASE_URL",
            format!("postgres://u:secret-pw@127.0.0.1:{port}/x"),
        )
        .env("TAYLORDASH_DB_CONNECT_TIMEOUT", "1"));
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(15));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot connect to the database") && err.contains("DATABASE_URL"),
        "{err}"
    );
    assert!(
        !err.contains("secret-pw"),
        "the password is not echoed: {err}"
    );
}

#[test]
fn serves_from_postgresql_when_database_url_is_set() {
    let Some(db) = ScratchPostgres::create("td_cli", "binary test") else {
        return;
    };
    let url = &db.url;
    let tmp = tempfile::tempdir().expect("tempdir");
    let key = "cli-test-key-0123456789";
    let mut cmd = taylordash(tmp.path());
    cmd.env("DATABASE_URL", url).env("API_KEY", key);
    let mut server = Server::start(cmd);
    assert!(
        !tmp.path().join("taylordash.db").exists(),
        "no SQLite file with PostgreSQL"
    );
    assert!(
        !tmp.path().join("api_key").exists(),
        "no generated key when API_KEY is set"
    );
    let (status, body) = http(
        server.addr,
        "POST",
        "/api/v1/projects",
        Some(key),
        Some(r#"{"name":"pg"}"#),
    );
    assert_eq!(status, 201, "{body}");
    let (_, stack) = http(server.addr, "GET", "/api/v1/health/stack", Some(key), None);
    assert!(stack.contains("postgresql"), "{stack}");
    server.terminate();
    assert!(server.wait(Duration::from_secs(10)).success());
}

/// Counts stored events through the API (all pages) and checks their keys are distinct.
fn stored_events(addr: SocketAddr, key: &str) -> (usize, usize) {
    let mut keys = std::collections::HashSet::new();
    let mut total = 0;
    let mut cursor: Option<i64> = None;
    loop {
        let path = match cursor {
            Some(c) => {
                format!("/api/v1/events?limit=1000&topic=tracker/events/crash/%23&cursor={c}")
            }
            None => "/api/v1/events?limit=1000&topic=tracker/events/crash/%23".to_owned(),
        };
        let (status, body) = http(addr, "GET", &path, Some(key), None);
        assert_eq!(status, 200, "{body}");
        let page: serde_json::Value = serde_json::from_str(&body).expect("json");
        let events = page["events"].as_array().expect("events");
        total += events.len();
        for e in events {
            keys.insert(e["idempotency_key"].as_str().unwrap_or_default().to_owned());
        }
        match page["next_cursor"].as_i64() {
            Some(c) if !events.is_empty() => cursor = Some(c),
            _ => return (total, keys.len()),
        }
    }
}

fn ingested_so_far(addr: SocketAddr) -> f64 {
    let (_, text) = http(addr, "GET", "/metrics", None, None);
    text.lines()
        .find(|l| l.starts_with("taylor_ingest_total{kind=\"other\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// v1 acknowledged before committing and lost 19,046 of 20,000 events to a SIGKILL.
#[test]
fn sigkill_mid_burst_loses_nothing_and_duplicates_nothing() {
    const N: usize = 20_000;
    let Some(broker) = testsupport::Broker::start() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let key = "crash-test-key-0123456789";
    let server_cmd = || {
        let mut cmd = taylordash(tmp.path());
        cmd.env("API_KEY", key)
            .env("MQTT_HOST", "127.0.0.1")
            .env("MQTT_PORT", broker.port.to_string())
            .env("MQTT_USERNAME", &broker.user)
            .env("MQTT_PASSWORD", &broker.password)
            .env("TAYLORDASH_MQTT_CLIENT_ID", "crash-test")
            .env("TAYLORDASH_LOG", "warn");
        cmd
    };
    let mut server = Server::start(server_cmd());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, stack) = http(server.addr, "GET", "/api/v1/health/stack", Some(key), None);
        if stack.contains("connected to the MQTT broker at") && !stack.contains("not connected") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "server never connected to the broker: {stack}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // A separate client publishes the burst (QoS 1) while the server ingests it.
    let (port, user, password) = (broker.port, broker.user.clone(), broker.password.clone());
    let publisher = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let mut options = rumqttc::MqttOptions::new("crash-publisher", ("127.0.0.1", port));
            options
                .set_credentials(user, password)
                .set_inflight(500)
                .set_max_packet_size(1 << 20, 1 << 20)
                .set_clean_session(false);
            let (client, mut eventloop) = rumqttc::AsyncClient::builder(options)
                .capacity(1000)
                .build();
            let acked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let counter = acked.clone();
            let acks = tokio::spawn(async move {
                while counter.load(std::sync::atomic::Ordering::Relaxed) < N {
                    match eventloop.poll().await {
                        Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) => {
                            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        Ok(_) => {}
                        Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
            });
            for i in 0..N {
                // Keep at most a few hundred messages in flight, as a real device would.
                while i - acked.load(std::sync::atomic::Ordering::Relaxed) > 400 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                let envelope = serde_json::json!({
                    "trace_id": uuid::Uuid::new_v4(),
                    "ts": "2026-11-29T12:00:00Z",
                    "kind": "crash.burst",
                    "idempotency_key": format!("burst-{i}"),
                    "payload": {"i": i},
                });
                client
                    .publish(
                        "tracker/events/crash/burst",
                        envelope.to_string(),
                        rumqttc::PublishOptions::new(rumqttc::QoS::AtLeastOnce),
                    )
                    .await
                    .expect("queue publish");
            }
            acks.await.expect("all acknowledged");
        });
    });

    let deadline = Instant::now() + Duration::from_secs(60);
    while ingested_so_far(server.addr) < (N / 5) as f64 {
        assert!(
            Instant::now() < deadline,
            "ingest did not start; broker log:\n{}\nserver: {}",
            broker.log(),
            server.output()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let before_kill = ingested_so_far(server.addr);
    Command::new("kill")
        .args(["-KILL", &server.child.id().to_string()])
        .status()
        .expect("kill");
    let _ = server.wait(Duration::from_secs(10));
    assert!(
        before_kill < N as f64,
        "the kill must land mid-burst ({before_kill} stored)"
    );

    let server = Server::start(server_cmd());
    publisher.join().expect("publisher finished");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (total, _) = stored_events(server.addr, key);
        if total >= N {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {total} of {N} events stored after restart"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    std::thread::sleep(Duration::from_millis(500));
    let (total, distinct) = stored_events(server.addr, key);
    assert_eq!(
        (total, distinct),
        (N, N),
        "exactly {N} distinct events: 0 lost, 0 duplicated"
    );
}

/// One `POST /api/v1/projects` that tolerates a dead server: `None` when the connection fails
/// or no complete answer arrives (the server was killed mid-request).
fn try_create(addr: SocketAddr, key: &str, name: &str) -> Option<(u16, String)> {
    use std::io::Read;
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let body = format!(r#"{{"name":"{name}"}}"#);
    let req = format!(
        "POST /api/v1/projects HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         X-API-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let status = raw.split_whitespace().nth(1)?.parse().ok()?;
    let (_, body) = raw.split_once("\r\n\r\n")?;
    // A response cut off by the kill does not parse as JSON below and counts as unanswered.
    Some((status, body.to_owned()))
}

/// Every stored project's id (all pages).
fn stored_projects(addr: SocketAddr, key: &str) -> std::collections::HashSet<String> {
    let mut ids = std::collections::HashSet::new();
    loop {
        let path = format!("/api/v1/projects?limit=500&offset={}", ids.len());
        let (status, body) = http(addr, "GET", &path, Some(key), None);
        assert_eq!(status, 200, "{body}");
        let page: serde_json::Value = serde_json::from_str(&body).expect("json");
        let projects = page["projects"].as_array().expect("projects");
        for p in projects {
            ids.insert(p["id"].as_str().expect("id").to_owned());
        }
        if projects.is_empty() || ids.len() as i64 >= page["total"].as_i64().expect("total") {
            return ids;
        }
    }
}

/// The project ids of every stored `project.created` event (all pages).
fn created_events(addr: SocketAddr, key: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<i64> = None;
    loop {
        let mut path = "/api/v1/events?limit=1000&topic=tracker/events/projects/created".to_owned();
        if let Some(c) = cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, body) = http(addr, "GET", &path, Some(key), None);
        assert_eq!(status, 200, "{body}");
        let page: serde_json::Value = serde_json::from_str(&body).expect("json");
        let events = page["events"].as_array().expect("events");
        for e in events {
            ids.push(
                e["payload"]["project_id"]
                    .as_str()
                    .expect("project_id")
                    .to_owned(),
            );
        }
        match page["next_cursor"].as_i64() {
            Some(c) if !events.is_empty() => cursor = Some(c),
            _ => return ids,
        }
    }
}

/// Creates are group-committed: many share one transaction and one sync. A SIGKILL under
/// concurrent create load must still keep every create the server answered 201, each with its
/// `project.created` event (written to the outbox in the same transaction and relayed after
/// the restart), and nothing half-written: no project without its event, no event without its
/// project.
fn creates_survive_sigkill(server_cmd: impl Fn() -> Command) {
    const CLIENTS: usize = 16;
    const KEY: &str = "durable-creates-key-0123456789";
    let server = Server::start(server_cmd());
    let addr = server.addr;
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (acked, stop) = (acked.clone(), stop.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let Some((status, body)) = try_create(addr, KEY, &format!("crash {c}-{i}"))
                    else {
                        break;
                    };
                    let Ok(project) = serde_json::from_str::<serde_json::Value>(&body) else {
                        break;
                    };
                    assert_eq!(status, 201, "{body}");
                    let id = project["id"].as_str().expect("id").to_owned();
                    acked.lock().expect("lock").push(id);
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().expect("lock").len() < 500 {
        assert!(Instant::now() < deadline, "creates did not get going");
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut server = server;
    Command::new("kill")
        .args(["-KILL", &server.child.id().to_string()])
        .status()
        .expect("kill");
    let _ = server.wait(Duration::from_secs(10));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for client in clients {
        client.join().expect("client");
    }
    let acked = acked.lock().expect("lock").clone();

    let server = Server::start(server_cmd());
    let stored = stored_projects(server.addr, KEY);
    let lost: Vec<_> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged creates lost, e.g. {:?}",
        lost.len(),
        acked.len(),
        lost.first()
    );
    // The relay publishes the outbox rows the killed server left; each created project's event
    // arrives exactly once, and no event names a project that is not stored.
    let deadline = Instant::now() + Duration::from_secs(60);
    let events = loop {
        let events = created_events(server.addr, KEY);
        if events.len() >= stored.len() || Instant::now() > deadline {
            break events;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let distinct: std::collections::HashSet<String> = events.iter().cloned().collect();
    assert_eq!(distinct.len(), events.len(), "an event was stored twice");
    assert_eq!(
        distinct, stored,
        "every stored project has its created event and every event its project"
    );
}

#[test]
fn sigkill_under_create_load_keeps_every_acknowledged_create_sqlite() {
    let tmp = tempfile::tempdir().expect("tempdir");
    creates_survive_sigkill(|| {
        let mut cmd = taylordash(tmp.path());
        cmd.env("API_KEY", "durable-creates-key-0123456789")
            .env("TAYLORDASH_LOG", "warn");
        cmd
    });
}

#[test]
fn sigkill_under_create_load_keeps_every_acknowledged_create_postgres() {
    let Some(db) = ScratchPostgres::create("td_crash", "crash test") else {
        return;
    };
    let url = &db.url;
    let tmp = tempfile::tempdir().expect("tempdir");
    creates_survive_sigkill(|| {
        let mut cmd = taylordash(tmp.path());
        cmd.env("API_KEY", "durable-creates-key-0123456789")
            .env("DATABASE_URL", url)
            .env("TAYLORDASH_LOG", "warn");
        cmd
    });
}

/// The setup token printed while no admin exists.
fn setup_token(stderr: &str) -> Option<String> {
    stderr
        .split_once("/setup?token=")
        .map(|(_, rest)| rest.chars().take_while(char::is_ascii_hexdigit).collect())
}

#[test]
fn first_start_offers_a_one_time_setup_url_instead_of_a_default_admin() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(taylordash(tmp.path()));
    let banner = server.early_stderr.join("\n");
    let token = setup_token(&banner).unwrap_or_else(|| panic!("no setup URL in {banner}"));
    assert_eq!(token.len(), 64, "{banner}");
    // There is no default account to log in with.
    for (user, pw) in [("admin", "admin123"), ("admin", "admin")] {
        let body = format!(r#"{{"username":"{user}","password":"{pw}"}}"#);
        let (status, _) = http(server.addr, "POST", "/api/v1/auth/login", None, Some(&body));
        assert_eq!(status, 401);
    }
    let setup =
        format!(r#"{{"token":"{token}","username":"root","password":"correct-stapler-orbit-42"}}"#);
    let (status, body) = http(
        server.addr,
        "POST",
        "/api/v1/auth/setup",
        None,
        Some(&setup),
    );
    assert_eq!(status, 201, "{body}");
    assert!(body.contains("session_token"), "{body}");
    let (status, _) = http(
        server.addr,
        "POST",
        "/api/v1/auth/setup",
        None,
        Some(&setup),
    );
    assert_eq!(status, 403, "the token works once");
    drop(server);
    let server = Server::start(taylordash(tmp.path()));
    let banner = server.early_stderr.join("\n");
    assert!(setup_token(&banner).is_none(), "an admin exists: {banner}");
}

#[test]
fn admins_can_be_added_from_the_command_line_or_the_environment() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let add = |name: &str, password: &str| {
        let mut child = taylordash(tmp.path())
            .args(["user", "add", "--role", "admin", name])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{password}\n").as_bytes())
            .expect("write");
        child.wait_with_output().expect("run")
    };
    let weak = add("alice", "admin123");
    assert!(!weak.status.success());
    assert!(
        String::from_utf8_lossy(&weak.stderr).contains("password"),
        "{weak:?}"
    );
    let ok = add("alice", "correct-stapler-orbit-42");
    assert!(ok.status.success(), "{ok:?}");
    assert!(String::from_utf8_lossy(&ok.stdout).contains("created admin user alice"));
    let dup = add("ALICE", "correct-stapler-orbit-42");
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("Username already exists"));
    assert!(
        !tmp.path().join("api_key").exists(),
        "user add does not generate (and hide) the service key"
    );

    // The other account commands: list, passwd, disable, enable (results on stdout).
    let user = |args: &[&str], stdin: &str| {
        let mut child = taylordash(tmp.path())
            .arg("user")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("run");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, err) = user(
        &["add", "--role", "viewer", "bob"],
        "plinth-otter-harbour-9\n",
    );
    assert!(ok && out.contains("created viewer user bob"), "{err}");
    let (ok, list, _) = user(&["list"], "");
    assert!(ok);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    assert!(lines[0].starts_with("USERNAME"), "{list}");
    assert!(lines.iter().any(|l| l.split_whitespace().collect::<Vec<_>>()
        == ["alice", "admin", "yes", "never"]), "{list}");
    let (ok, _, err) = user(&["passwd", "alice"], "manchesterunited\n");
    assert!(!ok && err.contains("leaked in breaches"), "{err}");
    let (ok, _, err) = user(&["passwd", "nobody"], "plinth-otter-harbour-9\n");
    assert!(!ok && err.contains("no user is named nobody"), "{err}");
    let (ok, out, _) = user(&["passwd", "alice"], "second-stapler-orbit-43\n");
    assert!(ok && out.contains("changed the password of"), "{out}");
    let (ok, _, err) = user(&["disable", "alice"], "");
    assert!(
        !ok && err.contains("no active admin"),
        "the last active admin stays: {err}"
    );
    let (ok, out, _) = user(&["disable", "bob"], "");
    assert!(ok && out.contains("deactivated bob"), "{out}");
    let (_, list, _) = user(&["list"], "");
    assert!(
        list.lines()
            .any(|l| l.starts_with("bob") && l.contains(" no ")),
        "{list}"
    );

    let server = Server::start(taylordash(tmp.path()));
    assert!(setup_token(&server.early_stderr.join("\n")).is_none());
    let login = r#"{"username":"alice","password":"correct-stapler-orbit-42"}"#;
    let (status, _) = http(server.addr, "POST", "/api/v1/auth/login", None, Some(login));
    assert_eq!(status, 401, "the old password no longer works");
    let login = r#"{"username":"alice","password":"second-stapler-orbit-43"}"#;
    let (status, body) = http(server.addr, "POST", "/api/v1/auth/login", None, Some(login));
    assert_eq!(status, 200, "{body}");
    let bob = r#"{"username":"bob","password":"plinth-otter-harbour-9"}"#;
    let (status, _) = http(server.addr, "POST", "/api/v1/auth/login", None, Some(bob));
    assert_ne!(status, 200, "a deactivated user cannot sign in");
    let (ok, out, err) = user(&["enable", "bob"], "");
    assert!(ok && out.contains("reactivated bob"), "{out} {err}");
    let (status, body) = http(server.addr, "POST", "/api/v1/auth/login", None, Some(bob));
    assert_eq!(status, 200, "{body}");
    drop(server);

    // Unattended install: the account is created at start from a password file.
    let other = tempfile::tempdir().expect("tempdir");
    let secret = other.path().join("admin-password");
    std::fs::write(&secret, "battery-horse-orbit-77\n").expect("write");
    let mut cmd = taylordash(&other.path().join("data"));
    cmd.env("TAYLORDASH_ADMIN_USER", "root")
        .env("TAYLORDASH_ADMIN_PASSWORD_FILE", &secret);
    let server = Server::start(cmd);
    assert!(setup_token(&server.early_stderr.join("\n")).is_none());
    let login = r#"{"username":"root","password":"battery-horse-orbit-77"}"#;
    let (status, body) = http(server.addr, "POST", "/api/v1/auth/login", None, Some(login));
    assert_eq!(status, 200, "{body}");
}

#[test]
fn production_refuses_weak_service_keys() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for key in ["taylordash-dev-key", "0123456789abcdef-short"] {
        let out = run(taylordash(tmp.path())
            .env("TAYLORDASH_ENV", "production")
            .env("API_KEY", key)
            .args(["config", "check"]));
        assert_eq!(out.status.code(), Some(2), "{key}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("api_key"));
    }
    let out = run(taylordash(tmp.path())
        .env("TAYLORDASH_ENV", "production")
        .env("API_KEY", "0123456789abcdef0123456789abcdef")
        .args(["config", "check"]));
    assert!(out.status.success(), "{out:?}");
}

/// The running binary writes each request as a JSON line (v1 fields) and stores it in
/// `application_logs`, where `/api/v1/logs` finds it; secrets in requests never appear.
#[test]
fn requests_are_logged_to_stdout_and_the_database() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let key = "logging-test-key-0123456789abcdef";
    let mut cmd = taylordash(tmp.path());
    cmd.env("API_KEY", key);
    let server = Server::start(cmd);
    let (status, _) = http(
        server.addr,
        "GET",
        "/api/v1/projects?token=query-secret-1",
        Some(key),
        None,
    );
    assert_eq!(status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    let row = loop {
        let (status, body) = http(
            server.addr,
            "GET",
            "/api/v1/logs?category=API&search=GET%20/api/v1/projects%20200",
            Some(key),
            None,
        );
        assert_eq!(status, 200, "{body}");
        let page: serde_json::Value = serde_json::from_str(&body).expect("json");
        if page["total"] == 1 {
            break page["logs"][0].clone();
        }
        assert!(Instant::now() < deadline, "request never stored: {body}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(row["endpoint"], "/api/v1/projects");
    assert_eq!(row["status_code"], 200);
    assert_eq!(row["service"], "taylordash-backend");
    let log = server.output();
    let line = log
        .lines()
        .find(|l| l.contains("\"GET /api/v1/projects 200\""))
        .unwrap_or_else(|| panic!("no request line in {log}"));
    let json: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
    for field in [
        "timestamp",
        "level",
        "service",
        "category",
        "severity",
        "request_id",
    ] {
        assert!(json[field].is_string(), "{field} missing: {line}");
    }
    assert!(
        !log.contains(key) && !log.contains("query-secret-1"),
        "{log}"
    );
}

/// Polls `/api/v1/logs?<query>` until `total` is `want`.
fn wait_for_logs(server: &Server, key: &str, query: &str, want: u64) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = http(
            server.addr,
            "GET",
            &format!("/api/v1/logs?{query}"),
            Some(key),
            None,
        );
        assert_eq!(status, 200, "{body}");
        let page: serde_json::Value = serde_json::from_str(&body).expect("json");
        if page["total"] == want {
            return page;
        }
        assert!(Instant::now() < deadline, "{query}: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The stdout filter and the database threshold are independent: a quiet stdout still stores
/// INFO records, and a verbose stdout does not store below the database level.
#[test]
fn stdout_and_database_log_levels_are_independent() {
    let key = "levels-test-key-0123456789abcdef";
    // stdout: warnings only; database: INFO and up.
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut cmd = taylordash(tmp.path());
    cmd.env("API_KEY", key)
        .env("TAYLORDASH_LOG", "warn")
        .env("TAYLORDASH_LOG_DB_LEVEL", "info");
    let server = Server::start(cmd);
    let (status, _) = http(server.addr, "GET", "/api/v1/projects", Some(key), None);
    assert_eq!(status, 200);
    wait_for_logs(
        &server,
        key,
        "category=API&search=GET%20/api/v1/projects%20200",
        1,
    );
    let log = server.output();
    assert!(!log.contains("\"GET /api/v1/projects 200\""), "{log}");
    drop(server);

    // stdout: everything at INFO; database: warnings and up.
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut cmd = taylordash(tmp.path());
    cmd.env("API_KEY", key)
        .env("TAYLORDASH_LOG", "info")
        .env("TAYLORDASH_LOG_DB_LEVEL", "warn");
    let server = Server::start(cmd);
    let (status, _) = http(server.addr, "GET", "/api/v1/projects", Some(key), None);
    assert_eq!(status, 200);
    let (status, _) = http(
        server.addr,
        "GET",
        "/api/v1/projects/not-a-uuid",
        Some(key),
        None,
    );
    assert!((400..500).contains(&status), "{status}");
    // The warning (4xx) is stored; by then the earlier INFO record would have been too.
    wait_for_logs(&server, key, "level=WARNING&category=API", 1);
    wait_for_logs(
        &server,
        key,
        "category=API&search=GET%20/api/v1/projects%20200",
        0,
    );
    let log = server.output();
    assert!(log.contains("\"GET /api/v1/projects 200\""), "{log}");
}

/// With OTEL_EXPORTER_OTLP_ENDPOINT the binary exports OTLP/HTTP protobuf: the request span
/// continues the caller's trace, its statements are child spans, and an event's pipeline
/// stages belong to the trace named by its envelope.
#[test]
fn spans_are_exported_when_an_otlp_endpoint_is_set() {
    let receiver = testsupport::OtlpReceiver::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let key = "otel-test-key-0123456789abcdef";
    let mut cmd = taylordash(tmp.path());
    cmd.env("API_KEY", key)
        .env("TAYLORDASH_ENV", "staging")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint);
    let server = Server::start(cmd);
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    write!(
        stream,
        "GET /api/v1/projects HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\n\
         traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\
         Connection: close\r\n\r\n"
    )
    .expect("write");
    let (status, _) = read_response(&mut stream);
    assert_eq!(status, 200);
    let envelope = uuid::Uuid::new_v4();
    let (status, body) = http(
        server.addr,
        "POST",
        "/api/v1/events",
        Some(key),
        Some(&format!(
            r#"{{"topic":"tracker/events/otel/cli","kind":"test_event","trace_id":"{envelope}","payload":{{}}}}"#
        )),
    );
    assert_eq!(status, 202, "{body}");

    let deadline = Instant::now() + Duration::from_secs(15);
    let envelope_hex = envelope.simple().to_string();
    let (resource, spans) = loop {
        let (resource, spans) = receiver.spans();
        let done = spans
            .iter()
            .any(|s| s.name == "request" && s.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736")
            && spans
                .iter()
                .any(|s| s.name == "db.ingest" && s.trace_id == envelope_hex);
        if done {
            break (resource, spans);
        }
        assert!(
            Instant::now() < deadline,
            "spans missing: {:?}",
            spans
                .iter()
                .map(|s| (&s.name, &s.trace_id))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    for r in receiver.requests() {
        assert_eq!(r.request_line, "POST /v1/traces HTTP/1.1");
        assert_eq!(r.content_type, "application/x-protobuf");
    }
    for (k, v) in [
        ("service.name", "taylordash"),
        ("service.version", env!("CARGO_PKG_VERSION")),
        ("deployment.environment", "staging"),
    ] {
        assert!(
            resource.contains(&(k.to_owned(), v.to_owned())),
            "{k} missing: {resource:?}"
        );
    }
    let request = spans
        .iter()
        .find(|s| s.name == "request" && s.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736")
        .expect("request span");
    assert_eq!(request.parent.as_deref(), Some("00f067aa0ba902b7"));
    assert!(
        spans.iter().any(|s| s.name == "db.query"
            && s.parent.as_deref() == Some(request.span_id.as_str())
            && s.has("db.system", "sqlite")),
        "no statement span under the request"
    );
    let ingest = spans
        .iter()
        .find(|s| s.name == "event.ingest" && s.trace_id == envelope_hex)
        .expect("event.ingest span");
    assert_eq!(ingest.parent, None);
    let stored = spans
        .iter()
        .find(|s| s.name == "db.ingest" && s.trace_id == envelope_hex)
        .expect("db.ingest span");
    assert_eq!(stored.parent.as_deref(), Some(ingest.span_id.as_str()));
    // Statements are enabled for db.query spans, not for the log.
    let log = server.output();
    assert!(!log.contains("sqlx::query"), "{log}");
}

/// A stack service over HTTPS with a certificate from a home lab's private CA: refused while
/// only the system's CAs are trusted (a certificate error, said so), healthy once
/// `TAYLORDASH_STACK_CA_FILE` names that CA; a file that holds no certificate stops startup.
#[test]
fn https_stack_services_are_trusted_through_the_configured_ca() {
    let service = testsupport::OtlpReceiver::start_tls();
    let key = "stack-tls-key-0123456789abcdef";
    let grafana = |ca: Option<&std::path::Path>| -> serde_json::Value {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut cmd = taylordash(tmp.path());
        cmd.env("API_KEY", key)
            .env("TAYLORDASH_GRAFANA_URL", &service.endpoint);
        if let Some(ca) = ca {
            cmd.env("TAYLORDASH_STACK_CA_FILE", ca);
        }
        let server = Server::start(cmd);
        let (status, body) = http(server.addr, "GET", "/api/v1/health/stack", Some(key), None);
        assert_eq!(status, 200, "{body}");
        let stack: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        stack["services"]["grafana"].clone()
    };

    let untrusted = grafana(None);
    assert_eq!(untrusted["status"], "unhealthy", "{untrusted}");
    let message = untrusted["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&service.endpoint) && message.contains("certificate"),
        "{message}"
    );
    assert!(service.requests().is_empty(), "no request without trust");

    let trusted = grafana(Some(&service.ca_file()));
    assert_eq!(trusted["status"], "healthy", "{trusted}");
    let requests = service.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].request_line, "GET /api/health HTTP/1.1");

    let tmp = tempfile::tempdir().expect("tempdir");
    let not_pem = tmp.path().join("ca.pem");
    std::fs::write(&not_pem, "not a certificate").expect("write");
    let bad = run(taylordash(tmp.path())
        .args(["config", "check"])
        .env("TAYLORDASH_STACK_CA_FILE", &not_pem));
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("stack.ca_file") && err.contains("TAYLORDASH_STACK_CA_FILE"),
        "{err}"
    );
}

/// The standard OpenTelemetry variables: spans go over HTTPS to the traces endpoint as given
/// (trusting the collector's CA from OTEL_EXPORTER_OTLP_CERTIFICATE), with the headers (the
/// traces ones winning per name; never shown), and OTEL_SERVICE_NAME and
/// OTEL_RESOURCE_ATTRIBUTES on the resource. gRPC is refused with the port to use instead.
#[test]
fn the_standard_otel_variables_are_honoured() {
    let receiver = testsupport::OtlpReceiver::start_tls();
    let tmp = tempfile::tempdir().expect("tempdir");
    let key = "otel-env-key-0123456789abcdef";
    let token = "collector-token-7d1f";
    let ca = receiver.ca_file();
    let traces = format!("{}/custom/traces", receiver.endpoint);
    let headers = format!("authorization=Bearer%20{token},x-tenant=general");
    let env: [(&str, &std::ffi::OsStr); 8] = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9".as_ref()),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces.as_ref()),
        ("OTEL_EXPORTER_OTLP_HEADERS", headers.as_ref()),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-tenant=lab".as_ref()),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.as_ref()),
        ("OTEL_SERVICE_NAME", "lab-dash".as_ref()),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.name=ignored,host.name=nas,deployment.environment=lab".as_ref(),
        ),
        ("OTEL_TRACES_SAMPLER", "parentbased_always_on".as_ref()),
    ];

    let check = run(taylordash(tmp.path()).args(["config", "check"]).envs(env));
    assert!(check.status.success(), "{check:?}");
    let shown = String::from_utf8_lossy(&check.stdout);
    assert!(!shown.contains(token), "{shown}");
    assert!(
        shown.contains("otel.headers = \"********\"  # env OTEL_EXPORTER_OTLP_HEADERS"),
        "{shown}"
    );

    let mut cmd = taylordash(tmp.path());
    cmd.env("API_KEY", key).envs(env);
    let server = Server::start(cmd);
    let (status, _) = http(server.addr, "GET", "/api/v1/projects", Some(key), None);
    assert_eq!(status, 200);
    let deadline = Instant::now() + Duration::from_secs(15);
    let (resource, _) = loop {
        let (resource, spans) = receiver.spans();
        if spans.iter().any(|s| s.name == "request") {
            break (resource, spans);
        }
        assert!(
            Instant::now() < deadline,
            "no request span reached the collector"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    for r in receiver.requests() {
        assert_eq!(r.request_line, "POST /custom/traces HTTP/1.1");
        assert_eq!(
            r.header("authorization"),
            Some("Bearer collector-token-7d1f")
        );
        assert_eq!(r.header("x-tenant"), Some("lab"));
    }
    for (k, v) in [
        ("service.name", "lab-dash"),
        ("service.version", env!("CARGO_PKG_VERSION")),
        ("deployment.environment", "lab"),
        ("host.name", "nas"),
    ] {
        assert!(
            resource.contains(&(k.to_owned(), v.to_owned())),
            "{k} missing: {resource:?}"
        );
    }
    let log = server.output();
    assert!(!log.contains(token), "{log}");

    let grpc = run(taylordash(tmp.path())
        .args(["config", "check"])
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"));
    assert_eq!(grpc.status.code(), Some(2), "{grpc:?}");
    let err = String::from_utf8_lossy(&grpc.stderr);
    assert!(
        err.contains("otel.protocol") && err.contains("4318"),
        "{err}"
    );
}

/// `--version` names the version and the commit the binary was built from (`unknown` without
/// `TAYLORDASH_COMMIT` at build time), as `taylordash_build_info` does.
#[test]
fn version_names_the_commit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = run(taylordash(tmp.path()).arg("--version"));
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.trim(),
        format!(
            "taylordash {} (commit {})",
            env!("CARGO_PKG_VERSION"),
            api::BUILD_COMMIT
        )
    );
}

/// The data directory is created for its owner only, and so are the database files (they hold
/// password and token hashes); a database file left readable by others is narrowed.
#[cfg(unix)]
#[test]
fn the_data_directory_and_database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let data = tmp.path().join("new").join("data");
    let out = run(taylordash(&data).arg("migrate"));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(mode(&data), 0o700);
    let files: Vec<_> = std::fs::read_dir(&data)
        .expect("data dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().contains(".db"))
        .collect();
    assert!(
        files.len() >= 2,
        "the database and its observability file: {files:?}"
    );
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }

    // Made readable by others (an older version, a careless copy): narrowed at the next open.
    let db = data.join("taylordash.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = run(taylordash(&data).arg("migrate"));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(mode(&db), 0o600);
}

/// Completion scripts come without any configuration, for each shell, naming the commands.
#[test]
fn completion_scripts_are_printed_for_each_shell() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for (shell, marker) in [
        ("bash", "complete -F _taylordash"),
        ("zsh", "#compdef taylordash"),
        ("fish", "complete -c taylordash"),
    ] {
        let out = run(taylordash(tmp.path())
            .env("TAYLORDASH_BIND", "not an address")
            .args(["completions", shell]));
        assert!(out.status.success(), "{shell}: {out:?}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains(marker), "{shell}: {script}");
        for command in ["serve", "migrate", "backup", "passwd"] {
            assert!(script.contains(command), "{shell} names {command}");
        }
    }
    let out = run(taylordash(tmp.path()).args(["completions", "tcsh"]));
    assert!(!out.status.success(), "an unknown shell is refused");
}

/// Break-glass: password sign-in turned off and back on from the command line beside a running
/// server, which follows at its next sign-in (no restart); audited; refused (off) without single
/// sign-on and a break-glass account.
fn password_sign_in_switches_beside_a_running_server(database_url: Option<&str>) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let key = "break-glass-cli-key-0123456789";
    let cmd = |sso: bool| {
        let mut cmd = taylordash(tmp.path());
        cmd.env("API_KEY", key);
        if let Some(url) = database_url {
            cmd.env("DATABASE_URL", url);
        }
        if sso {
            cmd.env("TAYLORDASH_FORWARD_AUTH", "true")
                .env("TAYLORDASH_TRUSTED_PROXIES", "10.0.0.0/8")
                .env("TAYLORDASH_BREAK_GLASS_USERS", "root");
        }
        cmd
    };
    let cli = |sso: bool, args: &[&str], stdin: &str| {
        let mut child = cmd(sso)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("run");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, _, err) = cli(
        true,
        &["user", "add", "--role", "admin", "alice"],
        "correct-stapler-orbit-42\n",
    );
    assert!(ok, "{err}");
    let server = Server::start(cmd(true));
    let login = r#"{"username":"alice","password":"correct-stapler-orbit-42"}"#;
    let sign_in = || http(server.addr, "POST", "/api/v1/auth/login", None, Some(login));
    assert_eq!(sign_in().0, 200);

    let (ok, out, err) = cli(true, &["auth", "password-sign-in", "disable"], "");
    assert!(ok, "{err}");
    assert!(out.contains("password sign-in: off"), "{out}");
    assert!(out.contains("break-glass accounts: root"), "{out}");
    let (status, body) = sign_in();
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("PASSWORD_SIGN_IN_DISABLED"), "{body}");

    // The way back when single sign-on is broken: on again, at once.
    let (ok, out, err) = cli(true, &["auth", "password-sign-in", "enable"], "");
    assert!(ok, "{err}");
    assert!(out.contains("password sign-in: on"), "{out}");
    let (status, body) = sign_in();
    assert_eq!(status, 200, "{body}");
    let (ok, out, _) = cli(false, &["auth", "show"], "");
    assert!(ok && out.contains("password sign-in: on"), "{out}");

    // Both changes are in the audit trail, by the command line.
    let (status, body) = http(
        server.addr,
        "GET",
        "/api/v1/audit?action=sign_in_settings_changed",
        Some(key),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let audit: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let entries = audit["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 2, "{body}");
    assert!(
        entries.iter().all(|e| e["actor_name"] == "command line"),
        "{body}"
    );
    assert_eq!(
        entries[0]["details"]["password_sign_in"], true,
        "newest first"
    );
    assert_eq!(entries[1]["details"]["password_sign_in"], false);

    // Off needs single sign-on and a break-glass account, as in the UI; nothing changes.
    let (ok, _, err) = cli(false, &["auth", "password-sign-in", "disable"], "");
    assert!(!ok && err.contains("TAYLORDASH_BREAK_GLASS_USERS"), "{err}");
    assert_eq!(sign_in().0, 200);
}

#[test]
fn password_sign_in_switches_beside_a_running_server_sqlite() {
    password_sign_in_switches_beside_a_running_server(None);
}

#[test]
fn password_sign_in_switches_beside_a_running_server_postgres() {
    let Some(db) = ScratchPostgres::create("td_glass", "break-glass test") else {
        return;
    };
    let url = &db.url;
    password_sign_in_switches_beside_a_running_server(Some(url));
}
