//! Service checks: `/api/v1/components/{id}/checks` (list, create, test an unsaved check),
//! `/api/v1/checks/{id}` (get, update, delete, test now, history, uptime, a new push token),
//! `/api/v1/projects/{id}/checks` (every check's state, for the canvas) and the anonymous push
//! URL `/api/v1/checks/push/{token}`. Handlers call the `services::checks::Checks` service.
//!
//! Secret header values are never sent back (a secret header shows its name only), and a push
//! check's token is shown once, in the answer that created it (or a new one).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use domain::{CheckPatch, JsonObject, NewCheck};
use serde::{Deserialize, Serialize};
use services::checks::overview::{CheckLine, ComponentOverview, share, shown_status};
use services::checks::{Error as CheckError, Tested, Uptime};
use storage::{Resolution, StoredCheck, StoredResult, UptimeBucket};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, IfMatch, Json, Query, expected_version};
use crate::wire::etag;

impl From<CheckError> for ApiError {
    fn from(e: CheckError) -> Self {
        match e {
            CheckError::Invalid(v) => v.into(),
            CheckError::Store(s) => s.into(),
            // The request is well formed; the check it names is of another kind.
            CheckError::NotPush => {
                ApiError::new(StatusCode::CONFLICT, "NOT_A_PUSH_CHECK", e.to_string())
            }
            CheckError::Internal(m) => ApiError::internal(m),
        }
    }
}

