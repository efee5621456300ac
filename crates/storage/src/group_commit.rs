//! Group commit: concurrent writes share one transaction, so one sync makes them all durable.
//!
//! A write is a *unit*: a closure that runs its statements on a connection it is lent. Callers
//! queue units ([`GroupCommit::write`]); a writer task takes every unit waiting, opens one
//! transaction, runs the units one after another, commits once and only then answers them. A
//! unit that fails must not take the others with it, so then the transaction is rolled back
//! and the batch run again with each unit inside its own `SAVEPOINT` (a unit that fails is
//! rolled back to its savepoint and answered with its own error; the others go on): units are
//! closures that can run twice. Failures are the exception (an owner that does not exist), so
//! most batches save the savepoint's statement — a round trip to the database, or to SQLite's
//! connection thread — per unit. So an answer `Ok` means committed — and synced, as far as
//! the database syncs a commit (`synchronous = FULL` on SQLite) — exactly as with a
//! transaction per write; only the number of commits, and so of syncs, falls.
//!
//! A create is usually a row and its outbox event, the same two statements for every create of
//! a kind: such a unit is a *row unit* ([`GroupCommit::insert`]), and a run of consecutive row
//! units of one kind in a batch writes all its rows with one call of its insert function —
//! multi-row statements — instead of one per unit: on SQLite each statement is a message to the
//! connection's thread and back, on PostgreSQL a round trip. If that fails, the batch runs again
//! unit by unit in savepoints as above, so a row that fails still fails alone; the order of the
//! units' rows (and so of their outbox ids) is the order they were queued in either way.
//!
//! Throughput is then bounded by the number of writes in flight over the commit latency (a
//! closed loop of `c` clients cannot put more than `c` writes into one sync). To let all of them
//! meet in one batch, a writer whose last commit was slow waits briefly (at most [`GATHER`]) for
//! as many units as its previous batch had before it begins; otherwise the clients answered by
//! one commit would trickle back one by one and split into two alternating, half-sized groups.

use std::any::{Any, TypeId};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use sqlx::{Connection as _, Database, Executor, Pool};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::{Result, StoreError, WriteMark};

/// The future a unit returns: it borrows the connection it was lent.
pub(crate) type UnitFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'c>>;

/// At most this many units share one transaction. Each savepoint is a subtransaction, and
/// PostgreSQL caches 64 of them per session in shared memory; more would slow every other
/// session's snapshots.
pub(crate) const MAX_BATCH: usize = 64;

/// How long a writer waits for the rest of a batch, when it waits at all.
const GATHER: Duration = Duration::from_millis(1);

/// A commit at least this slow is worth waiting [`GATHER`] for: the sync dominates, so more
/// units per sync is more throughput. Faster commits (a disk with a write cache, tmpfs) begin
/// at once.
const SLOW_COMMIT: Duration = Duration::from_micros(500);

/// Queued units before callers wait to queue more.
const QUEUE: usize = 1024;

/// A queued unit, its result type erased.
trait Job<DB: Database>: Send {
    /// Runs the unit's statements on `conn`, keeping its value until [`Job::settle`]. May run
    /// again (in a new transaction) after a run whose transaction was rolled back.
    fn run<'c>(&'c mut self, conn: &'c mut DB::Connection) -> UnitFuture<'c, ()>;

    /// Which row units this one's statements can be shared with (`None`: a plain unit).
    fn kind(&self) -> Option<TypeId> {
        None
    }

    /// A row unit's row, for the first unit of a run of its kind to collect.
    fn row(&mut self) -> Option<&mut (dyn Any + Send + Sync)> {
        None
    }

    /// Runs this unit and `rest` — units of this one's [`Job::kind`] queued right after it —
    /// with shared statements. For a plain unit `rest` is empty and this is [`Job::run`].
    fn run_with<'c>(
        &'c mut self,
        rest: &'c mut [Box<dyn Job<DB>>],
        conn: &'c mut DB::Connection,
    ) -> UnitFuture<'c, ()> {
        debug_assert!(rest.is_empty());
        self.run(conn)
    }

    /// Answers the caller: the unit's value when `outcome` is `Ok` (its transaction committed),
    /// else the error.
    fn settle(self: Box<Self>, outcome: Result<()>);
}

