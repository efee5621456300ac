//! Alerts: rules that watch what TaylorDash knows (checks, components, dead letters, backups,
//! the broker, metrics), the alerts they raise with their lifecycle (pending → firing →
//! resolved), acknowledgement and silences, the channels that reach a person, and the
//! notifications queued for them.
//!
//! The rules here are pure: [`Alert::observe`] moves an alert given whether its condition holds
//! at `now`; [`NotificationMessage::render`] turns a group of alerts into what a channel sends.
//! Delivery, evaluation and storage live in `services::alerts` and `storage`.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::events::DomainEvent;
use crate::status::status_enum;
use crate::validate::{self, ValidationError};
use crate::{JsonObject, UnknownStatus};

pub const ALERT_NAME_MAX: usize = 255;
pub const SUMMARY_MAX: usize = 1000;
pub const NOTE_MAX: usize = 1000;
/// Longest `for` duration, repeat interval, window or group wait: 30 days.
pub const MAX_DURATION_SECS: i64 = 30 * 86_400;
/// Shortest repeat interval: one minute.
pub const MIN_REPEAT_SECS: i64 = 60;
/// Longest silence: 90 days.
pub const MAX_SILENCE_SECS: i64 = 90 * 86_400;
/// Longest group wait: an hour.
pub const MAX_GROUP_WAIT_SECS: i64 = 3600;
/// Longest secret value (characters).
pub const MAX_SECRET_CHARS: usize = 4096;
/// At most this many channels per rule, and recipients per e-mail channel.
pub const MAX_CHANNELS: usize = 20;
pub const MAX_QUERY_CHARS: usize = 1000;

status_enum!(
    /// How bad an alert is.
    Severity {
        Info => "info",
        #[default]
        Warning => "warning",
        Critical => "critical",
    }
);

status_enum!(
    /// An alert's lifecycle: the condition holds but not yet for the rule's `for` duration
    /// (pending), it held long enough (firing), it stopped holding (resolved).
    AlertState {
        #[default]
        Pending => "pending",
        Firing => "firing",
        Resolved => "resolved",
    }
);

status_enum!(
    /// Where an alert came from.
    AlertSource {
        #[default]
        Rule => "rule",
        Alertmanager => "alertmanager",
    }
);

status_enum!(
    /// Why a notification is sent.
    NotifyReason {
        #[default]
        Firing => "firing",
        Repeat => "repeat",
        Resolved => "resolved",
        Test => "test",
    }
);

status_enum!(
    /// A notification's delivery: waiting (first try or a retry), delivered (the receiver
    /// answered 2xx), or given up after the retry window.
    DeliveryStatus {
        #[default]
        Queued => "queued",
        Sent => "sent",
        Failed => "failed",
    }
);

status_enum!(
    /// What a rule watches.
    RuleKind {
        #[default]
        CheckDown => "check_down",
        CertExpiring => "cert_expiring",
        ComponentBlocked => "component_blocked",
        DeadLetters => "dead_letters",
        BackupFailed => "backup_failed",
        BackupOverdue => "backup_overdue",
        BrokerLost => "broker_lost",
        MetricThreshold => "metric_threshold",
    }
);

status_enum!(
    /// How a channel reaches a person.
    ChannelKind {
        #[default]
        Webhook => "webhook",
        Email => "email",
        Ntfy => "ntfy",
        Gotify => "gotify",
        Discord => "discord",
        Slack => "slack",
    }
);

/// The comparison of a metric rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Above,
    Below,
}

impl Comparison {
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::Above => ">",
            Comparison::Below => "<",
        }
    }

    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::Above => value > threshold,
            Comparison::Below => value < threshold,
        }
    }
}

/// What a rule's condition is, with its parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleCondition {
    /// A check is down (any check, the checks of a project, or one check).
    CheckDown {
        project_id: Option<Uuid>,
        check_id: Option<Uuid>,
    },
    /// An HTTPS check's certificate expires within `days`.
    CertExpiring {
        project_id: Option<Uuid>,
        check_id: Option<Uuid>,
        days: i64,
    },
    /// A component's status is `blocked`.
    ComponentBlocked { project_id: Option<Uuid> },
    /// At least `threshold` dead letters arrived within the last `window_secs`.
    DeadLetters { threshold: i64, window_secs: i64 },
    /// The last backup failed.
    BackupFailed,
    /// No backup succeeded within `max_age_secs`.
    BackupOverdue { max_age_secs: i64 },
    /// The event bus has no broker connection.
    BrokerLost,
    /// A PromQL expression's value (per series) compares with a threshold.
    MetricThreshold {
        query: String,
        op: Comparison,
        threshold: f64,
    },
}

fn opt_uuid(params: &JsonObject, field: &'static str) -> Result<Option<Uuid>, ValidationError> {
    match params.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| ValidationError::new(field, "must be a UUID")),
        Some(_) => Err(ValidationError::new(field, "must be a UUID")),
    }
}

fn int(
    params: &JsonObject,
    field: &'static str,
    default: Option<i64>,
    min: i64,
    max: i64,
) -> Result<i64, ValidationError> {
    let v = match params.get(field) {
        None | Some(Value::Null) => {
            default.ok_or_else(|| ValidationError::new(field, "is required"))?
        }
        Some(v) => v
            .as_i64()
            .ok_or_else(|| ValidationError::new(field, "must be an integer"))?,
    };
    range(field, v, min, max)
}

fn range(field: &'static str, v: i64, min: i64, max: i64) -> Result<i64, ValidationError> {
    if v < min || v > max {
        return Err(ValidationError::new(
            field,
            format!("must be between {min} and {max}"),
        ));
    }
    Ok(v)
}

fn only(params: &JsonObject, allowed: &[&str]) -> Result<(), ValidationError> {
    match params.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ValidationError::new(
            "params",
            format!(
                "unknown parameter {k:?} (this kind takes: {})",
                if allowed.is_empty() {
                    "none".to_owned()
                } else {
                    allowed.join(", ")
                }
            ),
        )),
        None => Ok(()),
    }
}

impl RuleCondition {
    pub fn kind(&self) -> RuleKind {
        match self {
            RuleCondition::CheckDown { .. } => RuleKind::CheckDown,
            RuleCondition::CertExpiring { .. } => RuleKind::CertExpiring,
            RuleCondition::ComponentBlocked { .. } => RuleKind::ComponentBlocked,
            RuleCondition::DeadLetters { .. } => RuleKind::DeadLetters,
            RuleCondition::BackupFailed => RuleKind::BackupFailed,
            RuleCondition::BackupOverdue { .. } => RuleKind::BackupOverdue,
            RuleCondition::BrokerLost => RuleKind::BrokerLost,
            RuleCondition::MetricThreshold { .. } => RuleKind::MetricThreshold,
        }
    }

