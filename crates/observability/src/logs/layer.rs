//! The `tracing` layer that turns every event into a v1-shaped log record: redacted, printed as
//! one JSON line on stdout (when asked), and queued for `application_logs` (at or above the
//! database threshold, once a [`LogSink`] is attached).
//!
//! Request context comes from the enclosing spans: the HTTP request span carries `request_id`,
//! `method`, `path` and — once authenticated — `user_id`; any span may carry `trace_id`.

use std::io::Write as _;
use std::sync::{Arc, OnceLock};

use domain::{JsonObject, NewLogRecord, SEVERITIES, default_severity};
use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::redact::{REDACTED, is_secret_name, redact_text};
use super::sink::LogSink;
use crate::SERVICE;

pub struct LogLayer {
    /// Which records are printed as JSON lines on stdout; `None`: nothing is.
    json_stdout: Option<Targets>,
    /// Least severe level stored in the database, independent of what stdout shows.
    db_level: Level,
    environment: String,
    host_name: String,
    sink: Arc<OnceLock<LogSink>>,
}

impl LogLayer {
    /// A layer printing the records `json_stdout` enables as JSON lines, and storing records at
    /// `db_level` and above once [`LogLayer::sink_slot`] is filled.
    pub fn new(
        json_stdout: Option<Targets>,
        db_level: Level,
        environment: &str,
        host_name: &str,
    ) -> Self {
        LogLayer {
            json_stdout,
            db_level,
            environment: environment.to_owned(),
            host_name: host_name.to_owned(),
            sink: Arc::new(OnceLock::new()),
        }
    }

    /// What this layer must see, for [`tracing_subscriber::Layer::with_filter`]: spans at INFO
    /// and above (they carry the request context) and the events either destination wants.
    pub fn interest(&self) -> impl Fn(&tracing::Metadata<'_>) -> bool + Send + Sync + 'static {
        let stdout = self.json_stdout.clone();
        let db_level = self.db_level;
        move |meta| {
            let level = meta.level();
            if meta.is_span() {
                return *level <= Level::INFO;
            }
            *level <= db_level
                || stdout
                    .as_ref()
                    .is_some_and(|t| t.would_enable(meta.target(), level))
        }
    }

    /// The most verbose level [`LogLayer::interest`] admits, as a hint that lets `tracing`
    /// skip everything below it cheaply.
    pub fn max_level(&self) -> LevelFilter {
        let stdout = self.json_stdout.iter().flat_map(|t| {
            t.default_level()
                .into_iter()
                .chain(t.iter().map(|(_, level)| level))
        });
        stdout
            .chain([LevelFilter::INFO, LevelFilter::from_level(self.db_level)])
            .max()
            .unwrap_or(LevelFilter::INFO)
    }

    /// A layer storing into `sink` (tests, and callers that have the sink already).
    pub fn with_sink(sink: LogSink, db_level: Level) -> Self {
        let settings = sink.settings().clone();
        let layer = Self::new(None, db_level, &settings.environment, &settings.host_name);
        let _ = layer.sink.set(sink);
        layer
    }

    /// Where to put the sink once the database is open; records before that are only printed.
    pub fn sink_slot(&self) -> Arc<OnceLock<LogSink>> {
        self.sink.clone()
    }

    fn record(&self, event: &Event<'_>, spans: SpanFields) -> NewLogRecord {
        let meta = event.metadata();
        let mut v = EventVisitor::default();
        event.record(&mut v);
        let level = level_name(*meta.level());
        let mut f = v.fields;
        let mut take = |k: &str| match f.remove(k) {
            Some(Value::String(s)) => Some(s),
            Some(Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        };
        let category = take("category")
            .map(|c| c.to_ascii_uppercase())
            .filter(|c| !c.is_empty() && c.len() <= 32)
            .unwrap_or_else(|| default_category(meta.target()).to_owned());
        let severity = take("severity")
            .map(|s| s.to_ascii_uppercase())
            .filter(|s| SEVERITIES.contains(&s.as_str()))
            .unwrap_or_else(|| default_severity(level).to_owned());
        let details = take("details").or_else(|| take("error"));
        NewLogRecord {
            timestamp: domain::now(),
            level: level.to_owned(),
            service: take("service").unwrap_or_else(|| SERVICE.to_owned()),
            category,
            severity,
            message: redact_text(v.message.as_deref().unwrap_or_default()).into_owned(),
            details: details.map(|d| redact_text(&d).into_owned()),
            trace_id: take("trace_id").or(spans.trace_id),
            request_id: take("request_id").or(spans.request_id),
            user_id: take("user_id").or(spans.user_id),
            // A push check's URL holds its token: redacted like any secret in text.
            endpoint: take("endpoint")
                .or(spans.endpoint)
                .map(|e| redact_text(&e).into_owned()),
            method: take("method").or(spans.method),
            status_code: take("status_code").and_then(|s| s.parse().ok()),
            duration_ms: take("duration_ms").and_then(|s| s.parse().ok()),
            error_code: take("error_code"),
            stack_trace: take("stack_trace"),
            context: {
                f.insert("target".into(), Value::String(meta.target().to_owned()));
                f
            },
            environment: self.environment.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            host_name: self.host_name.clone(),
        }
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        _ => "DEBUG",
    }
}

fn default_category(target: &str) -> &'static str {
    if target.starts_with("sqlx") || target.starts_with("storage") {
        "DATABASE"
    } else if target.starts_with("bus") || target.starts_with("rumqttc") {
        "MQTT"
    } else if target.starts_with("api::auth") || target.starts_with("services::identity") {
        "SECURITY"
    } else if target.starts_with("taylordash::http") || target.starts_with("tower_http") {
        "API"
    } else {
        "SYSTEM"
    }
}

/// The record as one JSON object (v1 console shape: nulls left out, context nested).
pub fn to_json_line(r: &NewLogRecord) -> String {
    let mut o = serde_json::Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            o.insert(k.to_owned(), v);
        }
    };
    put(
        "timestamp",
        Value::String(
            r.timestamp
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        ),
    );
    put("level", r.level.clone().into());
    put("service", r.service.clone().into());
    put("category", r.category.clone().into());
    put("severity", r.severity.clone().into());
    put("message", r.message.clone().into());
    put("details", r.details.clone().into());
    put("trace_id", r.trace_id.clone().into());
    put("request_id", r.request_id.clone().into());
    put("user_id", r.user_id.clone().into());
    put("endpoint", r.endpoint.clone().into());
    put("method", r.method.clone().into());
    put("status_code", r.status_code.into());
    put("duration_ms", r.duration_ms.into());
    put("error_code", r.error_code.clone().into());
    put("stack_trace", r.stack_trace.clone().into());
    if !r.context.is_empty() {
        put("context", Value::Object(r.context.clone()));
    }
    put("environment", r.environment.clone().into());
    put("version", r.version.clone().into());
    Value::Object(o).to_string()
}

