//! Structured logs end to end: the `tracing` layer and per-request records, redaction, the
//! bounded writer under a blocked database (requests stay fast, overflow is counted), and the
//! `/api/v1/logs` routes — on both databases.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use observability::logs::{LogLayer, LogSettings, LogSink};
use tracing::subscriber::DefaultGuard;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::support::*;

/// Routes this test's `tracing` events into the app's log writer (the test runtime has one
/// thread, so the guard covers the handlers and the writer task too).
fn capture(app: &TestApp) -> DefaultGuard {
    let layer = LogLayer::with_sink(app.state.logs.sink.clone(), tracing::Level::DEBUG);
    tracing::subscriber::set_default(tracing_subscriber::registry().with(layer))
}

async fn flush(app: &TestApp) {
    assert!(
        app.state.logs.sink.flush(Duration::from_secs(10)).await,
        "log queue not written in time"
    );
}

async fn requests_are_logged_with_their_context(app: TestApp) {
    let _guard = capture(&app);
    let user_id = app.user("vic", "viewer").await;
    let token = app.login("vic").await;
    let r = app
        .call_as(
            &Cred::Bearer(token),
            Method::GET,
            "/api/v1/projects?limit=5",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let request_id = r.headers["x-request-id"].to_str().unwrap().to_owned();
    let missing = app.get("/api/v1/nothing-here").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    flush(&app).await;

    let logs = app
        .get(&format!("/api/v1/logs?request_id={request_id}&level=info"))
        .await;
    assert_eq!(logs.status, StatusCode::OK, "{}", logs.body);
    assert_eq!(logs.body["total"], 1, "{}", logs.body);
    let row = &logs.body["logs"][0];
    assert_eq!(row["level"], "INFO");
    assert_eq!(row["category"], "API");
    assert_eq!(row["service"], "taylordash-backend");
    assert_eq!(row["endpoint"], "/api/v1/projects");
    assert_eq!(row["method"], "GET");
    assert_eq!(row["status_code"], 200);
    assert!(row["duration_ms"].as_i64().is_some(), "{row}");
    assert_eq!(row["user_id"], user_id.as_str());
    assert_eq!(row["request_id"], request_id.as_str());
    assert_eq!(row["environment"], "development");
    assert_eq!(row["message"], "GET /api/v1/projects 200");
    assert!(row["context"].is_object());
    // A 404 is a warning.
    let warn = app.get("/api/v1/logs?level=warn&search=nothing-here").await;
    assert_eq!(warn.body["total"], 1, "{}", warn.body);
    assert_eq!(warn.body["logs"][0]["status_code"], 404);
    // The same record by id.
    let id = row["id"].as_i64().unwrap();
    let one = app.get(&format!("/api/v1/logs/{id}")).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body["request_id"], request_id.as_str());
    assert!(one.body["host_name"].is_string() && one.body["version"].is_string());
}