struct Unit<F, T> {
    work: F,
    value: Option<T>,
    /// The write mark of the table the unit changes, finished once its outcome is known.
    mark: Option<WriteMark>,
    /// The caller's span, so the unit's statements trace under the request that made them.
    span: tracing::Span,
    reply: oneshot::Sender<Result<T>>,
}

impl<DB, F, T> Job<DB> for Unit<F, T>
where
    DB: Database,
    T: Send + 'static,
    F: for<'c> Fn(&'c mut DB::Connection) -> UnitFuture<'c, T> + Send + 'static,
{
    fn run<'c>(&'c mut self, conn: &'c mut DB::Connection) -> UnitFuture<'c, ()> {
        let Unit {
            work, value, span, ..
        } = self;
        *value = None;
        let running = work(conn).instrument(span.clone());
        Box::pin(async move {
            *value = Some(running.await?);
            Ok(())
        })
    }

    fn settle(mut self: Box<Self>, outcome: Result<()>) {
        // Committed, or rolled back for good: nothing more of it can land.
        if let Some(mark) = self.mark.take() {
            mark.finish();
        }
        let value = self.value;
        let result = outcome.and_then(|()| {
            value.ok_or_else(|| StoreError::Unavailable("a write was not run".into()))
        });
        // The caller may have gone (its request was cancelled); the write stands regardless.
        let _ = self.reply.send(result);
    }
}

/// A unit whose statements other units of its kind can share: `insert` writes any number of
/// rows of type `R`, in order, as one (one row when the unit runs alone or in a savepoint).
/// The row goes back to the caller once committed.
struct RowUnit<R, F> {
    row: R,
    insert: F,
    mark: Option<WriteMark>,
    span: tracing::Span,
    reply: oneshot::Sender<Result<R>>,
}

impl<DB, R, F> Job<DB> for RowUnit<R, F>
where
    DB: Database,
    R: Send + Sync + 'static,
    F: for<'c> Fn(Vec<&'c R>, &'c mut DB::Connection) -> UnitFuture<'c, ()> + Send + Sync + 'static,
{
    fn run<'c>(&'c mut self, conn: &'c mut DB::Connection) -> UnitFuture<'c, ()> {
        <Self as Job<DB>>::run_with(self, &mut [], conn)
    }

    fn kind(&self) -> Option<TypeId> {
        // The unit's own type names both the row type and the insert function.
        Some(TypeId::of::<Self>())
    }

    fn row(&mut self) -> Option<&mut (dyn Any + Send + Sync)> {
        Some(&mut self.row)
    }

    fn run_with<'c>(
        &'c mut self,
        rest: &'c mut [Box<dyn Job<DB>>],
        conn: &'c mut DB::Connection,
    ) -> UnitFuture<'c, ()> {
        let this: &'c Self = self;
        let expected = rest.len() + 1;
        let mut rows: Vec<&'c R> = Vec::with_capacity(expected);
        rows.push(&this.row);
        rows.extend(
            rest.iter_mut()
                .filter_map(|job| job.row()?.downcast_mut::<R>())
                .map(|r| &*r),
        );
        if rows.len() != expected {
            return Box::pin(async {
                Err(StoreError::Unavailable(
                    "units of different kinds were grouped".into(),
                ))
            });
        }
        Box::pin((this.insert)(rows, conn).instrument(this.span.clone()))
    }

    fn settle(mut self: Box<Self>, outcome: Result<()>) {
        if let Some(mark) = self.mark.take() {
            mark.finish();
        }
        let RowUnit { row, reply, .. } = *self;
        // `Ok` only for a unit whose rows were written in the transaction that committed.
        let _ = reply.send(outcome.map(|()| row));
    }
}

/// The queue in front of a pool's writer tasks ("lanes").
pub struct GroupCommit<DB: Database> {
    queue: mpsc::Sender<Box<dyn Job<DB>>>,
}

