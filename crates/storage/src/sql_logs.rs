//! The queries behind [`crate::LogStore`], written once for both databases over [`SqlBackend`].
//! PostgreSQL stores batches by `COPY` ([`SqlBackend::copy_logs`]); the hourly key of
//! `log_stats` is the one expression whose spelling differs.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    HourlyErrors, JsonObject, LogFilter, LogGroupStats, LogRecord, LogStats, NewLogRecord,
};
use sqlx::types::Json;
use sqlx::{ColumnIndex, Database, Executor, QueryBuilder};
use sqlx_macros::FromRow;

use crate::backend::{Column, Conn, Dialects, Param, Row, Sql, SqlBackend};
use crate::logs::contains_pattern;
use crate::logs::{LogPage, LogStore, parse_hour};
use crate::{Entity, Result, StoreError};

/// `log_stats`' errors per hour: `"timestamp"` as a `YYYY-MM-DDTHH` key (UTC).
const HOURLY_ERRORS: Dialects = Dialects {
    postgres: "SELECT to_char(\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24') AS hour, \
               count(*) AS total, sum(CASE WHEN level = 'ERROR' THEN 1 ELSE 0 END) AS errors \
               FROM application_logs WHERE \"timestamp\" >= $1 GROUP BY 1 ORDER BY 1",
    sqlite: "SELECT substr(\"timestamp\", 1, 13) AS hour, count(*) AS total, \
             sum(CASE WHEN level = 'ERROR' THEN 1 ELSE 0 END) AS errors \
             FROM application_logs WHERE \"timestamp\" >= $1 GROUP BY 1 ORDER BY 1",
};

#[derive(FromRow)]
struct LogRow {
    id: i64,
    timestamp: DateTime<Utc>,
    level: String,
    service: String,
    category: String,
    severity: String,
    message: String,
    details: Option<String>,
    trace_id: Option<String>,
    request_id: Option<String>,
    user_id: Option<String>,
    endpoint: Option<String>,
    method: Option<String>,
    status_code: Option<i32>,
    duration_ms: Option<i64>,
    error_code: Option<String>,
    stack_trace: Option<String>,
    context: Json<JsonObject>,
    environment: String,
    version: String,
    host_name: String,
}

impl From<LogRow> for LogRecord {
    fn from(r: LogRow) -> LogRecord {
        LogRecord {
            id: r.id,
            record: NewLogRecord {
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
                context: r.context.0,
                environment: r.environment,
                version: r.version,
                host_name: r.host_name,
            },
        }
    }
}

#[derive(FromRow)]
struct GroupRow {
    level: String,
    category: String,
    service: String,
    n: i64,
    avg_ms: Option<f64>,
    max_ms: Option<i64>,
}

impl From<GroupRow> for LogGroupStats {
    fn from(r: GroupRow) -> LogGroupStats {
        LogGroupStats {
            level: r.level,
            category: r.category,
            service: r.service,
            count: r.n,
            avg_duration_ms: r.avg_ms,
            max_duration_ms: r.max_ms,
        }
    }
}

#[derive(FromRow)]
struct HourRow {
    hour: String,
    total: i64,
    errors: i64,
}

impl TryFrom<HourRow> for HourlyErrors {
    type Error = StoreError;

    fn try_from(r: HourRow) -> Result<HourlyErrors> {
        let Some(hour) = parse_hour(&r.hour) else {
            return Err(StoreError::corrupt(format!("bad hour key {}", r.hour)));
        };
        Ok(HourlyErrors {
            hour,
            error_count: r.errors,
            total_count: r.total,
        })
    }
}

/// `FROM … WHERE` with only the filters that are set: a `$n IS NULL OR column = $n` condition
/// would keep the planner from using the trace_id and request_id indexes.
fn push_filter<'a, DB: Database>(
    b: &mut QueryBuilder<DB>,
    filter: &'a LogFilter,
    search: Option<&'a str>,
) where
    &'a str: Param<'a, DB>,
    for<'q> DateTime<Utc>: Param<'q, DB>,
{
    b.push(" FROM application_logs WHERE 1 = 1");
    if !filter.levels.is_empty() {
        b.push(" AND level IN (");
        let mut list = b.separated(", ");
        for level in &filter.levels {
            list.push_bind(level.as_str());
        }
        b.push(")");
    }
    for (column, value) in [
        ("service", &filter.service),
        ("category", &filter.category),
        ("trace_id", &filter.trace_id),
        ("request_id", &filter.request_id),
    ] {
        if let Some(v) = value {
            b.push(" AND ")
                .push(column)
                .push(" = ")
                .push_bind(v.as_str());
        }
    }
    if let Some(pattern) = search {
        b.push(" AND (lower(message) LIKE ")
            .push_bind(pattern)
            .push(" ESCAPE '\\' OR lower(coalesce(details, '')) LIKE ")
            .push_bind(pattern)
            .push(" ESCAPE '\\')");
    }
    if let Some(since) = filter.since {
        b.push(" AND \"timestamp\" >= ").push_bind(since);
    }
    if let Some(until) = filter.until {
        b.push(" AND \"timestamp\" < ").push_bind(until);
    }
}