async fn secrets_never_reach_the_table(app: TestApp) {
    let _guard = capture(&app);
    tracing::warn!(
        password = "hunter2-pw",
        api_key = "k-0123456789",
        authorization = "Bearer bearer-secret-1",
        user = "ada",
        details = "retry with token=tok-secret-2",
        "login failed for ada: cookie: taylordash_session=sess-secret-3"
    );
    let r = app
        .post(
            "/api/v1/logs/frontend",
            json!({
                "message": "fetch failed: Authorization: Bearer bearer-secret-4",
                "url": "https://dash.example/setup?token=tok-secret-5",
                "context": {"password": "pw-secret-6", "nested": {"x-api-key": "k-secret-7"},
                            "note": "api_key=k-secret-8"},
                "stack_trace": "Error at login(password=pw-secret-9)",
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    flush(&app).await;
    let stored = app
        .raw_text(
            "SELECT message || ' ' || coalesce(details, '') || ' ' || coalesce(endpoint, '') \
             || ' ' || coalesce(stack_trace, '') || ' ' || CAST(context AS TEXT) \
             FROM application_logs",
        )
        .await
        .join("\n");
    for secret in [
        "hunter2-pw",
        "k-0123456789",
        "bearer-secret-1",
        "tok-secret-2",
        "sess-secret-3",
        "bearer-secret-4",
        "tok-secret-5",
        "pw-secret-6",
        "k-secret-7",
        "k-secret-8",
        "pw-secret-9",
    ] {
        assert!(!stored.contains(secret), "{secret} stored: {stored}");
    }
    assert!(stored.contains("[REDACTED]"), "{stored}");
    assert!(stored.contains("login failed for ada"), "{stored}");
    assert!(stored.contains("\"user\""), "other fields kept: {stored}");
}

/// Holds a lock that makes every write to `application_logs` wait, until dropped.
enum TableLock {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

async fn lock_log_table(app: &TestApp) -> TableLock {
    use sqlx::Connection as _;
    match &app.db.config {
        storage::StoreConfig::Sqlite { path, .. } => {
            // The log table is in the observability file (see storage's sqlite.rs).
            let file = storage::observability_path(path);
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
                .await
                .expect("open");
            sqlx::query("BEGIN EXCLUSIVE")
                .execute(&mut c)
                .await
                .expect("lock");
            TableLock::Sqlite(c)
        }
        storage::StoreConfig::Postgres { url, .. } => {
            let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
            sqlx::query("BEGIN").execute(&mut c).await.expect("begin");
            sqlx::query("LOCK TABLE application_logs IN ACCESS EXCLUSIVE MODE")
                .execute(&mut c)
                .await
                .expect("lock");
            TableLock::Postgres(c)
        }
    }
}

async fn unlock(lock: TableLock) {
    use sqlx::Connection as _;
    match lock {
        TableLock::Sqlite(mut c) => {
            sqlx::query("ROLLBACK")
                .execute(&mut c)
                .await
                .expect("unlock");
            c.close().await.expect("close");
        }
        TableLock::Postgres(mut c) => {
            sqlx::query("ROLLBACK")
                .execute(&mut c)
                .await
                .expect("unlock");
            c.close().await.expect("close");
        }
    }
}

async fn timed_requests(app: &TestApp, n: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let r = app.get("/api/v1/projects").await;
        times.push(start.elapsed());
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    times.sort();
    times
}

/// The database stops accepting log writes (the table is locked): requests keep their speed,
/// the bounded queue drops its oldest records and counts them, and everything still queued is
/// written once the database is back.
async fn a_blocked_database_does_not_slow_requests(db: TestDb) {
    let capacity = 50;
    let sink = LogSink::new(LogSettings {
        capacity,
        batch_size: 20,
        flush_interval: Duration::from_millis(20),
        ..LogSettings::default()
    });
    let app = TestApp::observed(db, |app| app.log_sink(sink.clone()));
    let _guard = capture(&app);
    app.project("p").await;
    timed_requests(&app, 20).await;
    let before = timed_requests(&app, 100).await;
    flush(&app).await;

    let lock = lock_log_table(&app).await;
    let during = timed_requests(&app, 300).await;
    // The writer really was stuck: records are waiting and some were dropped.
    assert!(sink.queued() > 0, "nothing queued: the lock did not hold");
    let dropped = sink.dropped();
    assert!(dropped >= 200, "dropped only {dropped}");
    let median = |t: &[Duration]| t[t.len() / 2];
    let p99 = |t: &[Duration]| t[t.len() * 99 / 100];
    eprintln!(
        "request latency median {:?} -> {:?}, p99 {:?} -> {:?}, dropped {dropped}",
        median(&before),
        median(&during),
        p99(&before),
        p99(&during)
    );
    assert!(
        median(&during) <= median(&before) * 3 + Duration::from_millis(5),
        "median {:?} with the log table locked vs {:?} before",
        median(&during),
        median(&before)
    );
    assert!(
        p99(&during) <= Duration::from_millis(250),
        "p99 {:?} with the log table locked",
        p99(&during)
    );
    // The drops are in the metrics.
    let text = app.get("/metrics").await;
    let line = text
        .body
        .as_str()
        .unwrap()
        .lines()
        .find(|l| l.starts_with("taylordash_log_records_dropped_total "))
        .expect("dropped metric")
        .to_owned();
    let exported: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(exported >= dropped, "{line}");

    unlock(lock).await;
    flush(&app).await;
    let page = app
        .store
        .list_logs(&Default::default(), 1, 0)
        .await
        .unwrap();
    assert!(page.total >= 100, "only {} records written", page.total);
}

async fn blocked_database_sqlite() {
    a_blocked_database_does_not_slow_requests(TestDb::sqlite().await).await;
}

async fn blocked_database_postgres() {
    if let Some(db) = TestDb::postgres().await {
        a_blocked_database_does_not_slow_requests(db).await;
    }
}

#[tokio::test]
async fn a_blocked_sqlite_database_does_not_slow_requests() {
    blocked_database_sqlite().await;
}

#[tokio::test]
async fn a_blocked_postgres_database_does_not_slow_requests() {
    blocked_database_postgres().await;
}

async fn list_filters_and_validation(app: TestApp) {
    let r = app.call(Method::POST, "/api/v1/logs/test", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["logs_created"], 3);
    assert_eq!(r.body["message"], "Test log entries created successfully");

    let all = app
        .get("/api/v1/logs?service=taylordash-backend&category=api")
        .await;
    assert_eq!(all.body["total"], 3, "{}", all.body);
    assert_eq!(all.body["limit"], 100);
    assert_eq!(all.body["offset"], 0);
    assert_eq!(all.body["has_more"], false);
    let page = app.get("/api/v1/logs?limit=2&offset=0&level=ALL").await;
    assert_eq!(page.body["logs"].as_array().unwrap().len(), 2);
    assert_eq!(page.body["has_more"], true);
    let error = app.get("/api/v1/logs?level=error").await;
    assert_eq!(error.body["total"], 1);
    // Several levels, comma-separated: the warnings and errors (the test records one of each).
    let bad = app.get("/api/v1/logs?level=ERROR,warning").await;
    assert_eq!(bad.status, StatusCode::OK, "{}", bad.body);
    assert_eq!(bad.body["total"], 2, "{}", bad.body);
    let levels: Vec<&str> = bad.body["logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["level"].as_str())
        .collect();
    assert!(
        levels.contains(&"ERROR") && levels.contains(&"WARN"),
        "{levels:?}"
    );
    app.get("/api/v1/logs?level=ERROR,loud")
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    let e = &error.body["logs"][0];
    assert_eq!(e["error_code"], "TEST_ERROR");
    assert_eq!(e["severity"], "HIGH");
    assert_eq!(e["details"], "This is a test error for demonstration");
    let found = app.get("/api/v1/logs?search=FOR%20DEMONSTRATION").await;
    assert_eq!(found.body["total"], 1);
    let future = app.get("/api/v1/logs?since=2999-01-01T00:00:00Z").await;
    assert_eq!(future.body["total"], 0);
    let past = app.get("/api/v1/logs?until=2000-01-01T00:00:00Z").await;
    assert_eq!(past.body["total"], 0);

    app.get("/api/v1/logs?level=loud")
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    app.get("/api/v1/logs?limit=0")
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    // Above the largest page, `limit` is capped (as on every list), not refused.
    let capped = app.get("/api/v1/logs?limit=1001").await;
    assert_eq!(capped.status, StatusCode::OK, "{}", capped.body);
    assert_eq!(capped.body["limit"], 1000);
    app.get("/api/v1/logs?offset=-1")
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    app.get("/api/v1/logs?since=yesterday")
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    app.get("/api/v1/logs?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z")
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    app.get("/api/v1/logs/999999")
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.get("/api/v1/logs/abc")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "INVALID_ID");
}

async fn stats_count_and_rate_errors(app: TestApp) {
    for _ in 0..2 {
        app.call(Method::POST, "/api/v1/logs/test", None).await;
    }
    let r = app.get("/api/v1/logs/stats").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["timeframe_hours"], 24);
    let stats = r.body["stats"].as_array().unwrap();
    assert_eq!(stats.len(), 3, "{}", r.body);
    for group in stats {
        assert_eq!(group["count"], 2);
        assert_eq!(group["category"], "API");
        assert!(group["avg_duration"].is_null());
    }
    let rates = r.body["error_rates"].as_array().unwrap();
    let total: i64 = rates
        .iter()
        .map(|h| h["total_count"].as_i64().unwrap())
        .sum();
    let errors: i64 = rates
        .iter()
        .map(|h| h["error_count"].as_i64().unwrap())
        .sum();
    assert_eq!((errors, total), (2, 6));
    if rates.len() == 1 {
        assert_eq!(rates[0]["error_rate"], 33.33);
    }
    assert!(r.body["generated_at"].is_string());
    app.get("/api/v1/logs/stats?hours=0")
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    app.get("/api/v1/logs/stats?hours=100000")
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    let week = app.get("/api/v1/logs/stats?hours=168").await;
    assert_eq!(week.body["timeframe_hours"], 168);
}

async fn frontend_reports_are_validated_limited_and_stored(app: TestApp) {
    app.user("vic", "viewer").await;
    let viewer = Cred::Bearer(app.login("vic").await);
    let post = |body: Value| {
        let viewer = viewer.clone();
        let app = &app;
        async move {
            app.call_as(&viewer, Method::POST, "/api/v1/logs/frontend", Some(body))
                .await
        }
    };
    let r = post(
        json!({"message": "TypeError: x is undefined", "url": "https://d/projects?id=1",
                        "level": "warn", "category": "ui_render", "user_agent": "Firefox"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["accepted"], 1);
    let batch: Vec<Value> = (0..3)
        .map(|i| json!({"message": format!("error {i}"), "severity": "critical"}))
        .collect();
    let r = post(json!({ "logs": batch })).await;
    assert_eq!(r.body["accepted"], 3, "{}", r.body);
    app.state.logs.sink.flush(Duration::from_secs(10)).await;
    let stored = app
        .get("/api/v1/logs?service=taylordash-frontend&limit=10")
        .await;
    assert_eq!(stored.body["total"], 4, "{}", stored.body);
    let warn = app
        .get("/api/v1/logs?service=taylordash-frontend&category=UI_RENDER")
        .await;
    let w = &warn.body["logs"][0];
    assert_eq!(w["level"], "WARN");
    assert_eq!(w["endpoint"], "https://d/projects");
    assert_eq!(w["context"]["user_agent"], "Firefox");
    assert!(w["user_id"].is_string());
    let critical = app
        .get("/api/v1/logs?service=taylordash-frontend&level=ERROR")
        .await;
    assert_eq!(critical.body["logs"][0]["severity"], "CRITICAL");

    // Validation.
    for (body, field) in [
        (json!({"message": ""}), "logs[0].message"),
        (json!({"message": "x", "level": "fatal"}), "logs[0].level"),
        (
            json!({"message": "x", "severity": "meh"}),
            "logs[0].severity",
        ),
        (
            json!({"message": "x", "category": "no spaces"}),
            "logs[0].category",
        ),
        (json!({"message": "x".repeat(2001)}), "logs[0].message"),
        (json!({"logs": []}), "logs"),
        (
            json!({"logs": (0..51).map(|_| json!({"message": "m"})).collect::<Vec<_>>()}),
            "logs",
        ),
        (
            json!({"message": "x", "context": {"big": "y".repeat(9000)}}),
            "logs[0].context",
        ),
    ] {
        let r = post(body).await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
        assert_eq!(r.body["field"], field, "{}", r.body);
    }
    let r = post(json!({"message": "x", "unknown": 1})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    // Size.
    let huge = json!({"message": "m", "details": "d".repeat(70 * 1024)});
    post(huge)
        .await
        .assert_error(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");
    // Rate: 60 a minute per caller, so the 57th of this minute's records is refused.
    let fifty: Vec<Value> = (0..50)
        .map(|i| json!({"message": format!("m{i}")}))
        .collect();
    let r = post(json!({ "logs": fifty.clone() })).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let r = post(json!({ "logs": fifty[..10].to_vec() })).await;
    r.assert_error(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");
    assert!(r.headers.contains_key("retry-after"));
    // Another caller has its own budget.
    let r = app
        .post(
            "/api/v1/logs/frontend",
            json!({"message": "from the service key"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
}

/// The retention job keeps each level for its own number of days.
async fn retention_is_per_level(app: TestApp) {
    let day = chrono::Duration::days(1);
    let now = chrono::Utc::now();
    let at = |level: &str, age_days: i64| domain::NewLogRecord {
        timestamp: domain::truncate_to_micros(now - day * age_days as i32),
        level: level.into(),
        severity: domain::default_severity(level).into(),
        service: "s".into(),
        category: "SYSTEM".into(),
        message: format!("{level} {age_days}"),
        ..domain::NewLogRecord::default()
    };
    app.store
        .insert_logs(&[
            at("ERROR", 89),
            at("ERROR", 91),
            at("WARN", 59),
            at("WARN", 61),
            at("INFO", 29),
            at("INFO", 31),
            at("DEBUG", 6),
            at("DEBUG", 8),
        ])
        .await
        .unwrap();
    let settings = LogSettings::default();
    let pruned = observability::logs::apply_retention(&*app.store, &settings.retention, now)
        .await
        .unwrap();
    assert_eq!(pruned, 4);
    let left = app.get("/api/v1/logs?service=s").await;
    let mut messages: Vec<&str> = left.body["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    messages.sort_unstable();
    assert_eq!(messages, ["DEBUG 6", "ERROR 89", "INFO 29", "WARN 59"]);
}

/// The log viewer polls `GET /api/v1/logs`: its reads are DEBUG, not INFO, so tailing does not
/// fill the log with itself; a publish's log line carries the event's trace id.
async fn viewer_reads_are_quiet_and_publishes_carry_the_trace(app: TestApp) {
    let _guard = capture(&app);
    let r = app.get("/api/v1/logs?search=nothing").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let trace = uuid::Uuid::new_v4().to_string();
    let published = app
        .call(
            Method::POST,
            "/api/v1/events",
            Some(json!({
                "topic": "tracker/events/test/ping",
                "kind": "test.ping",
                "trace_id": trace,
                "payload": {},
            })),
        )
        .await;
    assert_eq!(published.status, StatusCode::ACCEPTED, "{}", published.body);
    flush(&app).await;

    let info = app
        .get("/api/v1/logs?level=info&search=GET%20%2Fapi%2Fv1%2Flogs")
        .await;
    assert_eq!(info.body["total"], 0, "{}", info.body);
    let debug = app
        .get("/api/v1/logs?level=debug&search=GET%20%2Fapi%2Fv1%2Flogs")
        .await;
    assert!(debug.body["total"].as_i64().unwrap() >= 1, "{}", debug.body);

    let traced = app
        .get(&format!("/api/v1/logs?trace_id={trace}&level=info"))
        .await;
    assert_eq!(traced.body["total"], 1, "{}", traced.body);
    assert_eq!(traced.body["logs"][0]["message"], "POST /api/v1/events 202");
}

/// The UI's files, health checks, metric scrapes and the screens' polling are routine: DEBUG
/// when they succeed, so the INFO log holds what people and devices did. A failure keeps its
/// level whatever the path.
async fn routine_requests_are_debug_and_failures_keep_their_level(app: TestApp) {
    let _guard = capture(&app);
    for path in [
        "/",
        "/favicon.svg",
        "/assets/missing-but-routine.js",
        "/health/ready",
        "/metrics",
        "/api/v1/health/stack",
        "/api/v1/dlq",
        "/api/v1/projects",
    ] {
        app.get(path).await;
    }
    flush(&app).await;
    let messages = |level: &'static str| {
        let app = &app;
        async move {
            let r = app
                .get(&format!("/api/v1/logs?level={level}&limit=1000"))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            r.body["logs"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|l| l["message"].as_str().map(String::from))
                .collect::<Vec<_>>()
        }
    };
    let info = messages("INFO").await;
    assert_eq!(
        info,
        ["GET /api/v1/projects 200"],
        "only the real read is INFO"
    );
    let debug = messages("DEBUG").await;
    for routine in [
        "GET / 200",
        "GET /health/ready 200",
        "GET /metrics 200",
        "GET /api/v1/health/stack 200",
        "GET /api/v1/dlq 200",
    ] {
        assert!(debug.iter().any(|m| m == routine), "{routine} in {debug:?}");
    }
    // A missing asset is a 404: a warning, routine path or not.
    let warn = messages("WARN").await;
    assert!(
        warn.iter()
            .any(|m| m == "GET /assets/missing-but-routine.js 404"),
        "{warn:?}"
    );
}

on_both!(
    routine_requests_are_debug_and_failures_keep_their_level,
    viewer_reads_are_quiet_and_publishes_carry_the_trace,
    retention_is_per_level,
    requests_are_logged_with_their_context,
    secrets_never_reach_the_table,
    list_filters_and_validation,
    stats_count_and_rate_errors,
    frontend_reports_are_validated_limited_and_stored,
);