    /// Reads and validates a kind's parameters (unknown parameters are refused).
    pub fn parse(kind: RuleKind, params: &JsonObject) -> Result<RuleCondition, ValidationError> {
        Ok(match kind {
            RuleKind::CheckDown => {
                only(params, &["project_id", "check_id"])?;
                RuleCondition::CheckDown {
                    project_id: opt_uuid(params, "project_id")?,
                    check_id: opt_uuid(params, "check_id")?,
                }
            }
            RuleKind::CertExpiring => {
                only(params, &["project_id", "check_id", "days"])?;
                RuleCondition::CertExpiring {
                    project_id: opt_uuid(params, "project_id")?,
                    check_id: opt_uuid(params, "check_id")?,
                    days: int(params, "days", Some(14), 1, 365)?,
                }
            }
            RuleKind::ComponentBlocked => {
                only(params, &["project_id"])?;
                RuleCondition::ComponentBlocked {
                    project_id: opt_uuid(params, "project_id")?,
                }
            }
            RuleKind::DeadLetters => {
                only(params, &["threshold", "window_secs"])?;
                RuleCondition::DeadLetters {
                    threshold: int(params, "threshold", Some(1), 1, 1_000_000)?,
                    window_secs: int(params, "window_secs", Some(300), 10, MAX_DURATION_SECS)?,
                }
            }
            RuleKind::BackupFailed => {
                only(params, &[])?;
                RuleCondition::BackupFailed
            }
            RuleKind::BackupOverdue => {
                only(params, &["max_age_secs"])?;
                RuleCondition::BackupOverdue {
                    max_age_secs: int(params, "max_age_secs", Some(2 * 86_400), 60, 366 * 86_400)?,
                }
            }
            RuleKind::BrokerLost => {
                only(params, &[])?;
                RuleCondition::BrokerLost
            }
            RuleKind::MetricThreshold => {
                only(params, &["query", "op", "threshold"])?;
                let query = match params.get("query") {
                    Some(Value::String(q)) => q.trim().to_owned(),
                    _ => return Err(ValidationError::new("query", "is required (PromQL)")),
                };
                if query.is_empty() {
                    return Err(ValidationError::new("query", "must not be empty"));
                }
                validate::text("query", &query, MAX_QUERY_CHARS)?;
                if query.contains(['\n', '\r', '\t']) {
                    return Err(ValidationError::new("query", "must be one line"));
                }
                let op = match params.get("op").and_then(Value::as_str) {
                    Some(">") | None => Comparison::Above,
                    Some("<") => Comparison::Below,
                    Some(_) => return Err(ValidationError::new("op", "must be \">\" or \"<\"")),
                };
                let threshold = params
                    .get("threshold")
                    .and_then(Value::as_f64)
                    .filter(|t| t.is_finite())
                    .ok_or_else(|| ValidationError::new("threshold", "must be a number"))?;
                RuleCondition::MetricThreshold {
                    query,
                    op,
                    threshold,
                }
            }
        })
    }

    /// The parameters as JSON (what [`RuleCondition::parse`] reads back).
    pub fn params(&self) -> JsonObject {
        let v = match self {
            RuleCondition::CheckDown {
                project_id,
                check_id,
            } => json!({"project_id": project_id, "check_id": check_id}),
            RuleCondition::CertExpiring {
                project_id,
                check_id,
                days,
            } => json!({"project_id": project_id, "check_id": check_id, "days": days}),
            RuleCondition::ComponentBlocked { project_id } => json!({"project_id": project_id}),
            RuleCondition::DeadLetters {
                threshold,
                window_secs,
            } => json!({"threshold": threshold, "window_secs": window_secs}),
            RuleCondition::BackupFailed | RuleCondition::BrokerLost => json!({}),
            RuleCondition::BackupOverdue { max_age_secs } => json!({"max_age_secs": max_age_secs}),
            RuleCondition::MetricThreshold {
                query,
                op,
                threshold,
            } => json!({"query": query, "op": op.as_str(), "threshold": threshold}),
        };
        without_nulls(v)
    }
}

/// An alert rule.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    pub id: Uuid,
    pub name: String,
    pub condition: RuleCondition,
    /// How long the condition must hold before the alert fires (0: at once).
    pub for_secs: i64,
    pub severity: Severity,
    /// The channels notified, in order.
    pub channels: Vec<Uuid>,
    /// Notify again every so often while firing (not acknowledged); `None`: once.
    pub repeat_secs: Option<i64>,
    pub notify_on_resolve: bool,
    /// How long a group waits for more alerts before its first notification.
    pub group_wait_secs: i64,
    pub enabled: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A rule as the client describes it; unset fields take their defaults.
#[derive(Debug, Clone, Default)]
pub struct NewAlertRule {
    pub name: String,
    pub kind: String,
    pub params: JsonObject,
    pub for_secs: Option<i64>,
    pub severity: Option<String>,
    pub channels: Vec<Uuid>,
    pub repeat_secs: Option<i64>,
    pub notify_on_resolve: Option<bool>,
    pub group_wait_secs: Option<i64>,
    pub enabled: Option<bool>,
}

/// Default group wait: long enough for ten checks behind one switch to fall together, short
/// enough that the first notification leaves within seconds.
pub const DEFAULT_GROUP_WAIT_SECS: i64 = 2;

impl AlertRule {
    /// A new rule (version 1).
    pub fn create(new: NewAlertRule) -> Result<AlertRule, ValidationError> {
        let at = crate::now();
        let mut rule = AlertRule {
            id: Uuid::new_v4(),
            name: String::new(),
            condition: RuleCondition::BrokerLost,
            for_secs: 0,
            severity: Severity::Warning,
            channels: Vec::new(),
            repeat_secs: None,
            notify_on_resolve: true,
            group_wait_secs: DEFAULT_GROUP_WAIT_SECS,
            enabled: true,
            version: 0,
            created_at: at,
            updated_at: at,
        };
        rule.replace(new)?;
        Ok(rule)
    }