impl<DB: Database> GroupCommit<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    /// Starts `lanes` writer tasks on `pool` (SQLite: one, its single writer connection;
    /// PostgreSQL: several, so batches run their statements while others wait for a flush).
    /// They end when the `GroupCommit` is dropped. Must be called inside a Tokio runtime.
    ///
    /// `one_statement`: every row unit's insert is a single statement (PostgreSQL), atomic on
    /// its own, so a batch that is one run of row units is that statement alone, without
    /// `BEGIN` and `COMMIT` (two round trips fewer; it commits, and syncs, as it ends).
    pub(crate) fn start(pool: Pool<DB>, lanes: usize, one_statement: bool) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..lanes.max(1) {
            tokio::spawn(lane(pool.clone(), rx.clone(), one_statement));
        }
        GroupCommit { queue }
    }

    /// Runs `work` in the next batch; answers once that batch has committed (or `work` failed).
    /// `work` may run twice (see the module documentation). `mark`, the write mark of the table
    /// it changes, is finished when the outcome is known, even if the caller has gone.
    pub(crate) async fn write<T, F>(&self, mark: Option<WriteMark>, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut DB::Connection) -> UnitFuture<'c, T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.queue(
            Box::new(Unit {
                work,
                value: None,
                mark,
                span: tracing::Span::current(),
                reply,
            }),
            answer,
        )
        .await
    }

    /// Writes `row` with `insert` in the next batch, together with the row units of the same
    /// row type and insert function queued next to it (one call of `insert` for all their
    /// rows); answers with the row once that batch has committed. `insert` must write all the
    /// rows it is given or fail as a whole; it may be called again for a row (see the module
    /// documentation). `mark` as for [`GroupCommit::write`].
    pub(crate) async fn insert<R, F>(&self, mark: Option<WriteMark>, row: R, insert: F) -> Result<R>
    where
        R: Send + Sync + 'static,
        F: for<'c> Fn(Vec<&'c R>, &'c mut DB::Connection) -> UnitFuture<'c, ()>
            + Send
            + Sync
            + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.queue(
            Box::new(RowUnit {
                row,
                insert,
                mark,
                span: tracing::Span::current(),
                reply,
            }),
            answer,
        )
        .await
    }

    async fn queue<T>(
        &self,
        unit: Box<dyn Job<DB>>,
        answer: oneshot::Receiver<Result<T>>,
    ) -> Result<T> {
        self.queue
            .send(unit)
            .await
            .map_err(|_| StoreError::Unavailable("the database writer has stopped".into()))?;
        answer.await.map_err(|_| {
            StoreError::Unavailable("the database writer stopped before the write finished".into())
        })?
    }
}

type Queue<DB> = Arc<Mutex<mpsc::Receiver<Box<dyn Job<DB>>>>>;

/// One writer: takes a batch from the queue, commits it, answers it, repeats.
async fn lane<DB: Database>(pool: Pool<DB>, queue: Queue<DB>, one_statement: bool)
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let mut batch: Vec<Box<dyn Job<DB>>> = Vec::with_capacity(MAX_BATCH);
    let mut previous = 0;
    let mut slow = false;
    loop {
        {
            let mut rx = queue.lock().await;
            let Some(first) = rx.recv().await else {
                return;
            };
            batch.push(first);
            gather(&mut rx, &mut batch, if slow { previous } else { 0 }).await;
        }
        previous = batch.len();
        let started = Instant::now();
        // In a task of its own, so a unit that panics costs its batch (whose callers are told
        // the writer stopped), not the lane.
        let pool = pool.clone();
        let run = tokio::spawn(async move {
            commit(&pool, &mut batch, one_statement).await;
            batch
        });
        batch = run.await.unwrap_or_else(|_| Vec::with_capacity(MAX_BATCH));
        slow = started.elapsed() >= SLOW_COMMIT;
    }
}

