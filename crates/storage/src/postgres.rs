//! PostgreSQL: one pool for reads and writes; rows about to change are locked `FOR UPDATE`.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::backend::{CopyIn, SqlBackend};
use crate::db_generation::GenerationReader;
use crate::group_commit::GroupCommit;
use crate::migrations;
use crate::sql_events::EventRow;

/// A [`crate::Store`] on PostgreSQL.
pub struct PgStore {
    pool: PgPool,
    group_commit: GroupCommit<sqlx::Postgres>,
    max_connections: u32,
    /// Tells this process's event notifications from other replicas'.
    instance: uuid::Uuid,
    /// Reads the projects table's generation for the list answers served again.
    generations: GenerationReader,
}

/// A pooled connection idle at least this long is pinged before it is lent.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// How long a pooled connection is used before it is closed (when next returned, or by the
/// pool's check) and opened afresh. Each connection keeps, on this side, its buffers (grown to
/// the largest message it carried: a 100-row page, a multi-row insert) and up to 100 prepared
/// statements with their column descriptions; a burst opens the whole pool, and the outbox
/// relay's polls (every 100 ms) then rotate through every idle connection, so an idle timeout
/// never fires. A lifetime does: a minute after the burst the pool is back to what the idle
/// server uses (docs/benchmarks.md, "Memory after load"). Reopening costs a few milliseconds
/// per connection and lifetime, off the request path for the first [`MIN_CONNECTIONS`].
const CONNECTION_LIFETIME: Duration = Duration::from_secs(20);

/// Connections the pool keeps open (and reopens at once when one reaches its lifetime), so
/// that light traffic never waits for a connection to be established.
const MIN_CONNECTIONS: u32 = 2;

/// The channel on which every replica announces the events it stored.
const EVENTS_CHANNEL: &str = "taylordash_events";

impl PgStore {
    /// Connects (one attempt) with a pool of at most `max_connections`.
    pub async fn connect(url: &str, max_connections: u32) -> crate::Result<PgStore> {
        // Notices below warnings ("relation ... already exists, skipping" from each migration
        // run, say) tell an operator nothing.
        let options = url
            .parse::<PgConnectOptions>()?
            .options([("client_min_messages", "warning")]);
        // sqlx pings every connection before lending it: a round trip to the server in front of
        // every query. Only a connection that sat idle for a while is pinged here (the server
        // may have restarted or closed it meanwhile); one in steady use has just answered.
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .min_connections(MIN_CONNECTIONS.min(max_connections))
            .max_lifetime(CONNECTION_LIFETIME)
            .acquire_timeout(Duration::from_secs(5))
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_AFTER_IDLE {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options.clone())
            .await?;
        Ok(PgStore {
            // A create's row and outbox event are one statement here (`sql_store.rs`).
            group_commit: GroupCommit::start(pool.clone(), write_lanes(max_connections), true),
            pool,
            max_connections,
            instance: uuid::Uuid::new_v4(),
            generations: GenerationReader::start(options),
        })
    }

    /// The underlying pool, for tests and maintenance commands.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Group-commit writers, each holding a connection while it commits a batch: half the pool.
/// Each statement is a round trip to the server, so one lane would run every create's
/// statements one after another; several keep the server busy while others wait for their
/// flush (measured: two lanes were slower than a transaction per create, docs/benchmarks.md).
fn write_lanes(max_connections: u32) -> usize {
    usize::try_from(max_connections / 2).unwrap_or(1).max(1)
}

impl SqlBackend for PgStore {
    type Db = sqlx::Postgres;

    const KIND: crate::Backend = crate::Backend::Postgres;

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    fn group_commit(&self) -> &GroupCommit<sqlx::Postgres> {
        &self.group_commit
    }

    async fn apply_migrations(&self, up_to: Option<i64>) -> crate::Result<()> {
        // sqlx takes an advisory lock, so replicas starting together migrate one at a time.
        let all = migrations::postgres();
        match up_to {
            Some(v) => migrations::up_to(&all, v).run(&self.pool).await?,
            None => all.run(&self.pool).await?,
        }
        Ok(())
    }

    fn migrations() -> sqlx::migrate::Migrator {
        migrations::postgres()
    }

