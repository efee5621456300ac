//! Alerts: `/api/v1/alerts` (list, one, its notifications, acknowledge, silence),
//! `/api/v1/alert-notifications` (the latest, failures visible), `/api/v1/alert-rules` and
//! `/api/v1/alert-channels` (with "send test"), and Alertmanager's webhook receiver
//! `POST /api/v1/alerts/alertmanager`. Handlers call `services::alerts::Alerts`.
//!
//! Who may do what (`auth/policy.rs`): everyone signed in sees alerts, rules and
//! notifications; editors acknowledge and silence (the people who run the lab), each recorded
//! in the audit log with who and why; admins manage rules and channels (channels hold
//! secrets: a channel's secret values never leave the server — only their names — and a
//! generated webhook signing key is in the creating answer only). Alertmanager posts with its
//! own token (`TAYLORDASH_ALERTMANAGER_TOKEN`, `Authorization: Bearer`), which opens that one
//! route; an editor's session or key may post there too.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use domain::{
    Acknowledgement, Alert, AlertRule, AuditAction, JsonObject, NewAlertRule, NewChannel,
    Notification, Silence,
};
use serde::{Deserialize, Serialize};
use services::alerts::{AlertmanagerAlert, AlertmanagerPost, Error as AlertError};
use services::identity::Party;
use storage::StoredChannel;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::auth::{ClientInfo, Principal};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Id, IfMatch, Json, Query, expected_version};
use crate::wire::etag;

impl From<AlertError> for ApiError {
    fn from(e: AlertError) -> Self {
        match e {
            AlertError::Invalid(v) => v.into(),
            AlertError::Store(s) => s.into(),
            AlertError::Delivery(_) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "CHANNEL_TEST_FAILED",
                e.to_string(),
            ),
            AlertError::Resolved(_) => {
                ApiError::new(StatusCode::CONFLICT, "ALERT_RESOLVED", e.to_string())
            }
            AlertError::Internal(m) => ApiError::internal(m),
        }
    }
}

/// An alert.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertResponse {
    pub id: Uuid,
    /// The rule that raised it; null for Alertmanager's alerts or a deleted rule.
    pub rule_id: Option<Uuid>,
    /// `rule` or `alertmanager`.
    pub source: String,
    pub name: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// `pending`, `firing` or `resolved`.
    pub state: String,
    pub summary: String,
    #[schema(value_type = Object)]
    pub labels: JsonObject,
    pub active_since: DateTime<Utc>,
    pub firing_since: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub last_notified_at: Option<DateTime<Utc>>,
    /// Who acknowledged it, when and why.
    pub acknowledged: Option<Acknowledgement>,
    /// Who silenced it, until when and why.
    pub silenced: Option<Silence>,
    /// Whether a silence holds now.
    pub silenced_now: bool,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

