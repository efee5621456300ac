//! SQLite: a file in the data directory, in WAL mode. Reads use a pool of connections; all writes
//! go through one dedicated connection, so writers queue in-process instead of failing with
//! `SQLITE_BUSY`, and a read-then-write transaction never races another writer.
//!
//! The high-volume observability tables (`application_logs`, `metric_samples`) live in a second
//! file beside it ([`observability_path`]), attached to every connection as the schema
//! `observability`. Its own WAL keeps a steady stream of log rows from growing the main file's
//! WAL, which every read of projects and events would otherwise walk; queries name the tables
//! without a schema, so SQLite finds them there.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sqlx::Executor as _;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// The schema name the observability file is attached as (used by migration 0006).
const OBSERVABILITY_SCHEMA: &str = "observability";

/// The observability tables' file for the database at `path`: `taylordash.db` →
/// `taylordash-observability.db`, in the same directory.
pub fn observability_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or_else(|| "taylordash".into(), |s| s.to_string_lossy().into_owned());
    path.with_file_name(format!("{stem}-observability.db"))
}

/// The database files hold password and token hashes: each is created readable by its owner
/// only, and one left readable by others (made by an older version, or by hand) is narrowed.
/// SQLite gives the `-wal` and `-shm` files the main file's permissions.
fn owner_only(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
        if created.is_ok() {
            return;
        }
        for file in [
            path.to_path_buf(),
            sidecar(path, "-wal"),
            sidecar(path, "-shm"),
        ] {
            let Ok(meta) = std::fs::metadata(&file) else {
                continue;
            };
            let mode = meta.permissions().mode();
            if mode & 0o077 != 0 {
                match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode & 0o700))
                {
                    Ok(()) => tracing::info!(path = %file.display(),
                        "database file was readable by other users; now by its owner only"),
                    Err(error) => tracing::warn!(path = %file.display(), %error,
                        "database file is readable by other users and cannot be narrowed; chmod 600 it"),
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(unix)]
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Attaches the observability file to a new connection. The writer also puts it in WAL mode
/// and syncs it less often than the main file: a power cut may lose the last log rows, never
/// a project or an event.
async fn attach(
    conn: &mut sqlx::SqliteConnection,
    file: &Path,
    writer: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ATTACH DATABASE ?1 AS {OBSERVABILITY_SCHEMA}"
    )))
    .bind(file.to_string_lossy().into_owned())
    .execute(&mut *conn)
    .await?;
    if writer {
        conn.execute(sqlx::AssertSqlSafe(format!(
            "PRAGMA {OBSERVABILITY_SCHEMA}.journal_mode = WAL; \
             PRAGMA {OBSERVABILITY_SCHEMA}.synchronous = NORMAL; \
             PRAGMA main.cache_size = -{WRITER_CACHE_KIB}; \
             PRAGMA {OBSERVABILITY_SCHEMA}.cache_size = -{WRITER_CACHE_KIB};"
        )))
        .await?;
    } else {
        conn.execute(sqlx::AssertSqlSafe(format!(
            "PRAGMA main.cache_size = -{READER_MAIN_CACHE_KIB}; \
             PRAGMA {OBSERVABILITY_SCHEMA}.cache_size = -{READER_OBSERVABILITY_CACHE_KIB};"
        )))
        .await?;
    }
    Ok(())
}

/// Page cache per connection and schema, in KiB. Each connection keeps its own cache, so
/// SQLite's default (2 MiB per schema) on the writer and ten readers grows to about 44 MiB as
/// the files outgrow it, which the memory soak saw as RSS creeping up long after start. Reads
/// of the lab's data are small and hot; the log and sample tables are written at a high rate
/// but read rarely, so their readers get the least. Pages evicted here are still in the
/// operating system's file cache, so a miss costs a copy, not a disk read. Together about
/// 8 MiB (docs/benchmarks.md, "Bounded page caches").
const WRITER_CACHE_KIB: u32 = 1024;
const READER_MAIN_CACHE_KIB: u32 = 512;
const READER_OBSERVABILITY_CACHE_KIB: u32 = 128;