    async fn read_projects_generation(&self) -> Option<u64> {
        self.generations.read().await
    }

    /// Any batch is one statement: the columns go as arrays.
    const EVENTS_PER_STATEMENT: usize = usize::MAX;

    /// Inserts a whole batch and announces what it stored to the other replicas, in one
    /// statement (one round trip); returns each event's new id, or `None` for a duplicate
    /// idempotency key. The announcement is a `NOTIFY` of the new ids, which PostgreSQL
    /// delivers only if, and when, the events are committed; its payload is limited to 8000
    /// bytes, so the ids go in groups of 300.
    async fn insert_events(
        &self,
        conn: &mut sqlx::PgConnection,
        events: &[domain::NewEvent],
    ) -> crate::Result<Vec<Option<i64>>> {
        use sqlx::Row as _;
        if events.is_empty() {
            return Ok(Vec::new());
        }
        // The `announced` CTE calls a volatile function, so it is not inlined: counting its rows
        // runs every `pg_notify`.
        let rows = sqlx::query(
            "WITH stored AS (\
               INSERT INTO events_mirror (topic, kind, trace_id, idempotency_key, source, \
               payload, ts, received_at) \
               SELECT topic, kind, trace_id, key, source, payload, ts, received_at \
               FROM UNNEST($1::text[], $2::text[], $3::uuid[], $4::text[], $5::text[], \
                           $6::jsonb[], $7::timestamptz[], $8::timestamptz[]) \
                    AS u(topic, kind, trace_id, key, source, payload, ts, received_at) \
               ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key), \
             announced AS (\
               SELECT pg_notify($9, json_build_object('origin', $10::uuid, \
                                                      'ids', json_agg(id ORDER BY id))::text) \
               FROM (SELECT id, (row_number() OVER (ORDER BY id) - 1) / 300 AS part \
                     FROM stored) s GROUP BY part) \
             SELECT id, idempotency_key FROM stored WHERE (SELECT count(*) FROM announced) >= 0",
        )
        .bind(events.iter().map(|e| e.topic.as_str()).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.trace_id).collect::<Vec<_>>())
        .bind(
            events
                .iter()
                .map(|e| e.idempotency_key.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(events.iter().map(|e| e.source.as_str()).collect::<Vec<_>>())
        .bind(
            events
                .iter()
                .map(|e| sqlx::types::Json(&e.payload))
                .collect::<Vec<_>>(),
        )
        .bind(events.iter().map(|e| e.ts).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.received_at).collect::<Vec<_>>())
        .bind(EVENTS_CHANNEL)
        .bind(self.instance)
        .fetch_all(&mut *conn)
        .await?;
        let stored = rows
            .iter()
            .map(|row| Ok((row.try_get(1)?, row.try_get(0)?)))
            .collect::<crate::Result<Vec<(String, i64)>>>()?;
        Ok(crate::events::ids_in_input_order(events, stored))
    }

    /// Stores log records with one `COPY … FROM STDIN` in text format: for the server far less
    /// work than multi-row INSERTs with 20 parameters a row, on the path every request takes.
    async fn copy_logs(&self, records: &[domain::NewLogRecord]) -> crate::Result<Option<u64>> {
        let mut data = String::with_capacity(records.len() * 320);
        for r in records {
            copy_row(&mut data, r);
        }
        let mut conn = self.writer().acquire().await?;
        let mut copy = conn
            .copy_in_raw(
                "COPY application_logs (\"timestamp\", level, service, category, severity, \
                 message, details, trace_id, request_id, user_id, endpoint, method, \
                 status_code, duration_ms, error_code, stack_trace, context, environment, \
                 version, host_name) FROM STDIN",
            )
            .await?;
        copy.send(data.as_bytes()).await?;
        Ok(Some(copy.finish().await?))
    }

