//! The projects table's generation as PostgreSQL keeps it (migration 0019): a number that moves
//! in the same transaction as every change to `projects`, whichever replica makes it. A list
//! read together with it in one statement may be answered again while a fresh read of the
//! generation gives the same number (api `projects::ListCache`).
//!
//! "Fresh" is what makes that safe: the read must begin after the request asking for it did,
//! so that it sees every write acknowledged before that request was sent (read-your-writes,
//! across replicas). It need not begin for that request alone: one read serves every request
//! that was waiting when it began. [`GenerationReader`] runs those reads one after another on a
//! task of its own, on a connection kept for them (a prepared statement, no pool hand-off),
//! each round answering the requests that arrived before it began: under load one query per
//! round trip, not one per request.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{Notify, watch};

/// The generation: the sum of the counters (each only grows; see the migration).
const READ_GENERATION: &str = "SELECT sum(n)::bigint FROM project_list_generation";

/// A read (with connecting, when needed) that takes longer fails: the requests list uncached.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads the generation for requests, several per query when they wait together.
pub(crate) struct GenerationReader {
    shared: Arc<Shared>,
    wake: Arc<Notify>,
}

struct Shared {
    rounds: Mutex<Rounds>,
    answers: watch::Sender<Answer>,
}

#[derive(Default)]
struct Rounds {
    /// The last round begun (its query is sent after this moved).
    begun: u64,
    /// The last round some request waits for.
    wanted: u64,
    /// The store is closing: no more reads.
    closed: bool,
}

#[derive(Clone, Copy, Default)]
struct Answer {
    round: u64,
    /// `None`: the read failed (the caller lists without the cache).
    generation: Option<u64>,
}

impl GenerationReader {
    /// Starts the reading task; it connects when the first request waits.
    pub(crate) fn start(options: PgConnectOptions) -> GenerationReader {
        let shared = Arc::new(Shared {
            rounds: Mutex::new(Rounds::default()),
            answers: watch::Sender::new(Answer::default()),
        });
        let wake = Arc::new(Notify::new());
        tokio::spawn(run(Arc::downgrade(&shared), wake.clone(), options));
        GenerationReader { shared, wake }
    }

    /// The generation, read by a query that began after this call did; `None` if it could not
    /// be read.
    pub(crate) async fn read(&self) -> Option<u64> {
        let mut answers = self.shared.answers.subscribe();
        let want = {
            let mut rounds = lock(&self.shared.rounds);
            if rounds.closed {
                return None;
            }
            // A round already begun may have sent its query before this request arrived.
            let want = rounds.begun + 1;
            rounds.wanted = rounds.wanted.max(want);
            want
        };
        self.wake.notify_one();
        let answer = *answers.wait_for(|a| a.round >= want).await.ok()?;
        answer.generation
    }

    /// Ends the reads and closes their connection (the store is closing).
    pub(crate) fn close(&self) {
        lock(&self.shared.rounds).closed = true;
        self.wake.notify_one();
    }
}

impl Drop for GenerationReader {
    fn drop(&mut self) {
        // The task holds only a weak reference: woken, it finds the store gone and ends.
        self.wake.notify_one();
    }
}

fn lock(rounds: &Mutex<Rounds>) -> std::sync::MutexGuard<'_, Rounds> {
    rounds.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the task does next.
enum Next {
    Read(u64),
    Wait,
    End,
}

async fn run(shared: Weak<Shared>, wake: Arc<Notify>, options: PgConnectOptions) {
    let mut conn: Option<PgConnection> = None;
    loop {
        let next = match shared.upgrade() {
            None => Next::End,
            Some(shared) => {
                let mut rounds = lock(&shared.rounds);
                if rounds.closed {
                    // Whoever still waits lists without the cache.
                    rounds.begun = u64::MAX;
                    shared.answers.send_replace(Answer {
                        round: u64::MAX,
                        generation: None,
                    });
                    Next::End
                } else if rounds.wanted > rounds.begun {
                    rounds.begun += 1;
                    Next::Read(rounds.begun)
                } else {
                    Next::Wait
                }
            }
        };
        let round = match next {
            Next::Read(round) => round,
            // A request arriving after the check leaves a permit: this does not miss it.
            Next::Wait => {
                wake.notified().await;
                continue;
            }
            Next::End => {
                if let Some(conn) = conn {
                    let _ = conn.close().await;
                }
                return;
            }
        };
        let read = tokio::time::timeout(READ_TIMEOUT, read_generation(&options, &mut conn)).await;
        let generation = read.unwrap_or_else(|_| {
            conn = None; // it may be stuck half-way through a message
            tracing::debug!("reading the projects generation timed out");
            None
        });
        let Some(shared) = shared.upgrade() else {
            continue;
        };
        shared.answers.send_replace(Answer { round, generation });
    }
}

/// One read on the connection kept for it (connecting first when there is none).
async fn read_generation(
    options: &PgConnectOptions,
    conn: &mut Option<PgConnection>,
) -> Option<u64> {
    if conn.is_none() {
        match options.connect().await {
            Ok(c) => *conn = Some(c),
            Err(e) => {
                tracing::debug!(error = %e, "cannot connect to read the projects generation");
                return None;
            }
        }
    }
    let c = conn.as_mut()?;
    match sqlx::query_scalar::<_, Option<i64>>(READ_GENERATION)
        .fetch_one(&mut *c)
        .await
    {
        Ok(n) => n.and_then(|n| u64::try_from(n).ok()),
        Err(e) => {
            tracing::debug!(error = %e, "cannot read the projects generation");
            *conn = None;
            None
        }
    }
}
