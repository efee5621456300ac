//! Time series: metric events published over the bus, read back through
//! `/api/v1/metrics/query_range` — from the local table (on both databases) and from a real
//! VictoriaMetrics.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use crate::support::*;

/// Publishes a metric event through the API (and so through the bus pipeline).
async fn metric(app: &TestApp, kind: &str, name: &str, value: f64, labels: Value, ts: i64) {
    let r = app
        .post(
            "/api/v1/events",
            json!({
                "topic": format!("tracker/metrics/{name}"),
                "kind": kind,
                "payload": {"metric_name": name, "value": value, "labels": labels,
                            "timestamp": ts},
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
}

async fn query(app: &TestApp, q: &str, start: i64, end: i64, step: &str) -> Reply {
    let path = format!(
        "/api/v1/metrics/query_range?query={}&start={start}&end={end}&step={step}",
        encode(q)
    );
    app.get(&path).await
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Retries `check` until it passes (the bus and the writer are asynchronous).
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> Result<(), String>) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match check().await {
            Ok(()) => return,
            Err(e) if Instant::now() > deadline => panic!("{what}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn values(series: &Value) -> Vec<(f64, f64)> {
    series["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_f64().unwrap(),
                p[1].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

async fn publish_sample_data(app: &TestApp, t0: i64) {
    for (i, v) in [1.0, 2.0, 3.0].iter().enumerate() {
        metric(
            app,
            "metric.gauge",
            "room_temp",
            *v + 20.0,
            json!({"room": "lab"}),
            t0 + 20 * i as i64,
        )
        .await;
        metric(
            app,
            "metric.gauge",
            "room_temp",
            *v,
            json!({"room": "attic"}),
            t0 + 20 * i as i64,
        )
        .await;
    }
    // A counter on two hosts: +60 per minute on a, +30 on b.
    for i in 0..=6 {
        let t = t0 + 10 * i;
        metric(
            app,
            "metric.counter",
            "jobs_total",
            (i * 10) as f64,
            json!({"host": "a", "pool": "x"}),
            t,
        )
        .await;
        metric(
            app,
            "metric.counter",
            "jobs_total",
            (i * 5) as f64,
            json!({"host": "b", "pool": "x"}),
            t,
        )
        .await;
    }
}

async fn local_queries_answer_the_supported_subset(app: TestApp) {
    let t0 = chrono::Utc::now().timestamp() - 600;
    publish_sample_data(&app, t0).await;
    eventually("samples stored", async || {
        let r = query(&app, "count(jobs_total)", t0 + 60, t0 + 60, "1").await;
        match r.body["data"]["result"][0]["values"][0][1].as_str() {
            Some("2") => Ok(()),
            _ => Err(r.body.to_string()),
        }
    })
    .await;

    let r = query(&app, r#"room_temp{room="lab"}"#, t0, t0 + 40, "20s").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "success");
    assert_eq!(r.body["data"]["resultType"], "matrix");
    let result = r.body["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1, "{}", r.body);
    assert_eq!(
        result[0]["metric"],
        json!({"__name__": "room_temp", "room": "lab"})
    );
    assert_eq!(
        values(&result[0]),
        [
            (t0 as f64, 21.0),
            ((t0 + 20) as f64, 22.0),
            ((t0 + 40) as f64, 23.0)
        ]
    );

    let r = query(
        &app,
        "sum by (pool) (rate(jobs_total[1m]))",
        t0 + 60,
        t0 + 60,
        "15s",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let result = &r.body["data"]["result"][0];
    assert_eq!(result["metric"], json!({"pool": "x"}));
    // (50 + 25) over the window (t0, t0 + 60].
    assert!(
        (values(result)[0].1 - 75.0 / 60.0).abs() < 1e-9,
        "{}",
        r.body
    );
    let r = query(&app, "max(room_temp) by (room)", t0 + 40, t0 + 40, "1m").await;
    assert_eq!(r.body["data"]["result"].as_array().unwrap().len(), 2);

    // The charted own metrics are kept locally too (pushed at start, then every interval).
    eventually("own metrics stored locally", async || {
        let now = chrono::Utc::now().timestamp();
        let r = query(&app, "count(taylor_ingest_total)", now, now, "1").await;
        match r.body["data"]["result"][0]["values"][0][1].as_str() {
            Some(n) if n.parse::<f64>().unwrap_or(0.0) > 1.0 => Ok(()),
            _ => Err(r.body.to_string()),
        }
    })
    .await;
    let now = chrono::Utc::now().timestamp();
    let r = query(&app, "count(http_requests_total)", now, now, "1").await;
    assert_eq!(r.body["data"]["result"], json!([]), "{}", r.body);

    // Outside the subset: a 400 that says what is supported.
    let r = query(&app, r#"room_temp{room=~"l.*"}"#, t0, t0 + 40, "20").await;
    r.assert_error(StatusCode::BAD_REQUEST, "QUERY_UNSUPPORTED");
    assert!(
        r.body["detail"].as_str().unwrap().contains("supports"),
        "{}",
        r.body
    );
    query(&app, "abs(rate(x[5m]))", t0, t0 + 40, "20")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "QUERY_UNSUPPORTED");

    // Bounds.
    for (start, end, step, field) in [
        (t0, t0 + 40, "0.5", "step"),
        (t0, t0 + 40, "soon", "step"),
        (t0, t0 + 32 * 86_400, "1h", "end"),
        (t0 + 40, t0, "20", "end"),
        (t0, t0 + 86_400, "1", "step"),
    ] {
        let r = query(&app, "room_temp", start, end, step).await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
        assert_eq!(r.body["field"], field, "{}", r.body);
    }
    app.get("/api/v1/metrics/query_range?query=x&start=yesterday&end=1&step=1")
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    app.get("/api/v1/metrics/query_range?query=x")
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
}

on_both!(local_queries_answer_the_supported_subset);

/// The server samples each open project's progress (average of its components) on the push
/// interval, into the local table without VictoriaMetrics.
#[tokio::test]
async fn project_progress_is_sampled_locally() {
    let app = app_with_timeseries(TestDb::sqlite().await, None);
    let p = app.post("/api/v1/projects", json!({"name": "Rover"})).await;
    let id = p.body["id"].as_str().unwrap().to_owned();
    for progress in [20, 60] {
        app.post(
            &format!("/api/v1/projects/{id}/components"),
            json!({"name": format!("part {progress}"), "progress": progress}),
        )
        .await;
    }
    eventually("progress sampled", async || {
        let now = chrono::Utc::now().timestamp();
        let r = query(
            &app,
            "max by (project) (taylordash_project_progress)",
            now,
            now,
            "1",
        )
        .await;
        let result = &r.body["data"]["result"][0];
        match (
            result["metric"]["project"].as_str(),
            result["values"][0][1].as_str(),
        ) {
            (Some("Rover"), Some("40")) => Ok(()),
            _ => Err(r.body.to_string()),
        }
    })
    .await;
}

/// Check results become samples in the local table: `taylordash_check_up{check_id}`, one per
/// check and sample step (an hour by default there; a second here), the share of its runs up.
#[tokio::test]
async fn check_results_become_samples() {
    let default = app_with_timeseries(TestDb::sqlite().await, None);
    assert_eq!(
        default.state.checks.settings().sample_step,
        Some(services::checks::LOCAL_SAMPLE_STEP),
        "locally one sample per check and hour"
    );
    let app = TestApp::observed(TestDb::sqlite().await, |app| {
        app.timeseries(observability::timeseries::TimeSeriesSettings {
            flush_interval: Duration::from_millis(50),
            ..Default::default()
        })
        .checks(services::checks::Settings {
            sample_step: Some(Duration::from_secs(1)),
            ..Default::default()
        })
    });
    let p = app.project("lab").await;
    let c = app.component(&p, "backup job").await;
    let created = app
        .post(
            &format!("/api/v1/components/{c}/checks"),
            json!({"kind": "push", "interval_secs": 3600}),
        )
        .await;
    let id = created.str("id");
    for _ in 0..3 {
        let pushed = app
            .call_as(
                &Cred::Anonymous,
                Method::POST,
                &created.str("push_path"),
                None,
            )
            .await;
        assert_eq!(pushed.status, StatusCode::OK, "{}", pushed.body);
    }
    eventually("the check's up sample is stored", async || {
        let now = chrono::Utc::now().timestamp();
        let r = query(&app, "taylordash_check_up", now - 60, now, "1").await;
        let found = r.body["data"]["result"].as_array().is_some_and(|series| {
            series.iter().any(|s| {
                s["metric"]["check_id"] == id.as_str()
                    && s["values"]
                        .as_array()
                        .is_some_and(|v| v.iter().any(|p| p[1] == "1"))
            })
        });
        if found {
            Ok(())
        } else {
            Err(r.body.to_string())
        }
    })
    .await;
}

fn app_with_victoria(db: TestDb, url: String) -> TestApp {
    app_with_timeseries(db, Some(url))
}

fn app_with_timeseries(db: TestDb, url: Option<String>) -> TestApp {
    TestApp::observed(db, |app| {
        app.timeseries(observability::timeseries::TimeSeriesSettings {
            victoria_metrics: url,
            flush_interval: Duration::from_millis(50),
            push_interval: Duration::from_millis(200),
            instance: "test-instance".into(),
            ..Default::default()
        })
    })
}

#[tokio::test]
async fn metric_events_and_own_metrics_reach_victoriametrics() {
    let Some(vm) = testsupport::VictoriaMetrics::start() else {
        return;
    };
    let app = app_with_victoria(TestDb::sqlite().await, vm.url());
    assert_eq!(app.state.timeseries.target(), "victoriametrics");
    let t0 = chrono::Utc::now().timestamp() - 600;
    publish_sample_data(&app, t0).await;
    eventually("samples in VictoriaMetrics", async || {
        vm.force_flush();
        let r = query(&app, r#"room_temp{room="lab"}"#, t0, t0 + 40, "20").await;
        if r.status != StatusCode::OK {
            return Err(r.body.to_string());
        }
        let result = &r.body["data"]["result"];
        match result.as_array().map(Vec::len) {
            Some(1) if values(&result[0]).last().map(|v| v.1) == Some(23.0) => Ok(()),
            _ => Err(r.body.to_string()),
        }
    })
    .await;
    // Full PromQL goes through: a regex matcher and a function the local subset lacks.
    eventually("counter rate", async || {
        vm.force_flush();
        let r = query(
            &app,
            r#"sum by (pool) (increase(jobs_total{host=~"a|b"}[1m]))"#,
            t0 + 60,
            t0 + 60,
            "15",
        )
        .await;
        let v = r.body["data"]["result"][0]["values"][0][1]
            .as_str()
            .map(str::to_owned);
        match v.and_then(|v| v.parse::<f64>().ok()) {
            Some(v) if v > 0.0 => Ok(()),
            _ => Err(r.body.to_string()),
        }
    })
    .await;
    // The app's own metrics are pushed on the interval.
    app.get("/api/v1/projects").await;
    eventually("own metrics pushed", async || {
        vm.force_flush();
        let now = chrono::Utc::now().timestamp();
        let r = query(
            &app,
            r#"http_requests_total{job="taylordash",instance="test-instance"}"#,
            now - 60,
            now,
            "5",
        )
        .await;
        match r.body["data"]["result"].as_array() {
            Some(series) if !series.is_empty() => Ok(()),
            _ => Err(r.body.to_string()),
        }
    })
    .await;
    let text = app.get("/metrics").await;
    let text = text.body.as_str().unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("taylordash_timeseries_samples_received_total 20")),
        "{text}"
    );
    // VictoriaMetrics' own errors are the client's 400; its absence a 503.
    let now = chrono::Utc::now().timestamp();
    query(&app, "sum(", now - 60, now, "5")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "QUERY_INVALID");
    drop(vm);
    query(&app, "up", now - 60, now, "5")
        .await
        .assert_error(StatusCode::SERVICE_UNAVAILABLE, "METRICS_UNAVAILABLE");
}
