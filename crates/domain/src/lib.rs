//! The TaylorDash domain: projects, their components and tasks, the dependencies between
//! components, and who may do what (users, roles, sessions, API keys, audit trail). Plain data
//! plus the rules that hold no matter how the data is stored or sent: field validation, status
//! vocabularies, partial updates, dependency-cycle detection, the password policy and the login
//! throttle.
//!
//! Nothing here knows about HTTP, SQL or MQTT.

mod alerts;
mod artifact;
mod checks;
mod common_passwords;
mod component_fields;
mod day_counts;
mod events;
mod external;
mod graph;
mod identity;
mod logs;
mod model;
mod status;
pub mod topics;
mod validate;

pub use alerts::{
    ALERT_NAME_MAX, Acknowledgement, Alert, AlertChange, AlertRule, AlertSource, AlertState,
    Channel, ChannelConfig, ChannelKind, ChannelSecrets, Comparison, DeliveryStatus, MAX_CHANNELS,
    MAX_DURATION_SECS, MAX_GROUP_WAIT_SECS, MAX_SECRET_CHARS, MAX_SILENCE_SECS, MIN_REPEAT_SECS,
    NOTE_MAX, NewAlertRule, NewChannel, Notice, Notification, NotificationMessage, NotifyReason,
    Observation, RuleCondition, RuleKind, Severity, Silence, SmtpSecurity, channel_secret_names,
    retry_delay,
};
pub use artifact::{Artifact, MAX_ARTIFACT_NAME, MAX_CONTENT_TYPE};
pub use checks::{
    Check, CheckKind, CheckPatch, CheckResult, CheckRules, CheckSecrets, CheckState, CheckStatus,
    CheckTarget, DnsTarget, HttpHeader, HttpTarget, MAX_INTERVAL_SECS, MAX_RETRIES,
    MAX_TIMEOUT_SECS, MqttTarget, NewCheck, Outcome, PingTarget, PushTarget, StatusPageAction,
    TcpTarget, Transition, dns_server, status_ranges,
};
pub use component_fields::{HOST_MAX, ICONS, Icon, URL_MAX, host_named};
pub use day_counts::{DAY_HOURS, DayCounts, HourCount, hour_of};
pub use events::{
    DeadLetter, DeadLetterEdit, DeadReason, DomainEvent, Event, EventFilter, EventSource,
    NewDeadLetter, NewEvent, OutboxEntry, envelope,
};
pub use external::*;
pub use graph::find_cycle;
pub use identity::*;
pub use logs::{
    HourlyErrors, LEVELS, LogFilter, LogGroupStats, LogRecord, LogStats, NewLogRecord, SEVERITIES,
    default_severity,
};
pub use model::*;
pub use status::{ComponentStatus, ProjectStatus, TaskStatus, UnknownStatus};
pub use validate::{ValidationError, json_text_has_nul};

/// A JSON object (`{...}`) as stored in `metadata` columns.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

/// The current time, truncated to microseconds: the precision PostgreSQL keeps, so a value
/// read back from either backend equals the value written.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    truncate_to_micros(chrono::Utc::now())
}

/// Drops sub-microsecond precision (see [`now`]).
pub fn truncate_to_micros(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}
