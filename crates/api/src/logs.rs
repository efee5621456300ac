//! Structured logs over HTTP: the per-request log line ([`request_log`]) and the `/api/v1/logs`
//! routes (v1 paths and shapes). The `tracing` layer, redaction and the writer into
//! `application_logs` are `observability::logs`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use axum::Extension;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use domain::{JsonObject, LEVELS, LogFilter, LogRecord, NewLogRecord, SEVERITIES};
use observability::logs::{LogSettings, LogSink, redact};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult};
use crate::extract::{BeaconJson, Query, SeqId};
use crate::{AppState, Principal};

/// Service name of records reported by the browser.
pub const FRONTEND_SERVICE: &str = "taylordash-frontend";
/// Largest `POST /logs/frontend` body, in bytes.
pub const FRONTEND_MAX_BYTES: usize = 64 * 1024;
/// Most records in one frontend report.
pub(crate) const FRONTEND_MAX_RECORDS: usize = 50;
/// Frontend records a caller may send: a burst of this many, refilled one per second.
const FRONTEND_BURST: f64 = 60.0;
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;
pub(crate) const MAX_OFFSET: i64 = 1_000_000;
/// Longest `hours` window of `/logs/stats` (the longest retention).
pub(crate) const MAX_STATS_HOURS: i64 = 24 * 90;