    /// Replaces every field with `new`'s (a `PUT`), bumps the version.
    pub fn replace(&mut self, new: NewAlertRule) -> Result<(), ValidationError> {
        let name = validate::name("name", &new.name, ALERT_NAME_MAX)?;
        let kind: RuleKind = new.kind.parse().map_err(|e: UnknownStatus| {
            ValidationError::new("kind", format!("unknown kind: {e}"))
        })?;
        let condition = RuleCondition::parse(kind, &new.params)?;
        let severity = match new.severity {
            Some(s) => s.parse().map_err(|e: UnknownStatus| {
                ValidationError::new("severity", format!("unknown severity: {e}"))
            })?,
            None => Severity::Warning,
        };
        if new.channels.len() > MAX_CHANNELS {
            return Err(ValidationError::new(
                "channels",
                format!("at most {MAX_CHANNELS} channels"),
            ));
        }
        let mut channels = Vec::with_capacity(new.channels.len());
        for c in new.channels {
            if !channels.contains(&c) {
                channels.push(c);
            }
        }
        let for_secs = range("for_secs", new.for_secs.unwrap_or(0), 0, MAX_DURATION_SECS)?;
        let repeat_secs = new
            .repeat_secs
            .map(|r| range("repeat_secs", r, MIN_REPEAT_SECS, MAX_DURATION_SECS))
            .transpose()?;
        let group_wait_secs = range(
            "group_wait_secs",
            new.group_wait_secs.unwrap_or(DEFAULT_GROUP_WAIT_SECS),
            0,
            MAX_GROUP_WAIT_SECS,
        )?;
        self.name = name;
        self.condition = condition;
        self.severity = severity;
        self.channels = channels;
        self.for_secs = for_secs;
        self.repeat_secs = repeat_secs;
        self.notify_on_resolve = new.notify_on_resolve.unwrap_or(true);
        self.group_wait_secs = group_wait_secs;
        self.enabled = new.enabled.unwrap_or(true);
        self.version += 1;
        self.updated_at = crate::now().max(self.updated_at);
        Ok(())
    }

    /// The group this rule's alerts are notified in: one notification per group per channel.
    pub fn group_key(&self) -> String {
        format!("rule:{}", self.id)
    }
}

/// Who acknowledged a firing alert, when and why; it stops repeat notifications.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = AckInfo))]
pub struct Acknowledgement {
    pub by: String,
    pub at: DateTime<Utc>,
    pub note: Option<String>,
}

/// Who silenced an alert, until when and why: no notification while it lasts.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = SilenceInfo))]
pub struct Silence {
    pub by: String,
    pub at: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub reason: Option<String>,
}

/// A notification an alert still owes: why, and from when it may leave (its group's wait).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notice {
    pub reason: NotifyReason,
    pub due_at: DateTime<Utc>,
}

/// One alert: one rule (or Alertmanager alert) about one subject, from the first time its
/// condition held until it resolved. At most one unresolved alert exists per fingerprint
/// (deduplication).
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub id: Uuid,
    pub rule_id: Option<Uuid>,
    pub source: AlertSource,
    /// Rule and subject (`<rule id>:check:<check id>`), or Alertmanager's fingerprint.
    pub fingerprint: String,
    pub group_key: String,
    pub name: String,
    pub severity: Severity,
    pub summary: String,
    pub labels: JsonObject,
    pub state: AlertState,
    /// When the condition first held.
    pub active_since: DateTime<Utc>,
    pub firing_since: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub last_notified_at: Option<DateTime<Utc>>,
    pub notice: Option<Notice>,
    pub ack: Option<Acknowledgement>,
    pub silence: Option<Silence>,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

/// What an evaluation saw about one subject of a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The subject within the rule (`check:<id>`, `component:<id>`, a metric's labels...).
    pub subject: String,
    pub summary: String,
    pub labels: JsonObject,
    /// Since when it holds, when the source knows (a check's `status_since`); else from now.
    pub since: Option<DateTime<Utc>>,
}

/// How a rule's alert changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertChange {
    pub from: Option<AlertState>,
    pub to: AlertState,
}

/// A JSON object without its null members (anything else: an empty object).
fn without_nulls(v: Value) -> JsonObject {
    match v {
        Value::Object(mut m) => {
            m.retain(|_, v| !v.is_null());
            m
        }
        _ => JsonObject::new(),
    }
}

impl Alert {
    /// A new, unsaved alert (version 0) with nothing notified, acknowledged or silenced yet.
    fn blank(
        source: AlertSource,
        fingerprint: String,
        group_key: String,
        now: DateTime<Utc>,
    ) -> Alert {
        Alert {
            id: Uuid::new_v4(),
            rule_id: None,
            source,
            fingerprint,
            group_key,
            name: String::new(),
            severity: Severity::Warning,
            summary: String::new(),
            labels: JsonObject::new(),
            state: AlertState::Pending,
            active_since: now,
            firing_since: None,
            resolved_at: None,
            last_notified_at: None,
            notice: None,
            ack: None,
            silence: None,
            version: 0,
            updated_at: now,
        }
    }

    /// A new pending alert of `rule` about `seen` (call [`Alert::observe`] next).
    pub fn raise(rule: &AlertRule, seen: &Observation, now: DateTime<Utc>) -> Alert {
        let fingerprint = format!("{}:{}", rule.id, seen.subject);
        Alert {
            rule_id: Some(rule.id),
            name: rule.name.clone(),
            severity: rule.severity,
            summary: truncate(&seen.summary, SUMMARY_MAX),
            labels: seen.labels.clone(),
            active_since: seen.since.map_or(now, |s| s.min(now)),
            ..Alert::blank(AlertSource::Rule, fingerprint, rule.group_key(), now)
        }
    }