impl From<Alert> for AlertResponse {
    fn from(a: Alert) -> Self {
        let silenced_now = a.silenced_at(domain::now());
        AlertResponse {
            id: a.id,
            rule_id: a.rule_id,
            source: a.source.as_str().into(),
            name: a.name,
            severity: a.severity.as_str().into(),
            state: a.state.as_str().into(),
            summary: a.summary,
            labels: a.labels,
            active_since: a.active_since,
            firing_since: a.firing_since,
            resolved_at: a.resolved_at,
            last_notified_at: a.last_notified_at,
            acknowledged: a.ack,
            silenced: a.silence,
            silenced_now,
            version: a.version,
            updated_at: a.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertList {
    /// Firing first, then pending, then resolved; the newest change first within each.
    pub alerts: Vec<AlertResponse>,
    pub count: usize,
    /// How many of them fire now (for the shell's badge).
    pub firing: usize,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertParams {
    /// Only pending and firing alerts.
    pub open: Option<bool>,
    /// Most alerts: at least 1, default 200; larger values than 1000 are capped.
    pub limit: Option<i64>,
}

/// Acknowledge: no more repeat notifications for this alert.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AckBody {
    /// Why, or what is being done (at most 1000 characters); in the audit log.
    pub note: Option<String>,
}

/// Silence: no notification about this alert for a while (0 ends a silence).
#[derive(Debug, Deserialize, ToSchema)]
pub struct SilenceBody {
    /// 0-7,776,000 seconds (90 days).
    pub duration_secs: i64,
    /// Why (at most 1000 characters); in the audit log.
    pub reason: Option<String>,
}

/// A notification: one message to one channel about one group of alerts.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationResponse {
    pub id: Uuid,
    pub channel_id: Uuid,
    pub channel_kind: String,
    /// `firing`, `repeat`, `resolved` or `test`.
    pub reason: String,
    pub title: String,
    /// `queued` (waiting or retrying), `sent` (the receiver answered 2xx) or `failed` (given
    /// up after the retry window).
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    /// Sent to receivers (webhook `Idempotency-Key`).
    pub idempotency_key: String,
    pub alert_ids: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<Notification> for NotificationResponse {
    fn from(n: Notification) -> Self {
        NotificationResponse {
            id: n.id,
            channel_id: n.channel_id,
            channel_kind: n.channel_kind.as_str().into(),
            reason: n.message.reason.as_str().into(),
            title: n.message.title,
            status: n.status.as_str().into(),
            attempts: n.attempts,
            next_attempt_at: n.next_attempt_at,
            last_error: n.last_error,
            idempotency_key: n.idempotency_key,
            alert_ids: n.alert_ids,
            created_at: n.created_at,
            sent_at: n.sent_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationList {
    pub notifications: Vec<NotificationResponse>,
    pub count: usize,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationParams {
    /// Most notifications: at least 1, default 100; larger values than 1000 are capped.
    pub limit: Option<i64>,
}

/// An alert rule as sent: every field is replaced on update (a `PUT`).
///
/// `kind` and its `params`:
/// - `check_down`: `project_id`, `check_id` (both optional: any check); with `for_secs`,
///   "down for N seconds";
/// - `cert_expiring`: `project_id`, `check_id`, `days` (1-365; 14);
/// - `component_blocked`: `project_id`;
/// - `dead_letters`: `threshold` (1; "any"), `window_secs` (300);
/// - `backup_failed`: none; `backup_overdue`: `max_age_secs` (2 days);
/// - `broker_lost`: none (use `for_secs` for "for N minutes");
/// - `metric_threshold`: `query` (PromQL: VictoriaMetrics when configured, else the local
///   subset), `op` (`>` or `<`), `threshold`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RuleBody {
    pub name: String,
    pub kind: String,
    #[schema(value_type = Option<Object>)]
    pub params: Option<JsonObject>,
    /// How long the condition must hold before the alert fires (0-2,592,000 s; 0).
    pub for_secs: Option<i64>,
    /// `info`, `warning` (default) or `critical`.
    pub severity: Option<String>,
    /// The channels to notify (at most 20).
    pub channels: Option<Vec<Uuid>>,
    /// Notify again every so often while firing and not acknowledged (60-2,592,000 s; none).
    pub repeat_secs: Option<i64>,
    /// Notify when it resolves (true).
    pub notify_on_resolve: Option<bool>,
    /// How long a group waits for more alerts before its first notification (0-3600 s; 2).
    pub group_wait_secs: Option<i64>,
    pub enabled: Option<bool>,
    /// The version you last read (updates); a stale one gets 409.
    pub version: Option<i64>,
}

impl RuleBody {
    fn into_new(self) -> NewAlertRule {
        NewAlertRule {
            name: self.name,
            kind: self.kind,
            params: self.params.unwrap_or_default(),
            for_secs: self.for_secs,
            severity: self.severity,
            channels: self.channels.unwrap_or_default(),
            repeat_secs: self.repeat_secs,
            notify_on_resolve: self.notify_on_resolve,
            group_wait_secs: self.group_wait_secs,
            enabled: self.enabled,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleResponse {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    #[schema(value_type = Object)]
    pub params: JsonObject,
    pub for_secs: i64,
    pub severity: String,
    pub channels: Vec<Uuid>,
    pub repeat_secs: Option<i64>,
    pub notify_on_resolve: bool,
    pub group_wait_secs: i64,
    pub enabled: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<AlertRule> for RuleResponse {
    fn from(r: AlertRule) -> Self {
        RuleResponse {
            id: r.id,
            name: r.name,
            kind: r.condition.kind().as_str().into(),
            params: r.condition.params(),
            for_secs: r.for_secs,
            severity: r.severity.as_str().into(),
            channels: r.channels,
            repeat_secs: r.repeat_secs,
            notify_on_resolve: r.notify_on_resolve,
            group_wait_secs: r.group_wait_secs,
            enabled: r.enabled,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleList {
    pub rules: Vec<RuleResponse>,
    pub count: usize,
}

/// A channel as sent. `kind` and its `config` / `secrets`:
/// - `webhook`: config `url`; secret `signing_key` (generated when left out, and shown once);
/// - `email`: config `host`, `port` (587/465/25), `security` (`starttls` default, `tls`,
///   `none`), `allow_self_signed` (false: the server's certificate must verify), `username`,
///   `from`, `to` (a list); secret `password`;
/// - `ntfy`: config `server` (https://ntfy.sh), `topic`; secret `token` (optional);
/// - `gotify`: config `server`; secret `token` (the application token);
/// - `discord`, `slack` (also Mattermost and Matrix hookshots): secret `url`.
///
/// On update, a secret left out keeps its stored value.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChannelBody {
    pub name: String,
    pub kind: String,
    #[schema(value_type = Option<Object>)]
    pub config: Option<JsonObject>,
    pub secrets: Option<BTreeMap<String, String>>,
    pub enabled: Option<bool>,
    /// The version you last read (updates); a stale one gets 409.
    pub version: Option<i64>,
}

impl ChannelBody {
    fn into_new(self) -> NewChannel {
        NewChannel {
            name: self.name,
            kind: self.kind,
            config: self.config.unwrap_or_default(),
            secrets: self.secrets.unwrap_or_default(),
            enabled: self.enabled,
        }
    }
}

/// A channel; its secrets by name only.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelResponse {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    #[schema(value_type = Object)]
    pub config: JsonObject,
    /// The names of the secrets set (never their values).
    pub secrets: Vec<String>,
    pub enabled: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<StoredChannel> for ChannelResponse {
    fn from(s: StoredChannel) -> Self {
        let c = s.channel;
        ChannelResponse {
            id: c.id,
            kind: c.kind().as_str().into(),
            config: c.config.to_json(),
            name: c.name,
            secrets: s.secrets.0.into_keys().collect(),
            enabled: c.enabled,
            version: c.version,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// A created channel; a generated webhook signing key appears here only.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelCreated {
    #[serde(flatten)]
    pub channel: ChannelResponse,
    /// The webhook's signing key, when TaylorDash generated it: copy it to the receiver now.
    pub signing_key: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelList {
    pub channels: Vec<ChannelResponse>,
    pub count: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelTested {
    /// The receiver accepted the test message.
    pub delivered: bool,
}

/// Alertmanager's webhook post (version 4); only the fields TaylorDash reads (others, such as
/// `version`, `status` and `generatorURL`, are ignored).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerWebhook {
    /// Alertmanager's group key: one notification per post and group.
    pub group_key: Option<String>,
    pub receiver: Option<String>,
    pub alerts: Vec<AlertmanagerWebhookAlert>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerWebhookAlert {
    /// `firing` or `resolved`.
    pub status: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub fingerprint: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertmanagerParams {
    /// Channel ids, comma-separated: where these alerts go (every enabled channel when left
    /// out).
    pub channels: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertmanagerAccepted {
    /// Alerts in the post.
    pub accepted: usize,
}

/// At most this many alerts in one Alertmanager post.
pub const MAX_ALERTMANAGER_ALERTS: usize = 1000;
/// An Alertmanager alert's `status`.
pub const ALERTMANAGER_STATUSES: [&str; 2] = ["firing", "resolved"];
/// Alerts listed when `limit` is left out.
pub const DEFAULT_ALERT_LIMIT: i64 = 200;
/// Notifications listed when `limit` is left out.
pub const DEFAULT_NOTIFICATION_LIMIT: i64 = 100;
/// Larger `limit`s are capped to this.
pub const MAX_LIMIT: i64 = 1000;

fn notification_list(notifications: Vec<Notification>) -> NotificationList {
    let notifications: Vec<NotificationResponse> =
        notifications.into_iter().map(Into::into).collect();
    NotificationList {
        count: notifications.len(),
        notifications,
    }
}

/// A `limit` query parameter: `default` when left out, at least 1, larger values capped to
/// [`MAX_LIMIT`].
fn limit(asked: Option<i64>, default: i64) -> ApiResult<i64> {
    match asked.unwrap_or(default) {
        n if n < 1 => Err(ApiError::validation("limit", "limit: at least 1")),
        n => Ok(n.min(MAX_LIMIT)),
    }
}

fn alert_list(alerts: Vec<Alert>) -> AlertList {
    let alerts: Vec<AlertResponse> = alerts.into_iter().map(Into::into).collect();
    AlertList {
        count: alerts.len(),
        firing: alerts.iter().filter(|a| a.state == "firing").count(),
        alerts,
    }
}

/// Alerts: firing first, then pending, then resolved.
#[utoipa::path(get, path = "/alerts", tag = "alerts",
    params(AlertParams),
    responses((status = 200, body = AlertList)))]
pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<AlertParams>,
) -> ApiResult<axum::Json<AlertList>> {
    let alerts = state
        .alerts
        .list_alerts(
            q.open.unwrap_or(false),
            limit(q.limit, DEFAULT_ALERT_LIMIT)?,
        )
        .await?;
    Ok(axum::Json(alert_list(alerts)))
}

/// One alert.
#[utoipa::path(get, path = "/alerts/{alert_id}", tag = "alerts",
    params(("alert_id" = Uuid, Path)),
    responses((status = 200, body = AlertResponse)))]
pub async fn get(
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<axum::Json<AlertResponse>> {
    Ok(axum::Json(state.alerts.get_alert(id).await?.into()))
}

/// The notifications about an alert, newest first.
#[utoipa::path(get, path = "/alerts/{alert_id}/notifications", tag = "alerts",
    params(("alert_id" = Uuid, Path)),
    responses((status = 200, body = NotificationList)))]
pub async fn alert_notifications(
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<axum::Json<NotificationList>> {
    let n = state.alerts.alert_notifications(id).await?;
    Ok(axum::Json(notification_list(n)))
}

async fn audit(
    state: &AppState,
    action: AuditAction,
    principal: &Principal,
    client: &ClientInfo,
    alert: &Alert,
    details: serde_json::Value,
) {
    let target = Party {
        id: Some(alert.id),
        name: Some(alert.name.clone()),
    };
    state
        .auth
        .identity
        .audit(action, &principal.actor(), &target, &client.meta(), details)
        .await;
}

/// Acknowledge an open alert: repeats stop (audit: who and why). A resolved alert: 409
/// `ALERT_RESOLVED`.
#[utoipa::path(post, path = "/alerts/{alert_id}/acknowledge", tag = "alerts",
    params(("alert_id" = Uuid, Path)),
    request_body = AckBody,
    responses((status = 200, body = AlertResponse),
        (status = 409, description = "The alert is resolved (ALERT_RESOLVED)", body = crate::error::ErrorBody)))]
pub async fn acknowledge(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    client: ClientInfo,
    Id(id): Id,
    Json(body): Json<AckBody>,
) -> ApiResult<axum::Json<AlertResponse>> {
    let alert = state
        .alerts
        .acknowledge(id, &principal.display_name(), body.note)
        .await?;
    let note = alert.ack.as_ref().and_then(|a| a.note.clone());
    audit(
        &state,
        AuditAction::AlertAcknowledged,
        &principal,
        &client,
        &alert,
        serde_json::json!({"note": note, "summary": alert.summary}),
    )
    .await;
    Ok(axum::Json(alert.into()))
}

/// Silence an alert for a while, or end its silence with 0 (audit: who, until when, why).
#[utoipa::path(post, path = "/alerts/{alert_id}/silence", tag = "alerts",
    params(("alert_id" = Uuid, Path)),
    request_body = SilenceBody,
    responses((status = 200, body = AlertResponse)))]
pub async fn silence(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    client: ClientInfo,
    Id(id): Id,
    Json(body): Json<SilenceBody>,
) -> ApiResult<axum::Json<AlertResponse>> {
    let alert = state
        .alerts
        .silence(
            id,
            &principal.display_name(),
            body.duration_secs,
            body.reason,
        )
        .await?;
    let details = match &alert.silence {
        Some(s) => serde_json::json!({"until": s.until, "reason": s.reason}),
        None => serde_json::json!({"until": null, "ended": true}),
    };
    audit(
        &state,
        AuditAction::AlertSilenced,
        &principal,
        &client,
        &alert,
        details,
    )
    .await;
    Ok(axum::Json(alert.into()))
}

/// The latest notifications, newest first (failed ones say why).
#[utoipa::path(get, path = "/alert-notifications", tag = "alerts",
    params(NotificationParams),
    responses((status = 200, body = NotificationList)))]
pub async fn notifications(
    State(state): State<AppState>,
    Query(q): Query<NotificationParams>,
) -> ApiResult<axum::Json<NotificationList>> {
    let n = state
        .alerts
        .list_notifications(limit(q.limit, DEFAULT_NOTIFICATION_LIMIT)?)
        .await?;
    Ok(axum::Json(notification_list(n)))
}

/// `?channels=`: comma-separated channel ids, each trimmed, empty ones skipped.
pub(crate) fn channel_ids(list: &str) -> ApiResult<Vec<Uuid>> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<Uuid>()
                .map_err(|_| ApiError::validation("channels", "channels: comma-separated UUIDs"))
        })
        .collect()
}

/// Alertmanager's webhook receiver: its alerts appear beside TaylorDash's own and go out
/// through the same channels (`?channels=<id>,<id>`, else every enabled channel).
///
/// Alertmanager authenticates with its own token (`TAYLORDASH_ALERTMANAGER_TOKEN`) as
/// `Authorization: Bearer`; that token opens this route only. An editor's (or admin's)
/// session or API key is accepted too, for posts by hand.
#[utoipa::path(post, path = "/alerts/alertmanager", tag = "alerts",
    params(AlertmanagerParams),
    request_body = AlertmanagerWebhook,
    responses((status = 200, body = AlertmanagerAccepted)))]
pub async fn alertmanager(
    State(state): State<AppState>,
    Query(q): Query<AlertmanagerParams>,
    Json(body): Json<AlertmanagerWebhook>,
) -> ApiResult<axum::Json<AlertmanagerAccepted>> {
    if body.alerts.len() > MAX_ALERTMANAGER_ALERTS {
        return Err(ApiError::validation(
            "alerts",
            format!("at most {MAX_ALERTMANAGER_ALERTS} alerts per post"),
        ));
    }
    let channels = channel_ids(q.channels.as_deref().unwrap_or_default())?;
    let mut alerts = Vec::with_capacity(body.alerts.len());
    for a in body.alerts {
        if !ALERTMANAGER_STATUSES.contains(&a.status.as_str()) {
            return Err(ApiError::validation(
                "status",
                "an alert's status must be firing or resolved",
            ));
        }
        let fingerprint = a.fingerprint.filter(|f| !f.is_empty()).unwrap_or_else(|| {
            // Alertmanager always sends one; other senders get one from the labels.
            let text: String = a.labels.iter().map(|(k, v)| format!("{k}={v};")).collect();
            services::identity::token::hash_token(&text)[..16].to_owned()
        });
        alerts.push(AlertmanagerAlert {
            status: a.status,
            labels: a.labels,
            annotations: a.annotations,
            starts_at: a.starts_at,
            // Alertmanager sends the zero time for an alert that has not ended.
            ends_at: a.ends_at.filter(|t| t.timestamp() > 0),
            fingerprint,
        });
    }
    let post = AlertmanagerPost {
        group_key: body
            .group_key
            .unwrap_or_else(|| body.receiver.unwrap_or_else(|| "alertmanager".into())),
        alerts,
    };
    let accepted = state.alerts.alertmanager(&post, &channels).await?;
    Ok(axum::Json(AlertmanagerAccepted { accepted }))
}

/// Every rule, by name.
#[utoipa::path(get, path = "/alert-rules", tag = "alerts",
    responses((status = 200, body = RuleList)))]