/// A check, its configuration and its current state.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResponse {
    pub id: Uuid,
    pub component_id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    /// `http`, `tcp`, `ping`, `dns`, `mqtt` or `push`.
    pub kind: String,
    /// The kind's settings; a secret header appears with its name only.
    #[schema(value_type = Object)]
    pub target: JsonObject,
    pub interval_secs: i32,
    pub timeout_secs: i32,
    pub retries: i32,
    pub retry_interval_secs: i32,
    pub drives_status: bool,
    pub paused: bool,
    /// `up`, `degraded`, `down` or `unknown` (no conclusive run yet); `paused` while paused.
    pub status: String,
    pub status_since: Option<DateTime<Utc>>,
    /// Failed runs in a row (retries count up to `retries` before "down").
    pub failures: i32,
    pub last_checked_at: Option<DateTime<Utc>>,
    pub last_latency_ms: Option<f64>,
    pub last_error: Option<String>,
    pub cert_expires_at: Option<DateTime<Utc>>,
    pub next_due_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<StoredCheck> for CheckResponse {
    fn from(s: StoredCheck) -> Self {
        let c = s.check;
        CheckResponse {
            id: c.id,
            component_id: c.component_id,
            project_id: s.project_id,
            kind: c.kind().as_str().into(),
            target: c.target.to_json(),
            name: c.name,
            interval_secs: c.interval_secs,
            timeout_secs: c.timeout_secs,
            retries: c.retries,
            retry_interval_secs: c.retry_interval_secs,
            drives_status: c.drives_status,
            paused: c.paused,
            status: shown_status(c.paused, s.state.status).into(),
            status_since: s.state.status_since,
            failures: s.state.failures,
            last_checked_at: s.state.last_checked_at,
            last_latency_ms: s.state.last_latency_ms,
            last_error: s.state.last_error,
            cert_expires_at: s.state.cert_expires_at,
            next_due_at: s.state.next_due_at,
            version: c.version,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// A new check. `target` holds the kind's fields:
/// - `http`: `url` (required), `method` (GET), `expected_status` ("200-299"; codes and ranges),
///   `keyword`, `keyword_absent` (false), `follow_redirects` (true), `cert_expiry_warn_days`
///   (14; 0: none), `allow_self_signed` (false), `headers` ([{name, value, secret}]; names such
///   as Authorization or Cookie are always secret);
/// - `tcp`: `host`, `port`; `ping`: `host`;
/// - `dns`: `name`, `record_type` (A or AAAA), `server` (IP[:port]; the system resolver when
///   left out), `expected` (addresses, one of which must be in the answer);
/// - `mqtt`: `topic_filter` (under tracker/events/#, tracker/commands/# or tracker/metrics/#),
///   `grace_secs`;
/// - `push`: `grace_secs`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckCreate {
    /// Defaults to the kind and the target.
    pub name: Option<String>,
    /// `http`, `tcp`, `ping`, `dns`, `mqtt` or `push`.
    pub kind: String,
    #[schema(value_type = Option<Object>)]
    pub target: Option<JsonObject>,
    /// Seconds between runs (at least 10; 60 by default). Push and MQTT: the longest time
    /// between two arrivals.
    pub interval_secs: Option<i32>,
    /// 1-60 seconds (10).
    pub timeout_secs: Option<i32>,
    /// Failed runs in a row that do not yet make the check down (0-10; 0).
    pub retries: Option<i32>,
    /// Seconds to the next run after such a failure (the interval by default).
    pub retry_interval_secs: Option<i32>,
    /// Whether the check counts in its component's state (true).
    pub drives_status: Option<bool>,
    pub paused: Option<bool>,
}

impl CheckCreate {
    fn into_new(self) -> NewCheck {
        NewCheck {
            name: self.name,
            kind: self.kind,
            target: self.target.unwrap_or_default(),
            interval_secs: self.interval_secs,
            timeout_secs: self.timeout_secs,
            retries: self.retries,
            retry_interval_secs: self.retry_interval_secs,
            drives_status: self.drives_status,
            paused: self.paused,
        }
    }
}

/// Partial update: omitted fields keep their value. A new `target` replaces the old one whole;
/// a secret header sent without `value` keeps its stored value.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckUpdate {
    pub name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub target: Option<JsonObject>,
    pub interval_secs: Option<i32>,
    pub timeout_secs: Option<i32>,
    pub retries: Option<i32>,
    pub retry_interval_secs: Option<i32>,
    pub drives_status: Option<bool>,
    pub paused: Option<bool>,
    /// The version you last read; a stale one gets 409.
    pub version: Option<i64>,
}

/// A created check; for a push check also the URL to call, shown only now.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckCreated {
    #[serde(flatten)]
    pub check: CheckResponse,
    /// `/api/v1/checks/push/<token>` (push checks): GET or POST it from the job. Only its hash
    /// is stored; a lost one is replaced through `POST /checks/{id}/push-token`.
    pub push_path: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckList {
    pub checks: Vec<CheckResponse>,
    pub count: usize,
}

/// One run's result. A push or MQTT heartbeat check cannot be run on demand: its "test" is
/// whether something arrived recently enough (`last_seen_at`; `down` with "late: ..." or
/// "nothing received yet" otherwise).
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckOutcome {
    /// `up`, `degraded` or `down`.
    pub status: String,
    pub latency_ms: Option<f64>,
    pub error: Option<String>,
    pub cert_expires_at: Option<DateTime<Utc>>,
    /// Push and MQTT heartbeat checks: when a push or message last arrived.
    pub last_seen_at: Option<DateTime<Utc>>,
}

impl From<Tested> for CheckOutcome {
    fn from(t: Tested) -> Self {
        let o = t.outcome;
        CheckOutcome {
            status: o.status.as_str().into(),
            latency_ms: o.latency_ms,
            error: o.error,
            cert_expires_at: o.cert_expires_at,
            last_seen_at: t.last_seen_at,
        }
    }
}

/// A stored result.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResultResponse {
    pub at: DateTime<Utc>,
    pub status: String,
    pub latency_ms: Option<f64>,
    pub error: Option<String>,
}