/// Adds every unit already queued; then, while fewer than `target`, waits up to [`GATHER`]
/// for more.
async fn gather<DB: Database>(
    rx: &mut mpsc::Receiver<Box<dyn Job<DB>>>,
    batch: &mut Vec<Box<dyn Job<DB>>>,
    target: usize,
) {
    let drain = |rx: &mut mpsc::Receiver<_>, batch: &mut Vec<_>| {
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
    };
    drain(rx, batch);
    let target = target.min(MAX_BATCH);
    if batch.len() >= target {
        return;
    }
    let deadline = Instant::now() + GATHER;
    while batch.len() < target {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(job)) => {
                batch.push(job);
                drain(rx, batch);
            }
            _ => return,
        }
    }
}

/// Runs `batch` in one transaction (each run of row units of one kind with shared statements)
/// and answers every unit; if a unit fails, runs it again with each unit in its own savepoint.
async fn commit<DB: Database>(
    pool: &Pool<DB>,
    batch: &mut Vec<Box<dyn Job<DB>>>,
    one_statement: bool,
) where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let not_committed =
        |why: &dyn std::fmt::Display| StoreError::Unavailable(format!("not committed: {why}"));
    let mut conn = match pool.acquire().await {
        Ok(conn) => conn,
        Err(e) => {
            let e = StoreError::from(e);
            for job in batch.drain(..) {
                job.settle(Err(not_committed(&e)));
            }
            return;
        }
    };
    // First without savepoints: most batches have no unit that fails.
    let mut shared = batch.len() > 1;
    let kind = batch.first().and_then(|job| job.kind());
    if one_statement && kind.is_some() && batch.iter().all(|job| job.kind() == kind) {
        // One run of row units: one statement, its own transaction.
        let alone = batch.len() == 1;
        let Some((first, rest)) = batch.split_first_mut() else {
            return;
        };
        match first.run_with(rest, &mut *conn).await {
            Ok(()) => {
                for job in batch.drain(..) {
                    job.settle(Ok(()));
                }
                return;
            }
            Err(e) if alone => {
                if let Some(job) = batch.pop() {
                    job.settle(Err(e));
                }
                return;
            }
            // Rolled back with its statement: on to the savepoints.
            Err(_) => shared = false,
        }
    }
    if shared {
        let mut tx = match conn.begin().await {
            Ok(tx) => tx,
            Err(e) => {
                for job in batch.drain(..) {
                    job.settle(Err(not_committed(&e)));
                }
                return;
            }
        };
        let mut failed = false;
        let mut start = 0;
        while start < batch.len() {
            // A run of row units of one kind shares its statements.
            let end = match batch[start].kind() {
                Some(kind) => {
                    let same = batch[start + 1..]
                        .iter()
                        .take_while(|job| job.kind() == Some(kind))
                        .count();
                    start + 1 + same
                }
                None => start + 1,
            };
            let Some((first, rest)) = batch[start..end].split_first_mut() else {
                break;
            };
            if first.run_with(rest, &mut *tx).await.is_err() {
                failed = true;
                break;
            }
            start = end;
        }
        if !failed {
            let committed = tx.commit().await;
            for job in batch.drain(..) {
                job.settle(match &committed {
                    Ok(()) => Ok(()),
                    Err(e) => Err(not_committed(e)),
                });
            }
            return;
        }
        // A unit failed: undo the whole batch and run it again, each unit in its savepoint.
        if let Err(e) = tx.rollback().await {
            for job in batch.drain(..) {
                job.settle(Err(not_committed(&e)));
            }
            return;
        }
    }
    let mut tx = match conn.begin().await {
        Ok(tx) => tx,
        Err(e) => {
            for job in batch.drain(..) {
                job.settle(Err(not_committed(&e)));
            }
            return;
        }
    };
    // A lone unit needs no savepoint: if it fails, the whole transaction is rolled back.
    let alone = batch.len() == 1;
    let mut succeeded: Vec<Box<dyn Job<DB>>> = Vec::with_capacity(batch.len());
    // Set when the transaction itself failed (connection lost, savepoint gone): every unit of
    // the batch is then answered with an error and the transaction is rolled back.
    let mut broken: Option<String> = None;
    for mut job in batch.drain(..) {
        if let Some(why) = &broken {
            job.settle(Err(not_committed(why)));
            continue;
        }
        if !alone && let Err(e) = (&mut *tx).execute("SAVEPOINT unit").await {
            broken = Some(e.to_string());
            job.settle(Err(not_committed(&e)));
            continue;
        }
        match job.run(&mut *tx).await {
            Ok(()) => succeeded.push(job),
            Err(e) if alone => job.settle(Err(e)),
            Err(e) => {
                // The most recent savepoint of that name: this unit's.
                if let Err(rollback) = (&mut *tx).execute("ROLLBACK TO SAVEPOINT unit").await {
                    broken = Some(rollback.to_string());
                }
                job.settle(Err(e));
            }
        }
    }
    if let Some(why) = broken {
        for job in succeeded {
            job.settle(Err(not_committed(&why)));
        }
        return; // dropping `tx` rolls it back
    }
    if succeeded.is_empty() {
        return;
    }
    match tx.commit().await {
        Ok(()) => {
            for job in succeeded {
                job.settle(Ok(()));
            }
        }
        Err(e) => {
            for job in succeeded {
                job.settle(Err(not_committed(&e)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use sqlx::pool::PoolOptions;
    use tokio::sync::Semaphore;

    use super::*;
    use crate::backend::{Column, Param, Sql};

    /// One statement for all of `rows`; a negative value breaks the table's `CHECK`.
    fn insert_values<'c, DB>(rows: Vec<&'c i64>, conn: &'c mut DB::Connection) -> UnitFuture<'c, ()>
    where
        DB: Sql,
        for<'e> &'e mut DB::Connection: Executor<'e, Database = DB>,
        for<'q> i64: Param<'q, DB>,
    {
        Box::pin(async move {
            let mut q = sqlx::QueryBuilder::<DB>::new("INSERT INTO t (v) ");
            q.push_values(rows, |mut row, v| {
                row.push_bind(*v);
            });
            q.build().persistent(false).execute(conn).await?;
            Ok(())
        })
    }

    /// What a unit of a test batch is: a row unit's value or a plain unit's.
    enum Write {
        Row(i64),
        Plain(i64),
    }

    /// Queues `writes` in this order while the writer is held by a unit queued before them, so
    /// they form one batch; returns each write's outcome, how often the row units' insert
    /// function was called, and the table's values in insertion order.
    async fn one_batch<DB>(
        pool: &Pool<DB>,
        one_statement: bool,
        writes: &[Write],
    ) -> (Vec<bool>, usize, Vec<i64>)
    where
        DB: Sql,
        for<'e> &'e mut DB::Connection: Executor<'e, Database = DB>,
        for<'q> i64: Param<'q, DB> + Column<DB>,
        usize: sqlx::ColumnIndex<DB::Row>,
    {
        let gc = Arc::new(GroupCommit::start(pool.clone(), 1, one_statement));
        let gate = Arc::new(Semaphore::new(0));
        let started = Arc::new(tokio::sync::Notify::new());
        let holder = {
            let (gc, gate, started) = (gc.clone(), gate.clone(), started.clone());
            tokio::spawn(async move {
                gc.write(None, move |_| {
                    let (gate, started) = (gate.clone(), started.clone());
                    Box::pin(async move {
                        started.notify_one();
                        let _held = gate.acquire().await;
                        Ok(())
                    })
                })
                .await
            })
        };
        started.notified().await;
        let calls = Arc::new(AtomicUsize::new(0));
        let queued = writes.iter().map(|w| {
            let (gc, calls) = (gc.clone(), calls.clone());
            let write = match *w {
                Write::Row(v) => Ok(v),
                Write::Plain(v) => Err(v),
            };
            async move {
                match write {
                    Ok(v) => gc
                        .insert(None, v, move |rows, conn| {
                            calls.fetch_add(1, Ordering::SeqCst);
                            insert_values::<DB>(rows, conn)
                        })
                        .await
                        .is_ok(),
                    Err(v) => gc
                        .write(None, move |conn| {
                            Box::pin(async move {
                                sqlx::query("INSERT INTO t (v) VALUES ($1)")
                                    .bind(v)
                                    .execute(&mut *conn)
                                    .await?;
                                Ok(())
                            })
                        })
                        .await
                        .is_ok(),
                }
            }
        });
        // Runs once `join_all` below has queued every write (this runtime has one thread).
        let release = tokio::spawn(async move { gate.add_permits(Semaphore::MAX_PERMITS) });
        let outcomes = futures_util::future::join_all(queued).await;
        release.await.unwrap();
        holder.await.unwrap().unwrap();
        let values: Vec<i64> = sqlx::query_scalar("SELECT v FROM t ORDER BY id")
            .fetch_all(pool)
            .await
            .unwrap();
        sqlx::query("DELETE FROM t").execute(pool).await.unwrap();
        (outcomes, calls.load(Ordering::SeqCst), values)
    }

    async fn row_units_share_statements_in_order_and_fail_alone<DB>(pool: Pool<DB>)
    where
        DB: Sql,
        for<'e> &'e mut DB::Connection: Executor<'e, Database = DB>,
        for<'q> i64: Param<'q, DB> + Column<DB>,
        usize: sqlx::ColumnIndex<DB::Row>,
    {
        use Write::{Plain, Row};
        // The test's insert is one statement on both databases: both ways of committing.
        for one_statement in [false, true] {
            // Two runs of row units, split by a plain unit: two statements for six rows.
            let batch = [Row(0), Row(1), Row(2), Row(3), Plain(100), Row(4), Row(5)];
            let (outcomes, calls, values) = one_batch(&pool, one_statement, &batch).await;
            assert_eq!(outcomes, [true; 7]);
            assert_eq!(calls, 2, "one insert per run of row units");
            assert_eq!(values, [0, 1, 2, 3, 100, 4, 5], "rows in the order queued");

            // A row that fails fails alone: the shared statement fails, and the batch runs
            // again unit by unit (one insert per row unit), each in its savepoint.
            let batch = [Row(10), Row(11), Row(-1), Plain(200), Row(13), Row(-2)];
            let (outcomes, calls, values) = one_batch(&pool, one_statement, &batch).await;
            assert_eq!(outcomes, [true, true, false, true, true, false]);
            assert_eq!(calls, 1 + 5);
            assert_eq!(values, [10, 11, 200, 13]);

            // Row units only (with `one_statement`, one statement without BEGIN and COMMIT).
            let batch = [Row(20), Row(21), Row(22)];
            let (outcomes, calls, values) = one_batch(&pool, one_statement, &batch).await;
            assert_eq!(
                (outcomes, calls, values),
                (vec![true; 3], 1, vec![20, 21, 22])
            );
            let batch = [Row(30), Row(-3), Row(32)];
            let (outcomes, calls, values) = one_batch(&pool, one_statement, &batch).await;
            assert_eq!(
                (outcomes, calls, values),
                (vec![true, false, true], 1 + 3, vec![30, 32])
            );
        }
    }

    #[tokio::test]
    async fn row_units_on_sqlite() {
        let pool = PoolOptions::<sqlx::Sqlite>::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::query(
            "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, \
             v INTEGER NOT NULL CHECK (v >= 0))",
        )
        .execute(&pool)
        .await
        .unwrap();
        row_units_share_statements_in_order_and_fail_alone(pool).await;
    }

    #[tokio::test]
    async fn row_units_on_postgres() {
        let Ok(url) = std::env::var("TAYLORDASH_TEST_DATABASE_URL") else {
            assert_ne!(
                std::env::var("TAYLORDASH_REQUIRE_POSTGRES").as_deref(),
                Ok("1"),
                "TAYLORDASH_TEST_DATABASE_URL is not set"
            );
            eprintln!("skipped: set TAYLORDASH_TEST_DATABASE_URL to run on PostgreSQL");
            return;
        };
        // One connection, so its temporary table is the one every unit sees.
        let pool = PoolOptions::<sqlx::Postgres>::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        sqlx::query(
            "CREATE TEMPORARY TABLE t (id BIGSERIAL PRIMARY KEY, \
             v BIGINT NOT NULL CHECK (v >= 0))",
        )
        .execute(&pool)
        .await
        .unwrap();
        row_units_share_statements_in_order_and_fail_alone(pool).await;
    }
}