    /// A new alert that Alertmanager reports firing since `starts_at` (the caller fills in its
    /// name, summary and labels).
    pub fn from_alertmanager(
        fingerprint: String,
        group_key: String,
        severity: Severity,
        starts_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Alert {
        Alert {
            severity,
            state: AlertState::Firing,
            active_since: starts_at.unwrap_or(now).min(now),
            firing_since: Some(now),
            ..Alert::blank(AlertSource::Alertmanager, fingerprint, group_key, now)
        }
    }

    pub fn is_open(&self) -> bool {
        self.state != AlertState::Resolved
    }

    pub fn silenced_at(&self, now: DateTime<Utc>) -> bool {
        self.silence.as_ref().is_some_and(|s| s.until > now)
    }

    /// Moves the alert given whether its condition holds at `now` (with the latest summary):
    /// pending until it held `for_secs`, then firing (a notice due after the group wait);
    /// while firing, a repeat notice every `repeat_secs` unless acknowledged or silenced; once
    /// it stops holding, resolved (a notice if the rule wants one and a person was told it
    /// fired). Returns the state change, if any. The caller stores the alert when its version
    /// moved.
    pub fn observe(
        &mut self,
        rule: &AlertRule,
        holds: Option<&Observation>,
        now: DateTime<Utc>,
    ) -> Option<AlertChange> {
        let before = self.clone();
        let from = (self.version > 0).then_some(self.state);
        match (self.state, holds) {
            (AlertState::Resolved, _) => return None,
            (_, None) => {
                self.state = AlertState::Resolved;
                self.resolved_at = Some(now);
                self.notice = (from == Some(AlertState::Firing)
                    && rule.notify_on_resolve
                    && self.last_notified_at.is_some())
                .then_some(Notice {
                    reason: NotifyReason::Resolved,
                    due_at: now,
                });
            }
            (state, Some(seen)) => {
                self.summary = truncate(&seen.summary, SUMMARY_MAX);
                self.labels = seen.labels.clone();
                self.severity = rule.severity;
                self.name = rule.name.clone();
                if state == AlertState::Pending
                    && now - self.active_since >= Duration::seconds(rule.for_secs)
                {
                    self.state = AlertState::Firing;
                    self.firing_since = Some(now);
                    self.notice = Some(Notice {
                        reason: NotifyReason::Firing,
                        due_at: now + Duration::seconds(rule.group_wait_secs),
                    });
                } else if state == AlertState::Firing
                    && self.notice.is_none()
                    && self.ack.is_none()
                    && !self.silenced_at(now)
                    && let (Some(repeat), Some(last)) = (rule.repeat_secs, self.last_notified_at)
                    && now - last >= Duration::seconds(repeat)
                {
                    self.notice = Some(Notice {
                        reason: NotifyReason::Repeat,
                        due_at: now,
                    });
                }
            }
        }
        let change = (from != Some(self.state)).then_some(AlertChange {
            from,
            to: self.state,
        });
        if *self != before || from.is_none() {
            self.version += 1;
            self.updated_at = now;
        }
        change
    }

    /// Acknowledges a firing or pending alert (a pending repeat notice is dropped).
    pub fn acknowledge(
        &mut self,
        by: &str,
        note: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), ValidationError> {
        if !self.is_open() {
            return Err(ValidationError::new(
                "state",
                "a resolved alert cannot be acknowledged",
            ));
        }
        let note = clean_note("note", note)?;
        self.ack = Some(Acknowledgement {
            by: by.to_owned(),
            at: now,
            note,
        });
        if self
            .notice
            .is_some_and(|n| n.reason == NotifyReason::Repeat)
        {
            self.notice = None;
        }
        self.version += 1;
        self.updated_at = now;
        Ok(())
    }

    /// Silences the alert for `secs` (0 ends a silence).
    pub fn silence_for(
        &mut self,
        by: &str,
        secs: i64,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), ValidationError> {
        let secs = range("duration_secs", secs, 0, MAX_SILENCE_SECS)?;
        let reason = clean_note("reason", reason)?;
        self.silence = (secs > 0).then(|| Silence {
            by: by.to_owned(),
            at: now,
            until: now + Duration::seconds(secs),
            reason,
        });
        self.version += 1;
        self.updated_at = now;
        Ok(())
    }

    /// The alert's state event: `tracker/events/alerts/<state>` (kind `alert.<state>`).
    pub fn state_event(&self) -> DomainEvent {
        let action = self.state.as_str();
        let kind = match self.state {
            AlertState::Pending => "alert.pending",
            AlertState::Firing => "alert.firing",
            AlertState::Resolved => "alert.resolved",
        };
        self.event(action, kind, json!({}))
    }

    /// `alert.acknowledged` or `alert.silenced`, with who and why.
    pub fn person_event(&self, acknowledged: bool) -> DomainEvent {
        if acknowledged {
            let a = self.ack.as_ref();
            self.event(
                "acknowledged",
                "alert.acknowledged",
                json!({"by": a.map(|a| &a.by), "note": a.and_then(|a| a.note.as_ref())}),
            )
        } else {
            let s = self.silence.as_ref();
            self.event(
                "silenced",
                "alert.silenced",
                json!({"by": s.map(|s| &s.by), "until": s.map(|s| s.until),
                       "reason": s.and_then(|s| s.reason.as_ref())}),
            )
        }
    }

    fn event(&self, action: &str, kind: &'static str, extra: Value) -> DomainEvent {
        let mut payload = json!({
            "alert_id": self.id,
            "rule_id": self.rule_id,
            "source": self.source,
            "name": self.name,
            "severity": self.severity,
            "state": self.state,
            "summary": self.summary,
            "labels": self.labels,
            "active_since": self.active_since,
            "firing_since": self.firing_since,
            "resolved_at": self.resolved_at,
            "version": self.version,
            "timestamp": self.updated_at,
        });
        if let (Value::Object(p), Value::Object(e)) = (&mut payload, extra) {
            p.extend(e);
        }
        DomainEvent::new(
            "alerts",
            action,
            kind,
            format!("{kind}:{}:{}", self.id, self.version),
            payload,
        )
    }
}

/// A note or reason as sent: its length and characters checked before trimming (what the
/// API document states), blank meaning none.
fn clean_note(
    field: &'static str,
    note: Option<String>,
) -> Result<Option<String>, ValidationError> {
    if let Some(n) = &note {
        validate::text(field, n, NOTE_MAX)?;
    }
    Ok(note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()))
}

fn truncate(s: &str, max: usize) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .take(max)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Channels

/// A channel's secret values (SMTP password, tokens, webhook URLs that carry a key, the
/// signing key). Its `Debug` shows the names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ChannelSecrets(pub BTreeMap<String, String>);

impl std::fmt::Debug for ChannelSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl ChannelSecrets {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// How an e-mail channel secures its SMTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// STARTTLS on the submission port (required: a server without it is refused).
    StartTls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
    /// No TLS: only for a relay on the same machine or network.
    None,
}

impl SmtpSecurity {
    pub fn as_str(self) -> &'static str {
        match self {
            SmtpSecurity::StartTls => "starttls",
            SmtpSecurity::Tls => "tls",
            SmtpSecurity::None => "none",
        }
    }
}

/// A channel's visible settings (what every admin sees); secrets are in [`ChannelSecrets`].
#[derive(Debug, Clone, PartialEq)]
pub enum ChannelConfig {
    /// POST of the documented JSON, signed with HMAC-SHA256 (secret `signing_key`).
    Webhook { url: String },
    /// SMTP (secret `password` when `username` is set).
    Email {
        host: String,
        port: u16,
        security: SmtpSecurity,
        /// Accept a server certificate that does not verify (self-signed, another name): only
        /// for a relay the admin knows; the connection is still encrypted.
        allow_self_signed: bool,
        username: Option<String>,
        from: String,
        to: Vec<String>,
    },
    /// An ntfy server and topic (secret `token`, optional: an access token).
    Ntfy { server: String, topic: String },
    /// A Gotify server (secret `token`: the application token).
    Gotify { server: String },
    /// Discord (secret `url`: the webhook URL, which carries its key).
    Discord,
    /// Slack, Mattermost or a Matrix hookshot (secret `url`: the incoming-webhook URL).
    Slack,
}

