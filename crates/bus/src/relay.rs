//! Background jobs: the outbox relay and event retention.
//!
//! The relay publishes outbox rows in order. A row counts as sent only when its event has come
//! back through the bus into the events mirror (`confirm_outbox`) — end-to-end proof, with no
//! reliance on acknowledgements held in memory. Rows not confirmed within [`RETRY_AFTER`] are
//! published again; the idempotency key makes the repeat harmless. A row whose message the bus
//! dead-lettered is settled by that dead letter (same idempotency key), counted and logged. With the broker down nothing
//! is published, API calls are unaffected, and the backlog drains when it returns.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use storage::{EventStore, StoreError};

use crate::metrics::BusMetrics;
use crate::transport::Transport;

const RETRY_AFTER: Duration = Duration::from_secs(5);
const CLAIM: i64 = 200;

pub(crate) async fn run(
    store: Arc<dyn EventStore>,
    transport: Arc<dyn Transport>,
    metrics: Arc<BusMetrics>,
    interval: Duration,
) {
    let mut failing = false;
    loop {
        tokio::time::sleep(interval).await;
        match relay_once(store.as_ref(), transport.as_ref(), &metrics).await {
            Ok(()) => failing = false,
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "outbox relay cannot reach the database; retrying");
            }
            Err(_) => {}
        }
    }
}

async fn relay_once(
    store: &dyn EventStore,
    transport: &dyn Transport,
    metrics: &BusMetrics,
) -> Result<(), StoreError> {
    let confirmed = store.confirm_outbox().await?;
    for row in &confirmed.dead_lettered {
        // The application wrote an event the bus refuses: a defect to fix, reported once per
        // row. The row is settled, so it is not published again.
        metrics.outbox_dead_lettered.inc();
        tracing::error!(outbox_id = row.outbox_id, dead_letter_id = row.dead_letter_id,
            kind = %row.kind, "an outbox event was dead-lettered; it will not be published again (see the dead letter)");
    }
    if transport.is_connected() {
        let retry_before = domain::now()
            - chrono::Duration::from_std(RETRY_AFTER).unwrap_or(chrono::Duration::seconds(5));
        for entry in store.claim_outbox(CLAIM, retry_before).await? {
            let envelope = domain::envelope(
                entry.trace_id,
                entry.created_at,
                &entry.kind,
                &entry.idempotency_key,
                &entry.payload,
            );
            if let Err(e) = transport
                .publish(&entry.topic, Bytes::from(envelope.to_string()))
                .await
            {
                tracing::debug!(error = %e, "outbox publish deferred");
                break;
            }
        }
    }
    metrics.outbox_backlog.set(store.outbox_backlog().await?);
    Ok(())
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