impl From<StoredResult> for CheckResultResponse {
    fn from(r: StoredResult) -> Self {
        CheckResultResponse {
            at: r.at,
            status: r.status.as_str().into(),
            latency_ms: r.latency_ms,
            error: r.error,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckHistory {
    /// Newest first; raw results are kept for a short window (`checks.retention_days`).
    pub results: Vec<CheckResultResponse>,
    pub count: usize,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// How far back, in hours (1-8760; 24).
    pub hours: Option<i64>,
    /// Most results: at least 1, default 500; larger values than 5000 are capped.
    pub limit: Option<i64>,
}

/// Uptime over one window.
#[derive(Debug, Serialize, ToSchema)]
pub struct UptimeWindow {
    pub hours: i64,
    /// Share of runs that were up or degraded, 0-1; null without runs.
    pub ratio: Option<f64>,
    pub up: i64,
    pub degraded: i64,
    pub down: i64,
    pub avg_latency_ms: Option<f64>,
}

impl From<Uptime> for UptimeWindow {
    fn from(u: Uptime) -> Self {
        UptimeWindow {
            hours: u.window_hours,
            ratio: u.ratio,
            up: u.up,
            degraded: u.degraded,
            down: u.down,
            avg_latency_ms: u.avg_latency_ms,
        }
    }
}

/// The counts of one hour (or day).
#[derive(Debug, Serialize, ToSchema)]
pub struct UptimeBar {
    pub start: DateTime<Utc>,
    pub up: i64,
    pub degraded: i64,
    pub down: i64,
    pub avg_latency_ms: Option<f64>,
    pub max_latency_ms: Option<f64>,
}

impl From<UptimeBucket> for UptimeBar {
    fn from(b: UptimeBucket) -> Self {
        UptimeBar {
            start: b.bucket,
            up: b.up,
            degraded: b.degraded,
            down: b.down,
            avg_latency_ms: (b.latency_count > 0).then(|| b.latency_sum / b.latency_count as f64),
            max_latency_ms: b.latency_max,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckUptime {
    /// 24 hours, 7, 30 and 365 days.
    pub windows: Vec<UptimeWindow>,
    /// The last 24 hours, hour by hour (hours without runs left out).
    pub hourly: Vec<UptimeBar>,
    /// The last 30 days, day by day (days without runs left out).
    pub daily: Vec<UptimeBar>,
}

/// A component's checks and the state they give it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComponentChecks {
    pub component_id: Uuid,
    /// The worst state of the checks that drive it (`down` > `degraded` > `unknown` > `up`);
    /// `paused` when all of them are paused; `unknown` when none drives it.
    #[schema(value_type = String)]
    pub status: &'static str,
    /// Share of the runs of the checks that drive it in the last 24 hours that were up or
    /// degraded, 0-1 (six decimals, never rounded to 1 while a run failed); left out without
    /// runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uptime_24h: Option<f64>,
    /// The same, hour by hour: 24 values, oldest first, the last one the current hour; null for
    /// an hour without runs.
    pub hours_24h: Vec<Option<f64>>,
    pub checks: Vec<CheckSummary>,
}

/// A check in a project's overview. What is not known (no run yet, no error, no certificate)
/// is left out rather than sent as null: a project can have thousands of checks.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckSummary {
    pub id: Uuid,
    pub name: String,
    #[schema(value_type = String)]
    pub kind: &'static str,
    #[schema(value_type = String)]
    pub status: &'static str,
    /// Since when it has had this status.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::wire::opt_rfc3339"
    )]
    pub status_since: Option<DateTime<Utc>>,
    pub drives_status: bool,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::wire::opt_rfc3339"
    )]
    pub last_checked_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_latency_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::wire::opt_rfc3339"
    )]
    pub cert_expires_at: Option<DateTime<Utc>>,
    /// Share of its runs in the last 24 hours that were up or degraded, 0-1 (as the
    /// component's); left out without runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uptime_24h: Option<f64>,
}

impl From<CheckLine> for CheckSummary {
    fn from(l: CheckLine) -> Self {
        let c = l.check;
        CheckSummary {
            uptime_24h: share(l.day),
            id: c.check_id,
            name: c.name,
            kind: c.kind,
            status: l.status,
            status_since: c.state.status_since,
            drives_status: c.drives_status,
            last_checked_at: c.state.last_checked_at,
            last_latency_ms: c.state.last_latency_ms,
            last_error: c.state.last_error,
            cert_expires_at: c.state.cert_expires_at,
        }
    }
}