/// Logging state shared by the handlers: the writer queue and the frontend rate limit.
pub struct Logs {
    pub sink: LogSink,
    /// Per caller: (tokens left, when last refilled).
    frontend_budget: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Logs {
    pub fn new(sink: LogSink) -> Logs {
        Logs {
            sink,
            frontend_budget: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `n` tokens from `caller`'s budget, or says how many seconds until they are there.
    fn spend(&self, caller: &str, n: usize) -> Result<(), u64> {
        let now = Instant::now();
        let mut budgets = self
            .frontend_budget
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if budgets.len() > 10_000 {
            // Forget full buckets so the map stays bounded.
            budgets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() < FRONTEND_BURST
            });
        }
        let (tokens, at) = budgets
            .entry(caller.to_owned())
            .or_insert((FRONTEND_BURST, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64()).min(FRONTEND_BURST);
        *at = now;
        let need = n as f64;
        if *tokens >= need {
            *tokens -= need;
            Ok(())
        } else {
            Err((need - *tokens).ceil() as u64)
        }
    }
}

/// Middleware: one log record per request, with its id, endpoint, method, status, duration and
/// (from the request span) the authenticated user. Routine reads ([`routine`]: the UI's files,
/// health checks, scrapes, the charts' and screens' polling) are DEBUG when they succeed; other
/// requests INFO; 4xx WARN (but `/auth/me` answering a signed-out page 401 is DEBUG); 5xx
/// ERROR, except 501 (a v1 route this version answers "not available", e.g. plugins: the
/// caller's question, not a failure), WARN.
pub async fn request_log(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = next.run(req).await;
    let status = response.status().as_u16();
    let ms = start.elapsed().as_millis() as u64;
    macro_rules! emit {
        ($level:expr) => {
            tracing::event!(
                target: "taylordash::http",
                $level,
                category = "API",
                endpoint = %path,
                method = %method,
                status_code = status,
                duration_ms = ms,
                "{method} {path} {status}"
            )
        };
    }
    // `tracing::event!` needs the level as a constant.
    match level(&method, &path, status) {
        tracing::Level::ERROR => emit!(tracing::Level::ERROR),
        tracing::Level::WARN => emit!(tracing::Level::WARN),
        tracing::Level::INFO => emit!(tracing::Level::INFO),
        _ => emit!(tracing::Level::DEBUG),
    }
    response
}

/// The level of a request's log record (see [`request_log`]).
pub fn level(method: &Method, path: &str, status: u16) -> tracing::Level {
    match status {
        501 => tracing::Level::WARN,
        500.. => tracing::Level::ERROR,
        // "Who am I?" asked while signed out (every page load of the UI before signing in): the
        // answer, not a failure.
        401 if method == Method::GET && path == "/api/v1/auth/me" => tracing::Level::DEBUG,
        400..=499 => tracing::Level::WARN,
        _ if routine(method, path) => tracing::Level::DEBUG,
        _ => tracing::Level::INFO,
    }
}

/// Is this request routine, so that its success is logged at DEBUG, not INFO? Every asset,
/// favicon and page of the web UI (any read outside `/api/`), health checks and metric scrapes,
/// the charts' range queries, and the reads the UI repeats on a timer: the stack health, the
/// dead letters and the logs (a live tail polls). Otherwise they would bury the records that
/// matter. A failure is logged at its own level whatever the path.
pub fn routine(method: &Method, path: &str) -> bool {
    if method != Method::GET && method != Method::HEAD {
        return false;
    }
    let Some(api) = path.strip_prefix("/api/v1/") else {
        // The web UI's files and pages, /metrics, /health/..., /openapi.json.
        return !path.starts_with("/api/");
    };
    api.starts_with("health/")
        || api.starts_with("metrics/")
        || api.starts_with("logs")
        || api == "dlq"
}

/// A stored log record (v1 `GET /logs` item; `stack_trace`, `version` and `host_name` as in
/// v1's `GET /logs/{id}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct LogEntry {
    pub id: i64,
    pub timestamp: DateTime<Utc>,
    /// `ERROR`, `WARN`, `INFO` or `DEBUG`.
    #[schema(example = "INFO")]
    pub level: String,
    #[schema(example = "taylordash-backend")]
    pub service: String,
    /// `API`, `DATABASE`, `MQTT`, `SECURITY`, `SYSTEM`, `FRONTEND`, ...
    #[schema(example = "API")]
    pub category: String,
    /// `CRITICAL`, `HIGH`, `MEDIUM`, `LOW` or `INFO`.
    pub severity: String,
    pub message: String,
    pub details: Option<String>,
    /// Links the record to events with the same trace id (`/api/v1/events?trace_id=`).
    pub trace_id: Option<String>,
    pub request_id: Option<String>,
    pub user_id: Option<String>,
    pub endpoint: Option<String>,
    pub method: Option<String>,
    pub status_code: Option<i32>,
    pub duration_ms: Option<i64>,
    pub error_code: Option<String>,
    pub stack_trace: Option<String>,
    /// Every other field of the record (always an object; secrets redacted).
    #[schema(value_type = Object)]
    pub context: JsonObject,
    pub environment: String,
    pub version: String,
    pub host_name: String,
}

impl From<LogRecord> for LogEntry {
    fn from(l: LogRecord) -> Self {
        let r = l.record;
        LogEntry {
            id: l.id,
            timestamp: r.timestamp,
            level: r.level,
            service: r.service,
            category: r.category,
            severity: r.severity,
            message: r.message,
            details: r.details,
            trace_id: r.trace_id,
            request_id: r.request_id,
            user_id: r.user_id,
            endpoint: r.endpoint,
            method: r.method,
            status_code: r.status_code,
            duration_ms: r.duration_ms,
            error_code: r.error_code,
            stack_trace: r.stack_trace,
            context: r.context,
            environment: r.environment,
            version: r.version,
            host_name: r.host_name,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogList {
    /// Newest first.
    pub logs: Vec<LogEntry>,
    /// Records matching the filter (all pages).
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
    /// `total > offset + logs.len()`.
    pub has_more: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogParams {
    /// `ERROR`, `WARN`, `INFO` or `DEBUG` (any case; `ALL` = no filter), or several
    /// comma-separated: `ERROR,WARN` lists the warnings and errors.
    pub level: Option<String>,
    /// Exact service, e.g. `taylordash-backend` (`ALL` = no filter).
    pub service: Option<String>,
    /// Exact category, any case (`ALL` = no filter).
    pub category: Option<String>,
    /// Case-insensitive substring of the message or the details.
    pub search: Option<String>,
    pub trace_id: Option<String>,
    pub request_id: Option<String>,
    /// At or after (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Before (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// At least 1, default 100; larger values than 1000 are capped.
    pub limit: Option<i64>,
    /// 0-1000000, default 0.
    pub offset: Option<i64>,
}

/// `None` for absent, empty or `ALL`.
fn selector(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty() && !v.eq_ignore_ascii_case("ALL"))
}

/// `level`: one level or several, comma-separated (`ERROR,WARN`: warnings and errors).
fn level_param(value: Option<String>) -> ApiResult<Vec<String>> {
    let Some(value) = selector(value) else {
        return Ok(Vec::new());
    };
    let mut levels = Vec::new();
    for level in value.split(',') {
        let upper = level.trim().to_ascii_uppercase();
        let upper = if upper == "WARNING" {
            "WARN".to_owned()
        } else {
            upper
        };
        if !LEVELS.contains(&upper.as_str()) {
            return Err(ApiError::validation(
                "level",
                format!("level: '{level}' is not one of ERROR, WARN, INFO, DEBUG (or ALL)"),
            ));
        }
        if !levels.contains(&upper) {
            levels.push(upper);
        }
    }
    Ok(levels)
}

/// Stored log records, newest first, filtered (v1 shape).
#[utoipa::path(get, path = "/logs", tag = "logs",
    params(LogParams),
    responses((status = 200, body = LogList)))]
pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<LogParams>,
) -> ApiResult<axum::Json<LogList>> {
    // Capped, not refused, above the largest page: as every list's `limit`.
    let limit = match q.limit {
        None => DEFAULT_LIMIT,
        Some(l) if l >= 1 => l.min(MAX_LIMIT),
        Some(_) => {
            return Err(ApiError::validation("limit", "limit: must be at least 1"));
        }
    };
    let offset = match q.offset {
        None => 0,
        Some(o) if (0..=MAX_OFFSET).contains(&o) => o,
        Some(_) => {
            return Err(ApiError::validation(
                "offset",
                format!("offset: must be between 0 and {MAX_OFFSET}; narrow the filter instead"),
            ));
        }
    };
    if let (Some(since), Some(until)) = (q.since, q.until)
        && since > until
    {
        return Err(ApiError::validation(
            "since",
            "since: must not be after until",
        ));
    }
    let filter = LogFilter {
        levels: level_param(q.level)?,
        service: selector(q.service),
        category: selector(q.category).map(|c| c.to_ascii_uppercase()),
        trace_id: selector(q.trace_id),
        request_id: selector(q.request_id),
        search: q.search.filter(|s| !s.is_empty()),
        since: q.since,
        until: q.until,
    };
    let page = state.store.list_logs(&filter, limit, offset).await?;
    let has_more = page.total > offset + page.logs.len() as i64;
    Ok(axum::Json(LogList {
        logs: page.logs.into_iter().map(Into::into).collect(),
        total: page.total,
        limit,
        offset,
        has_more,
    }))
}

/// One stored log record with every column.
#[utoipa::path(get, path = "/logs/{log_id}", tag = "logs",
    params(("log_id" = i64, Path)),
    responses((status = 200, body = LogEntry)))]