/// The secrets each kind needs (`required`) or may have.
pub fn channel_secret_names(
    kind: ChannelKind,
) -> (&'static [&'static str], &'static [&'static str]) {
    match kind {
        ChannelKind::Webhook => (&["signing_key"], &[]),
        ChannelKind::Email => (&[], &["password"]),
        ChannelKind::Ntfy => (&[], &["token"]),
        ChannelKind::Gotify => (&["token"], &[]),
        ChannelKind::Discord | ChannelKind::Slack => (&["url"], &[]),
    }
}

fn str_field(config: &JsonObject, field: &'static str) -> Result<Option<String>, ValidationError> {
    match config.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(ValidationError::new(field, "must be a string")),
    }
}

fn required(config: &JsonObject, field: &'static str) -> Result<String, ValidationError> {
    str_field(config, field)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ValidationError::new(field, "is required"))
}

/// An `http(s)` URL with a host; with `visible`, no user name or password in it (every admin
/// sees it).
pub fn http_url(
    field: &'static str,
    value: &str,
    visible: bool,
) -> Result<String, ValidationError> {
    let value = value.trim();
    validate::max_chars(field, value, 2048)?;
    if value.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    let parsed = url::Url::parse(value)
        .map_err(|e| ValidationError::new(field, format!("is not a valid URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ValidationError::new(
            field,
            "must start with http:// or https://",
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(ValidationError::new(field, "must name a host"));
    }
    if visible && (!parsed.username().is_empty() || parsed.password().is_some()) {
        return Err(ValidationError::new(
            field,
            "must not contain a user name or password (put credentials in the secrets)",
        ));
    }
    Ok(parsed.into())
}

fn email_address(field: &'static str, value: &str) -> Result<String, ValidationError> {
    let v = value.trim();
    validate::max_chars(field, v, 254)?;
    let ok = v.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && domain.contains('.') || domain == "localhost"
    }) && !v
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c));
    if !ok {
        return Err(ValidationError::new(
            field,
            format!("{v:?} is not an e-mail address (name@example.org)"),
        ));
    }
    Ok(v.to_owned())
}

impl ChannelConfig {
    pub fn kind(&self) -> ChannelKind {
        match self {
            ChannelConfig::Webhook { .. } => ChannelKind::Webhook,
            ChannelConfig::Email { .. } => ChannelKind::Email,
            ChannelConfig::Ntfy { .. } => ChannelKind::Ntfy,
            ChannelConfig::Gotify { .. } => ChannelKind::Gotify,
            ChannelConfig::Discord => ChannelKind::Discord,
            ChannelConfig::Slack => ChannelKind::Slack,
        }
    }

    /// Reads and validates a kind's settings (unknown fields are refused).
    pub fn parse(kind: ChannelKind, config: &JsonObject) -> Result<ChannelConfig, ValidationError> {
        let allowed: &[&str] = match kind {
            ChannelKind::Webhook => &["url"],
            ChannelKind::Email => &[
                "host",
                "port",
                "security",
                "allow_self_signed",
                "username",
                "from",
                "to",
            ],
            ChannelKind::Ntfy => &["server", "topic"],
            ChannelKind::Gotify => &["server"],
            ChannelKind::Discord | ChannelKind::Slack => &[],
        };
        if let Some(k) = config.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(ValidationError::new(
                "config",
                format!("unknown setting {k:?} for a {kind} channel"),
            ));
        }
        Ok(match kind {
            ChannelKind::Webhook => ChannelConfig::Webhook {
                url: http_url("url", &required(config, "url")?, true)?,
            },
            ChannelKind::Ntfy => {
                let topic = required(config, "topic")?;
                if topic.len() > 64
                    || !topic
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    return Err(ValidationError::new(
                        "topic",
                        "must be 1-64 letters, digits, - or _",
                    ));
                }
                let server = str_field(config, "server")?
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "https://ntfy.sh".to_owned());
                ChannelConfig::Ntfy {
                    server: http_url("server", &server, true)?,
                    topic,
                }
            }
            ChannelKind::Gotify => ChannelConfig::Gotify {
                server: http_url("server", &required(config, "server")?, true)?,
            },
            ChannelKind::Discord => ChannelConfig::Discord,
            ChannelKind::Slack => ChannelConfig::Slack,
            ChannelKind::Email => {
                let host = crate::component_fields::host_named("host", &required(config, "host")?)?;
                let security = match str_field(config, "security")?.as_deref() {
                    None | Some("starttls") => SmtpSecurity::StartTls,
                    Some("tls") => SmtpSecurity::Tls,
                    Some("none") => SmtpSecurity::None,
                    Some(_) => {
                        return Err(ValidationError::new(
                            "security",
                            "must be starttls, tls or none",
                        ));
                    }
                };
                let port = match config.get("port") {
                    None | Some(Value::Null) => match security {
                        SmtpSecurity::Tls => 465,
                        SmtpSecurity::StartTls => 587,
                        SmtpSecurity::None => 25,
                    },
                    Some(v) => v
                        .as_u64()
                        .filter(|p| (1..=65535).contains(p))
                        .map(|p| p as u16)
                        .ok_or_else(|| ValidationError::new("port", "must be 1-65535"))?,
                };
                let allow_self_signed = match config.get("allow_self_signed") {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => {
                        return Err(ValidationError::new(
                            "allow_self_signed",
                            "must be true or false",
                        ));
                    }
                };
                let username = str_field(config, "username")?.filter(|s| !s.is_empty());
                if let Some(u) = &username {
                    validate::name("username", u, 255)?;
                }
                let from = email_address("from", &required(config, "from")?)?;
                let to = match config.get("to") {
                    Some(Value::Array(a)) if !a.is_empty() && a.len() <= MAX_CHANNELS => a
                        .iter()
                        .map(|v| match v {
                            Value::String(s) => email_address("to", s),
                            _ => Err(ValidationError::new("to", "must list e-mail addresses")),
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                    _ => {
                        return Err(ValidationError::new(
                            "to",
                            format!("must list 1-{MAX_CHANNELS} e-mail addresses"),
                        ));
                    }
                };
                ChannelConfig::Email {
                    host,
                    port,
                    security,
                    allow_self_signed,
                    username,
                    from,
                    to,
                }
            }
        })
    }

    pub fn to_json(&self) -> JsonObject {
        let v = match self {
            ChannelConfig::Webhook { url } => json!({"url": url}),
            ChannelConfig::Email {
                host,
                port,
                security,
                allow_self_signed,
                username,
                from,
                to,
            } => json!({"host": host, "port": port, "security": security.as_str(),
                        // Only when set: the usual channel does not mention it.
                        "allow_self_signed": allow_self_signed.then_some(true),
                        "username": username, "from": from, "to": to}),
            ChannelConfig::Ntfy { server, topic } => json!({"server": server, "topic": topic}),
            ChannelConfig::Gotify { server } => json!({"server": server}),
            ChannelConfig::Discord | ChannelConfig::Slack => json!({}),
        };
        without_nulls(v)
    }
}