/// How long a connection is used before it is closed (when next returned, or by the pool's
/// check) and opened afresh on demand. Besides its page cache each connection keeps its
/// parsed schema and up to 100 prepared statements, among them the large multi-row inserts
/// of events and logs: a burst of load left the writer and ten readers holding about 20 MB
/// that stayed (docs/benchmarks.md, "Memory after load"). Idle connections do not expire
/// (the outbox relay's polls rotate through all of them), old ones do: a minute after the
/// load the pool is back to what the idle server uses. Reopening costs a few milliseconds
/// per connection and lifetime.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(20);

use crate::backend::SqlBackend;
use crate::generation::Generation;
use crate::group_commit::GroupCommit;
use crate::migrations;

/// A [`crate::Store`] on an SQLite file.
pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
    max_readers: u32,
    /// One lane on the one writer connection: SQLite writes one transaction at a time anyway.
    group_commit: GroupCommit<sqlx::Sqlite>,
    /// Every write to `projects` goes through this process's single writer connection.
    projects: Arc<Generation>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: &Path, max_readers: u32) -> crate::Result<SqliteStore> {
        let observability = observability_path(path);
        for file in [path, observability.as_path()] {
            owner_only(file);
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a committed write survives power loss, not only a process crash.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let file = observability.clone();
        // No ping before lending a connection (sqlx's default): a connection to a local file
        // cannot have gone away, and the ping is one more round trip to the connection's worker
        // thread for every read.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .max_lifetime(CONNECTION_LIFETIME)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                let file = file.clone();
                Box::pin(async move { attach(conn, &file, true).await })
            })
            .connect_with(options.clone())
            .await?;
        // The writer has created the observability file by now: readers attach it read-only
        // (an attached file is opened with the main connection's flags).
        let file = observability;
        let reader = SqlitePoolOptions::new()
            .max_connections(max_readers.max(1))
            .max_lifetime(CONNECTION_LIFETIME)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _| {
                let file = file.clone();
                Box::pin(async move { attach(conn, &file, false).await })
            })
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqliteStore {
            reader,
            // A create's row and outbox event are two statements here (`sql_store.rs`).
            group_commit: GroupCommit::start(writer.clone(), 1, false),
            writer,
            max_readers: max_readers.max(1),
            projects: Arc::default(),
        })
    }
}

impl SqlBackend for SqliteStore {
    type Db = sqlx::Sqlite;

    const KIND: crate::Backend = crate::Backend::Sqlite;

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    fn group_commit(&self) -> &GroupCommit<sqlx::Sqlite> {
        &self.group_commit
    }

    fn projects_generation(&self) -> Option<&Arc<Generation>> {
        Some(&self.projects)
    }

    async fn apply_migrations(&self, up_to: Option<i64>) -> crate::Result<()> {
        let all = migrations::sqlite();
        match up_to {
            Some(v) => migrations::up_to(&all, v).run(&self.writer).await?,
            None => all.run(&self.writer).await?,
        }
        Ok(())
    }

    fn migrations() -> sqlx::migrate::Migrator {
        migrations::sqlite()
    }

    /// 8 parameters a row; SQLite allows 32,766 per statement. Each shape stays in the writer's
    /// statement cache for the connection's lifetime, which bounds the rows per statement.
    const EVENTS_PER_STATEMENT: usize = 200;

