//! OpenTelemetry traces: a `tracing` layer that turns spans into OTLP spans (trace and parent
//! ids, start/end, attributes) and an exporter that POSTs them in batches as OTLP/HTTP protobuf
//! (over `http://` or `https://`, with the configured headers) to
//! `<OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, encoded
//! with the OpenTelemetry project's generated message types (`opentelemetry-proto`). Only
//! installed when an endpoint is configured: without it nothing is recorded or sent. The
//! standard variables' syntax (`OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_TRACES_SAMPLER`) is parsed here: [`parse_key_values`], [`Sampler::parse`].
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
//!
//! Sampling is decided once per trace, at its root span, and inherited by its children: an
//! unsampled span keeps its ids (logs still carry the trace id) but is not exported.

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

pub use sampler::Sampler;

/// Spans held for export at most; beyond it the oldest are dropped.
const CAPACITY: usize = 4096;
/// Spans per export request at most.
const BATCH: usize = 512;

/// The trace a span belongs to, kept in the span's extensions (the log layer reads it too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanContext {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    /// Whether the trace is exported.
    pub sampled: bool,
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

/// Where and how spans are exported.
#[derive(Clone)]
pub struct OtelSettings {
    /// The whole URL spans are POSTed to, e.g. `http://otel-collector:4318/v1/traces`.
    pub traces_url: String,
    /// Headers sent with every export (e.g. a collector's API key): secrets, never logged.
    pub headers: Vec<(String, String)>,
    /// Resource attributes of every exported span, `service.name` among them.
    pub resource: Vec<(String, String)>,
    /// The instrumentation scope's version (the app's).
    pub scope_version: String,
    pub sampler: Sampler,
    /// PEM CA certificates trusted for the collector, besides the system's and the stack's.
    pub ca_pem: Option<Vec<u8>>,
    /// Deadline of one export request.
    pub timeout: Duration,
    /// `db.system` of statement spans: `sqlite` or `postgresql`.
    pub db_system: String,
}

impl std::fmt::Debug for OtelSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("OtelSettings")
            .field("traces_url", &self.traces_url)
            .field("headers", &header_names)
            .field("resource", &self.resource)
            .field("sampler", &self.sampler)
            .field("timeout", &self.timeout)
            .field("db_system", &self.db_system)
            .finish_non_exhaustive()
    }
}

/// Handle to the export queue; cheap to clone.
#[derive(Clone)]
pub struct Exporter(Arc<ExporterInner>);

