//! The queries behind [`crate::LogStore`], written once for both databases (see `sql_store.rs`
//! for why a macro). `hour` is the expression turning `"timestamp"` into a `YYYY-MM-DDTHH` key
//! (UTC), the only place the dialects differ.

macro_rules! log_columns {
    () => {
        "id, \"timestamp\", level, service, category, severity, message, details, trace_id, \
         request_id, user_id, endpoint, method, status_code, duration_ms, error_code, \
         stack_trace, context, environment, version, host_name"
    };
}

macro_rules! impl_log_store {
    ($store:ident, $db:ty, hour = $hour:literal) => {
        mod log_store {
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use domain::{
                HourlyErrors, JsonObject, LogFilter, LogGroupStats, LogRecord, LogStats,
                NewLogRecord,
            };
            use sqlx::Row as _;
            use sqlx::types::Json;

            use crate::logs::{LogPage, LogStore, contains_pattern, parse_hour};
            use crate::{Entity, Result, StoreError};

            type Row = <$db as sqlx::Database>::Row;

            /// `FROM … WHERE` with only the filters that are set: a `$n IS NULL OR column = $n`
            /// condition would keep the planner from using the trace_id and request_id indexes.
            fn push_filter(
                b: &mut sqlx::QueryBuilder<$db>,
                filter: &LogFilter,
                search: Option<&str>,
            ) {
                b.push(" FROM application_logs WHERE 1 = 1");
                for (column, value) in [
                    ("level", &filter.level),
                    ("service", &filter.service),
                    ("category", &filter.category),
                    ("trace_id", &filter.trace_id),
                    ("request_id", &filter.request_id),
                ] {
                    if let Some(v) = value {
                        b.push(" AND ").push(column).push(" = ").push_bind(v.as_str());
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

            fn log_from(row: &Row) -> Result<LogRecord> {
                Ok(LogRecord {
                    id: row.try_get("id")?,
                    record: NewLogRecord {
                        timestamp: row.try_get("timestamp")?,
                        level: row.try_get("level")?,
                        service: row.try_get("service")?,
                        category: row.try_get("category")?,
                        severity: row.try_get("severity")?,
                        message: row.try_get("message")?,
                        details: row.try_get("details")?,
                        trace_id: row.try_get("trace_id")?,
                        request_id: row.try_get("request_id")?,
                        user_id: row.try_get("user_id")?,
                        endpoint: row.try_get("endpoint")?,
                        method: row.try_get("method")?,
                        status_code: row.try_get("status_code")?,
                        duration_ms: row.try_get("duration_ms")?,
                        error_code: row.try_get("error_code")?,
                        stack_trace: row.try_get("stack_trace")?,
                        context: row.try_get::<Json<JsonObject>, _>("context")?.0,
                        environment: row.try_get("environment")?,
                        version: row.try_get("version")?,
                        host_name: row.try_get("host_name")?,
                    },
                })
            }

            #[async_trait]
            impl LogStore for super::$store {
                async fn insert_logs(&self, records: &[NewLogRecord]) -> Result<u64> {
                    // 20 parameters a row: 100 rows a statement stays far below both databases'
                    // parameter limits and saves a round trip per row.
                    const ROWS: usize = 100;
                    if records.is_empty() {
                        return Ok(0);
                    }
                    if let Some(written) = self.infra_copy_logs(records).await? {
                        return Ok(written);
                    }
                    let mut tx = self.writer().begin().await?;
                    let mut written = 0;
                    for chunk in records.chunks(ROWS) {
                        // push_values writes each database's own placeholders: `?` on SQLite,
                        // where numbered ones make binding quadratic in the parameter count.
                        let mut b = sqlx::QueryBuilder::<$db>::new(
                            "INSERT INTO application_logs (\"timestamp\", level, service, \
                             category, severity, message, details, trace_id, request_id, \
                             user_id, endpoint, method, status_code, duration_ms, error_code, \
                             stack_trace, context, environment, version, host_name) ",
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
                        written += b.build().execute(&mut *tx).await?.rows_affected();
                    }
                    tx.commit().await?;
                    Ok(written)
                }

                async fn list_logs(
                    &self,
                    filter: &LogFilter,
                    limit: i64,
                    offset: i64,
                ) -> Result<LogPage> {
                    let search = filter.search.as_deref().map(contains_pattern);
                    let mut conn = self.reader().acquire().await?;
                    let mut list = sqlx::QueryBuilder::<$db>::new(concat!(
                        "SELECT ",
                        $crate::sql_logs::log_columns!()
                    ));
                    push_filter(&mut list, filter, search.as_deref());
                    list.push(" ORDER BY \"timestamp\" DESC, id DESC LIMIT ")
                        .push_bind(limit)
                        .push(" OFFSET ")
                        .push_bind(offset);
                    let rows = list.build().fetch_all(&mut *conn).await?;
                    let mut count = sqlx::QueryBuilder::<$db>::new("SELECT count(*)");
                    push_filter(&mut count, filter, search.as_deref());
                    let total: i64 = count.build().fetch_one(&mut *conn).await?.try_get(0)?;
                    Ok(LogPage {
                        logs: rows.iter().map(log_from).collect::<Result<_>>()?,
                        total,
                    })
                }

                async fn get_log(&self, id: i64) -> Result<LogRecord> {
                    let row = sqlx::query(concat!(
                        "SELECT ",
                        $crate::sql_logs::log_columns!(),
                        " FROM application_logs WHERE id = $1"
                    ))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?
                    .ok_or_else(|| StoreError::not_found(Entity::LogRecord, id))?;
                    log_from(&row)
                }

                async fn log_stats(&self, since: DateTime<Utc>) -> Result<LogStats> {
                    let mut conn = self.reader().acquire().await?;
                    let rows = sqlx::query(
                        "SELECT level, category, service, count(*) AS n, \
                         CAST(avg(duration_ms) AS DOUBLE PRECISION) AS avg_ms, \
                         max(duration_ms) AS max_ms FROM application_logs \
                         WHERE \"timestamp\" >= $1 GROUP BY level, category, service \
                         ORDER BY n DESC, level, category, service",
                    )
                    .bind(since)
                    .fetch_all(&mut *conn)
                    .await?;
                    let mut groups = Vec::with_capacity(rows.len());
                    for row in &rows {
                        groups.push(LogGroupStats {
                            level: row.try_get("level")?,
                            category: row.try_get("category")?,
                            service: row.try_get("service")?,
                            count: row.try_get("n")?,
                            avg_duration_ms: row.try_get("avg_ms")?,
                            max_duration_ms: row.try_get("max_ms")?,
                        });
                    }
                    let rows = sqlx::query(concat!(
                        "SELECT ",
                        $hour,
                        " AS hour, count(*) AS total, \
                         sum(CASE WHEN level = 'ERROR' THEN 1 ELSE 0 END) AS errors \
                         FROM application_logs WHERE \"timestamp\" >= $1 GROUP BY 1 ORDER BY 1"
                    ))
                    .bind(since)
                    .fetch_all(&mut *conn)
                    .await?;
                    let mut hourly = Vec::with_capacity(rows.len());
                    for row in &rows {
                        let key: String = row.try_get("hour")?;
                        let Some(hour) = parse_hour(&key) else {
                            return Err(StoreError::corrupt(format!("bad hour key {key}")));
                        };
                        hourly.push(HourlyErrors {
                            hour,
                            error_count: row.try_get("errors")?,
                            total_count: row.try_get("total")?,
                        });
                    }
                    Ok(LogStats { groups, hourly })
                }

                async fn prune_logs(
                    &self,
                    level: &str,
                    cutoff: DateTime<Utc>,
                    batch: i64,
                ) -> Result<u64> {
                    let done = sqlx::query(
                        "DELETE FROM application_logs WHERE id IN (SELECT id FROM \
                         application_logs WHERE level = $1 AND \"timestamp\" < $2 LIMIT $3)",
                    )
                    .bind(level)
                    .bind(cutoff)
                    .bind(batch)
                    .execute(self.writer())
                    .await?;
                    Ok(done.rows_affected())
                }
            }
        }
    };
}

pub(crate) use {impl_log_store, log_columns};
