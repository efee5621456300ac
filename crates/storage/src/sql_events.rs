//! The queries behind [`crate::EventStore`], written once for both databases over
//! [`SqlBackend`]. A batch of events goes in by [`SqlBackend::insert_events`] (one statement on
//! PostgreSQL, which also announces it to other replicas; multi-row INSERTs on SQLite).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    DeadLetter, DeadLetterEdit, Event, EventFilter, JsonObject, NewDeadLetter, NewEvent,
    OutboxEntry, topics,
};
use sqlx::types::Json;
use sqlx::{ColumnIndex, Executor};
use sqlx_macros::FromRow;
use uuid::Uuid;

use crate::backend::{Column, Conn, Dialects, Param, Row, Sql, SqlBackend};
use crate::events::{EventPage, EventStore, IngestOutcome, OutboxConfirmation, OutboxDeadLettered};
use crate::{Entity, Result, StoreError};

/// Claims unsent outbox rows for the relay (marks them attempted now) in one statement: the
/// rows come back in no particular order. On PostgreSQL `SKIP LOCKED` lets several replicas'
/// relays claim disjoint rows, and the ids go to the `UPDATE` as an array, so it finds its rows
/// by primary key (as `IN (subquery)` the planner may hash-join against a scan of the whole
/// table, which keeps every row ever sent). SQLite has a single writer and needs no lock.
const CLAIM_OUTBOX: Dialects = Dialects {
    postgres: "UPDATE event_outbox SET attempted_at = $3 WHERE id = ANY(ARRAY(SELECT id FROM event_outbox \
               WHERE sent_at IS NULL AND (attempted_at IS NULL OR attempted_at < $1) ORDER BY id \
               LIMIT $2 FOR UPDATE SKIP LOCKED)) \
               RETURNING id, topic, kind, trace_id, idempotency_key, payload, created_at",
    sqlite: "UPDATE event_outbox SET attempted_at = $3 WHERE id IN (SELECT id FROM event_outbox \
             WHERE sent_at IS NULL AND (attempted_at IS NULL OR attempted_at < $1) ORDER BY id \
             LIMIT $2) RETURNING id, topic, kind, trace_id, idempotency_key, payload, created_at",
};

/// A page of the events list: topic pattern, kind, trace, received since, received before,
/// older than id, limit; a `NULL` filter is off.
pub(crate) const LIST_EVENTS: &str = "SELECT id, topic, kind, trace_id, idempotency_key, source, \
    payload, ts, received_at FROM events_mirror WHERE ($1 IS NULL OR topic LIKE $1 ESCAPE '\\') \
    AND ($2 IS NULL OR kind = $2) AND ($3 IS NULL OR trace_id = $3) \
    AND ($4 IS NULL OR received_at >= $4) AND ($5 IS NULL OR received_at < $5) \
    AND ($6 IS NULL OR id < $6) ORDER BY id DESC LIMIT $7";

/// Settles the rows in flight whose event is in the mirror: one probe of the mirror's
/// idempotency key index per row. On PostgreSQL `OFFSET 0` keeps the `EXISTS` a per-row probe;
/// as a semi-join the planner may hash the whole mirror (30 days of events) instead.
const CONFIRM_SENT: Dialects = Dialects {
    postgres: "UPDATE event_outbox SET sent_at = $1 WHERE sent_at IS NULL AND attempted_at IS NOT NULL \
               AND EXISTS (SELECT 1 FROM events_mirror e \
               WHERE e.idempotency_key = event_outbox.idempotency_key OFFSET 0)",
    sqlite: "UPDATE event_outbox SET sent_at = $1 WHERE sent_at IS NULL AND attempted_at IS NOT NULL \
             AND EXISTS (SELECT 1 FROM events_mirror e \
             WHERE e.idempotency_key = event_outbox.idempotency_key)",
};

#[derive(FromRow)]
pub(crate) struct EventRow {
    id: i64,
    topic: String,
    kind: String,
    trace_id: Uuid,
    idempotency_key: String,
    source: String,
    payload: Json<JsonObject>,
    ts: DateTime<Utc>,
    received_at: DateTime<Utc>,
}

impl From<EventRow> for Event {
    fn from(r: EventRow) -> Event {
        Event {
            id: r.id,
            topic: r.topic,
            kind: r.kind,
            trace_id: r.trace_id,
            idempotency_key: r.idempotency_key,
            source: r.source,
            payload: r.payload.0,
            ts: r.ts,
            received_at: r.received_at,
        }
    }
}

