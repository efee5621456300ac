//! Portable snapshots of every table, for backups and for moving between databases.
//!
//! A row travels as a JSON object with one canonical encoding per column kind (UUIDs and
//! timestamps as strings, JSON columns as JSON, booleans as booleans), so a snapshot of SQLite
//! restores into PostgreSQL and the other way round. [`TABLES`] describes every table; a test
//! compares it with both migrated schemas, so a table added by a migration without being
//! described here fails the build's tests instead of silently missing from backups.

use async_trait::async_trait;

use crate::Result;

/// How a column's values are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Uuid,
    Text,
    I32,
    I64,
    /// Double precision; JSON numbers (non-finite values cannot occur: columns refuse them).
    F64,
    Bool,
    /// Timestamp with time zone, as RFC 3339 with microseconds.
    Time,
    Json,
}

#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Kind)],
    /// Export order (parents before children within the table, e.g. users by creation).
    pub order_by: &'static str,
    /// Has a generated integer `id` whose sequence must follow restored ids (PostgreSQL).
    pub serial_id: bool,
}

use Kind::*;

const fn table(
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
    order_by: &'static str,
    serial_id: bool,
) -> Table {
    Table {
        name,
        columns,
        order_by,
        serial_id,
    }
}

/// Every table, parents before children (the restore order).
pub const TABLES: &[Table] = &[
    table(
        "projects",
        &[
            ("id", Uuid),
            ("name", Text),
            ("description", Text),
            ("status", Text),
            ("owner_id", Uuid),
            ("metadata", Json),
            ("version", I64),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        "id",
        false,
    ),
    table(
        "components",
        &[
            ("id", Uuid),
            ("project_id", Uuid),
            ("name", Text),
            ("type", Text),
            ("status", Text),
            ("progress", I32),
            ("position", Json),
            ("metadata", Json),
            ("version", I64),
            ("created_at", Time),
            ("updated_at", Time),
            ("url", Text),
            ("host", Text),
            ("icon", Text),
            ("description", Text),
        ],
        "id",
        false,
    ),
    table(
        "checks",
        &[
            ("id", Uuid),
            ("component_id", Uuid),
            ("name", Text),
            ("kind", Text),
            ("target", Json),
            ("secrets", Json),
            ("push_token_hash", Text),
            ("interval_secs", I32),
            ("timeout_secs", I32),
            ("retries", I32),
            ("retry_interval_secs", I32),
            ("drives_status", Bool),
            ("paused", Bool),
            ("version", I64),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        "id",
        false,
    ),
    table(
        "check_status",
        &[
            ("check_id", Uuid),
            ("status", Text),
            ("status_since", Time),
            ("failures", I32),
            ("last_checked_at", Time),
            ("last_latency_ms", F64),
            ("last_error", Text),
            ("cert_expires_at", Time),
            ("next_due_at", Time),
            ("lease_until", Time),
            ("day_hour", Time),
            ("day_counts", Text),
        ],
        "check_id",
        false,
    ),
    table(
        "check_results",
        &[
            ("id", I64),
            ("check_id", Uuid),
            ("at", Time),
            ("status", Text),
            ("latency_ms", F64),
            ("error", Text),
        ],
        "id",
        true,
    ),
    table(
        "check_uptime",
        &[
            ("check_id", Uuid),
            ("resolution", Text),
            ("bucket", Time),
            ("up", I32),
            ("degraded", I32),
            ("down", I32),
            ("latency_sum", F64),
            ("latency_count", I32),
            ("latency_max", F64),
        ],
        "check_id, resolution, bucket",
        false,
    ),
    table(
        "status_pages",
        &[
            ("project_id", Uuid),
            ("token_hash", Text),
            ("enabled_at", Time),
        ],
        "project_id",
        false,
    ),
    table(
        "component_dependencies",
        &[
            ("component_id", Uuid),
            ("depends_on_id", Uuid),
            ("created_at", Time),
        ],
        "component_id, depends_on_id",
        false,
    ),
    table(
        "tasks",
        &[
            ("id", Uuid),
            ("component_id", Uuid),
            ("name", Text),
            ("description", Text),
            ("status", Text),
            ("assignee_id", Uuid),
            ("due_date", Time),
            ("completed_at", Time),
            ("version", I64),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        "id",
        false,
    ),
    table(
        "events_mirror",
        &[
            ("id", I64),
            ("topic", Text),
            ("kind", Text),
            ("trace_id", Uuid),
            ("idempotency_key", Text),
            ("source", Text),
            ("payload", Json),
            ("ts", Time),
            ("received_at", Time),
        ],
        "id",
        true,
    ),
    table(
        "dlq_events",
        &[
            ("id", I64),
            ("original_topic", Text),
            ("reason", Text),
            ("failure_reason", Text),
            ("payload", Json),
            ("created_at", Time),
            ("replayed_at", Time),
            ("replayed_event_id", I64),
            ("idempotency_key", Text),
            ("edited_payload", Json),
            ("edited_by", Text),
        ],
        "id",
        true,
    ),
    table(
        "event_outbox",
        &[
            ("id", I64),
            ("topic", Text),
            ("kind", Text),
            ("trace_id", Uuid),
            ("idempotency_key", Text),
            ("payload", Json),
            ("created_at", Time),
            ("attempted_at", Time),
            ("sent_at", Time),
            ("dead_letter_id", I64),
        ],
        "id",
        true,
    ),
    table(
        "users",
        &[
            ("id", Uuid),
            ("username", Text),
            ("username_key", Text),
            ("password_hash", Text),
            ("role", Text),
            ("is_active", Bool),
            ("default_view", Text),
            ("single_view_mode", Bool),
            ("created_by", Uuid),
            ("created_at", Time),
            ("updated_at", Time),
            ("last_login", Time),
        ],
        // A user's creator was created before it.
        "created_at, id",
        false,
    ),
    table(
        "user_sessions",
        &[
            ("id", Uuid),
            ("user_id", Uuid),
            ("token_hash", Text),
            ("created_at", Time),
            ("last_activity", Time),
            ("expires_at", Time),
            ("ttl_seconds", I64),
            ("revoked_at", Time),
            ("ip_address", Text),
            ("user_agent", Text),
            ("sign_in_method", Text),
        ],
        "id",
        false,
    ),
    table(
        "api_keys",
        &[
            ("id", Uuid),
            ("user_id", Uuid),
            ("name", Text),
            ("key_hash", Text),
            ("prefix", Text),
            ("scope", Text),
            ("created_at", Time),
            ("expires_at", Time),
            ("last_used_at", Time),
            ("revoked_at", Time),
        ],
        "id",
        false,
    ),
    table(
        "external_identities",
        &[
            ("provider", Text),
            ("subject", Text),
            ("user_id", Uuid),
            ("email", Text),
            ("created_at", Time),
            ("last_seen_at", Time),
        ],
        "provider, subject",
        false,
    ),
    table(
        "user_totp",
        &[
            ("user_id", Uuid),
            ("secret", Text),
            ("confirmed_at", Time),
            ("last_step", I64),
            ("created_at", Time),
        ],
        "user_id",
        false,
    ),
    table(
        "passkeys",
        &[
            ("id", Uuid),
            ("user_id", Uuid),
            ("credential_id", Text),
            ("public_key", Text),
            ("algorithm", I64),
            ("sign_count", I64),
            ("name", Text),
            ("created_at", Time),
            ("last_used_at", Time),
        ],
        "id",
        false,
    ),
    table(
        "recovery_codes",
        &[
            ("user_id", Uuid),
            ("code_hash", Text),
            ("created_at", Time),
            ("used_at", Time),
        ],
        "user_id, code_hash",
        false,
    ),
    table(
        "login_challenges",
        &[
            ("token_hash", Text),
            ("kind", Text),
            ("user_id", Uuid),
            ("details", Json),
            ("failures", I64),
            ("created_at", Time),
            ("expires_at", Time),
        ],
        "token_hash",
        false,
    ),
    table(
        "auth_settings",
        &[("key", Text), ("value", Json), ("updated_at", Time)],
        "key",
        false,
    ),
    table(
        "login_throttle",
        &[
            ("key", Text),
            ("failures", I64),
            ("last_failure", Time),
            ("locked_until", Time),
        ],
        "key",
        false,
    ),
    table(
        "auth_audit_log",
        &[
            ("id", Uuid),
            ("created_at", Time),
            ("action", Text),
            ("actor_id", Uuid),
            ("actor_name", Text),
            ("target_id", Uuid),
            ("target_name", Text),
            ("ip_address", Text),
            ("user_agent", Text),
            ("details", Json),
        ],
        "id",
        false,
    ),
    table(
        "artifacts",
        &[
            ("id", Uuid),
            ("project_id", Uuid),
            ("component_id", Uuid),
            ("name", Text),
            ("content_type", Text),
            ("size", I64),
            ("sha256", Text),
            ("object_key", Text),
            ("uploaded_by", Uuid),
            ("created_at", Time),
        ],
        "id",
        false,
    ),
    table(
        "object_deletions",
        &[
            ("id", I64),
            ("object_key", Text),
            ("attempts", I32),
            ("next_attempt_at", Time),
            ("last_error", Text),
            ("created_at", Time),
        ],
        "id",
        true,
    ),
    table(
        "application_logs",
        &[
            ("id", I64),
            ("timestamp", Time),
            ("level", Text),
            ("service", Text),
            ("category", Text),
            ("severity", Text),
            ("message", Text),
            ("details", Text),
            ("trace_id", Text),
            ("request_id", Text),
            ("user_id", Text),
            ("endpoint", Text),
            ("method", Text),
            ("status_code", I32),
            ("duration_ms", I64),
            ("error_code", Text),
            ("stack_trace", Text),
            ("context", Json),
            ("environment", Text),
            ("version", Text),
            ("host_name", Text),
        ],
        "id",
        true,
    ),
    table(
        "metric_samples",
        &[
            ("id", I64),
            ("name", Text),
            ("labels", Json),
            ("series", Text),
            ("value", F64),
            ("ts", Time),
        ],
        "id",
        true,
    ),
    table(
        "alert_channels",
        &[
            ("id", Uuid),
            ("name", Text),
            ("kind", Text),
            ("config", Json),
            ("secrets", Json),
            ("enabled", Bool),
            ("version", I64),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        "id",
        false,
    ),
    table(
        "alert_rules",
        &[
            ("id", Uuid),
            ("name", Text),
            ("kind", Text),
            ("params", Json),
            ("for_secs", I64),
            ("severity", Text),
            ("channels", Json),
            ("repeat_secs", I64),
            ("notify_on_resolve", Bool),
            ("group_wait_secs", I64),
            ("enabled", Bool),
            ("version", I64),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        "id",
        false,
    ),
    table(
        "alerts",
        &[
            ("id", Uuid),
            ("rule_id", Uuid),
            ("source", Text),
            ("fingerprint", Text),
            ("group_key", Text),
            ("name", Text),
            ("severity", Text),
            ("summary", Text),
            ("labels", Json),
            ("state", Text),
            ("active_since", Time),
            ("firing_since", Time),
            ("resolved_at", Time),
            ("last_notified_at", Time),
            ("notify_reason", Text),
            ("notify_due_at", Time),
            ("acked_by", Text),
            ("acked_at", Time),
            ("ack_note", Text),
            ("silenced_by", Text),
            ("silenced_at", Time),
            ("silenced_until", Time),
            ("silence_reason", Text),
            ("version", I64),
            ("updated_at", Time),
        ],
        "id",
        false,
    ),
    table(
        "alert_notifications",
        &[
            ("id", Uuid),
            ("channel_id", Uuid),
            ("channel_kind", Text),
            ("group_key", Text),
            ("idempotency_key", Text),
            ("payload", Json),
            ("status", Text),
            ("attempts", I32),
            ("next_attempt_at", Time),
            ("lease_until", Time),
            ("last_error", Text),
            ("created_at", Time),
            ("sent_at", Time),
        ],
        "id",
        false,
    ),
    table(
        "alert_notification_alerts",
        &[("notification_id", Uuid), ("alert_id", Uuid)],
        "notification_id, alert_id",
        false,
    ),
];

/// The description of `name`.
pub fn table_named(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}

/// One row: column name → canonical JSON value.
pub type RowObject = serde_json::Map<String, serde_json::Value>;

/// Receives the rows of an export, table by table in [`TABLES`] order.
pub type RowSink<'a> = dyn FnMut(&'static Table, RowObject) -> std::io::Result<()> + Send + 'a;

/// Yields the rows to restore, tables in [`TABLES`] order.
pub type RowSource<'a> =
    dyn Iterator<Item = std::result::Result<(&'static Table, RowObject), String>> + Send + 'a;

#[async_trait]
pub trait SnapshotStore: Send + Sync {
    /// Reads every table in one consistent snapshot (one read transaction), handing each row
    /// to `sink`.
    async fn export(&self, sink: &mut RowSink<'_>) -> Result<()>;
    /// Rows in every table (the emptiness check before a restore).
    async fn row_counts(&self) -> Result<Vec<(&'static str, i64)>>;
    /// In one transaction: deletes every row when `wipe`, inserts `rows`, and moves id
    /// sequences past the restored ids. Returns the rows inserted per table.
    async fn import(
        &self,
        rows: &mut RowSource<'_>,
        wipe: bool,
    ) -> Result<Vec<(&'static str, u64)>>;
    /// The highest migration version applied.
    async fn schema_version(&self) -> Result<i64>;
}

/// Conversions between canonical JSON values and typed column values.
pub(crate) mod value {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde_json::Value;
    use uuid::Uuid;

    use crate::StoreError;

    fn bad(column: &str, want: &str, v: &Value) -> StoreError {
        StoreError::Corrupt(format!("column {column}: expected {want}, found {v}"))
    }

    pub fn uuid(column: &str, v: &Value) -> Result<Option<Uuid>, StoreError> {
        match v {
            Value::Null => Ok(None),
            Value::String(s) => s.parse().map(Some).map_err(|_| bad(column, "a UUID", v)),
            _ => Err(bad(column, "a UUID", v)),
        }
    }

    pub fn text(column: &str, v: &Value) -> Result<Option<String>, StoreError> {
        match v {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            _ => Err(bad(column, "a string", v)),
        }
    }

    pub fn int(column: &str, v: &Value) -> Result<Option<i64>, StoreError> {
        match v {
            Value::Null => Ok(None),
            _ => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| bad(column, "an integer", v)),
        }
    }

    pub fn float(column: &str, v: &Value) -> Result<Option<f64>, StoreError> {
        match v {
            Value::Null => Ok(None),
            _ => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| bad(column, "a number", v)),
        }
    }

    pub fn int32(column: &str, v: &Value) -> Result<Option<i32>, StoreError> {
        int(column, v)?
            .map(|n| i32::try_from(n).map_err(|_| bad(column, "a 32-bit integer", v)))
            .transpose()
    }

    pub fn boolean(column: &str, v: &Value) -> Result<Option<bool>, StoreError> {
        match v {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(*b)),
            _ => Err(bad(column, "true or false", v)),
        }
    }

    pub fn time(column: &str, v: &Value) -> Result<Option<DateTime<Utc>>, StoreError> {
        match v {
            Value::Null => Ok(None),
            Value::String(s) => DateTime::parse_from_rfc3339(s)
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|_| bad(column, "an RFC 3339 time", v)),
            _ => Err(bad(column, "an RFC 3339 time", v)),
        }
    }

    pub fn json(v: &Value) -> Option<sqlx::types::Json<Value>> {
        (!v.is_null()).then(|| sqlx::types::Json(v.clone()))
    }

    pub fn show_time(t: DateTime<Utc>) -> Value {
        Value::String(t.to_rfc3339_opts(SecondsFormat::Micros, true))
    }
}
