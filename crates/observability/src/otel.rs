//! OpenTelemetry traces: a `tracing` layer that turns spans into OTLP spans (trace and parent
//! ids, start/end, attributes) and an exporter that POSTs them in batches as OTLP/HTTP protobuf
//! to `<OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces`, encoded with the OpenTelemetry project's
//! generated message types (`opentelemetry-proto`). Only installed when the endpoint is
//! configured: without it nothing is recorded or sent.
//!
//! Why a layer of our own rather than `tracing-opentelemetry` and the SDK's span processor: the
//! trace id of a root span comes from an event envelope (no remote parent exists to inherit
//! from), sqlx's per-statement events become `db.query` child spans, and the log layer reads
//! the same [`SpanContext`] to stamp `trace_id` on log rows — all three need the span's ids at
//! creation, in the registry's extensions, which is what this layer keeps.
//!
//! Trace context: a span inherits its parent's trace; a root span takes the W3C `traceparent`
//! field (the HTTP request span records the incoming header), else a `trace_id` field (an event
//! envelope's UUID, 32 hex digits), else a random trace id.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message as _;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::outbound::{self, BaseUrl};

/// Spans held for export at most; beyond it the oldest are dropped.
const CAPACITY: usize = 4096;
/// Spans per export request at most.
const BATCH: usize = 512;

/// The trace a span belongs to, kept in the span's extensions (the log layer reads it too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanContext {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
}

impl SpanContext {
    pub fn trace_hex(&self) -> String {
        hex::encode(self.trace_id)
    }
}

/// What is recorded while a span is open.
struct OpenSpan {
    context: SpanContext,
    parent: Option<[u8; 8]>,
    start_ns: u64,
    attributes: Vec<(String, AttrValue)>,
}

#[derive(Debug, Clone, PartialEq)]
enum AttrValue {
    Str(String),
    Int(i64),
    Bool(bool),
    Double(f64),
}

/// A finished span, ready to encode.
#[derive(Debug, Clone)]
struct SpanData {
    context: SpanContext,
    parent: Option<[u8; 8]>,
    name: String,
    kind: SpanKind,
    start_ns: u64,
    end_ns: u64,
    attributes: Vec<(String, AttrValue)>,
    error: bool,
}

/// Resource attributes of every exported span.
#[derive(Debug, Clone)]
pub struct OtelSettings {
    /// e.g. `http://otel-collector:4318`.
    pub endpoint: String,
    pub service_name: String,
    pub service_version: String,
    pub environment: String,
    /// `db.system` of statement spans: `sqlite` or `postgresql`.
    pub db_system: String,
}

/// Handle to the export queue; cheap to clone.
#[derive(Clone)]
pub struct Exporter(Arc<ExporterInner>);

struct ExporterInner {
    settings: OtelSettings,
    base: Result<BaseUrl, String>,
    queue: Mutex<VecDeque<SpanData>>,
    dropped: std::sync::atomic::AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Exporter {
    fn push(&self, span: SpanData) {
        let mut q = lock(&self.0.queue);
        if q.len() >= CAPACITY {
            q.pop_front();
            self.0
                .dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        q.push_back(span);
    }

    /// Spans dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.0.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sends everything queued now; returns how many spans were sent.
    pub async fn export_now(&self) -> Result<usize, String> {
        let base = self.0.base.clone()?;
        let mut sent = 0;
        loop {
            let batch: Vec<SpanData> = {
                let mut q = lock(&self.0.queue);
                let n = q.len().min(BATCH);
                q.drain(..n).collect()
            };
            if batch.is_empty() {
                return Ok(sent);
            }
            let count = batch.len();
            let body = encode_request(&self.0.settings, batch);
            let reply = outbound::send(
                &base,
                http::Method::POST,
                "/v1/traces",
                Some("application/x-protobuf"),
                Bytes::from(body),
                Duration::from_secs(10),
            )
            .await?;
            if !reply.status.is_success() {
                return Err(format!(
                    "the collector answered HTTP {}",
                    reply.status.as_u16()
                ));
            }
            sent += count;
        }
    }

    /// Exports every second on a thread of its own (so it needs no runtime from the caller
    /// and never competes with request handling for the main runtime's workers).
    pub fn spawn_background(&self) {
        let exporter = self.clone();
        let spawned = std::thread::Builder::new()
            .name("otlp-export".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    loop {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        if let Err(e) = exporter.export_now().await {
                            // Not through `tracing`: that would make spans about exporting.
                            eprintln!("taylordash: OTLP export failed: {e}");
                        }
                    }
                });
            });
        if let Err(e) = spawned {
            eprintln!("taylordash: cannot start the OTLP exporter: {e}");
        }
    }
}

