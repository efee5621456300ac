//! `/api/v1/health/stack` with real HTTP services beside the app: healthy, down (connection
//! refused), hanging (accepts, never answers) and not configured.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use crate::support::*;

/// A stand-in for VictoriaMetrics, Prometheus, Grafana, the S3 server and an OTLP collector: each
/// answers its health path; everything else is 404.
async fn services_up() -> String {
    let app = axum::Router::new()
        .route("/health", axum::routing::get(|| async { "OK" }))
        .route(
            "/-/healthy",
            axum::routing::get(|| async { "Prometheus is Healthy." }),
        )
        .route(
            "/api/health",
            axum::routing::get(|| async { "{\"database\":\"ok\"}" }),
        )
        .route("/status", axum::routing::get(|| async { "" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// A port nothing listens on.
fn refused() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// Accepts connections and never answers.
async fn hanging() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{addr}")
}

fn app_with(db: TestDb, stack: api::StackEndpoints) -> TestApp {
    TestApp::observed(db, |app| app.stack(stack))
}

#[tokio::test]
async fn every_configured_service_is_checked_with_its_latency() {
    let up = services_up().await;
    let app = app_with(
        TestDb::sqlite().await,
        api::StackEndpoints {
            object_store: Some(up.clone()),
            victoria_metrics: Some(up.clone()),
            prometheus: Some(up.clone()),
            grafana: Some(up.clone()),
            otlp: Some(up.clone()),
        },
    );
    let r = app.get("/api/v1/health/stack").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["overall_status"], "healthy", "{}", r.body);
    for name in [
        "database",
        "mqtt",
        "api",
        "object_store",
        "victoria_metrics",
        "prometheus",
        "grafana",
        "otlp",
    ] {
        let s = &r.body["services"][name];
        assert_eq!(s["status"], "healthy", "{name}: {s}");
        assert!(s["latency_ms"].as_f64().is_some(), "{name}: {s}");
        assert!(
            s["message"].is_string() && s["type"].is_string(),
            "{name}: {s}"
        );
    }
    assert_eq!(r.body["services"]["database"]["required"], true);
    assert_eq!(r.body["services"]["grafana"]["required"], false);
    assert_eq!(
        r.body["services"]["victoria_metrics"]["type"],
        "victoriametrics"
    );
}

#[tokio::test]
async fn optional_services_down_degrade_without_503() {
    let up = services_up().await;
    let app = app_with(
        TestDb::sqlite().await,
        api::StackEndpoints {
            victoria_metrics: Some(up.clone()),
            grafana: Some(refused()),
            prometheus: Some(format!("{up}/wrong-prefix")),
            ..api::StackEndpoints::default()
        },
    );
    let r = app.get("/api/v1/health/stack").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["overall_status"], "degraded");
    let s = &r.body["services"];
    assert_eq!(s["victoria_metrics"]["status"], "healthy");
    assert_eq!(s["grafana"]["status"], "unhealthy");
    assert!(
        s["grafana"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot connect"),
        "{}",
        s["grafana"]
    );
    assert_eq!(s["prometheus"]["status"], "unhealthy");
    assert!(s["prometheus"]["message"].as_str().unwrap().contains("404"));
    for name in ["object_store", "otlp"] {
        assert_eq!(s[name]["status"], "not_configured", "{name}");
        assert!(s[name].get("latency_ms").is_none(), "{name}");
    }
    // The database is required: gone means 503, whatever the rest says.
    app.store.close().await;
    let r = app.get("/api/v1/health/stack").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body["overall_status"], "unhealthy");
}

#[tokio::test]
async fn a_hanging_service_is_bounded_and_readiness_stays_cheap() {
    let app = app_with(
        TestDb::sqlite().await,
        api::StackEndpoints {
            prometheus: Some(hanging().await),
            ..api::StackEndpoints::default()
        },
    );
    let started = Instant::now();
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status, StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "readiness checks only the database"
    );
    let started = Instant::now();
    let r = app.get("/api/v1/health/stack").await;
    let took = started.elapsed();
    assert_eq!(r.status, StatusCode::OK);
    assert!(took < Duration::from_secs(4), "took {took:?}");
    let p = &r.body["services"]["prometheus"];
    assert_eq!(p["status"], "unhealthy");
    assert!(p["message"].as_str().unwrap().contains("no answer"), "{p}");
    assert!(p["latency_ms"].as_f64().unwrap() >= 1900.0, "{p}");
}
