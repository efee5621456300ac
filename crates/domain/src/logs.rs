//! Structured application logs (v1's `application_logs`): the record, its vocabularies, and the
//! query filter. Records are redacted before they get here (see `api::logs`).

use chrono::{DateTime, Utc};

use crate::JsonObject;

/// Log levels, most severe first (v1 spelling).
pub const LEVELS: [&str; 4] = ["ERROR", "WARN", "INFO", "DEBUG"];
/// Severities (v1 spelling).
pub const SEVERITIES: [&str; 5] = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"];

/// The severity v1 gave a level when none was stated.
pub fn default_severity(level: &str) -> &'static str {
    match level {
        "ERROR" => "HIGH",
        "WARN" => "MEDIUM",
        "DEBUG" => "LOW",
        _ => "INFO",
    }
}

/// A log record to store.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewLogRecord {
    pub timestamp: DateTime<Utc>,
    /// One of [`LEVELS`].
    pub level: String,
    pub service: String,
    pub category: String,
    /// One of [`SEVERITIES`].
    pub severity: String,
    pub message: String,
    pub details: Option<String>,
    pub trace_id: Option<String>,
    pub request_id: Option<String>,
    pub user_id: Option<String>,
    pub endpoint: Option<String>,
    pub method: Option<String>,
    pub status_code: Option<i32>,
    pub duration_ms: Option<i64>,
    pub error_code: Option<String>,
    pub stack_trace: Option<String>,
    pub context: JsonObject,
    pub environment: String,
    pub version: String,
    pub host_name: String,
}

/// A stored log record.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    pub id: i64,
    pub record: NewLogRecord,
}

/// Which records to list; every set field must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogFilter {
    /// Any of these levels; empty: every level.
    pub levels: Vec<String>,
    pub service: Option<String>,
    pub category: Option<String>,
    pub trace_id: Option<String>,
    pub request_id: Option<String>,
    /// Case-insensitive substring of the message or the details.
    pub search: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// Counts of one (level, category, service) group.
#[derive(Debug, Clone, PartialEq)]
pub struct LogGroupStats {
    pub level: String,
    pub category: String,
    pub service: String,
    pub count: i64,
    /// Over the records that carry a duration.
    pub avg_duration_ms: Option<f64>,
    pub max_duration_ms: Option<i64>,
}

/// Errors among all records of one hour.
#[derive(Debug, Clone, PartialEq)]
pub struct HourlyErrors {
    /// Start of the hour (UTC).
    pub hour: DateTime<Utc>,
    pub error_count: i64,
    pub total_count: i64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogStats {
    pub groups: Vec<LogGroupStats>,
    /// Oldest hour first.
    pub hourly: Vec<HourlyErrors>,
}
