//! Background jobs: the outbox relay and event retention.
//!
//! The relay publishes outbox rows in order. A row counts as sent only when its event has come
//! back through the bus into the events mirror (`confirm_outbox`) — end-to-end proof, with no
//! reliance on acknowledgements held in memory. Rows not confirmed within [`RETRY_AFTER`] are
//! published again; the idempotency key makes the repeat harmless. A row whose message the bus
//! dead-lettered is settled by that dead letter (same idempotency key), counted and logged. With the broker down nothing
//! is published, API calls are unaffected, and the backlog drains when it returns.
//!
//! It keeps up with the writers: it claims up to [`CLAIM`] rows at a time and, while claims
//! come back full, claims again at once instead of waiting for the next tick. At most
//! [`MAX_IN_FLIGHT`] rows are in flight (published within [`RETRY_AFTER`], not yet settled): a
//! pipeline that falls behind slows the relay down, rather than having its rows republished
//! for being late. A publish waits for room in the transport's queue, so no claimed row is
//! skipped for a full queue and the rows go out in the order claimed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use storage::{EventStore, StoreError};

use crate::metrics::BusMetrics;
use crate::transport::Transport;

const RETRY_AFTER: Duration = Duration::from_secs(5);
/// Rows per claim (one statement).
const CLAIM: i64 = 1000;
/// Rows published and not yet settled, at most. Well below what the pipeline stores in
/// [`RETRY_AFTER`], so a full window is never republished for being slow.
const MAX_IN_FLIGHT: i64 = 4000;
/// While the window is full, how soon the relay looks for settled rows again.
const WINDOW_WAIT: Duration = Duration::from_millis(20);
/// While the relay is busy, how often it refreshes the backlog gauge (a count of every unsent
/// row); when idle, every pass does.
const BACKLOG_EVERY: Duration = Duration::from_secs(1);

/// What the relay does after a pass.
#[derive(Debug, PartialEq)]
enum Next {
    /// The claim came back full: there is more, claim again now.
    Now,
    /// The window of rows in flight is full: wait briefly for them to settle.
    Soon,
    /// Nothing more to publish: wait for the next tick.
    Idle,
}

pub(crate) async fn run(
    store: Arc<dyn EventStore>,
    transport: Arc<dyn Transport>,
    metrics: Arc<BusMetrics>,
    interval: Duration,
) {
    let mut failing = false;
    let mut backlog_counted: Option<Instant> = None;
    loop {
        let count_backlog = backlog_counted.is_none_or(|at| at.elapsed() >= BACKLOG_EVERY);
        let next = match relay_once(store.as_ref(), transport.as_ref(), &metrics).await {
            Ok(next) => {
                failing = false;
                next
            }
            Err(e) => {
                if !failing {
                    failing = true;
                    tracing::warn!(error = %e, "outbox relay cannot reach the database; retrying");
                }
                Next::Idle
            }
        };
        if next == Next::Idle || count_backlog {
            if let Ok(n) = store.outbox_backlog().await {
                metrics.outbox_backlog.set(n);
            }
            backlog_counted = Some(Instant::now());
        }
        match next {
            Next::Now => tokio::task::yield_now().await,
            Next::Soon => tokio::time::sleep(WINDOW_WAIT.min(interval)).await,
            Next::Idle => tokio::time::sleep(interval).await,
        }
    }
}

async fn relay_once(
    store: &dyn EventStore,
    transport: &dyn Transport,
    metrics: &BusMetrics,
) -> Result<Next, StoreError> {
    let confirmed = store.confirm_outbox().await?;
    for row in &confirmed.dead_lettered {
        // The application wrote an event the bus refuses: a defect to fix, reported once per
        // row. The row is settled, so it is not published again.
        metrics.outbox_dead_lettered.inc();
        tracing::error!(outbox_id = row.outbox_id, dead_letter_id = row.dead_letter_id,
            kind = %row.kind, "an outbox event was dead-lettered; it will not be published again (see the dead letter)");
    }
    if !transport.is_connected() {
        return Ok(Next::Idle);
    }
    let retry_before = domain::now()
        - chrono::Duration::from_std(RETRY_AFTER).unwrap_or(chrono::Duration::seconds(5));
    let room = MAX_IN_FLIGHT - store.outbox_in_flight(retry_before).await?;
    if room <= 0 {
        return Ok(Next::Soon);
    }
    let limit = room.min(CLAIM);
    let claimed = store.claim_outbox(limit, retry_before).await?;
    let n = claimed.len() as i64;
    for entry in claimed {
        let envelope = domain::envelope(
            entry.trace_id,
            entry.created_at,
            &entry.kind,
            &entry.idempotency_key,
            &entry.payload,
        );
        if let Err(e) = transport
            .publish_waiting(&entry.topic, Bytes::from(envelope.to_string()))
            .await
        {
            // Disconnected: the rows left are published again after RETRY_AFTER.
            tracing::debug!(error = %e, "outbox publish deferred");
            return Ok(Next::Idle);
        }
    }
    Ok(if n < limit {
        Next::Idle
    } else if limit == CLAIM {
        Next::Now
    } else {
        Next::Soon
    })
}

/// Prunes events older than `max_age` in small batches, once an hour.
pub(crate) async fn retention(store: Arc<dyn EventStore>, max_age: Duration) {
    const BATCH: i64 = 1000;
    let max_age = chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::days(30));
    loop {
        let cutoff = domain::now() - max_age;
        let mut pruned = 0u64;
        loop {
            match store.prune_events(cutoff, BATCH).await {
                Ok(n) => {
                    pruned += n;
                    if n < BATCH as u64 {
                        break;
                    }
                    // Small batches with pauses keep writers unblocked.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "event retention failed; will retry");
                    break;
                }
            }
        }
        if pruned > 0 {
            tracing::info!(pruned, %cutoff, "pruned old events");
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