#[derive(FromRow)]
struct DeadLetterRow {
    id: i64,
    original_topic: String,
    reason: String,
    failure_reason: String,
    payload: Json<serde_json::Value>,
    created_at: DateTime<Utc>,
    replayed_at: Option<DateTime<Utc>>,
    replayed_event_id: Option<i64>,
    edited_payload: Option<Json<serde_json::Value>>,
    edited_by: Option<String>,
}

impl From<DeadLetterRow> for DeadLetter {
    fn from(r: DeadLetterRow) -> DeadLetter {
        DeadLetter {
            id: r.id,
            original_topic: r.original_topic,
            reason: r.reason,
            detail: r.failure_reason,
            payload: r.payload.0,
            created_at: r.created_at,
            replayed_at: r.replayed_at,
            replayed_event_id: r.replayed_event_id,
            edit: r.edited_payload.map(|p| DeadLetterEdit {
                payload: p.0,
                by: r.edited_by.unwrap_or_default(),
            }),
        }
    }
}

#[derive(FromRow)]
struct OutboxRow {
    id: i64,
    topic: String,
    kind: String,
    trace_id: Uuid,
    idempotency_key: String,
    payload: Json<JsonObject>,
    created_at: DateTime<Utc>,
}

impl From<OutboxRow> for OutboxEntry {
    fn from(r: OutboxRow) -> OutboxEntry {
        OutboxEntry {
            id: r.id,
            topic: r.topic,
            kind: r.kind,
            trace_id: r.trace_id,
            idempotency_key: r.idempotency_key,
            payload: r.payload.0,
            created_at: r.created_at,
        }
    }
}

/// An outbox row `confirm_outbox` settled by a dead letter.
#[derive(FromRow)]
struct DeadLetteredRow {
    id: i64,
    dead_letter_id: i64,
    kind: String,
}

impl From<DeadLetteredRow> for OutboxDeadLettered {
    fn from(r: DeadLetteredRow) -> OutboxDeadLettered {
        OutboxDeadLettered {
            outbox_id: r.id,
            dead_letter_id: r.dead_letter_id,
            kind: r.kind,
        }
    }
}

/// The events of a batch that were stored (`ids` from [`SqlBackend::insert_events`]), in id
/// order; counts the duplicates.
fn stored_events(events: &[NewEvent], ids: Vec<Option<i64>>, duplicates: &mut usize) -> Vec<Event> {
    let mut stored = Vec::with_capacity(events.len());
    for (e, id) in events.iter().zip(ids) {
        match id {
            Some(id) => stored.push(Event {
                id,
                topic: e.topic.clone(),
                kind: e.kind.clone(),
                trace_id: e.trace_id,
                idempotency_key: e.idempotency_key.clone(),
                source: e.source.as_str().to_owned(),
                payload: e.payload.clone(),
                ts: e.ts,
                received_at: e.received_at,
            }),
            None => *duplicates += 1,
        }
    }
    stored.sort_by_key(|e| e.id);
    stored
}