pub async fn get(
    State(state): State<AppState>,
    SeqId(id): SeqId,
) -> ApiResult<axum::Json<LogEntry>> {
    Ok(axum::Json(state.store.get_log(id).await?.into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// The window, in hours back from now: 1-2160, default 24.
    pub hours: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogGroupCount {
    pub level: String,
    pub category: String,
    pub service: String,
    pub count: i64,
    /// Mean `duration_ms` of the records that have one (null when none has).
    pub avg_duration: Option<f64>,
    pub max_duration: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HourlyErrorRate {
    /// Start of the hour (UTC).
    pub hour: DateTime<Utc>,
    pub error_count: i64,
    pub total_count: i64,
    /// `100 * error_count / total_count`: the percentage of records that are errors.
    pub error_rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogStatsResponse {
    pub timeframe_hours: i64,
    /// Counts by (level, category, service), largest first.
    pub stats: Vec<LogGroupCount>,
    /// Hours that have records, oldest first.
    pub error_rates: Vec<HourlyErrorRate>,
    pub generated_at: DateTime<Utc>,
}

/// Counts by level, category and service (with durations) and the hourly error rate.
#[utoipa::path(get, path = "/logs/stats", tag = "logs",
    params(StatsParams),
    responses((status = 200, body = LogStatsResponse)))]
pub async fn stats(
    State(state): State<AppState>,
    Query(q): Query<StatsParams>,
) -> ApiResult<axum::Json<LogStatsResponse>> {
    let hours = q.hours.unwrap_or(24);
    if !(1..=MAX_STATS_HOURS).contains(&hours) {
        return Err(ApiError::validation(
            "hours",
            format!("hours: must be between 1 and {MAX_STATS_HOURS}"),
        ));
    }
    let now = Utc::now();
    let stats = state
        .store
        .log_stats(now - chrono::Duration::hours(hours))
        .await?;
    Ok(axum::Json(LogStatsResponse {
        timeframe_hours: hours,
        stats: stats
            .groups
            .into_iter()
            .map(|g| LogGroupCount {
                level: g.level,
                category: g.category,
                service: g.service,
                count: g.count,
                avg_duration: g.avg_duration_ms,
                max_duration: g.max_duration_ms,
            })
            .collect(),
        error_rates: stats
            .hourly
            .into_iter()
            .map(|h| HourlyErrorRate {
                hour: h.hour,
                error_count: h.error_count,
                total_count: h.total_count,
                error_rate: if h.total_count == 0 {
                    0.0
                } else {
                    (h.error_count as f64 * 10_000.0 / h.total_count as f64).round() / 100.0
                },
            })
            .collect(),
        generated_at: now,
    }))
}

/// One error report from the browser.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FrontendReport {
    /// `ERROR` (default), `WARN`, `INFO` or `DEBUG`.
    pub level: Option<String>,
    /// `taylordash-frontend` if sent (v1's client sends it): the browser's reports are always
    /// stored under that service.
    #[schema(example = "taylordash-frontend")]
    pub service: Option<String>,
    /// 1-2000 characters.
    pub message: String,
    /// Up to 8000 characters.
    pub details: Option<String>,
    /// Up to 32 characters, letters, digits and `_`; default `FRONTEND`.
    pub category: Option<String>,
    /// `CRITICAL`, `HIGH`, `MEDIUM`, `LOW` or `INFO`; default from the level.
    pub severity: Option<String>,
    /// Up to 64 characters.
    pub error_code: Option<String>,
    /// Up to 16000 characters (else taken from `context.stack_trace`, where v1's client puts
    /// it).
    pub stack_trace: Option<String>,
    /// The page the error happened on (up to 2000 characters; else `context.url`).
    pub url: Option<String>,
    /// Up to 500 characters (else `context.user_agent`).
    pub user_agent: Option<String>,
    /// When the browser saw it; the server's time is used when absent.
    pub timestamp: Option<DateTime<Utc>>,
    /// Anything else (a JSON object, at most 8 KiB).
    #[schema(value_type = Option<Object>)]
    pub context: Option<JsonObject>,
}

/// One report, or several as `{"logs": [...]}` or, as v1's client sends them,
/// `{"errors": [...]}` (at most 50). Also accepted as `text/plain` (browser beacons).
// The documented shape: the handler reads the body itself (`frontend_reports`), so that an
// error names the report at fault.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum FrontendBody {
    Batch { logs: Vec<FrontendReport> },
    V1Batch { errors: Vec<FrontendReport> },
    One(Box<FrontendReport>),
}

/// The reports of a `POST /logs/frontend` body (see [`FrontendBody`]), with the name of their
/// list for error messages (`logs` for a single report).
fn frontend_reports(body: serde_json::Value) -> ApiResult<(&'static str, Vec<serde_json::Value>)> {
    let serde_json::Value::Object(mut fields) = body else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_FAILED",
            r#"send one report (a JSON object), {"logs": [...]} or {"errors": [...]}"#,
        ));
    };
    for list in ["logs", "errors"] {
        if !fields.contains_key(list) {
            continue;
        }
        if fields.len() > 1 {
            return Err(ApiError::validation(
                list,
                format!("{list}: send the list of reports alone, or one report"),
            ));
        }
        return match fields.remove(list) {
            Some(serde_json::Value::Array(items)) => Ok((list, items)),
            _ => Err(ApiError::validation(
                list,
                format!("{list}: must be a list of reports"),
            )),
        };
    }
    Ok(("logs", vec![serde_json::Value::Object(fields)]))
}

