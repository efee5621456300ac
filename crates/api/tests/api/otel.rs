//! OpenTelemetry: spans reach an OTLP/HTTP receiver in this test as protobuf, decoded here by
//! field number (opentelemetry-proto's `trace/v1` and `collector/trace/v1` messages): the HTTP
//! request span honours `traceparent`, children link to parents, an envelope trace id becomes
//! the trace, and log records carry the trace id.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use api::logs::LogLayer;
use api::otel::{OtelLayer, OtelSettings};
use tracing_subscriber::layer::SubscriberExt as _;

use crate::support::*;

/// One decoded protobuf field value.
#[derive(Debug, Clone)]
enum Wire {
    Varint(u64),
    Fixed64(u64),
    Bytes(Vec<u8>),
    /// Read past, never asserted on.
    #[allow(dead_code)]
    Fixed32(u32),
}

/// The fields of one protobuf message, in order.
fn decode(mut b: &[u8]) -> Vec<(u32, Wire)> {
    fn varint(b: &mut &[u8]) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let byte = b[0];
            *b = &b[1..];
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return v;
            }
            shift += 7;
        }
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let key = varint(&mut b);
        let field = (key >> 3) as u32;
        let value = match key & 7 {
            0 => Wire::Varint(varint(&mut b)),
            1 => {
                let v = u64::from_le_bytes(b[..8].try_into().unwrap());
                b = &b[8..];
                Wire::Fixed64(v)
            }
            2 => {
                let len = varint(&mut b) as usize;
                let v = b[..len].to_vec();
                b = &b[len..];
                Wire::Bytes(v)
            }
            5 => {
                let v = u32::from_le_bytes(b[..4].try_into().unwrap());
                b = &b[4..];
                Wire::Fixed32(v)
            }
            other => panic!("wire type {other} is not valid protobuf"),
        };
        out.push((field, value));
    }
    out
}

fn bytes_of(fields: &[(u32, Wire)], n: u32) -> Vec<Vec<u8>> {
    fields
        .iter()
        .filter(|(f, _)| *f == n)
        .map(|(_, v)| match v {
            Wire::Bytes(b) => b.clone(),
            other => panic!("field {n} is {other:?}, not length-delimited"),
        })
        .collect()
}

fn one(fields: &[(u32, Wire)], n: u32) -> Option<Wire> {
    fields.iter().find(|(f, _)| *f == n).map(|(_, v)| v.clone())
}

/// `KeyValue` list → (key, string or int rendered as text).
fn attributes(fields: &[(u32, Wire)], n: u32) -> Vec<(String, String)> {
    bytes_of(fields, n)
        .into_iter()
        .map(|kv| {
            let kv = decode(&kv);
            let key = String::from_utf8(bytes_of(&kv, 1).remove(0)).unwrap();
            let any = decode(&bytes_of(&kv, 2).remove(0));
            let value = match &any[0] {
                (1, Wire::Bytes(s)) => String::from_utf8(s.clone()).unwrap(),
                (_, Wire::Varint(v)) => v.to_string(),
                (_, other) => format!("{other:?}"),
            };
            (key, value)
        })
        .collect()
}

#[derive(Debug)]
struct Span {
    trace_id: String,
    span_id: String,
    parent: Option<String>,
    name: String,
    kind: u64,
    start: u64,
    end: u64,
    attributes: Vec<(String, String)>,
}