impl From<ComponentOverview> for ComponentChecks {
    fn from(c: ComponentOverview) -> Self {
        ComponentChecks {
            component_id: c.component_id,
            status: c.status,
            uptime_24h: share(c.day()),
            hours_24h: c.hours.iter().map(|&h| share(h)).collect(),
            checks: c.checks.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectChecks {
    /// Components with at least one check.
    pub components: Vec<ComponentChecks>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PushAccepted {
    /// The check's state after the push (`paused`: the push was ignored).
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PushToken {
    /// `/api/v1/checks/push/<token>`, shown only now; the previous one stops working.
    pub push_path: String,
}

fn push_path(token: &str) -> String {
    format!("/api/v1/checks/push/{token}")
}

/// A component's checks, oldest first.
#[utoipa::path(get, path = "/components/{component_id}/checks", tag = "checks",
    params(("component_id" = Uuid, Path)),
    responses((status = 200, body = CheckList)))]
pub async fn list(State(state): State<AppState>, Id(id): Id) -> ApiResult<axum::Json<CheckList>> {
    let checks: Vec<CheckResponse> = state
        .checks
        .list(id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(axum::Json(CheckList {
        count: checks.len(),
        checks,
    }))
}

/// Add a check to a component; a push check's answer carries its URL, once.
#[utoipa::path(post, path = "/components/{component_id}/checks", tag = "checks",
    params(("component_id" = Uuid, Path)),
    request_body = CheckCreate,
    responses((status = 201, body = CheckCreated)))]
pub async fn create(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<CheckCreate>,
) -> ApiResult<(StatusCode, HeaderMap, axum::Json<CheckCreated>)> {
    let created = state.checks.create(id, body.into_new()).await?;
    let version = created.check.check.version;
    Ok((
        StatusCode::CREATED,
        etag(version),
        axum::Json(CheckCreated {
            check: created.check.into(),
            push_path: created.push_token.as_deref().map(push_path),
        }),
    ))
}

/// Run a check described in the body once, without saving it (the editor's "test now").
#[utoipa::path(post, path = "/components/{component_id}/checks/test", tag = "checks",
    params(("component_id" = Uuid, Path)),
    request_body = CheckCreate,
    responses((status = 200, body = CheckOutcome)))]
pub async fn test_unsaved(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<CheckCreate>,
) -> ApiResult<axum::Json<CheckOutcome>> {
    state.store.get_component(id).await?;
    Ok(axum::Json(
        state.checks.test_new(id, body.into_new()).await?.into(),
    ))
}

/// One check.
#[utoipa::path(get, path = "/checks/{check_id}", tag = "checks",
    params(("check_id" = Uuid, Path)),
    responses((status = 200, body = CheckResponse, headers(("ETag" = String)))))]
pub async fn get(
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<(HeaderMap, axum::Json<CheckResponse>)> {
    let stored = state.checks.get(id).await?;
    Ok((etag(stored.check.version), axum::Json(stored.into())))
}

/// Update a check (partial); 409 when `version`/`If-Match` is stale.
#[utoipa::path(put, path = "/checks/{check_id}", tag = "checks",
    params(("check_id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body = CheckUpdate,
    responses((status = 200, body = CheckResponse)))]
pub async fn update(
    State(state): State<AppState>,
    Id(id): Id,
    if_match: IfMatch,
    Json(body): Json<CheckUpdate>,
) -> ApiResult<(HeaderMap, axum::Json<CheckResponse>)> {
    let expected = expected_version(body.version, if_match)?;
    let patch = CheckPatch {
        name: body.name,
        target: body.target,
        interval_secs: body.interval_secs,
        timeout_secs: body.timeout_secs,
        retries: body.retries,
        retry_interval_secs: body.retry_interval_secs,
        drives_status: body.drives_status,
        paused: body.paused,
    };
    let stored = state.checks.update(id, expected, patch).await?;
    Ok((etag(stored.check.version), axum::Json(stored.into())))
}

/// Delete a check with its history.
#[utoipa::path(delete, path = "/checks/{check_id}", tag = "checks",
    params(("check_id" = Uuid, Path)),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(State(state): State<AppState>, Id(id): Id) -> ApiResult<StatusCode> {
    state.checks.delete(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Run a saved check once now and return the result (not recorded).
#[utoipa::path(post, path = "/checks/{check_id}/test", tag = "checks",
    params(("check_id" = Uuid, Path)),
    responses((status = 200, body = CheckOutcome)))]
pub async fn test_saved(
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<axum::Json<CheckOutcome>> {
    Ok(axum::Json(state.checks.test(id).await?.into()))
}

/// A new push URL for a push check; the old one stops working.
#[utoipa::path(post, path = "/checks/{check_id}/push-token", tag = "checks",
    params(("check_id" = Uuid, Path)),
    responses(
        (status = 200, body = PushToken),
        (status = 409, description = "the check is not a push check (NOT_A_PUSH_CHECK)", body = crate::ErrorBody),
    ))]