    async fn copy_in<'c>(
        conn: &'c mut sqlx::PgConnection,
        statement: String,
    ) -> crate::Result<Option<Box<dyn CopyIn + 'c>>> {
        let copy = conn.copy_in_raw(&statement).await?;
        Ok(Some(Box::new(copy)))
    }

    /// Events stored by other replicas, as they commit.
    async fn listen_remote_events(
        &self,
    ) -> crate::Result<Option<tokio::sync::mpsc::Receiver<Vec<domain::Event>>>> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen(EVENTS_CHANNEL).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let pool = self.pool.clone();
        let me = self.instance;
        // Not on the application's task tracker: it lives exactly as long as `rx`, which the
        // bus's replica relay (a tracked task) holds, so shutdown ends it by dropping that.
        tokio::spawn(async move {
            loop {
                // `recv` reconnects by itself after a lost connection. Stop when nobody listens
                // any more or the pool closes, so the connection goes back and `close` finishes.
                let received = tokio::select! {
                    n = listener.recv() => n,
                    () = tx.closed() => return,
                };
                let notification = match received {
                    Ok(n) => n,
                    Err(sqlx::Error::PoolClosed) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "event notifications interrupted; reconnecting");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        continue;
                    }
                };
                let Ok(note) = serde_json::from_str::<serde_json::Value>(notification.payload())
                else {
                    continue;
                };
                if note["origin"] == serde_json::json!(me) {
                    continue;
                }
                let ids: Vec<i64> = note["ids"]
                    .as_array()
                    .map(|a| a.iter().filter_map(serde_json::Value::as_i64).collect())
                    .unwrap_or_default();
                match events_by_ids(&pool, &ids).await {
                    Ok(events) => {
                        if tx.send(events).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read events announced by a replica")
                    }
                }
            }
        });
        Ok(Some(rx))
    }

    fn pool_occupancy(&self) -> crate::PoolStats {
        crate::PoolStats {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.max_connections,
        }
    }

    async fn close_pools(&self) {
        self.generations.close();
        self.pool.close().await;
    }
}

async fn events_by_ids(pool: &PgPool, ids: &[i64]) -> crate::Result<Vec<domain::Event>> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT id, topic, kind, trace_id, idempotency_key, source, payload, ts, received_at \
         FROM events_mirror WHERE id = ANY($1) ORDER BY id",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(domain::Event::from).collect())
}

#[async_trait::async_trait]
impl CopyIn for sqlx::postgres::PgCopyIn<&mut sqlx::PgConnection> {
    async fn send(&mut self, data: &[u8]) -> crate::Result<()> {
        sqlx::postgres::PgCopyIn::send(self, data).await?;
        Ok(())
    }

    async fn finish(self: Box<Self>) -> crate::Result<u64> {
        Ok(sqlx::postgres::PgCopyIn::finish(*self).await?)
    }
}

/// One row of `COPY … FROM STDIN` text format: tab-separated, `\N` for NULL.
fn copy_row(out: &mut String, r: &domain::NewLogRecord) {
    let timestamp = r
        .timestamp
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let status = r.status_code.map(|v| v.to_string());
    let duration = r.duration_ms.map(|v| v.to_string());
    let context = serde_json::Value::Object(r.context.clone()).to_string();
    let fields: [Option<&str>; 20] = [
        Some(&timestamp),
        Some(&r.level),
        Some(&r.service),
        Some(&r.category),
        Some(&r.severity),
        Some(&r.message),
        r.details.as_deref(),
        r.trace_id.as_deref(),
        r.request_id.as_deref(),
        r.user_id.as_deref(),
        r.endpoint.as_deref(),
        r.method.as_deref(),
        status.as_deref(),
        duration.as_deref(),
        r.error_code.as_deref(),
        r.stack_trace.as_deref(),
        Some(&context),
        Some(&r.environment),
        Some(&r.version),
        Some(&r.host_name),
    ];
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        match field {
            None => out.push_str("\\N"),
            Some(text) => copy_escape(out, text),
        }
    }
    out.push('\n');
}

/// Escapes text for COPY's text format. PostgreSQL text cannot hold NUL, which would fail the
/// whole batch; it becomes U+FFFD.
fn copy_escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_and_nulls() {
        let mut out = String::new();
        copy_escape(&mut out, "a\\b\tc\nd\re\0f");
        assert_eq!(out, "a\\\\b\\tc\\nd\\re\u{FFFD}f");
        let mut row = String::new();
        copy_row(&mut row, &domain::NewLogRecord::default());
        assert_eq!(row.matches('\t').count(), 19, "{row}");
        assert!(row.ends_with("\n"));
        assert!(row.contains("\t\\N\t"), "absent fields are NULL: {row}");
    }
}