/// A notification channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub id: Uuid,
    pub name: String,
    pub config: ChannelConfig,
    pub enabled: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A channel as the client describes it.
#[derive(Debug, Clone, Default)]
pub struct NewChannel {
    pub name: String,
    pub kind: String,
    pub config: JsonObject,
    /// Secret values by name; on an update a secret left out keeps its stored value.
    pub secrets: BTreeMap<String, String>,
    pub enabled: Option<bool>,
}

impl Channel {
    pub fn kind(&self) -> ChannelKind {
        self.config.kind()
    }

    /// A new channel with its secrets (a webhook's `signing_key` is generated by the service
    /// when the client leaves it out).
    pub fn create(new: NewChannel) -> Result<(Channel, ChannelSecrets), ValidationError> {
        let at = crate::now();
        let mut channel = Channel {
            id: Uuid::new_v4(),
            name: String::new(),
            config: ChannelConfig::Discord,
            enabled: true,
            version: 0,
            created_at: at,
            updated_at: at,
        };
        let secrets = channel.replace(new, &ChannelSecrets::default())?;
        Ok((channel, secrets))
    }

    /// Replaces the settings (the kind cannot change); secrets left out keep their stored
    /// values. Returns the secrets to store.
    pub fn replace(
        &mut self,
        new: NewChannel,
        stored: &ChannelSecrets,
    ) -> Result<ChannelSecrets, ValidationError> {
        let name = validate::name("name", &new.name, ALERT_NAME_MAX)?;
        let kind: ChannelKind = new.kind.parse().map_err(|e: UnknownStatus| {
            ValidationError::new("kind", format!("unknown kind: {e}"))
        })?;
        if self.version > 0 && kind != self.kind() {
            return Err(ValidationError::new(
                "kind",
                "a channel's kind cannot change",
            ));
        }
        let config = ChannelConfig::parse(kind, &new.config)?;
        let (needed, optional) = channel_secret_names(kind);
        let mut secrets = BTreeMap::new();
        for (k, v) in new.secrets {
            if !needed.contains(&k.as_str()) && !optional.contains(&k.as_str()) {
                return Err(ValidationError::new(
                    "secrets",
                    format!("unknown secret {k:?} for a {kind} channel"),
                ));
            }
            if v.is_empty()
                || v.chars().count() > MAX_SECRET_CHARS
                || v.chars().any(char::is_control)
            {
                return Err(ValidationError::new(
                    "secrets",
                    format!(
                        "{k} must be 1-{MAX_SECRET_CHARS} characters without control characters"
                    ),
                ));
            }
            secrets.insert(k, v);
        }
        for k in needed.iter().chain(optional) {
            if !secrets.contains_key(*k)
                && let Some(v) = stored.get(k)
            {
                secrets.insert((*k).to_owned(), v.to_owned());
            }
        }
        if let Some(url) = secrets.get("url") {
            secrets.insert("url".into(), http_url("secrets", url, false)?);
        }
        for k in needed {
            if !secrets.contains_key(*k) {
                return Err(ValidationError::new(
                    "secrets",
                    format!("a {kind} channel needs the secret {k:?}"),
                ));
            }
        }
        if let ChannelConfig::Email { username, .. } = &config
            && username.is_none()
            && secrets.contains_key("password")
        {
            return Err(ValidationError::new(
                "secrets",
                "a password needs a username",
            ));
        }
        self.name = name;
        self.config = config;
        self.enabled = new.enabled.unwrap_or(true);
        self.version += 1;
        self.updated_at = crate::now().max(self.updated_at);
        Ok(ChannelSecrets(secrets))
    }

    /// `tracker/events/alert_channels/<action>`: names and kind, never a setting or secret.
    pub fn changed_event(&self, action: &str) -> DomainEvent {
        let kind = match action {
            "created" => "alert_channel.created",
            "updated" => "alert_channel.updated",
            _ => "alert_channel.deleted",
        };
        DomainEvent::new(
            "alert_channels",
            action,
            kind,
            format!("{kind}:{}:{}", self.id, self.version),
            json!({"channel_id": self.id, "name": self.name, "kind": self.kind(),
                   "enabled": self.enabled, "version": self.version,
                   "timestamp": self.updated_at}),
        )
    }
}