pub async fn rotate_push_token(
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<axum::Json<PushToken>> {
    let token = state.checks.rotate_push_token(id).await?;
    Ok(axum::Json(PushToken {
        push_path: push_path(&token),
    }))
}

/// A check's raw results, newest first.
#[utoipa::path(get, path = "/checks/{check_id}/history", tag = "checks",
    params(("check_id" = Uuid, Path), HistoryParams),
    responses((status = 200, body = CheckHistory)))]
pub async fn history(
    State(state): State<AppState>,
    Id(id): Id,
    Query(params): Query<HistoryParams>,
) -> ApiResult<axum::Json<CheckHistory>> {
    let hours = params.hours.unwrap_or(24);
    if !(1..=8760).contains(&hours) {
        return Err(ApiError::validation("hours", "must be between 1 and 8760"));
    }
    // Capped, not refused, above the largest page: as every list's `limit`.
    let limit = params.limit.unwrap_or(500);
    if limit < 1 {
        return Err(ApiError::validation("limit", "must be at least 1"));
    }
    let limit = limit.min(5000);
    let results: Vec<CheckResultResponse> = state
        .checks
        .history(id, hours, limit)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(axum::Json(CheckHistory {
        count: results.len(),
        results,
    }))
}

/// Uptime over 24 hours, 7, 30 and 365 days, with hourly and daily bars.
#[utoipa::path(get, path = "/checks/{check_id}/uptime", tag = "checks",
    params(("check_id" = Uuid, Path)),
    responses((status = 200, body = CheckUptime)))]
pub async fn uptime(
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<axum::Json<CheckUptime>> {
    let windows = state.checks.uptime(id).await?;
    let hourly = state.checks.buckets(id, Resolution::Hour, 23).await?;
    let daily = state.checks.buckets(id, Resolution::Day, 29 * 24).await?;
    Ok(axum::Json(CheckUptime {
        windows: windows.into_iter().map(Into::into).collect(),
        hourly: hourly.into_iter().map(Into::into).collect(),
        daily: daily.into_iter().map(Into::into).collect(),
    }))
}

/// The state of every check of a project's components, and of each component.
#[utoipa::path(get, path = "/projects/{project_id}/checks", tag = "checks",
    params(("project_id" = Uuid, Path)),
    responses((status = 200, body = ProjectChecks)))]
pub async fn project_checks(
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<axum::response::Response> {
    let components = state.checks.project_overview(id).await?;
    let checks: usize = components.iter().map(|c| c.checks.len()).sum();
    let body = ProjectChecks {
        components: components.into_iter().map(Into::into).collect(),
    };
    // Thousands of checks make megabytes: written into a buffer of about the right size
    // (some 300 bytes a check) instead of one grown from empty.
    Ok(crate::wire::json_response(&body, 64 + checks * 320))
}

/// The push URL: a cron job or script calls it to say it ran (no credentials but the token).
#[utoipa::path(post, path = "/checks/push/{token}", tag = "checks",
    params(("token" = String, Path)),
    responses((status = 200, body = PushAccepted)))]
pub async fn push(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<axum::Json<PushAccepted>> {
    push_token(state, token).await
}

/// The push URL by GET, for `curl`-less jobs and monitoring tools that only send GET.
#[utoipa::path(get, path = "/checks/push/{token}", tag = "checks",
    params(("token" = String, Path)),
    responses((status = 200, body = PushAccepted)))]
pub async fn push_get(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<axum::Json<PushAccepted>> {
    push_token(state, token).await
}

async fn push_token(state: AppState, token: String) -> ApiResult<axum::Json<PushAccepted>> {
    let unknown = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "no push check has this token",
        )
    };
    if token.len() > 128 {
        return Err(unknown());
    }
    match state.checks.push(&token).await {
        Ok(stored) => Ok(axum::Json(PushAccepted {
            status: shown_status(stored.check.paused, stored.state.status).into(),
        })),
        Err(CheckError::Store(storage::StoreError::NotFound { .. })) => Err(unknown()),
        Err(e) => Err(e.into()),
    }
}