#[async_trait]
impl<B> EventStore for B
where
    B: SqlBackend,
    for<'c> &'c mut Conn<B>: Executor<'c, Database = B::Db>,
    for<'a> &'a str: Param<'a, B::Db> + ColumnIndex<Row<B>>,
    for<'a> Option<&'a str>: Param<'a, B::Db>,
    for<'a> Json<&'a serde_json::Value>: Param<'a, B::Db>,
    for<'a> Option<Json<&'a serde_json::Value>>: Param<'a, B::Db>,
    usize: ColumnIndex<Row<B>>,
    String: Column<B::Db>,
    for<'q> Uuid: Param<'q, B::Db> + Column<B::Db>,
    for<'q> Option<Uuid>: Param<'q, B::Db>,
    for<'q> i64: Param<'q, B::Db> + Column<B::Db>,
    for<'q> Option<i64>: Param<'q, B::Db>,
    for<'q> DateTime<Utc>: Param<'q, B::Db> + Column<B::Db>,
    for<'q> Option<DateTime<Utc>>: Param<'q, B::Db>,
    Json<JsonObject>: Column<B::Db>,
    Json<serde_json::Value>: Column<B::Db>,
{
    async fn ingest(&self, events: &[NewEvent], dead: &[NewDeadLetter]) -> Result<IngestOutcome> {
        let mut outcome = IngestOutcome::default();
        // The usual batch (events only, one statement) commits by itself: one round trip.
        if dead.is_empty() && events.len() <= B::EVENTS_PER_STATEMENT {
            let mut conn = self.writer().acquire().await?;
            let ids = self.insert_events(&mut conn, events).await?;
            outcome.stored = stored_events(events, ids, &mut outcome.duplicates);
            return Ok(outcome);
        }
        let mut tx = self.writer().begin().await?;
        let ids = self.insert_events(&mut tx, events).await?;
        outcome.stored = stored_events(events, ids, &mut outcome.duplicates);
        for d in dead {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO dlq_events (original_topic, reason, failure_reason, payload, \
                 created_at, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(d.original_topic.as_str())
            .bind(d.reason.as_str())
            .bind(d.detail.as_str())
            .bind(Json(&d.payload))
            .bind(d.received_at)
            .bind(d.idempotency_key.as_deref())
            .fetch_one(&mut *tx)
            .await?;
            outcome.dead_letters.push(id);
        }
        tx.commit().await?;
        Ok(outcome)
    }

    async fn remote_events(&self) -> Result<Option<tokio::sync::mpsc::Receiver<Vec<Event>>>> {
        self.listen_remote_events().await
    }

    async fn list_events(&self, filter: &EventFilter, limit: i64) -> Result<EventPage> {
        let wildcard = filter.topic.as_deref().filter(|t| topics::has_wildcards(t));
        let like = filter.topic.as_deref().map(topics::like_pattern);
        let batch = limit.max(100);
        let mut events = Vec::new();
        let mut cursor = filter.before_id;
        let mut scanned = 0;
        let mut conn = self.reader().acquire().await?;
        loop {
            let rows: Vec<EventRow> = sqlx::query_as(LIST_EVENTS)
                .bind(like.as_deref())
                .bind(filter.kind.as_deref())
                .bind(filter.trace_id)
                .bind(filter.since)
                .bind(filter.until)
                .bind(cursor)
                .bind(batch)
                .fetch_all(&mut *conn)
                .await?;
            let exhausted = (rows.len() as i64) < batch;
            for row in rows {
                let event = Event::from(row);
                cursor = Some(event.id);
                scanned += 1;
                let hidden = filter.hide_admin_only && topics::admin_only(&event.topic);
                if !hidden && wildcard.is_none_or(|f| topics::matches(f, &event.topic)) {
                    events.push(event);
                    if events.len() as i64 == limit {
                        return Ok(EventPage {
                            events,
                            next_cursor: cursor,
                        });
                    }
                }
            }
            if exhausted {
                return Ok(EventPage {
                    events,
                    next_cursor: None,
                });
            }
            // Bound the work a sparse wildcard can cause; the cursor resumes here.
            if scanned >= 10 * batch {
                return Ok(EventPage {
                    events,
                    next_cursor: cursor,
                });
            }
        }
    }

    async fn get_event(&self, id: i64) -> Result<Event> {
        let row: EventRow = sqlx::query_as(
            "SELECT id, topic, kind, trace_id, idempotency_key, source, payload, ts, received_at \
             FROM events_mirror WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.reader())
        .await?
        .ok_or_else(|| StoreError::not_found(Entity::Event, id))?;
        Ok(row.into())
    }

    async fn list_dead_letters(
        &self,
        limit: i64,
        before_id: Option<i64>,
    ) -> Result<Vec<DeadLetter>> {
        let rows: Vec<DeadLetterRow> = sqlx::query_as(
            "SELECT id, original_topic, reason, failure_reason, payload, created_at, replayed_at, \
             replayed_event_id, edited_payload, edited_by FROM dlq_events \
             WHERE ($1 IS NULL OR id < $1) ORDER BY id DESC LIMIT $2",
        )
        .bind(before_id)
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        Ok(rows.into_iter().map(DeadLetter::from).collect())
    }

    async fn get_dead_letter(&self, id: i64) -> Result<DeadLetter> {
        let row: DeadLetterRow = sqlx::query_as(
            "SELECT id, original_topic, reason, failure_reason, payload, created_at, replayed_at, \
             replayed_event_id, edited_payload, edited_by FROM dlq_events WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.reader())
        .await?
        .ok_or_else(|| StoreError::not_found(Entity::DeadLetter, id))?;
        Ok(row.into())
    }

    async fn mark_replayed(
        &self,
        id: i64,
        event_id: Option<i64>,
        edit: Option<&DeadLetterEdit>,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE dlq_events SET replayed_at = $2, replayed_event_id = $3, \
             edited_payload = $4, edited_by = $5 WHERE id = $1",
        )
        .bind(id)
        .bind(domain::now())
        .bind(event_id)
        .bind(edit.map(|e| Json(&e.payload)))
        .bind(edit.map(|e| e.by.as_str()))
        .execute(self.writer())
        .await?;
        if B::Db::rows_affected(&done) == 0 {
            return Err(StoreError::not_found(Entity::DeadLetter, id));
        }
        Ok(())
    }

    async fn delete_dead_letter(&self, id: i64) -> Result<()> {
        let done = sqlx::query("DELETE FROM dlq_events WHERE id = $1")
            .bind(id)
            .execute(self.writer())
            .await?;
        if B::Db::rows_affected(&done) == 0 {
            return Err(StoreError::not_found(Entity::DeadLetter, id));
        }
        Ok(())
    }

    async fn dead_letter_backlog(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT count(*) FROM dlq_events WHERE replayed_at IS NULL")
                .fetch_one(self.reader())
                .await?,
        )
    }

    async fn claim_outbox(
        &self,
        limit: i64,
        retry_before: DateTime<Utc>,
    ) -> Result<Vec<OutboxEntry>> {
        // One statement (one round trip, one message to SQLite's writer thread) however many
        // rows: the relay claims up to `limit` at a time, many times a second under load.
        let mut rows: Vec<OutboxRow> = sqlx::query_as(CLAIM_OUTBOX.get(B::KIND))
            .bind(retry_before)
            .bind(limit)
            .bind(domain::now())
            .fetch_all(self.writer())
            .await?;
        rows.sort_unstable_by_key(|r| r.id);
        Ok(rows.into_iter().map(OutboxEntry::from).collect())
    }

    async fn confirm_outbox(&self) -> Result<OutboxConfirmation> {
        // Only rows the relay claimed (`attempted_at` is set before an event is published) can
        // have come back; the in-flight index holds just those, not the whole unsent backlog.
        let now = domain::now();
        let sent = sqlx::query(CONFIRM_SENT.get(B::KIND))
            .bind(now)
            .execute(self.writer())
            .await?;
        let dead_lettered: Vec<DeadLetteredRow> = sqlx::query_as(
            "UPDATE event_outbox SET sent_at = $1, dead_letter_id = \
             (SELECT min(d.id) FROM dlq_events d WHERE d.idempotency_key = event_outbox.idempotency_key) \
             WHERE sent_at IS NULL AND attempted_at IS NOT NULL AND EXISTS \
             (SELECT 1 FROM dlq_events d WHERE d.idempotency_key = event_outbox.idempotency_key) \
             RETURNING id, dead_letter_id, kind",
        )
        .bind(now)
        .fetch_all(self.writer())
        .await?;
        Ok(OutboxConfirmation {
            sent: B::Db::rows_affected(&sent),
            dead_lettered: dead_lettered
                .into_iter()
                .map(OutboxDeadLettered::from)
                .collect(),
        })
    }

    async fn outbox_in_flight(&self, since: DateTime<Utc>) -> Result<i64> {
        // Walks the in-flight index (migration 0020): the rows claimed and not settled, about
        // the relay's window.
        Ok(sqlx::query_scalar(
            "SELECT count(*) FROM event_outbox \
             WHERE sent_at IS NULL AND attempted_at IS NOT NULL AND attempted_at >= $1",
        )
        .bind(since)
        .fetch_one(self.reader())
        .await?)
    }

    async fn outbox_backlog(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT count(*) FROM event_outbox WHERE sent_at IS NULL")
                .fetch_one(self.reader())
                .await?,
        )
    }

    async fn prune_events(&self, cutoff: DateTime<Utc>, batch: i64) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM events_mirror WHERE id IN (SELECT id FROM events_mirror \
             WHERE received_at < $1 ORDER BY id LIMIT $2)",
        )
        .bind(cutoff)
        .bind(batch)
        .execute(self.writer())
        .await?;
        Ok(B::Db::rows_affected(&done))
    }
}