    /// Inserts events with multi-row statements (each statement is a round trip to the SQLite
    /// worker thread); returns each event's new id, or `None` for a duplicate idempotency key.
    /// A single process owns an SQLite file: there are no other replicas to tell.
    async fn insert_events(
        &self,
        conn: &mut sqlx::SqliteConnection,
        events: &[domain::NewEvent],
    ) -> crate::Result<Vec<Option<i64>>> {
        use sqlx::Row as _;
        let mut stored = Vec::new();
        for chunk in events.chunks(Self::EVENTS_PER_STATEMENT) {
            // Plain `?` placeholders: SQLite looks numbered ones up by name, one linear scan
            // per parameter.
            let mut b = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO events_mirror (topic, kind, trace_id, idempotency_key, source, \
                 payload, ts, received_at) ",
            );
            b.push_values(chunk, |mut row, e| {
                row.push_bind(e.topic.as_str())
                    .push_bind(e.kind.as_str())
                    .push_bind(e.trace_id)
                    .push_bind(e.idempotency_key.as_str())
                    .push_bind(e.source.as_str())
                    .push_bind(sqlx::types::Json(&e.payload))
                    .push_bind(e.ts)
                    .push_bind(e.received_at);
            });
            b.push(" ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key");
            let query = b.build();
            for row in query.fetch_all(&mut *conn).await? {
                stored.push((row.try_get(1)?, row.try_get(0)?));
            }
        }
        Ok(crate::events::ids_in_input_order(events, stored))
    }

    /// SQLite has no COPY: the shared multi-row INSERT stores log records.
    async fn copy_logs(&self, _records: &[domain::NewLogRecord]) -> crate::Result<Option<u64>> {
        Ok(None)
    }

    /// SQLite has no COPY: a restore uses multi-row INSERTs.
    async fn copy_in<'c>(
        _conn: &'c mut sqlx::SqliteConnection,
        _statement: String,
    ) -> crate::Result<Option<Box<dyn crate::backend::CopyIn + 'c>>> {
        Ok(None)
    }

    async fn listen_remote_events(
        &self,
    ) -> crate::Result<Option<tokio::sync::mpsc::Receiver<Vec<domain::Event>>>> {
        Ok(None)
    }

    fn pool_occupancy(&self) -> crate::PoolStats {
        let idle = self.reader.num_idle() + self.writer.num_idle();
        crate::PoolStats {
            size: self.reader.size() + self.writer.size(),
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
            max: self.max_readers + 1,
        }
    }

    async fn close_pools(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use sqlx::Row as _;

    use super::*;

    async fn tables_in(pool: &SqlitePool, schema: &str) -> Vec<String> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT name FROM {schema}.sqlite_master WHERE type = 'table' \
             AND name IN ('application_logs', 'metric_samples') ORDER BY name"
        )))
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
    }

    /// A database created before migration 0006 keeps its log rows and samples, now in the
    /// observability file; the main file no longer has those tables.
    #[tokio::test]
    async fn upgrade_moves_observability_tables_to_their_own_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("taylordash.db");
        {
            let store = SqliteStore::open(&path, 2).await.unwrap();
            store.apply_migrations(Some(5)).await.unwrap();
            assert_eq!(
                tables_in(&store.writer, "main").await,
                ["application_logs", "metric_samples"]
            );
            sqlx::query(
                "INSERT INTO main.application_logs (\"timestamp\", level, service, category, \
                 severity, message, environment, version, host_name) \
                 VALUES ('2026-11-29T00:00:00Z', 'INFO', 's', 'API', 'INFO', 'kept', 'e', 'v', 'h')",
            )
            .execute(&store.writer)
            .await
            .unwrap();
            store.writer.close().await;
            store.reader.close().await;
        }
        let store = SqliteStore::open(&path, 2).await.unwrap();
        store.apply_migrations(None).await.unwrap();
        assert!(tables_in(&store.writer, "main").await.is_empty());
        assert_eq!(
            tables_in(&store.reader, OBSERVABILITY_SCHEMA).await,
            ["application_logs", "metric_samples"]
        );
        let message: String = sqlx::query_scalar("SELECT message FROM application_logs")
            .fetch_one(&store.reader)
            .await
            .unwrap();
        assert_eq!(message, "kept");
        assert!(observability_path(&path).exists());
        assert_eq!(
            observability_path(&path).file_name().unwrap(),
            "taylordash-observability.db"
        );
    }

    /// Every connection gets the bounded page caches, readers smaller ones than the writer.
    #[tokio::test]
    async fn page_caches_are_bounded_per_connection() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db"), 2)
            .await
            .unwrap();
        async fn cache_kib(pool: &SqlitePool, schema: &str) -> i64 {
            let pages: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("PRAGMA {schema}.cache_size")))
                    .fetch_one(pool)
                    .await
                    .unwrap();
            -pages
        }
        assert_eq!(cache_kib(&store.writer, "main").await, 1024);
        assert_eq!(cache_kib(&store.writer, OBSERVABILITY_SCHEMA).await, 1024);
        assert_eq!(cache_kib(&store.reader, "main").await, 512);
        assert_eq!(cache_kib(&store.reader, OBSERVABILITY_SCHEMA).await, 128);
    }

    /// Migration 21 dropped the trace, topic and time indexes of `events_mirror`, which every
    /// ingest batch paid for, because SQLite never planned the events list with them: it walks
    /// the table by id whatever the filter. Put back, they are still unused by that query, for
    /// each filter; if a change of the query or of SQLite made them useful, this fails. The kind
    /// index, which stays, serves the latest-backup lookup.
    #[tokio::test]
    async fn the_events_list_would_not_use_the_dropped_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db"), 1)
            .await
            .unwrap();
        store.apply_migrations(None).await.unwrap();
        let indexes: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events_mirror' \
             AND sql IS NOT NULL ORDER BY name",
        )
        .fetch_all(&store.writer)
        .await
        .unwrap();
        assert_eq!(indexes, ["idx_events_mirror_kind"]);
        sqlx::Executor::execute(
            &store.writer,
            "CREATE INDEX idx_events_mirror_trace_id ON events_mirror (trace_id); \
                 CREATE INDEX idx_events_mirror_topic ON events_mirror (topic); \
                 CREATE INDEX idx_events_mirror_received_at ON events_mirror (received_at);",
        )
        .await
        .unwrap();
        async fn plan<'q>(
            pool: &SqlitePool,
            sql: &'static str,
            bind: impl FnOnce(
                sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
            )
                -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
        ) -> String {
            let explain = sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}"));
            bind(sqlx::query(explain))
                .fetch_all(pool)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>("detail"))
                .collect::<Vec<_>>()
                .join("; ")
        }
        let now = domain::now();
        let filters: [(&str, Option<&str>, Option<uuid::Uuid>, Option<_>); 4] = [
            ("trace", None, Some(uuid::Uuid::new_v4()), None),
            ("topic", Some("tracker/events/a/b"), None, None),
            ("topic prefix", Some("tracker/events/%"), None, None),
            ("since", None, None, Some(now)),
        ];
        for (name, topic, trace, since) in filters {
            let detail = plan(&store.reader, crate::sql_events::LIST_EVENTS, |q| {
                q.bind(topic)
                    .bind(None::<&str>)
                    .bind(trace)
                    .bind(since)
                    .bind(None::<chrono::DateTime<chrono::Utc>>)
                    .bind(None::<i64>)
                    .bind(100_i64)
            })
            .await;
            assert!(
                !detail.contains("idx_events_mirror_"),
                "the list by {name} would use an index: {detail}"
            );
        }
        let backup = plan(
            &store.reader,
            "SELECT ts FROM events_mirror WHERE kind = 'backup.succeeded' ORDER BY id DESC LIMIT 1",
            |q| q,
        )
        .await;
        assert!(backup.contains("idx_events_mirror_kind"), "{backup}");
    }

    /// `.cargo/config.toml` builds the bundled SQLite without its global memory statistics
    /// (a mutex taken on every allocation); a build that lost that setting fails here.
    #[tokio::test]
    async fn bundled_sqlite_keeps_no_memory_statistics() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db"), 1)
            .await
            .unwrap();
        let off: bool =
            sqlx::query_scalar("SELECT sqlite_compileoption_used('DEFAULT_MEMSTATUS=0')")
                .fetch_one(&store.reader)
                .await
                .unwrap();
        assert!(
            off,
            "LIBSQLITE3_FLAGS from .cargo/config.toml did not reach the SQLite build"
        );
    }
}