/// Decodes an `ExportTraceServiceRequest`: (resource attributes, spans).
fn decode_request(body: &[u8]) -> (Vec<(String, String)>, Vec<Span>) {
    let request = decode(body);
    let mut resource_attrs = Vec::new();
    let mut spans = Vec::new();
    for rs in bytes_of(&request, 1) {
        let rs = decode(&rs);
        for resource in bytes_of(&rs, 1) {
            resource_attrs.extend(attributes(&decode(&resource), 1));
        }
        for ss in bytes_of(&rs, 2) {
            let ss = decode(&ss);
            for span in bytes_of(&ss, 2) {
                let s = decode(&span);
                let fixed = |n| match one(&s, n) {
                    Some(Wire::Fixed64(v)) => v,
                    other => panic!("field {n}: {other:?}"),
                };
                spans.push(Span {
                    trace_id: hex::encode(bytes_of(&s, 1).remove(0)),
                    span_id: hex::encode(bytes_of(&s, 2).remove(0)),
                    parent: bytes_of(&s, 4).first().map(hex::encode),
                    name: String::from_utf8(bytes_of(&s, 5).remove(0)).unwrap(),
                    kind: match one(&s, 6) {
                        Some(Wire::Varint(k)) => k,
                        _ => 0,
                    },
                    start: fixed(7),
                    end: fixed(8),
                    attributes: attributes(&s, 9),
                });
            }
        }
    }
    (resource_attrs, spans)
}

/// (content type, body) of every request the receiver got.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// An OTLP/HTTP receiver: keeps every `POST /v1/traces` body and its content type.
async fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                let ct = headers[header::CONTENT_TYPE].to_str().unwrap().to_owned();
                sink.lock().unwrap().push((ct, body.to_vec()));
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), got)
}

#[tokio::test]
async fn spans_reach_the_collector_with_their_links() {
    let (url, got) = receiver().await;
    let app = TestApp::new().await;
    let (otel, exporter) = OtelLayer::new(OtelSettings {
        endpoint: url,
        service_name: "taylordash".into(),
        service_version: "9.9.9".into(),
        environment: "test".into(),
    });
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
    let names: Vec<String> = got
        .lock()
        .unwrap()
        .iter()
        .flat_map(|(_, b)| decode_request(b).1)
        .map(|s| s.name)
        .collect();
    assert!(sent >= 6, "sent {sent}: {names:?}");

    let bodies = got.lock().unwrap().clone();
    assert!(!bodies.is_empty());
    let mut resource = Vec::new();
    let mut spans = Vec::new();
    for (ct, body) in &bodies {
        assert_eq!(ct, "application/x-protobuf");
        let (r, s) = decode_request(body);
        resource = r;
        spans.extend(s);
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
        .find(|s| {
            s.name == "request"
                && s.attributes
                    .contains(&("path".to_owned(), "/api/v1/projects".to_owned()))
        })
        .expect("request span");
    assert_eq!(request.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(request.parent.as_deref(), Some("00f067aa0ba902b7"));
    assert_eq!(request.kind, 2, "SPAN_KIND_SERVER");
    assert!(request.start > 0 && request.end >= request.start);
    assert!(
        request
            .attributes
            .contains(&("method".into(), "GET".into())),
        "{request:?}"
    );
    assert!(
        request
            .attributes
            .contains(&("path".into(), "/api/v1/projects".into()))
    );
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
    assert!(db.attributes.contains(&("batch".into(), "3".into())));

    let event = spans
        .iter()
        .find(|s| s.name == "event.ingest" && s.trace_id == event_trace.simple().to_string())
        .expect("event.ingest span");
    assert_eq!(event.parent, None);
    assert!(
        event
            .attributes
            .contains(&("topic".into(), "tracker/events/otel/ping".into()))
    );
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

/// On PostgreSQL, statements run in the request's task: each is a `db.query` span under the
/// request span. (SQLite runs them on its worker thread, outside the request's span.)
#[tokio::test]
async fn postgres_statements_are_child_spans_of_the_request() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let (url, got) = receiver().await;
    let (otel, exporter) = OtelLayer::new(OtelSettings {
        endpoint: url,
        service_name: "taylordash".into(),
        service_version: "9.9.9".into(),
        environment: "test".into(),
    });
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(otel));
    let r = app.get("/api/v1/projects").await;
    assert_eq!(r.status, StatusCode::OK);
    let mut spans = Vec::new();
    for _ in 0..100 {
        exporter.export_now().await.unwrap();
        spans = got
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(_, b)| decode_request(b).1)
            .collect();
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
    assert!(
        query
            .attributes
            .iter()
            .any(|(k, v)| k == "db.statement" && v.starts_with("SELECT")),
        "{query:?}"
    );
}