struct ExporterInner {
    settings: OtelSettings,
    /// The collector (the traces URL, its path as the prefix) and the headers, ready to send.
    target: Result<(BaseUrl, http::HeaderMap), String>,
    /// Keeps its connection to the collector between exports.
    client: outbound::Client,
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
        let (base, headers) = self.0.target.clone()?;
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
            let mut request =
                outbound::Outgoing::post("", "application/x-protobuf", Bytes::from(body));
            request.headers = headers.clone();
            let reply = self
                .0
                .client
                .send(&base, request, self.0.settings.timeout)
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
        let extra_ca = settings
            .ca_pem
            .as_deref()
            .map(outbound::parse_ca_pem)
            .transpose();
        let (client, ca_error) = match extra_ca {
            Ok(certs) => (outbound::Client::pooled(&certs.unwrap_or_default()), None),
            Err(e) => (outbound::Client::pooled(&[]), Some(e)),
        };
        let target = match ca_error {
            Some(e) => Err(format!("the collector's CA certificate: {e}")),
            None => BaseUrl::parse(&settings.traces_url)
                .and_then(|base| Ok((base, header_map(&settings.headers)?))),
        };
        let exporter = Exporter(Arc::new(ExporterInner {
            target,
            client,
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
    remote_parent(value).map(|(trace, parent, _)| (trace, parent))
}

/// `00-<trace>-<parent>-<flags>` → (trace id, parent span id, whether the caller sampled it).
fn remote_parent(value: &str) -> Option<([u8; 16], [u8; 8], bool)> {
    let parts: Vec<&str> = value.trim().split('-').collect();
    if parts.len() < 4 || parts[0].len() != 2 || parts[0] == "ff" {
        return None;
    }
    let mut trace = [0u8; 16];
    let mut parent = [0u8; 8];
    let mut flags = [0u8; 1];
    hex::decode_to_slice(parts[1], &mut trace).ok()?;
    hex::decode_to_slice(parts[2], &mut parent).ok()?;
    hex::decode_to_slice(parts[3], &mut flags).ok()?;
    if trace == [0; 16] || parent == [0; 8] {
        return None;
    }
    Some((trace, parent, flags[0] & 1 == 1))
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
        let sampler = self.exporter.0.settings.sampler;
        let (trace_id, parent_id, sampled) = match parent {
            Some(p) => (p.trace_id, Some(p.span_id), p.sampled),
            None => match fields.traceparent.as_deref().and_then(remote_parent) {
                Some((trace, parent, parent_sampled)) => (
                    trace,
                    Some(parent),
                    sampler.sample_remote(&trace, parent_sampled),
                ),
                None => {
                    let trace = fields
                        .trace_id
                        .as_deref()
                        .and_then(parse_trace_id)
                        .unwrap_or_else(random::<16>);
                    (trace, None, sampler.sample_root(&trace))
                }
            },
        };
        let context = SpanContext {
            trace_id,
            span_id: random::<8>(),
            sampled,
        };
        let mut ext = span.extensions_mut();
        ext.insert(context);
        if !sampled {
            return;
        }
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
                .filter(|p| p.sampled)
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
                    sampled: true,
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
        attributes: settings
            .resource
            .iter()
            .map(|(k, v)| key_value(k.clone(), AttrValue::Str(v.clone())))
            .collect(),
        ..Resource::default()
    };
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "taylordash".into(),
                    version: settings.scope_version.clone(),
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

/// The export headers as a header map; an invalid one is named, its value never shown.
fn header_map(headers: &[(String, String)]) -> Result<http::HeaderMap, String> {
    let mut map = http::HeaderMap::new();
    for (name, value) in headers {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("'{name}' is not a valid header name"))?;
        let mut value = http::HeaderValue::from_str(value)
            .map_err(|_| format!("the value of header '{name}' is not a valid header value"))?;
        value.set_sensitive(true);
        map.append(name, value);
    }
    Ok(map)
}

/// `OTEL_EXPORTER_OTLP_HEADERS`: [`parse_key_values`], each a valid HTTP header.
pub fn parse_headers(text: &str) -> Result<Vec<(String, String)>, String> {
    let headers = parse_key_values(text)?;
    header_map(&headers)?;
    Ok(headers)
}

/// `key1=value1,key2=value2` as the OpenTelemetry variables write lists
/// (`OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_RESOURCE_ATTRIBUTES`): keys and values trimmed and
/// percent-decoded, empty items skipped. Errors name the item's key only (values may be
/// secrets).
pub fn parse_key_values(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (i, item) in text.split(',').enumerate() {
        if item.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = item.split_once('=') else {
            return Err(format!("item {} has no '=' (expected key=value)", i + 1));
        };
        let key = percent_decode(key.trim()).ok_or_else(|| format!("item {}: bad key", i + 1))?;
        if key.is_empty() {
            return Err(format!("item {} has an empty key", i + 1));
        }
        let value = percent_decode(value.trim())
            .ok_or_else(|| format!("the value of '{key}' is not valid percent-encoding"))?;
        out.push((key, value));
    }
    Ok(out)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

mod sampler {
    /// `OTEL_TRACES_SAMPLER` (with `OTEL_TRACES_SAMPLER_ARG`): which traces are exported.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Sampler {
        /// Fraction of root traces kept, decided from the trace id (the same trace gets the
        /// same answer everywhere): 1.0 always, 0.0 never.
        ratio: f64,
        /// A caller's `traceparent` decides instead (its `sampled` flag).
        parent_based: bool,
    }

    impl Default for Sampler {
        /// `parentbased_always_on`, the specification's default.
        fn default() -> Self {
            Sampler {
                ratio: 1.0,
                parent_based: true,
            }
        }
    }

    impl Sampler {
        /// `always_on`, `always_off`, `traceidratio`, `parentbased_always_on`,
        /// `parentbased_always_off` or `parentbased_traceidratio`; `arg` is the ratio of the
        /// `traceidratio` ones (0 to 1, default 1).
        pub fn parse(name: &str, arg: Option<&str>) -> Result<Sampler, String> {
            let name = name.trim().to_ascii_lowercase();
            let (parent_based, root) = match name.strip_prefix("parentbased_") {
                Some(root) => (true, root),
                None => (false, name.as_str()),
            };
            let ratio = match root {
                "always_on" => 1.0,
                "always_off" => 0.0,
                "traceidratio" => match arg.map(str::trim).filter(|a| !a.is_empty()) {
                    None => 1.0,
                    Some(a) => a
                        .parse::<f64>()
                        .ok()
                        .filter(|r| (0.0..=1.0).contains(r))
                        .ok_or_else(|| {
                            format!("sampler argument '{a}' is not a ratio between 0 and 1")
                        })?,
                },
                _ => {
                    return Err(format!(
                        "'{name}' is not a supported sampler: always_on, always_off, \
                         traceidratio, parentbased_always_on, parentbased_always_off or \
                         parentbased_traceidratio"
                    ));
                }
            };
            Ok(Sampler {
                ratio,
                parent_based,
            })
        }

        /// A trace that starts here.
        pub fn sample_root(&self, trace_id: &[u8; 16]) -> bool {
            if self.ratio >= 1.0 {
                return true;
            }
            if self.ratio <= 0.0 {
                return false;
            }
            // The specification's TraceIdRatioBased: the trace id's last 8 bytes (random in
            // W3C trace ids, and in UUIDs) against the ratio of the 63-bit range.
            let mut low = [0u8; 8];
            low.copy_from_slice(&trace_id[8..]);
            let x = u64::from_be_bytes(low) >> 1;
            x < (self.ratio * (1u64 << 63) as f64) as u64
        }

        /// A trace continued from a caller's `traceparent` that says whether it sampled it.
        pub fn sample_remote(&self, trace_id: &[u8; 16], parent_sampled: bool) -> bool {
            if self.parent_based {
                parent_sampled
            } else {
                self.sample_root(trace_id)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_lists() {
        assert_eq!(
            parse_key_values(" api-key = s3cr%3Dt%2C , x=a%20b,,").unwrap(),
            vec![
                ("api-key".to_owned(), "s3cr=t,".to_owned()),
                ("x".to_owned(), "a b".to_owned())
            ]
        );
        assert!(parse_key_values("").unwrap().is_empty());
        let err = parse_key_values("authorization").unwrap_err();
        assert!(err.contains("no '='"), "{err}");
        let err = parse_key_values("authorization=Bearer%zzsecret").unwrap_err();
        assert!(
            err.contains("authorization") && !err.contains("secret"),
            "{err}"
        );
        assert!(header_map(&[("bad name".into(), "v".into())]).is_err());
        let err = header_map(&[("x-key".into(), "line\nbreak-secret".into())]).unwrap_err();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn samplers() {
        let trace = |low: u64| {
            let mut t = [0u8; 16];
            t[0] = 1;
            t[8..].copy_from_slice(&low.to_be_bytes());
            t
        };
        let on = Sampler::parse("always_on", None).unwrap();
        let off = Sampler::parse("ALWAYS_OFF", None).unwrap();
        assert!(on.sample_root(&trace(u64::MAX)) && on.sample_remote(&trace(1), false));
        assert!(!off.sample_root(&trace(0)) && !off.sample_remote(&trace(0), true));
        let default = Sampler::default();
        assert_eq!(
            default,
            Sampler::parse("parentbased_always_on", None).unwrap()
        );
        assert!(default.sample_root(&trace(u64::MAX)));
        assert!(!default.sample_remote(&trace(0), false));
        let pb_off = Sampler::parse("parentbased_always_off", None).unwrap();
        assert!(!pb_off.sample_root(&trace(0)) && pb_off.sample_remote(&trace(0), true));
        let quarter = Sampler::parse("traceidratio", Some("0.25")).unwrap();
        assert!(quarter.sample_root(&trace(0)));
        assert!(quarter.sample_root(&trace((1u64 << 62) - 2)));
        assert!(!quarter.sample_root(&trace(1u64 << 62)));
        assert!(!quarter.sample_root(&trace(u64::MAX)));
        // Decided by the trace id alone, even with a sampled remote parent.
        assert!(!quarter.sample_remote(&trace(u64::MAX), true));
        let pb_quarter = Sampler::parse("parentbased_traceidratio", Some("0.25")).unwrap();
        assert!(pb_quarter.sample_remote(&trace(u64::MAX), true));
        assert!(!pb_quarter.sample_root(&trace(u64::MAX)));
        // About a quarter of random trace ids.
        let kept = (0..4000u64)
            .filter(|i| quarter.sample_root(&trace(i.wrapping_mul(0x9e37_79b9_7f4a_7c15))))
            .count();
        assert!((800..1200).contains(&kept), "{kept}");
        assert!(Sampler::parse("traceidratio", Some("1.5")).is_err());
        assert!(Sampler::parse("jaeger_remote", None).is_err());
        assert_eq!(
            Sampler::parse("traceidratio", None).unwrap(),
            Sampler::parse("always_on", None).unwrap()
        );
    }

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