/// The layer; see the module documentation.
pub struct OtelLayer {
    exporter: Exporter,
}

impl OtelLayer {
    pub fn new(settings: OtelSettings) -> (OtelLayer, Exporter) {
        let exporter = Exporter(Arc::new(ExporterInner {
            base: BaseUrl::parse(&settings.endpoint),
            settings,
            queue: Mutex::new(VecDeque::new()),
            dropped: std::sync::atomic::AtomicU64::new(0),
        }));
        (
            OtelLayer {
                exporter: exporter.clone(),
            },
            exporter,
        )
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    if getrandom::fill(&mut b).is_err() || b.iter().all(|x| *x == 0) {
        // All-zero ids are invalid in OTLP; fall back to the clock.
        let t = now_ns().to_le_bytes();
        for (i, x) in b.iter_mut().enumerate() {
            *x = t[i % 8] ^ (i as u8).wrapping_mul(31) | 1;
        }
    }
    b
}

/// `00-<trace>-<parent>-<flags>` → (trace id, parent span id).
pub fn parse_traceparent(value: &str) -> Option<([u8; 16], [u8; 8])> {
    let parts: Vec<&str> = value.trim().split('-').collect();
    if parts.len() < 4 || parts[0].len() != 2 || parts[0] == "ff" {
        return None;
    }
    let mut trace = [0u8; 16];
    let mut parent = [0u8; 8];
    hex::decode_to_slice(parts[1], &mut trace).ok()?;
    hex::decode_to_slice(parts[2], &mut parent).ok()?;
    if trace == [0; 16] || parent == [0; 8] {
        return None;
    }
    Some((trace, parent))
}

/// A UUID (`8-4-4-4-12`) or 32 hex digits as a trace id.
fn parse_trace_id(value: &str) -> Option<[u8; 16]> {
    let digits: String = value.chars().filter(|c| *c != '-').collect();
    let mut out = [0u8; 16];
    hex::decode_to_slice(&digits, &mut out).ok()?;
    (out != [0; 16]).then_some(out)
}

#[derive(Default)]
struct FieldVisitor {
    traceparent: Option<String>,
    trace_id: Option<String>,
    attributes: Vec<(String, AttrValue)>,
}

impl Visit for FieldVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "traceparent" => self.traceparent = Some(value.to_owned()),
            name => {
                if name == "trace_id" {
                    self.trace_id = Some(value.to_owned());
                }
                if !crate::logs::redact::is_secret_name(name) && !value.is_empty() {
                    let value = crate::logs::redact::redact_text(value).into_owned();
                    self.attributes
                        .push((name.to_owned(), AttrValue::Str(value)));
                }
            }
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.attributes
            .push((field.name().to_owned(), AttrValue::Int(value)));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record_i64(field, i64::try_from(value).unwrap_or(i64::MAX));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.attributes
            .push((field.name().to_owned(), AttrValue::Bool(value)));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.attributes
            .push((field.name().to_owned(), AttrValue::Double(value)));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

impl<S> tracing_subscriber::Layer<S> for OtelLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = FieldVisitor::default();
        attrs.record(&mut fields);
        let parent = span
            .parent()
            .and_then(|p| p.extensions().get::<SpanContext>().copied());
        let (trace_id, parent_id) = match parent {
            Some(p) => (p.trace_id, Some(p.span_id)),
            None => match fields.traceparent.as_deref().and_then(parse_traceparent) {
                Some((trace, remote_parent)) => (trace, Some(remote_parent)),
                None => (
                    fields
                        .trace_id
                        .as_deref()
                        .and_then(parse_trace_id)
                        .unwrap_or_else(random::<16>),
                    None,
                ),
            },
        };
        let context = SpanContext {
            trace_id,
            span_id: random::<8>(),
        };
        let mut ext = span.extensions_mut();
        ext.insert(context);
        ext.insert(OpenSpan {
            context,
            parent: parent_id,
            start_ns: now_ns(),
            attributes: fields.attributes,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(open) = span.extensions_mut().get_mut::<OpenSpan>()
        {
            let mut fields = FieldVisitor::default();
            values.record(&mut fields);
            open.attributes.extend(fields.attributes);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        // sqlx reports each statement once it finished, with its duration: that becomes a
        // `db.query` span under the span that ran it (statements outside any span are skipped).
        if event.metadata().target() == "sqlx::query" {
            let Some(parent) = ctx
                .event_span(event)
                .and_then(|s| s.extensions().get::<SpanContext>().copied())
            else {
                return;
            };
            let mut fields = FieldVisitor::default();
            event.record(&mut fields);
            let elapsed_ns = fields
                .attributes
                .iter()
                .find_map(|(k, v)| match (k.as_str(), v) {
                    ("elapsed_secs", AttrValue::Double(s)) => Some((s * 1e9) as u64),
                    _ => None,
                })
                .unwrap_or(0);
            let mut attributes: Vec<(String, AttrValue)> = fields
                .attributes
                .into_iter()
                .filter(|(k, _)| {
                    matches!(k.as_str(), "summary" | "rows_affected" | "rows_returned")
                })
                .map(|(k, v)| match k.as_str() {
                    "summary" => ("db.statement".to_owned(), v),
                    _ => (k, v),
                })
                .collect();
            attributes.push((
                "db.system".into(),
                AttrValue::Str(self.exporter.0.settings.db_system.clone()),
            ));
            let end = now_ns();
            self.exporter.push(SpanData {
                context: SpanContext {
                    trace_id: parent.trace_id,
                    span_id: random::<8>(),
                },
                parent: Some(parent.span_id),
                name: "db.query".into(),
                kind: SpanKind::Client,
                start_ns: end.saturating_sub(elapsed_ns),
                end_ns: end,
                attributes,
                error: false,
            });
            return;
        }
        // An error event marks its span as failed.
        if *event.metadata().level() == tracing::Level::ERROR
            && let Some(span) = ctx.event_span(event)
            && let Some(open) = span.extensions_mut().get_mut::<OpenSpan>()
        {
            open.attributes
                .push(("error".into(), AttrValue::Bool(true)));
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(open) = span.extensions_mut().remove::<OpenSpan>() else {
            return;
        };
        let status_error = open.attributes.iter().any(|(k, v)| {
            (k == "error" && *v == AttrValue::Bool(true))
                || (k == "http.response.status_code"
                    && matches!(v, AttrValue::Int(code) if *code >= 500))
        });
        self.exporter.push(SpanData {
            context: open.context,
            parent: open.parent,
            name: span.name().to_owned(),
            kind: if span.name() == "request" {
                SpanKind::Server
            } else {
                SpanKind::Internal
            },
            start_ns: open.start_ns,
            end_ns: now_ns(),
            attributes: open.attributes,
            error: status_error,
        });
    }
}

// ------------------------------------------------------------------ OTLP messages

fn any_value(v: AttrValue) -> AnyValue {
    let value = match v {
        AttrValue::Str(s) => any_value::Value::StringValue(s),
        AttrValue::Int(i) => any_value::Value::IntValue(i),
        AttrValue::Bool(b) => any_value::Value::BoolValue(b),
        AttrValue::Double(d) => any_value::Value::DoubleValue(d),
    };
    AnyValue { value: Some(value) }
}

fn key_value(key: String, value: AttrValue) -> KeyValue {
    KeyValue {
        key,
        value: Some(any_value(value)),
        ..KeyValue::default()
    }
}

fn to_proto(s: SpanData) -> Span {
    Span {
        trace_id: s.context.trace_id.to_vec(),
        span_id: s.context.span_id.to_vec(),
        parent_span_id: s.parent.map(|p| p.to_vec()).unwrap_or_default(),
        name: s.name,
        kind: s.kind as i32,
        start_time_unix_nano: s.start_ns,
        end_time_unix_nano: s.end_ns.max(s.start_ns),
        attributes: s
            .attributes
            .into_iter()
            .map(|(k, v)| key_value(k, v))
            .collect(),
        status: s.error.then(|| Status {
            code: StatusCode::Error as i32,
            ..Status::default()
        }),
        ..Span::default()
    }
}

/// One `ExportTraceServiceRequest` (the OTLP/HTTP body, protobuf-encoded) for `spans`.
fn encode_request(settings: &OtelSettings, spans: Vec<SpanData>) -> Vec<u8> {
    let resource = Resource {
        attributes: [
            ("service.name", &settings.service_name),
            ("service.version", &settings.service_version),
            ("deployment.environment", &settings.environment),
        ]
        .into_iter()
        .map(|(k, v)| key_value(k.to_owned(), AttrValue::Str(v.clone())))
        .collect(),
        ..Resource::default()
    };
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "taylordash".into(),
                    version: settings.service_version.clone(),
                    ..InstrumentationScope::default()
                }),
                spans: spans.into_iter().map(to_proto).collect(),
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    };
    request.encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_and_trace_ids() {
        let (t, p) =
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(hex::encode(t), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(hex::encode(p), "00f067aa0ba902b7");
        assert!(
            parse_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none()
        );
        assert!(parse_traceparent("garbage").is_none());
        assert_eq!(
            hex::encode(parse_trace_id("0c7e6a42-7d3e-4f55-9a1b-2b9d3c4e5f60").unwrap()),
            "0c7e6a427d3e4f559a1b2b9d3c4e5f60"
        );
    }
}
