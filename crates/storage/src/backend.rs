//! The database-specific half of a store, declared as one trait: [`SqlBackend`].
//!
//! The queries (`sql_*.rs`) are written once, generic over a `SqlBackend`: both schemas have the
//! same tables and columns, sqlx encodes UUIDs, timestamps and JSON natively for each, and both
//! accept `$n` placeholders. [`crate::PgStore`] and [`crate::SqliteStore`] implement the trait
//! with their pools and the few operations that differ (a batch of events, a batch of log
//! records, telling other replicas); a statement whose text differs is a [`Dialects`] pair, both
//! spellings side by side where the query is.

use std::future::Future;
use std::sync::Arc;

use domain::{Event, NewEvent, NewLogRecord};
use sqlx::database::HasStatementCache;
use sqlx::migrate::Migrator;
use sqlx::{Database, Decode, Encode, IntoArguments, Pool, Type};
use tokio::sync::mpsc::Receiver;

use crate::generation::Generation;
use crate::group_commit::GroupCommit;
use crate::{Backend, PoolStats, Result};

/// A sqlx driver as the shared queries use it (with prepared statements kept per connection, so
/// a statement whose text varies can opt out of that cache).
pub trait Sql: Database<Arguments: IntoArguments<Self>> + HasStatementCache {
    /// Rows an `INSERT`, `UPDATE` or `DELETE` changed (each driver has its own result type).
    fn rows_affected(result: &Self::QueryResult) -> u64;
}

impl Sql for sqlx::Postgres {
    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}

impl Sql for sqlx::Sqlite {
    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}

/// A database TaylorDash runs on: its pools and what cannot be written once for both.
pub trait SqlBackend: Send + Sync + 'static {
    /// The sqlx driver.
    type Db: Sql;

    /// Which database this is; also picks the spelling of [`Dialects`] statements.
    const KIND: Backend;

    /// The pool reads use.
    fn reader(&self) -> &Pool<Self::Db>;

    /// The pool writes use (on SQLite a single connection, so writers queue instead of failing
    /// with `SQLITE_BUSY`).
    fn writer(&self) -> &Pool<Self::Db>;

    /// The group committer in front of [`SqlBackend::writer`]: creates queue their statements
    /// there, and concurrent ones share a transaction and its sync (`group_commit.rs`).
    fn group_commit(&self) -> &GroupCommit<Self::Db>;

    /// The projects table's write generation, where every write to it goes through this
    /// process (SQLite); `None` where other processes write it too (PostgreSQL replicas).
    fn projects_generation(&self) -> Option<&Arc<Generation>> {
        None
    }

    /// The projects table's generation as the database keeps it, read by a query that began
    /// after this call did (PostgreSQL, `db_generation.rs`); `None` where the database keeps
    /// none (SQLite: [`SqlBackend::projects_generation`]) or it could not be read.
    fn read_projects_generation(&self) -> impl Future<Output = Option<u64>> + Send {
        async { None }
    }

    /// This database's migrations.
    fn migrations() -> Migrator;

    /// Applies pending migrations (verifying the checksums of applied ones), all of them or
    /// those up to and including `up_to`.
    fn apply_migrations(&self, up_to: Option<i64>) -> impl Future<Output = Result<()>> + Send;

    /// Most events [`SqlBackend::insert_events`] stores with one statement. A batch no larger,
    /// with no dead letters beside it, is ingested by that one statement on its own (atomic by
    /// itself): no `BEGIN` and `COMMIT` round trips.
    const EVENTS_PER_STATEMENT: usize;

    /// Inserts a batch of events, with as few statements as the database allows, and tells other
    /// replicas which it stored (PostgreSQL `NOTIFY` in the same statement, delivered only on
    /// commit; nothing on SQLite, where there are no other replicas). Runs inside the caller's
    /// transaction, or alone when the batch is one statement. Returns each event's new id in
    /// input order, or `None` for a duplicate idempotency key.
    fn insert_events(
        &self,
        conn: &mut <Self::Db as Database>::Connection,
        events: &[NewEvent],
    ) -> impl Future<Output = Result<Vec<Option<i64>>>> + Send;

    /// Stores log records by the database's bulk path (`COPY` on PostgreSQL) and returns how many;
    /// `None` where there is none (SQLite), and the shared multi-row INSERT stores them.
    fn copy_logs(
        &self,
        records: &[NewLogRecord],
    ) -> impl Future<Output = Result<Option<u64>>> + Send;

    /// Starts `COPY … FROM STDIN` (text format) on `conn`, inside the caller's transaction, for
    /// a bulk load (a restore); `None` where the database has no COPY (SQLite), and the caller
    /// uses multi-row INSERTs instead.
    fn copy_in<'c>(
        conn: &'c mut <Self::Db as Database>::Connection,
        statement: String,
    ) -> impl Future<Output = Result<Option<Box<dyn CopyIn + 'c>>>> + Send + 'c;

    /// Events other replicas store, as they commit; `None` where there can be none (SQLite).
    fn listen_remote_events(
        &self,
    ) -> impl Future<Output = Result<Option<Receiver<Vec<Event>>>>> + Send;

    /// Connection-pool occupancy.
    fn pool_occupancy(&self) -> PoolStats;

    /// Waits for checked-out connections to return, then closes the pools.
    fn close_pools(&self) -> impl Future<Output = ()> + Send;
}

/// A `COPY … FROM STDIN` in progress ([`SqlBackend::copy_in`]).
#[async_trait::async_trait]
pub trait CopyIn: Send {
    /// Sends rows in COPY's text format (whole lines; a chunk may end anywhere between them).
    /// The server parses them while the caller prepares the next chunk; errors in the data
    /// surface at [`CopyIn::finish`].
    async fn send(&mut self, data: &[u8]) -> Result<()>;
    /// Ends the COPY; returns the rows the server stored.
    async fn finish(self: Box<Self>) -> Result<u64>;
}

/// One statement in each database's spelling, for the few that differ (row locks, date
/// arithmetic, snapshot isolation).
#[derive(Debug, Clone, Copy)]
pub struct Dialects {
    pub postgres: &'static str,
    pub sqlite: &'static str,
}

impl Dialects {
    /// The spelling for `backend`.
    pub const fn get(&self, backend: Backend) -> &'static str {
        match backend {
            Backend::Postgres => self.postgres,
            Backend::Sqlite => self.sqlite,
        }
    }
}

/// The connection type of a backend's driver.
pub type Conn<B> = <<B as SqlBackend>::Db as Database>::Connection;

/// The row type of a backend's driver.
pub type Row<B> = <<B as SqlBackend>::Db as Database>::Row;

/// A Rust type the driver `DB` binds as a statement parameter. Shorthand for the bounds the
/// generic queries state: both drivers implement them for every type the queries bind.
/// `'q` is how long a borrowed value must live (`&'q str: Param<'q, DB>`); owned values are
/// parameters for any `'q`.
pub trait Param<'q, DB: Database>: Encode<'q, DB> + Type<DB> {}

impl<'q, T, DB: Database> Param<'q, DB> for T where T: Encode<'q, DB> + Type<DB> {}

/// A Rust type the driver `DB` reads from a column (and so a field of a `FromRow` row struct).
pub trait Column<DB: Database>: for<'r> Decode<'r, DB> + Type<DB> {}

impl<T, DB: Database> Column<DB> for T where T: for<'r> Decode<'r, DB> + Type<DB> {}
