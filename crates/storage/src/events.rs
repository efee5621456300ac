//! Event storage: the events mirror, dead letters and the outbox.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    DeadLetter, DeadLetterEdit, Event, EventFilter, NewDeadLetter, NewEvent, OutboxEntry,
};

use crate::Result;

/// What one ingest transaction did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestOutcome {
    /// Newly stored events, in input order.
    pub stored: Vec<Event>,
    /// Events skipped because their idempotency key was already stored.
    pub duplicates: usize,
    /// Ids of the dead letters written.
    pub dead_letters: Vec<i64>,
}

/// What one pass of [`EventStore::confirm_outbox`] settled.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutboxConfirmation {
    /// Rows whose event arrived in the events mirror.
    pub sent: u64,
    /// Rows whose message was dead-lettered instead: each is a defect of whatever wrote it, so
    /// the relay reports them.
    pub dead_lettered: Vec<OutboxDeadLettered>,
}

/// An outbox row settled by a dead letter.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxDeadLettered {
    pub outbox_id: i64,
    pub dead_letter_id: i64,
    pub kind: String,
}

/// A page of events, newest first, with the cursor for the next (older) page.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPage {
    pub events: Vec<Event>,
    /// Pass as `before_id` to continue; `None` when there is nothing older.
    pub next_cursor: Option<i64>,
}

#[async_trait]
pub trait EventStore: Send + Sync {
    /// Stores a batch in one transaction: events (an idempotency key already stored is skipped
    /// and counted as a duplicate) and dead letters. Nothing is visible until all of it is.
    async fn ingest(&self, events: &[NewEvent], dead: &[NewDeadLetter]) -> Result<IngestOutcome>;

    /// Events matching `filter` (topic may use MQTT wildcards), newest first.
    async fn list_events(&self, filter: &EventFilter, limit: i64) -> Result<EventPage>;
    async fn get_event(&self, id: i64) -> Result<Event>;

    /// Dead letters, newest first, optionally only those older than `before_id`.
    async fn list_dead_letters(
        &self,
        limit: i64,
        before_id: Option<i64>,
    ) -> Result<Vec<DeadLetter>>;
    async fn get_dead_letter(&self, id: i64) -> Result<DeadLetter>;
    /// Closes a dead letter: replayed into `event_id` (`None`: it was a duplicate), as the
    /// edited copy `edit` when it was edited (its original message is kept).
    async fn mark_replayed(
        &self,
        id: i64,
        event_id: Option<i64>,
        edit: Option<&DeadLetterEdit>,
    ) -> Result<()>;
    async fn delete_dead_letter(&self, id: i64) -> Result<()>;
    /// Dead letters not yet replayed.
    async fn dead_letter_backlog(&self) -> Result<i64>;

    /// Unsent outbox rows in order, skipping rows attempted after `retry_before`; marks the
    /// returned rows as attempted now.
    async fn claim_outbox(
        &self,
        limit: i64,
        retry_before: DateTime<Utc>,
    ) -> Result<Vec<OutboxEntry>>;
    /// Marks as sent every outbox row whose event has arrived in the events mirror — the
    /// end-to-end proof that it went through the bus — and settles every row whose message the
    /// bus dead-lettered (linking the dead letter), so a poisoned row is never published again.
    async fn confirm_outbox(&self) -> Result<OutboxConfirmation>;
    /// Outbox rows in flight: claimed at or after `since` and not yet settled. The relay keeps
    /// this bounded, so rows waiting for the pipeline are not republished for being slow.
    async fn outbox_in_flight(&self, since: DateTime<Utc>) -> Result<i64>;
    /// Outbox rows not yet confirmed.
    async fn outbox_backlog(&self) -> Result<i64>;

    /// Events other replicas store, as they commit (PostgreSQL `LISTEN`); `None` where there
    /// can be no other replica (SQLite).
    async fn remote_events(&self) -> Result<Option<tokio::sync::mpsc::Receiver<Vec<Event>>>>;

    /// Deletes up to `batch` events received before `cutoff`; returns how many.
    async fn prune_events(&self, cutoff: DateTime<Utc>, batch: i64) -> Result<u64>;
}

/// For each input event, the id it was stored under, or `None` when it was a duplicate: the
/// first event carrying a stored key got that row. `stored` pairs keys with new ids.
pub(crate) fn ids_in_input_order(
    events: &[domain::NewEvent],
    stored: impl IntoIterator<Item = (String, i64)>,
) -> Vec<Option<i64>> {
    let mut by_key: std::collections::HashMap<String, i64> = stored.into_iter().collect();
    events
        .iter()
        .map(|e| by_key.remove(&e.idempotency_key))
        .collect()
}