#[async_trait]
impl<B> LogStore for B
where
    B: SqlBackend,
    for<'c> &'c mut Conn<B>: Executor<'c, Database = B::Db>,
    for<'a> &'a str: Param<'a, B::Db> + ColumnIndex<Row<B>>,
    usize: ColumnIndex<Row<B>>,
    for<'q> String: Param<'q, B::Db>,
    for<'q> Option<String>: Param<'q, B::Db>,
    for<'q> Option<i32>: Param<'q, B::Db>,
    for<'q> Option<i64>: Param<'q, B::Db>,
    for<'a> Json<&'a JsonObject>: Param<'a, B::Db>,
    String: Column<B::Db>,
    for<'q> i64: Param<'q, B::Db> + Column<B::Db>,
    for<'q> i32: Param<'q, B::Db> + Column<B::Db>,
    f64: Column<B::Db>,
    for<'q> DateTime<Utc>: Param<'q, B::Db> + Column<B::Db>,
    Json<JsonObject>: Column<B::Db>,
{
    async fn insert_logs(&self, records: &[NewLogRecord]) -> Result<u64> {
        // 20 parameters a row: 100 rows a statement stays far below both databases' parameter
        // limits and saves a round trip per row.
        const ROWS: usize = 100;
        if records.is_empty() {
            return Ok(0);
        }
        if let Some(written) = self.copy_logs(records).await? {
            return Ok(written);
        }
        let mut tx = self.writer().begin().await?;
        let mut written = 0;
        for chunk in records.chunks(ROWS) {
            // push_values writes each database's own placeholders: `?` on SQLite, where
            // numbered ones make binding quadratic in the parameter count.
            let mut b = QueryBuilder::<B::Db>::new(
                "INSERT INTO application_logs (\"timestamp\", level, service, category, \
                 severity, message, details, trace_id, request_id, user_id, endpoint, method, \
                 status_code, duration_ms, error_code, stack_trace, context, environment, \
                 version, host_name) ",
            );
            b.push_values(chunk, |mut row, r| {
                row.push_bind(r.timestamp)
                    .push_bind(&r.level)
                    .push_bind(&r.service)
                    .push_bind(&r.category)
                    .push_bind(&r.severity)
                    .push_bind(&r.message)
                    .push_bind(&r.details)
                    .push_bind(&r.trace_id)
                    .push_bind(&r.request_id)
                    .push_bind(&r.user_id)
                    .push_bind(&r.endpoint)
                    .push_bind(&r.method)
                    .push_bind(r.status_code)
                    .push_bind(r.duration_ms)
                    .push_bind(&r.error_code)
                    .push_bind(&r.stack_trace)
                    .push_bind(Json(&r.context))
                    .push_bind(&r.environment)
                    .push_bind(&r.version)
                    .push_bind(&r.host_name);
            });
            written += B::Db::rows_affected(&b.build().execute(&mut *tx).await?);
        }
        tx.commit().await?;
        Ok(written)
    }

    async fn list_logs(&self, filter: &LogFilter, limit: i64, offset: i64) -> Result<LogPage> {
        let search = filter.search.as_deref().map(contains_pattern);
        let mut conn = self.reader().acquire().await?;
        let mut list = QueryBuilder::<B::Db>::new(
            "SELECT id, \"timestamp\", level, service, category, severity, message, details, \
             trace_id, request_id, user_id, endpoint, method, status_code, duration_ms, \
             error_code, stack_trace, context, environment, version, host_name",
        );
        push_filter(&mut list, filter, search.as_deref());
        list.push(" ORDER BY \"timestamp\" DESC, id DESC LIMIT ")
            .push_bind(limit)
            .push(" OFFSET ")
            .push_bind(offset);
        let rows: Vec<LogRow> = list.build_query_as().fetch_all(&mut *conn).await?;
        let mut count = QueryBuilder::<B::Db>::new("SELECT count(*)");
        push_filter(&mut count, filter, search.as_deref());
        let total = count.build_query_scalar().fetch_one(&mut *conn).await?;
        Ok(LogPage {
            logs: rows.into_iter().map(LogRecord::from).collect(),
            total,
        })
    }

    async fn get_log(&self, id: i64) -> Result<LogRecord> {
        let row: LogRow = sqlx::query_as(
            "SELECT id, \"timestamp\", level, service, category, severity, message, details, \
             trace_id, request_id, user_id, endpoint, method, status_code, duration_ms, \
             error_code, stack_trace, context, environment, version, host_name \
             FROM application_logs WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.reader())
        .await?
        .ok_or_else(|| StoreError::not_found(Entity::LogRecord, id))?;
        Ok(row.into())
    }

    async fn log_stats(&self, since: DateTime<Utc>) -> Result<LogStats> {
        let mut conn = self.reader().acquire().await?;
        let groups: Vec<GroupRow> = sqlx::query_as(
            "SELECT level, category, service, count(*) AS n, \
             CAST(avg(duration_ms) AS DOUBLE PRECISION) AS avg_ms, \
             max(duration_ms) AS max_ms FROM application_logs \
             WHERE \"timestamp\" >= $1 GROUP BY level, category, service \
             ORDER BY n DESC, level, category, service",
        )
        .bind(since)
        .fetch_all(&mut *conn)
        .await?;
        let hourly: Vec<HourRow> = sqlx::query_as(HOURLY_ERRORS.get(B::KIND))
            .bind(since)
            .fetch_all(&mut *conn)
            .await?;
        Ok(LogStats {
            groups: groups.into_iter().map(LogGroupStats::from).collect(),
            hourly: hourly
                .into_iter()
                .map(HourlyErrors::try_from)
                .collect::<Result<_>>()?,
        })
    }

    async fn prune_logs(&self, level: &str, cutoff: DateTime<Utc>, batch: i64) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM application_logs WHERE id IN (SELECT id FROM \
             application_logs WHERE level = $1 AND \"timestamp\" < $2 LIMIT $3)",
        )
        .bind(level)
        .bind(cutoff)
        .bind(batch)
        .execute(self.writer())
        .await?;
        Ok(B::Db::rows_affected(&done))
    }
}