impl<S> tracing_subscriber::Layer<S> for LogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = SpanFields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<SpanFields>()
        {
            values.record(fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let level = *meta.level();
        let sink = self.sink.get();
        // sqlx reports every statement, including the log writer's own: store only problems.
        let store = sink.is_some()
            && level <= self.db_level
            && !(meta.target().starts_with("sqlx") && level > Level::WARN);
        let print = self
            .json_stdout
            .as_ref()
            .is_some_and(|t| t.would_enable(meta.target(), &level));
        if !store && !print {
            return;
        }
        // Innermost span first: the closest value wins.
        let mut spans = SpanFields::default();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                let ext = span.extensions();
                if let Some(f) = ext.get::<SpanFields>() {
                    spans.fill_from(f);
                }
                // With OpenTelemetry on, the span's trace ties the record to its trace.
                if spans.trace_id.is_none()
                    && let Some(c) = ext.get::<crate::otel::SpanContext>()
                {
                    spans.trace_id = Some(c.trace_hex());
                }
            }
        }
        let record = self.record(event, spans);
        if print {
            let mut line = to_json_line(&record);
            line.push('\n');
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        }
        if store && let Some(sink) = sink {
            sink.push(record);
        }
    }
}

/// Request context found on spans.
#[derive(Debug, Default, Clone)]
struct SpanFields {
    request_id: Option<String>,
    trace_id: Option<String>,
    user_id: Option<String>,
    endpoint: Option<String>,
    method: Option<String>,
}

impl SpanFields {
    fn fill_from(&mut self, other: &SpanFields) {
        let fill = |mine: &mut Option<String>, theirs: &Option<String>| {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        };
        fill(&mut self.request_id, &other.request_id);
        fill(&mut self.trace_id, &other.trace_id);
        fill(&mut self.user_id, &other.user_id);
        fill(&mut self.endpoint, &other.endpoint);
        fill(&mut self.method, &other.method);
    }
}

impl Visit for SpanFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        let slot = match field.name() {
            "request_id" => &mut self.request_id,
            "trace_id" => &mut self.trace_id,
            "user_id" => &mut self.user_id,
            "path" | "endpoint" => &mut self.endpoint,
            "method" => &mut self.method,
            _ => return,
        };
        if !value.is_empty() {
            *slot = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

/// Collects an event's message and fields, redacting as it goes.
#[derive(Default)]
struct EventVisitor {
    message: Option<String>,
    fields: JsonObject,
}

impl EventVisitor {
    fn put(&mut self, field: &Field, value: Value) {
        let name = field.name();
        let value = if is_secret_name(name) {
            Value::String(REDACTED.into())
        } else {
            value
        };
        self.fields.insert(name.to_owned(), value);
    }
}

impl Visit for EventVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_owned());
        } else {
            self.put(field, Value::String(redact_text(value).into_owned()));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}
