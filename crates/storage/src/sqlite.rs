//! SQLite: a file in the data directory, in WAL mode. Reads use a pool of connections; all writes
//! go through one dedicated connection, so writers queue in-process instead of failing with
//! `SQLITE_BUSY`, and a read-then-write transaction never races another writer.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::migrations;

/// A [`crate::Store`] on an SQLite file.
pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
    max_readers: u32,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: &Path, max_readers: u32) -> crate::Result<SqliteStore> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a committed write survives power loss, not only a process crash.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(max_readers.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqliteStore {
            reader,
            writer,
            max_readers: max_readers.max(1),
        })
    }

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    fn infra_backend(&self) -> crate::Backend {
        crate::Backend::Sqlite
    }

    async fn infra_migrate(&self) -> crate::Result<()> {
        migrations::sqlite().run(&self.writer).await?;
        Ok(())
    }

    fn infra_migrations(&self) -> sqlx::migrate::Migrator {
        migrations::sqlite()
    }

    /// Inserts events with multi-row statements (each statement is a round trip to the SQLite
    /// worker thread); returns each event's new id, or `None` for a duplicate idempotency key.
    async fn infra_insert_events(
        &self,
        conn: &mut sqlx::SqliteConnection,
        events: &[domain::NewEvent],
    ) -> crate::Result<Vec<Option<i64>>> {
        use sqlx::Row as _;
        // 8 parameters a row; SQLite allows 32,766 per statement.
        const ROWS: usize = 200;
        let mut stored = Vec::new();
        for chunk in events.chunks(ROWS) {
            let values: Vec<String> = (0..chunk.len())
                .map(|r| {
                    let p: Vec<String> = (1..=8).map(|c| format!("${}", r * 8 + c)).collect();
                    format!("({})", p.join(", "))
                })
                .collect();
            // Built only from constants and numbers: no client text reaches the SQL.
            let sql = format!(
                "INSERT INTO events_mirror (topic, kind, trace_id, idempotency_key, source, \
                 payload, ts, received_at) VALUES {} \
                 ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key",
                values.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for e in chunk {
                query = query
                    .bind(e.topic.clone())
                    .bind(e.kind.clone())
                    .bind(e.trace_id)
                    .bind(e.idempotency_key.clone())
                    .bind(e.source.as_str())
                    .bind(sqlx::types::Json(e.payload.clone()))
                    .bind(e.ts)
                    .bind(e.received_at);
            }
            for row in query.fetch_all(&mut *conn).await? {
                stored.push((row.try_get(1)?, row.try_get(0)?));
            }
        }
        Ok(crate::events::ids_in_input_order(events, stored))
    }

    /// A single process owns an SQLite file: there are no other replicas to tell.
    async fn infra_announce(
        &self,
        _conn: &mut sqlx::SqliteConnection,
        _ids: &[i64],
    ) -> crate::Result<()> {
        Ok(())
    }

    async fn infra_remote_events(
        &self,
    ) -> crate::Result<Option<tokio::sync::mpsc::Receiver<Vec<domain::Event>>>> {
        Ok(None)
    }

    fn infra_pool_stats(&self) -> crate::PoolStats {
        let idle = self.reader.num_idle() + self.writer.num_idle();
        crate::PoolStats {
            size: self.reader.size() + self.writer.size(),
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
            max: self.max_readers + 1,
        }
    }

    async fn infra_close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

crate::sql_store::impl_store!(SqliteStore, sqlx::Sqlite, lock = "");
crate::sql_events::impl_event_store!(SqliteStore, sqlx::Sqlite, skip_locked = "");
// One writer connection already serializes every write transaction.
crate::sql_identity::impl_identity_store!(
    SqliteStore,
    sqlx::Sqlite,
    lock = "",
    serialize = "SELECT 1"
);
crate::sql_logs::impl_log_store!(
    SqliteStore,
    sqlx::Sqlite,
    hour = "substr(\"timestamp\", 1, 13)"
);
crate::sql_artifacts::impl_artifact_store!(SqliteStore, sqlx::Sqlite);
crate::sql_snapshot::impl_snapshot_store!(
    SqliteStore,
    sqlx::Sqlite,
    begin_snapshot = "SELECT 1",
    reset_sequence = ""
);
crate::sql_samples::impl_sample_store!(SqliteStore, sqlx::Sqlite);