impl AlertRule {
    /// `tracker/events/alert_rules/<action>`.
    pub fn changed_event(&self, action: &str) -> DomainEvent {
        let kind = match action {
            "created" => "alert_rule.created",
            "updated" => "alert_rule.updated",
            _ => "alert_rule.deleted",
        };
        DomainEvent::new(
            "alert_rules",
            action,
            kind,
            format!("{kind}:{}:{}", self.id, self.version),
            json!({"rule_id": self.id, "name": self.name, "kind": self.condition.kind(),
                   "severity": self.severity, "enabled": self.enabled,
                   "version": self.version, "timestamp": self.updated_at}),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Notifications

/// What a notification says: rendered once, when queued, so a retry after a restart sends the
/// same message.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationMessage {
    pub reason: NotifyReason,
    pub title: String,
    pub body: String,
    pub severity: Severity,
    /// Per alert: id, name, state, severity, summary, labels, since.
    pub alerts: Vec<JsonObject>,
}

impl NotificationMessage {
    /// One message for a group of alerts (`[FIRING:3] Check down`).
    pub fn render(reason: NotifyReason, alerts: &[&Alert]) -> NotificationMessage {
        let firing = alerts
            .iter()
            .filter(|a| a.state == AlertState::Firing)
            .count();
        let resolved = alerts.len() - firing;
        let name = alerts.first().map(|a| a.name.as_str()).unwrap_or("test");
        let severity = alerts
            .iter()
            .map(|a| a.severity)
            .max()
            .unwrap_or(Severity::Info);
        let title = match (firing, resolved) {
            (0, r) => format!("[RESOLVED{}] {name}", count(r)),
            (f, 0) => format!("[FIRING{}] {name}", count(f)),
            (f, r) => format!("[FIRING{}, RESOLVED{}] {name}", count(f), count(r)),
        };
        let mut body = String::new();
        for a in alerts.iter().take(50) {
            let mark = if a.state == AlertState::Firing {
                "firing"
            } else {
                "resolved"
            };
            body.push_str(&format!("- {mark}: {}\n", a.summary));
        }
        if alerts.len() > 50 {
            body.push_str(&format!("… and {} more\n", alerts.len() - 50));
        }
        NotificationMessage {
            reason,
            title,
            body: body.trim_end().to_owned(),
            severity,
            alerts: alerts
                .iter()
                .map(|a| {
                    object(json!({
                        "id": a.id,
                        "name": a.name,
                        "state": a.state,
                        "severity": a.severity,
                        "summary": a.summary,
                        "labels": a.labels,
                        "active_since": a.active_since,
                        "firing_since": a.firing_since,
                        "resolved_at": a.resolved_at,
                    }))
                })
                .collect(),
        }
    }

    /// The message of a channel's "send test".
    pub fn test(channel: &str) -> NotificationMessage {
        NotificationMessage {
            reason: NotifyReason::Test,
            title: "TaylorDash test notification".into(),
            body: format!("The channel {channel:?} works: this is a test, nothing is wrong."),
            severity: Severity::Info,
            alerts: Vec::new(),
        }
    }

    pub fn to_json(&self) -> JsonObject {
        object(json!({
            "reason": self.reason,
            "title": self.title,
            "body": self.body,
            "severity": self.severity,
            "alerts": self.alerts,
        }))
    }

    pub fn from_json(v: &JsonObject) -> Result<NotificationMessage, String> {
        let s = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("notification payload without {k}"))
        };
        Ok(NotificationMessage {
            reason: s("reason")?
                .parse()
                .map_err(|e: UnknownStatus| e.to_string())?,
            title: s("title")?.to_owned(),
            body: s("body")?.to_owned(),
            severity: s("severity")?
                .parse()
                .map_err(|e: UnknownStatus| e.to_string())?,
            alerts: v
                .get("alerts")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|x| x.as_object().cloned()).collect())
                .unwrap_or_default(),
        })
    }
}

fn count(n: usize) -> String {
    if n > 1 {
        format!(":{n}")
    } else {
        String::new()
    }
}

fn object(v: Value) -> JsonObject {
    match v {
        Value::Object(m) => m,
        _ => JsonObject::new(),
    }
}

/// A queued notification: one message to one channel about one group of alerts.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub id: Uuid,
    pub channel_id: Uuid,
    pub channel_kind: ChannelKind,
    pub group_key: String,
    /// Sent to the receiver (webhook `Idempotency-Key` header, ntfy/Gotify extras), so a
    /// receiver can drop the rare second delivery after a crash between its 2xx and our commit.
    pub idempotency_key: String,
    pub message: NotificationMessage,
    pub alert_ids: Vec<Uuid>,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl Notification {
    /// A notification queued now for `channel`.
    pub fn queue(
        channel: &Channel,
        group_key: &str,
        message: NotificationMessage,
        alert_ids: Vec<Uuid>,
        now: DateTime<Utc>,
    ) -> Notification {
        let id = Uuid::new_v4();
        Notification {
            id,
            channel_id: channel.id,
            channel_kind: channel.kind(),
            group_key: group_key.to_owned(),
            idempotency_key: format!("taylordash-{id}"),
            message,
            alert_ids,
            status: DeliveryStatus::Queued,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            created_at: now,
            sent_at: None,
        }
    }
}