/// One report of a list; a wrong shape is a 422 naming the report (and the field, when serde
/// says which).
fn frontend_report(list: &str, index: usize, item: serde_json::Value) -> ApiResult<FrontendReport> {
    serde_json::from_value(item).map_err(|e| {
        let message = e.to_string();
        let field = ["missing field `", "unknown field `"]
            .iter()
            .find_map(|p| message.strip_prefix(p))
            .and_then(|rest| rest.split('`').next())
            .map_or_else(
                || format!("{list}[{index}]"),
                |f| format!("{list}[{index}].{f}"),
            );
        ApiError::validation(field.clone(), format!("{field}: {message}"))
    })
}

/// Takes `key` out of `context` when it is a string (v1's client puts the stack trace, page
/// and user agent there).
fn take_text(context: &mut JsonObject, key: &str) -> Option<String> {
    match context.remove(key) {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(other) => {
            context.insert(key.to_owned(), other);
            None
        }
        None => None,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FrontendAccepted {
    /// Records queued for storage.
    pub accepted: usize,
}

fn bounded(field: String, value: Option<String>, max: usize) -> ApiResult<Option<String>> {
    match value {
        Some(v) if v.chars().count() > max => Err(ApiError::validation(
            field.clone(),
            format!("{field}: at most {max} characters"),
        )),
        other => Ok(other),
    }
}

fn frontend_record(
    r: FrontendReport,
    (list, index): (&str, usize),
    principal: &Principal,
    request_id: Option<String>,
    settings: &LogSettings,
) -> ApiResult<NewLogRecord> {
    let field = |f: &str| format!("{list}[{index}].{f}");
    if let Some(service) = r.service.as_deref()
        && service != FRONTEND_SERVICE
    {
        return Err(ApiError::validation(
            field("service"),
            format!(
                "{}: the browser's reports are stored as {FRONTEND_SERVICE}; send that or \
                 leave it out",
                field("service")
            ),
        ));
    }
    let level = match r.level.as_deref().map(str::to_ascii_uppercase) {
        None => "ERROR".to_owned(),
        Some(l) if LEVELS.contains(&l.as_str()) => l,
        Some(l) => {
            return Err(ApiError::validation(
                field("level"),
                format!(
                    "{}: '{l}' is not one of ERROR, WARN, INFO, DEBUG",
                    field("level")
                ),
            ));
        }
    };
    let message = r.message.trim().to_owned();
    if message.is_empty() || message.chars().count() > 2000 {
        return Err(ApiError::validation(
            field("message"),
            format!("{}: 1-2000 characters", field("message")),
        ));
    }
    let category = match r.category.map(|c| c.to_ascii_uppercase()) {
        None => "FRONTEND".to_owned(),
        Some(c)
            if !c.is_empty()
                && c.len() <= 32
                && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') =>
        {
            c
        }
        Some(_) => {
            return Err(ApiError::validation(
                field("category"),
                format!("{}: up to 32 letters, digits or _", field("category")),
            ));
        }
    };
    let severity = match r.severity.map(|s| s.to_ascii_uppercase()) {
        None => domain::default_severity(&level).to_owned(),
        Some(s) if SEVERITIES.contains(&s.as_str()) => s,
        Some(s) => {
            return Err(ApiError::validation(
                field("severity"),
                format!(
                    "{}: '{s}' is not one of CRITICAL, HIGH, MEDIUM, LOW, INFO",
                    field("severity")
                ),
            ));
        }
    };
    let mut context = r.context.unwrap_or_default();
    let stack_trace = r
        .stack_trace
        .or_else(|| take_text(&mut context, "stack_trace"));
    let url = r.url.or_else(|| take_text(&mut context, "url"));
    let user_agent = r
        .user_agent
        .or_else(|| take_text(&mut context, "user_agent"));
    let details = bounded(field("details"), r.details, 8000)?;
    let error_code = bounded(field("error_code"), r.error_code, 64)?;
    let stack_trace = bounded(field("stack_trace"), stack_trace, 16_000)?;
    let url = bounded(field("url"), url, 2000)?;
    let user_agent = bounded(field("user_agent"), user_agent, 500)?;
    if serde_json::to_vec(&context).map_or(0, |v| v.len()) > 8192 {
        return Err(ApiError::validation(
            field("context"),
            format!("{}: at most 8 KiB of JSON", field("context")),
        ));
    }
    if let Some(ua) = user_agent {
        context.insert("user_agent".into(), ua.into());
    }
    if let Some(ts) = r.timestamp {
        context.insert("client_timestamp".into(), ts.to_rfc3339().into());
    }
    let mut context = serde_json::Value::Object(context);
    redact::redact_json(&mut context);
    let context = match context {
        serde_json::Value::Object(m) => m,
        _ => JsonObject::new(),
    };
    let text = |s: Option<String>| s.map(|s| redact::redact_text(&s).into_owned());
    // The page's path only: a query string may carry tokens.
    let endpoint = url.map(|u| {
        let path = u.split(['?', '#']).next().unwrap_or_default();
        path.chars().take(255).collect::<String>()
    });
    Ok(NewLogRecord {
        timestamp: domain::now(),
        level,
        service: FRONTEND_SERVICE.to_owned(),
        category,
        severity,
        message: redact::redact_text(&message).into_owned(),
        details: text(details),
        trace_id: None,
        request_id,
        user_id: principal.user_id().map(|u| u.to_string()),
        endpoint,
        method: None,
        status_code: None,
        duration_ms: None,
        error_code,
        stack_trace: text(stack_trace),
        context,
        environment: settings.environment.clone(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        host_name: settings.host_name.clone(),
    })
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Browser error reports (the web UI's error logger, and v1's `{"errors": [...]}`): validated,
/// redacted, at most 64 KiB and 50 records a request, and 60 records a minute per caller
/// (burst 60). A beacon's `text/plain` body is read as JSON too.
#[utoipa::path(post, path = "/logs/frontend", tag = "logs",
    request_body = FrontendBody,
    responses(
        (status = 202, body = FrontendAccepted),
        (status = 413, description = "Body larger than 64 KiB", body = crate::error::ErrorBody),
        (status = 429, description = "Too many reports; see Retry-After", body = crate::error::ErrorBody),
    ))]
pub async fn frontend(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    BeaconJson(body): BeaconJson<serde_json::Value>,
) -> ApiResult<(StatusCode, axum::Json<FrontendAccepted>)> {
    let (list, reports) = frontend_reports(body)?;
    if reports.is_empty() || reports.len() > FRONTEND_MAX_RECORDS {
        return Err(ApiError::validation(
            list,
            format!("{list}: 1-{FRONTEND_MAX_RECORDS} records a request"),
        ));
    }
    let request_id = request_id(&headers);
    let settings = state.logs.sink.settings();
    let records = reports
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let report = frontend_report(list, i, item)?;
            frontend_record(report, (list, i), &principal, request_id.clone(), settings)
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let caller = principal
        .user_id()
        .map_or_else(|| "service".to_owned(), |u| u.to_string());
    state.logs.spend(&caller, records.len()).map_err(|wait| {
        ApiError::too_many_requests(
            "RATE_LIMITED",
            format!(
                "too many frontend log records: at most {FRONTEND_BURST} a minute; retry in \
                 {wait} s"
            ),
            wait,
        )
    })?;
    let accepted = records.len();
    for r in records {
        state.logs.sink.push(r);
    }
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(FrontendAccepted { accepted }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestLogsCreated {
    #[schema(example = "Test log entries created successfully")]
    pub message: &'static str,
    pub logs_created: u64,
    pub timestamp: DateTime<Utc>,
}

/// Writes v1's three sample records (INFO, WARN, ERROR `TEST_ERROR`) straight to the database.
#[utoipa::path(post, path = "/logs/test", tag = "logs",
    responses((status = 200, body = TestLogsCreated)))]
pub async fn test_logs(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
) -> ApiResult<axum::Json<TestLogsCreated>> {
    let settings = state.logs.sink.settings();
    let base = NewLogRecord {
        timestamp: domain::now(),
        service: observability::SERVICE.to_owned(),
        category: "API".into(),
        request_id: request_id(&headers),
        user_id: principal.user_id().map(|u| u.to_string()),
        endpoint: Some("/api/v1/logs/test".into()),
        method: Some("POST".into()),
        environment: settings.environment.clone(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        host_name: settings.host_name.clone(),
        ..NewLogRecord::default()
    };
    let records = [
        NewLogRecord {
            level: "INFO".into(),
            severity: "INFO".into(),
            message: "Test info log entry".into(),
            ..base.clone()
        },
        NewLogRecord {
            level: "WARN".into(),
            severity: "MEDIUM".into(),
            message: "Test warning log entry".into(),
            ..base.clone()
        },
        NewLogRecord {
            level: "ERROR".into(),
            severity: "HIGH".into(),
            message: "Test error log entry".into(),
            details: Some("This is a test error for demonstration".into()),
            error_code: Some("TEST_ERROR".into()),
            ..base
        },
    ];
    let logs_created = state.store.insert_logs(&records).await?;
    Ok(axum::Json(TestLogsCreated {
        message: "Test log entries created successfully",
        logs_created,
        timestamp: Utc::now(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routine_reads_are_the_ui_files_health_metrics_and_polling() {
        for path in [
            "/",
            "/assets/index-abc123.js",
            "/favicon.svg",
            "/projects/7/canvas",
            "/metrics",
            "/health/ready",
            "/openapi.json",
            "/api/v1/health/stack",
            "/api/v1/metrics/query_range",
            "/api/v1/logs",
            "/api/v1/logs/stats",
            "/api/v1/dlq",
        ] {
            assert!(routine(&Method::GET, path), "{path}");
        }
        assert!(routine(&Method::HEAD, "/assets/app.css"));
        for path in [
            "/api/v1/projects",
            "/api/v1/events",
            "/api/v1/dlq/3",
            "/api/v1/auth/me",
            "/api/v2/anything",
        ] {
            assert!(!routine(&Method::GET, path), "{path}");
        }
        assert!(!routine(&Method::POST, "/api/v1/logs/frontend"));
        assert!(!routine(&Method::POST, "/api/v1/dlq"));
        assert!(!routine(&Method::DELETE, "/assets/x.js"));
    }

    #[test]
    fn failures_keep_their_level_on_routine_paths() {
        use tracing::Level;
        let get = &Method::GET;
        assert_eq!(level(get, "/assets/app.js", 200), Level::DEBUG);
        assert_eq!(level(get, "/assets/app.js", 304), Level::DEBUG);
        assert_eq!(level(get, "/assets/gone.js", 404), Level::WARN);
        assert_eq!(level(get, "/api/v1/health/stack", 503), Level::ERROR);
        assert_eq!(level(get, "/api/v1/projects", 200), Level::INFO);
        assert_eq!(level(get, "/api/v1/projects", 401), Level::WARN);
        assert_eq!(level(get, "/api/v1/auth/me", 401), Level::DEBUG);
        assert_eq!(level(&Method::POST, "/api/v1/auth/login", 401), Level::WARN);
        assert_eq!(level(get, "/api/v1/plugins", 501), Level::WARN);
    }
}
