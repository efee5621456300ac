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
//! Throughput is then bounded by the number of writes in flight over the commit latency (a
//! closed loop of `c` clients cannot put more than `c` writes into one sync). To let all of them
//! meet in one batch, a writer whose last commit was slow waits briefly (at most [`GATHER`]) for
//! as many units as its previous batch had before it begins; otherwise the clients answered by
//! one commit would trickle back one by one and split into two alternating, half-sized groups.

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
    pub(crate) fn start(pool: Pool<DB>, lanes: usize) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..lanes.max(1) {
            tokio::spawn(lane(pool.clone(), rx.clone()));
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
        let unit: Box<dyn Job<DB>> = Box::new(Unit {
            work,
            value: None,
            mark,
            span: tracing::Span::current(),
            reply,
        });
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
async fn lane<DB: Database>(pool: Pool<DB>, queue: Queue<DB>)
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
            commit(&pool, &mut batch).await;
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

/// Runs `batch` in one transaction, each unit in its own savepoint, and answers every unit.
async fn commit<DB: Database>(pool: &Pool<DB>, batch: &mut Vec<Box<dyn Job<DB>>>)
where
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
    if batch.len() > 1 {
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
        for job in batch.iter_mut() {
            if job.run(&mut *tx).await.is_err() {
                failed = true;
                break;
            }
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