/// When the next attempt of a failed delivery runs: `base` doubled per attempt, at most `cap`,
/// plus up to a quarter of jitter taken from `seed` (so many notifications to one dead
/// receiver do not retry in lockstep).
pub fn retry_delay(attempts: i32, base: Duration, cap: Duration, seed: u128) -> Duration {
    let exp = attempts.clamp(1, 30) - 1;
    let raw = base.num_milliseconds().saturating_mul(1_i64 << exp.min(20));
    let capped = raw.min(cap.num_milliseconds()).max(1);
    let jitter = (seed % (capped as u128 / 4 + 1)) as i64;
    Duration::milliseconds(capped + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(kind: &str, params: Value, for_secs: i64) -> AlertRule {
        AlertRule::create(NewAlertRule {
            name: "Check down".into(),
            kind: kind.into(),
            params: object(params),
            for_secs: Some(for_secs),
            repeat_secs: Some(600),
            ..Default::default()
        })
        .expect("valid rule")
    }

    fn seen(subject: &str) -> Observation {
        Observation {
            subject: subject.into(),
            summary: format!("{subject} is down"),
            labels: JsonObject::new(),
            since: None,
        }
    }

    #[test]
    fn rule_kinds_validate_their_parameters() {
        let ok = rule("cert_expiring", json!({"days": 7}), 0);
        assert_eq!(
            ok.condition,
            RuleCondition::CertExpiring {
                project_id: None,
                check_id: None,
                days: 7
            }
        );
        assert_eq!(
            RuleCondition::parse(RuleKind::CertExpiring, &ok.condition.params()).unwrap(),
            ok.condition
        );
        let bad = |kind: &str, params: Value| {
            AlertRule::create(NewAlertRule {
                name: "x".into(),
                kind: kind.into(),
                params: object(params),
                ..Default::default()
            })
            .unwrap_err()
            .field
        };
        assert_eq!(bad("check_down", json!({"check_id": "nope"})), "check_id");
        assert_eq!(bad("check_down", json!({"nonsense": 1})), "params");
        assert_eq!(bad("dead_letters", json!({"threshold": 0})), "threshold");
        assert_eq!(bad("metric_threshold", json!({"threshold": 1})), "query");
        assert_eq!(
            bad("metric_threshold", json!({"query": "up", "op": "="})),
            "op"
        );
        assert_eq!(bad("volcano", json!({})), "kind");
        let r = AlertRule::create(NewAlertRule {
            name: "x".into(),
            kind: "broker_lost".into(),
            repeat_secs: Some(5),
            ..Default::default()
        });
        assert_eq!(r.unwrap_err().field, "repeat_secs");
    }

    #[test]
    fn an_alert_pends_fires_repeats_and_resolves() {
        let r = rule("check_down", json!({}), 60);
        let t0 = crate::now();
        let s = seen("check:a");
        let mut a = Alert::raise(&r, &s, t0);
        assert_eq!(
            a.observe(&r, Some(&s), t0),
            Some(AlertChange {
                from: None,
                to: AlertState::Pending
            })
        );
        assert_eq!(a.version, 1);
        // Still pending before `for` has passed.
        assert_eq!(a.observe(&r, Some(&s), t0 + Duration::seconds(30)), None);
        assert_eq!(a.version, 1, "nothing changed, nothing to store");
        let t1 = t0 + Duration::seconds(60);
        assert_eq!(
            a.observe(&r, Some(&s), t1),
            Some(AlertChange {
                from: Some(AlertState::Pending),
                to: AlertState::Firing
            })
        );
        let n = a.notice.expect("a firing notice");
        assert_eq!(n.reason, NotifyReason::Firing);
        assert_eq!(n.due_at, t1 + Duration::seconds(DEFAULT_GROUP_WAIT_SECS));
        // Notified; no repeat before the interval.
        a.notice = None;
        a.last_notified_at = Some(t1);
        assert_eq!(a.observe(&r, Some(&s), t1 + Duration::seconds(599)), None);
        assert!(a.notice.is_none());
        a.observe(&r, Some(&s), t1 + Duration::seconds(600));
        assert_eq!(a.notice.map(|n| n.reason), Some(NotifyReason::Repeat));
        // Acknowledging drops the repeat and stops the next ones.
        a.acknowledge("ada", Some("on it".into()), t1).unwrap();
        assert!(a.notice.is_none());
        a.observe(&r, Some(&s), t1 + Duration::seconds(5000));
        assert!(a.notice.is_none());
        let t2 = t1 + Duration::seconds(6000);
        assert_eq!(
            a.observe(&r, None, t2),
            Some(AlertChange {
                from: Some(AlertState::Firing),
                to: AlertState::Resolved
            })
        );
        assert_eq!(a.notice.map(|n| n.reason), Some(NotifyReason::Resolved));
        assert_eq!(a.resolved_at, Some(t2));
        assert_eq!(a.state_event().topic, "tracker/events/alerts/resolved");
    }

    #[test]
    fn a_pending_alert_that_clears_resolves_without_a_notice() {
        let r = rule("check_down", json!({}), 60);
        let t0 = crate::now();
        let s = seen("check:a");
        let mut a = Alert::raise(&r, &s, t0);
        a.observe(&r, Some(&s), t0);
        a.observe(&r, None, t0 + Duration::seconds(10));
        assert_eq!(a.state, AlertState::Resolved);
        assert!(a.notice.is_none());
    }

    #[test]
    fn silences_stop_repeats_and_end() {
        let r = rule("check_down", json!({}), 0);
        let t0 = crate::now();
        let s = seen("check:a");
        let mut a = Alert::raise(&r, &s, t0);
        a.observe(&r, Some(&s), t0);
        assert_eq!(a.state, AlertState::Firing);
        a.notice = None;
        a.last_notified_at = Some(t0);
        a.silence_for("ada", 3600, Some("maintenance".into()), t0)
            .unwrap();
        a.observe(&r, Some(&s), t0 + Duration::seconds(1800));
        assert!(a.notice.is_none(), "silenced");
        a.observe(&r, Some(&s), t0 + Duration::seconds(3601));
        assert!(a.notice.is_some(), "the silence ended");
        assert!(
            a.silence_for("ada", MAX_SILENCE_SECS + 1, None, t0)
                .is_err()
        );
    }

    #[test]
    fn channels_keep_secrets_apart_and_out_of_debug() {
        let (c, s) = Channel::create(NewChannel {
            name: "phone".into(),
            kind: "gotify".into(),
            config: object(json!({"server": "https://push.lan"})),
            secrets: [("token".to_owned(), "hunter2-token".to_owned())].into(),
            enabled: None,
        })
        .unwrap();
        assert_eq!(format!("{s:?}"), "{\"token\"}");
        assert!(!format!("{c:?}").contains("hunter2"));
        let missing = Channel::create(NewChannel {
            name: "d".into(),
            kind: "discord".into(),
            ..Default::default()
        });
        assert_eq!(missing.unwrap_err().field, "secrets");
        let creds = Channel::create(NewChannel {
            name: "w".into(),
            kind: "webhook".into(),
            config: object(json!({"url": "https://u:p@example.org/hook"})),
            ..Default::default()
        });
        assert_eq!(creds.unwrap_err().field, "url");
        let mail = Channel::create(NewChannel {
            name: "mail".into(),
            kind: "email".into(),
            config: object(json!({"host": "smtp.lan", "from": "td@lab.lan", "to": ["me@lab.lan"]})),
            ..Default::default()
        })
        .unwrap()
        .0;
        assert!(matches!(
            mail.config,
            ChannelConfig::Email {
                port: 587,
                security: SmtpSecurity::StartTls,
                ..
            }
        ));
        // A secret left out on an update keeps its stored value.
        let mut c2 = c.clone();
        let kept = c2
            .replace(
                NewChannel {
                    name: "phone 2".into(),
                    kind: "gotify".into(),
                    config: object(json!({"server": "https://push.lan"})),
                    ..Default::default()
                },
                &s,
            )
            .unwrap();
        assert_eq!(kept, s);
        assert_eq!(c2.version, 2);
    }

    #[test]
    fn a_group_renders_as_one_message() {
        let r = rule("check_down", json!({}), 0);
        let t0 = crate::now();
        let alerts: Vec<Alert> = (0..10)
            .map(|i| {
                let s = seen(&format!("check:{i}"));
                let mut a = Alert::raise(&r, &s, t0);
                a.observe(&r, Some(&s), t0);
                a
            })
            .collect();
        let refs: Vec<&Alert> = alerts.iter().collect();
        let m = NotificationMessage::render(NotifyReason::Firing, &refs);
        assert_eq!(m.title, "[FIRING:10] Check down");
        assert_eq!(m.alerts.len(), 10);
        assert_eq!(m.body.lines().count(), 10);
        assert_eq!(NotificationMessage::from_json(&m.to_json()).unwrap(), m);
    }

    #[test]
    fn retries_back_off_exponentially_up_to_a_cap() {
        let base = Duration::seconds(2);
        let cap = Duration::seconds(300);
        let d = |n| retry_delay(n, base, cap, 0).num_seconds();
        assert_eq!((d(1), d(2), d(3), d(4)), (2, 4, 8, 16));
        assert_eq!(d(20), 300);
        let jittered = retry_delay(3, base, cap, 1999).num_milliseconds();
        assert!((8000..=10_000).contains(&jittered));
    }
}
