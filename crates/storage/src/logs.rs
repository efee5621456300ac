//! Application log storage (`application_logs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{LogFilter, LogRecord, LogStats, NewLogRecord};

use crate::Result;

/// A page of log records, newest first, with the number of all matching records.
#[derive(Debug, Clone, PartialEq)]
pub struct LogPage {
    pub logs: Vec<LogRecord>,
    pub total: i64,
}

#[async_trait]
pub trait LogStore: Send + Sync {
    /// Stores a batch in one transaction; returns how many rows were written.
    async fn insert_logs(&self, records: &[NewLogRecord]) -> Result<u64>;
    /// Records matching `filter`, newest first.
    async fn list_logs(&self, filter: &LogFilter, limit: i64, offset: i64) -> Result<LogPage>;
    async fn get_log(&self, id: i64) -> Result<LogRecord>;
    /// Counts by (level, category, service) and errors per hour, over records since `since`.
    async fn log_stats(&self, since: DateTime<Utc>) -> Result<LogStats>;
    /// Deletes up to `batch` records of `level` older than `cutoff`; returns how many.
    async fn prune_logs(&self, level: &str, cutoff: DateTime<Utc>, batch: i64) -> Result<u64>;
}

/// `%`-wrapped, lower-cased LIKE pattern matching `needle` literally (escape character `\`).
pub(crate) fn contains_pattern(needle: &str) -> String {
    let mut p = String::with_capacity(needle.len() + 2);
    p.push('%');
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// Parses the `YYYY-MM-DDTHH` hour key both databases produce.
pub(crate) fn parse_hour(key: &str) -> Option<DateTime<Utc>> {
    chrono::NaiveDateTime::parse_from_str(&format!("{key}:00:00"), "%Y-%m-%dT%H:%M:%S")
        .ok()
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_match_literally() {
        assert_eq!(contains_pattern("50%_a\\B"), "%50\\%\\_a\\\\b%");
    }

    #[test]
    fn hour_keys_parse() {
        let h = parse_hour("2026-11-29T05").unwrap();
        assert_eq!(h.to_rfc3339(), "2026-11-29T05:00:00+00:00");
        assert!(parse_hour("garbage").is_none());
    }
}