pub async fn list_rules(State(state): State<AppState>) -> ApiResult<axum::Json<RuleList>> {
    let rules: Vec<RuleResponse> = state
        .alerts
        .list_rules()
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(axum::Json(RuleList {
        count: rules.len(),
        rules,
    }))
}

/// Add a rule.
#[utoipa::path(post, path = "/alert-rules", tag = "alerts",
    request_body = RuleBody,
    responses((status = 201, body = RuleResponse),
        (status = 404, body = ErrorBody, description = "A channel in `channels` does not exist (NOT_FOUND)")))]
pub async fn create_rule(
    State(state): State<AppState>,
    Json(body): Json<RuleBody>,
) -> ApiResult<(StatusCode, HeaderMap, axum::Json<RuleResponse>)> {
    let rule = state.alerts.create_rule(body.into_new()).await?;
    Ok((
        StatusCode::CREATED,
        etag(rule.version),
        axum::Json(rule.into()),
    ))
}

/// One rule.
#[utoipa::path(get, path = "/alert-rules/{rule_id}", tag = "alerts",
    params(("rule_id" = Uuid, Path)),
    responses((status = 200, body = RuleResponse, headers(("ETag" = String)))))]
pub async fn get_rule(
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<(HeaderMap, axum::Json<RuleResponse>)> {
    let rule = state.alerts.get_rule(id).await?;
    Ok((etag(rule.version), axum::Json(rule.into())))
}

/// Replace a rule; 409 when `version`/`If-Match` is stale.
#[utoipa::path(put, path = "/alert-rules/{rule_id}", tag = "alerts",
    params(("rule_id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body = RuleBody,
    responses((status = 200, body = RuleResponse)))]
pub async fn update_rule(
    State(state): State<AppState>,
    Id(id): Id,
    if_match: IfMatch,
    Json(body): Json<RuleBody>,
) -> ApiResult<(HeaderMap, axum::Json<RuleResponse>)> {
    let expected = expected_version(body.version, if_match)?;
    let rule = state
        .alerts
        .update_rule(id, expected, body.into_new())
        .await?;
    Ok((etag(rule.version), axum::Json(rule.into())))
}

/// Delete a rule; its open alerts resolve without a notification.
#[utoipa::path(delete, path = "/alert-rules/{rule_id}", tag = "alerts",
    params(("rule_id" = Uuid, Path)),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_rule(State(state): State<AppState>, Id(id): Id) -> ApiResult<StatusCode> {
    state.alerts.delete_rule(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every channel, by name (secrets by name only).
#[utoipa::path(get, path = "/alert-channels", tag = "alerts",
    responses((status = 200, body = ChannelList)))]
pub async fn list_channels(State(state): State<AppState>) -> ApiResult<axum::Json<ChannelList>> {
    let channels: Vec<ChannelResponse> = state
        .alerts
        .list_channels()
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(axum::Json(ChannelList {
        count: channels.len(),
        channels,
    }))
}

/// Add a channel; a generated webhook signing key is in this answer only.
#[utoipa::path(post, path = "/alert-channels", tag = "alerts",
    request_body = ChannelBody,
    responses((status = 201, body = ChannelCreated)))]
