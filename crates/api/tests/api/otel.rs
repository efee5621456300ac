//! OpenTelemetry: spans reach an OTLP/HTTP receiver (testsupport's, decoding the protobuf with
//! the OpenTelemetry project's message types): the HTTP request span honours `traceparent`,
//! children link to parents, an envelope trace id becomes the trace, and log records carry the
//! trace id.
#![allow(clippy::unwrap_used)]

use observability::logs::LogLayer;
use observability::otel::{OtelLayer, OtelSettings, Sampler};
use testsupport::OtlpReceiver;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::support::*;

/// Export to `receiver` as version 9.9.9 in environment `test`.
fn settings(receiver: &OtlpReceiver, db_system: &str) -> OtelSettings {
    OtelSettings {
        traces_url: format!("{}/v1/traces", receiver.endpoint),
        headers: Vec::new(),
        resource: [
            ("service.name", "taylordash"),
            ("service.version", "9.9.9"),
            ("deployment.environment", "test"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
        scope_version: "9.9.9".into(),
        sampler: Sampler::default(),
        ca_pem: None,
        timeout: std::time::Duration::from_secs(10),
        db_system: db_system.into(),
    }
}

#[tokio::test]
async fn spans_reach_the_collector_with_their_links() {
    let receiver = OtlpReceiver::start();
    let app = TestApp::new().await;
    let (otel, exporter) = OtelLayer::new(settings(&receiver, "sqlite"));
    let logs = LogLayer::with_sink(app.state.logs.sink.clone(), tracing::Level::INFO);
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(otel).with(logs));

    // An HTTP request continuing a caller's trace.
    let req = TestApp::builder(&Cred::service(), Method::GET, "/api/v1/projects")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .body(Body::empty())
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::OK);
    // An ingest stage keyed by an event envelope's trace id, with a child stage.
    let envelope = uuid::Uuid::parse_str("0c7e6a42-7d3e-4f55-9a1b-2b9d3c4e5f60").unwrap();
    {
        let ingest =
            tracing::info_span!("ingest", trace_id = %envelope, topic = "tracker/events/x/y");
        let _in = ingest.enter();
        let store = tracing::info_span!("db.ingest", batch = 3_i64);
        let _s = store.enter();
        tracing::info!("stored the batch");
    }
    // An event through the bus pipeline: its stages are spans of the envelope's trace.
    bus::trace_events(true);
    let event_trace = uuid::Uuid::new_v4();
    let r = app
        .post(
            "/api/v1/events",
            json!({"topic": "tracker/events/otel/ping", "kind": "test_event",
                   "trace_id": event_trace, "payload": {"n": 1}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    for _ in 0..200 {
        let stored = app
            .get(&format!("/api/v1/events?trace_id={event_trace}"))
            .await;
        if stored.body["count"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    bus::trace_events(false);
    // The request span closes when its response body is dropped, possibly a moment later.
    let mut sent = 0;
    for _ in 0..100 {
        sent += exporter.export_now().await.unwrap();
        if sent >= 6 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (resource, spans) = receiver.spans();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert!(sent >= 6, "sent {sent}: {names:?}");
    for r in receiver.requests() {
        assert_eq!(r.request_line, "POST /v1/traces HTTP/1.1");
        assert_eq!(r.content_type, "application/x-protobuf");
    }
    for (k, v) in [
        ("service.name", "taylordash"),
        ("service.version", "9.9.9"),
        ("deployment.environment", "test"),
    ] {
        assert!(
            resource.contains(&(k.to_owned(), v.to_owned())),
            "{k} missing: {resource:?}"
        );
    }
    let request = spans
        .iter()
        .find(|s| s.name == "request" && s.has("path", "/api/v1/projects"))
        .expect("request span");
    assert_eq!(request.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(request.parent.as_deref(), Some("00f067aa0ba902b7"));
    assert_eq!(request.kind, 2, "SPAN_KIND_SERVER");
    assert!(request.start > 0 && request.end >= request.start);
    assert!(request.has("method", "GET"), "{request:?}");
    assert_eq!(request.status_code, 0, "a 200 is not an error");
    assert!(!request.attributes.iter().any(|(k, _)| k == "traceparent"));

    let ingest = spans
        .iter()
        .find(|s| s.name == "ingest")
        .expect("ingest span");
    assert_eq!(ingest.trace_id, envelope.simple().to_string());
    assert_eq!(ingest.parent, None);
    let db = spans
        .iter()
        .find(|s| s.name == "db.ingest")
        .expect("child span");
    assert_eq!(db.trace_id, ingest.trace_id);
    assert_eq!(db.parent.as_deref(), Some(ingest.span_id.as_str()));
    assert!(db.has("batch", "3"), "{db:?}");

    let event = spans
        .iter()
        .find(|s| s.name == "event.ingest" && s.trace_id == event_trace.simple().to_string())
        .expect("event.ingest span");
    assert_eq!(event.parent, None);
    assert!(event.has("topic", "tracker/events/otel/ping"), "{event:?}");
    for stage in ["db.ingest", "ingest.fanout"] {
        let s = spans
            .iter()
            .find(|s| s.name == stage && s.trace_id == event.trace_id)
            .unwrap_or_else(|| panic!("{stage} span missing"));
        assert_eq!(s.parent.as_deref(), Some(event.span_id.as_str()), "{stage}");
        assert!(
            s.start >= event.start && s.end <= event.end,
            "{stage} inside the event span"
        );
    }

    // The log records carry their trace.
    assert!(
        app.state
            .logs
            .sink
            .flush(std::time::Duration::from_secs(10))
            .await
    );
    let logs = app
        .get(&format!("/api/v1/logs?trace_id={}", envelope.simple()))
        .await;
    assert_eq!(logs.body["total"], 1, "{}", logs.body);
    assert_eq!(logs.body["logs"][0]["message"], "stored the batch");
    let traced = app
        .get("/api/v1/logs?trace_id=4bf92f3577b34da6a3ce929d0e0e4736&category=API")
        .await;
    assert_eq!(traced.body["total"], 1, "{}", traced.body);
}

/// Each SQL statement a request runs is a `db.query` span under the request span. Only
/// PostgreSQL here: SQLite runs statements on its connection's worker thread (sqlx enters the
/// caller's span there), which this test's thread-local subscriber does not reach — the binary's
/// global one does, shown by `taylordash`'s `spans_are_exported_when_an_otlp_endpoint_is_set`.
#[tokio::test]
async fn postgres_statements_are_child_spans_of_the_request() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let db_system = "postgresql";
    let receiver = OtlpReceiver::start();
    let (otel, exporter) = OtelLayer::new(settings(&receiver, db_system));
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::registry()
            .with(otel)
            .with(tracing_subscriber::filter::Targets::new().with_default(tracing::Level::DEBUG)),
    );
    let r = app.get("/api/v1/projects").await;
    assert_eq!(r.status, StatusCode::OK);
    let mut spans = Vec::new();
    for _ in 0..100 {
        exporter.export_now().await.unwrap();
        spans = receiver.spans().1;
        if spans.iter().any(|s| s.name == "request") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let request = spans
        .iter()
        .find(|s| s.name == "request")
        .expect("request span");
    let query = spans
        .iter()
        .find(|s| s.name == "db.query" && s.parent.as_deref() == Some(request.span_id.as_str()))
        .unwrap_or_else(|| panic!("no db.query under the request: {spans:#?}"));
    assert_eq!(query.trace_id, request.trace_id);
    assert_eq!(query.kind, 3, "SPAN_KIND_CLIENT");
    assert!(
        query
            .attributes
            .iter()
            .any(|(k, v)| k == "db.statement" && v.starts_with("SELECT")),
        "{query:?}"
    );
    assert!(query.has("db.system", db_system), "{query:?}");
    assert!(query.start >= request.start && query.end <= request.end);
}

/// Spans of `f`'s work as exported with `settings`.
async fn exported(settings: OtelSettings, f: impl FnOnce()) -> Result<usize, String> {
    let (otel, exporter) = OtelLayer::new(settings);
    {
        let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(otel));
        f();
    }
    exporter.export_now().await
}

/// Two traces: one continuing a caller's sampled trace, one the caller did not sample; and an
/// envelope trace started here.
fn three_traces() {
    for flags in ["01", "00"] {
        let span = tracing::info_span!(
            "request",
            traceparent =
                format!("00-4bf92f3577b34da6a3ce929d0e0e47{flags}-00f067aa0ba902b7-{flags}")
        );
        let _in = span.enter();
        let _child = tracing::info_span!("child").entered();
    }
    let root = tracing::info_span!("ingest", trace_id = "0c7e6a42-7d3e-4f55-9a1b-2b9d3c4e5f60");
    let _in = root.enter();
    let _child = tracing::info_span!("db.ingest").entered();
}

/// OTEL_TRACES_SAMPLER: the default follows the caller's sampled flag, always_off sends nothing,
/// a ratio decides by trace id (the same trace always gets the same answer), children follow
/// their root.
#[tokio::test]
async fn the_sampler_decides_per_trace() {
    let receiver = OtlpReceiver::start();
    let with = |name: &str, arg: Option<&str>| OtelSettings {
        sampler: Sampler::parse(name, arg).unwrap(),
        ..settings(&receiver, "sqlite")
    };
    let traces = |from: usize| {
        let spans = receiver.spans().1;
        let mut t: Vec<(String, String)> = spans[from..]
            .iter()
            .map(|s| (s.name.clone(), s.trace_id.clone()))
            .collect();
        t.sort();
        t
    };
    let sent = exported(with("parentbased_always_on", None), three_traces).await;
    assert_eq!(sent, Ok(4));
    let sampled = "4bf92f3577b34da6a3ce929d0e0e4701".to_owned();
    let envelope = "0c7e6a427d3e4f559a1b2b9d3c4e5f60".to_owned();
    assert_eq!(
        traces(0),
        vec![
            ("child".to_owned(), sampled.clone()),
            ("db.ingest".to_owned(), envelope.clone()),
            ("ingest".to_owned(), envelope.clone()),
            ("request".to_owned(), sampled.clone()),
        ]
    );
    let before = receiver.spans().1.len();
    assert_eq!(
        exported(with("always_off", None), three_traces).await,
        Ok(0)
    );
    assert_eq!(exported(with("always_on", None), three_traces).await, Ok(6));
    assert_eq!(traces(before).len(), 6, "the unsampled caller's trace too");
    // The envelope's trace id (its last 8 bytes 9a1b...) sits at 0.60 of the ratio range.
    let before = receiver.spans().1.len();
    let sent = exported(with("parentbased_traceidratio", Some("0.7")), three_traces).await;
    assert_eq!(sent, Ok(4));
    let sent = exported(with("parentbased_traceidratio", Some("0.5")), three_traces).await;
    assert_eq!(sent, Ok(2), "only the caller's sampled trace");
    let names: Vec<String> = traces(before).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names.iter().filter(|n| *n == "ingest").count(),
        1,
        "{names:?}"
    );
}

/// OTLP over HTTPS to a collector whose certificate comes from a private CA given as the
/// exporter's CA file, with the configured headers and resource attributes.
#[tokio::test]
async fn spans_reach_an_https_collector_with_headers_and_resource() {
    let receiver = OtlpReceiver::start_tls();
    let mut with_ca = settings(&receiver, "sqlite");
    with_ca.ca_pem = Some(std::fs::read(receiver.ca_file()).unwrap());
    with_ca.headers = vec![
        ("authorization".into(), "Bearer collector-token".into()),
        ("x-scope-orgid".into(), "lab".into()),
    ];
    with_ca.resource.push(("host.name".into(), "nas".into()));
    let untrusted = OtelSettings {
        ca_pem: None,
        ..with_ca.clone()
    };
    let err = exported(untrusted, three_traces).await.unwrap_err();
    assert!(err.contains("certificate"), "{err}");
    assert!(!err.contains("collector-token"), "{err}");
    assert!(receiver.requests().is_empty());

    assert_eq!(exported(with_ca, three_traces).await, Ok(4));
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.request_line, "POST /v1/traces HTTP/1.1");
    assert_eq!(r.content_type, "application/x-protobuf");
    assert_eq!(r.header("authorization"), Some("Bearer collector-token"));
    assert_eq!(r.header("x-scope-orgid"), Some("lab"));
    let (resource, spans) = receiver.spans();
    assert_eq!(spans.len(), 4);
    assert!(
        resource.contains(&("host.name".to_owned(), "nas".to_owned())),
        "{resource:?}"
    );
    assert!(
        resource.contains(&("service.name".to_owned(), "taylordash".to_owned())),
        "{resource:?}"
    );
}