pub async fn create_channel(
    State(state): State<AppState>,
    Json(body): Json<ChannelBody>,
) -> ApiResult<(StatusCode, HeaderMap, axum::Json<ChannelCreated>)> {
    let created = state.alerts.create_channel(body.into_new()).await?;
    let version = created.channel.channel.version;
    Ok((
        StatusCode::CREATED,
        etag(version),
        axum::Json(ChannelCreated {
            channel: created.channel.into(),
            signing_key: created.signing_key,
        }),
    ))
}

/// One channel.
#[utoipa::path(get, path = "/alert-channels/{channel_id}", tag = "alerts",
    params(("channel_id" = Uuid, Path)),
    responses((status = 200, body = ChannelResponse, headers(("ETag" = String)))))]
pub async fn get_channel(
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<(HeaderMap, axum::Json<ChannelResponse>)> {
    let c = state.alerts.get_channel(id).await?;
    Ok((etag(c.channel.version), axum::Json(c.into())))
}

/// Replace a channel (a secret left out keeps its value); 409 when stale.
#[utoipa::path(put, path = "/alert-channels/{channel_id}", tag = "alerts",
    params(("channel_id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body = ChannelBody,
    responses((status = 200, body = ChannelResponse)))]
pub async fn update_channel(
    State(state): State<AppState>,
    Id(id): Id,
    if_match: IfMatch,
    Json(body): Json<ChannelBody>,
) -> ApiResult<(HeaderMap, axum::Json<ChannelResponse>)> {
    let expected = expected_version(body.version, if_match)?;
    let c = state
        .alerts
        .update_channel(id, expected, body.into_new())
        .await?;
    Ok((etag(c.channel.version), axum::Json(c.into())))
}

/// Delete a channel and its notifications.
#[utoipa::path(delete, path = "/alert-channels/{channel_id}", tag = "alerts",
    params(("channel_id" = Uuid, Path)),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_channel(State(state): State<AppState>, Id(id): Id) -> ApiResult<StatusCode> {
    state.alerts.delete_channel(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send a test message through a channel now; 502 `CHANNEL_TEST_FAILED` says why not.
#[utoipa::path(post, path = "/alert-channels/{channel_id}/test", tag = "alerts",
    params(("channel_id" = Uuid, Path)),
    responses((status = 200, body = ChannelTested),
        (status = 502, description = "The receiver refused or could not be reached (CHANNEL_TEST_FAILED)", body = crate::error::ErrorBody)))]
pub async fn test_channel(
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<axum::Json<ChannelTested>> {
    state.alerts.test_channel(id).await?;
    Ok(axum::Json(ChannelTested { delivered: true }))
}
