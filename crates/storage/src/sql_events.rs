//! The queries behind [`crate::EventStore`], written once for both databases (see
//! `sql_store.rs` for why a macro). `skip_locked` is the clause that lets several replicas'
//! outbox relays claim disjoint rows (PostgreSQL); SQLite has a single writer and needs none.

macro_rules! event_columns {
    () => {
        "id, topic, kind, trace_id, idempotency_key, source, payload, ts, received_at"
    };
}

macro_rules! dead_letter_columns {
    () => {
        "id, original_topic, reason, failure_reason, payload, created_at, replayed_at, \
         replayed_event_id"
    };
}

macro_rules! impl_event_store {
    ($store:ident, $db:ty, skip_locked = $skip_locked:literal) => {
        mod event_store {
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use domain::{DeadLetter, Event, EventFilter, JsonObject, NewDeadLetter, NewEvent, OutboxEntry};
            use sqlx::Row as _;
            use sqlx::types::Json;

            use crate::events::{EventPage, EventStore, IngestOutcome};
            use domain::topics;
            use crate::{Entity, Result, StoreError};

            type Row = <$db as sqlx::Database>::Row;

            fn event_from(row: &Row) -> Result<Event> {
                Ok(Event {
                    id: row.try_get("id")?,
                    topic: row.try_get("topic")?,
                    kind: row.try_get("kind")?,
                    trace_id: row.try_get("trace_id")?,
                    idempotency_key: row.try_get("idempotency_key")?,
                    source: row.try_get("source")?,
                    payload: row.try_get::<Json<JsonObject>, _>("payload")?.0,
                    ts: row.try_get("ts")?,
                    received_at: row.try_get("received_at")?,
                })
            }

            fn dead_letter_from(row: &Row) -> Result<DeadLetter> {
                Ok(DeadLetter {
                    id: row.try_get("id")?,
                    original_topic: row.try_get("original_topic")?,
                    reason: row.try_get("reason")?,
                    detail: row.try_get("failure_reason")?,
                    payload: row.try_get::<Json<serde_json::Value>, _>("payload")?.0,
                    created_at: row.try_get("created_at")?,
                    replayed_at: row.try_get("replayed_at")?,
                    replayed_event_id: row.try_get("replayed_event_id")?,
                })
            }

            fn outbox_from(row: &Row) -> Result<OutboxEntry> {
                Ok(OutboxEntry {
                    id: row.try_get("id")?,
                    topic: row.try_get("topic")?,
                    kind: row.try_get("kind")?,
                    trace_id: row.try_get("trace_id")?,
                    idempotency_key: row.try_get("idempotency_key")?,
                    payload: row.try_get::<Json<JsonObject>, _>("payload")?.0,
                    created_at: row.try_get("created_at")?,
                })
            }


            #[async_trait]
            impl EventStore for super::$store {
                async fn ingest(
                    &self,
                    events: &[NewEvent],
                    dead: &[NewDeadLetter],
                ) -> Result<IngestOutcome> {
                    let mut outcome = IngestOutcome::default();
                    let mut tx = self.writer().begin().await?;
                    let ids = self.infra_insert_events(&mut tx, events).await?;
                    for (e, id) in events.iter().zip(ids) {
                        match id {
                            Some(id) => outcome.stored.push(Event {
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
                            None => outcome.duplicates += 1,
                        }
                    }
                    outcome.stored.sort_by_key(|e| e.id);
                    for d in dead {
                        let id: i64 = sqlx::query(
                            "INSERT INTO dlq_events (original_topic, reason, failure_reason, payload, \
                             created_at, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                        )
                        .bind(&d.original_topic)
                        .bind(d.reason.as_str())
                        .bind(&d.detail)
                        .bind(Json(&d.payload))
                        .bind(d.received_at)
                        .bind(d.idempotency_key.as_deref())
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get(0)?;
                        outcome.dead_letters.push(id);
                    }
                    if !outcome.stored.is_empty() {
                        let ids: Vec<i64> = outcome.stored.iter().map(|e| e.id).collect();
                        self.infra_announce(&mut tx, &ids).await?;
                    }
                    tx.commit().await?;
                    Ok(outcome)
                }

                async fn remote_events(
                    &self,
                ) -> Result<Option<tokio::sync::mpsc::Receiver<Vec<Event>>>> {
                    self.infra_remote_events().await
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
                        let rows = sqlx::query(concat!(
                            "SELECT ",
                            $crate::sql_events::event_columns!(),
                            " FROM events_mirror WHERE ($1 IS NULL OR topic LIKE $1 ESCAPE '\\') \
                             AND ($2 IS NULL OR kind = $2) AND ($3 IS NULL OR trace_id = $3) \
                             AND ($4 IS NULL OR received_at >= $4) AND ($5 IS NULL OR received_at < $5) \
                             AND ($6 IS NULL OR id < $6) ORDER BY id DESC LIMIT $7"
                        ))
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
                        for row in &rows {
                            let event = event_from(row)?;
                            cursor = Some(event.id);
                            scanned += 1;
                            if wildcard.is_none_or(|f| topics::matches(f, &event.topic)) {
                                events.push(event);
                                if events.len() as i64 == limit {
                                    return Ok(EventPage { events, next_cursor: cursor });
                                }
                            }
                        }
                        if exhausted {
                            return Ok(EventPage { events, next_cursor: None });
                        }
                        // Bound the work a sparse wildcard can cause; the cursor resumes here.
                        if scanned >= 10 * batch {
                            return Ok(EventPage { events, next_cursor: cursor });
                        }
                    }
                }

                async fn get_event(&self, id: i64) -> Result<Event> {
                    let row = sqlx::query(concat!(
                        "SELECT ",
                        $crate::sql_events::event_columns!(),
                        " FROM events_mirror WHERE id = $1"
                    ))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?
                    .ok_or_else(|| StoreError::not_found(Entity::Event, id))?;
                    event_from(&row)
                }

                async fn list_dead_letters(
                    &self,
                    limit: i64,
                    before_id: Option<i64>,
                ) -> Result<Vec<DeadLetter>> {
                    let rows = sqlx::query(concat!(
                        "SELECT ",
                        $crate::sql_events::dead_letter_columns!(),
                        " FROM dlq_events WHERE ($1 IS NULL OR id < $1) ORDER BY id DESC LIMIT $2"
                    ))
                    .bind(before_id)
                    .bind(limit)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter().map(dead_letter_from).collect()
                }

                async fn get_dead_letter(&self, id: i64) -> Result<DeadLetter> {
                    let row = sqlx::query(concat!(
                        "SELECT ",
                        $crate::sql_events::dead_letter_columns!(),
                        " FROM dlq_events WHERE id = $1"
                    ))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?
                    .ok_or_else(|| StoreError::not_found(Entity::DeadLetter, id))?;
                    dead_letter_from(&row)
                }

                async fn mark_replayed(&self, id: i64, event_id: Option<i64>) -> Result<()> {
                    let done = sqlx::query(
                        "UPDATE dlq_events SET replayed_at = $2, replayed_event_id = $3 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(domain::now())
                    .bind(event_id)
                    .execute(self.writer())
                    .await?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::not_found(Entity::DeadLetter, id));
                    }
                    Ok(())
                }

                async fn delete_dead_letter(&self, id: i64) -> Result<()> {
                    let done = sqlx::query("DELETE FROM dlq_events WHERE id = $1")
                        .bind(id)
                        .execute(self.writer())
                        .await?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::not_found(Entity::DeadLetter, id));
                    }
                    Ok(())
                }

                async fn dead_letter_backlog(&self) -> Result<i64> {
                    Ok(sqlx::query("SELECT count(*) FROM dlq_events WHERE replayed_at IS NULL")
                        .fetch_one(self.reader())
                        .await?
                        .try_get(0)?)
                }

                async fn claim_outbox(
                    &self,
                    limit: i64,
                    retry_before: DateTime<Utc>,
                ) -> Result<Vec<OutboxEntry>> {
                    let mut tx = self.writer().begin().await?;
                    let rows = sqlx::query(concat!(
                        "SELECT id, topic, kind, trace_id, idempotency_key, payload, created_at \
                         FROM event_outbox WHERE sent_at IS NULL \
                         AND (attempted_at IS NULL OR attempted_at < $1) ORDER BY id LIMIT $2",
                        $skip_locked
                    ))
                    .bind(retry_before)
                    .bind(limit)
                    .fetch_all(&mut *tx)
                    .await?;
                    let entries = rows.iter().map(outbox_from).collect::<Result<Vec<_>>>()?;
                    let now = domain::now();
                    for e in &entries {
                        sqlx::query("UPDATE event_outbox SET attempted_at = $2 WHERE id = $1")
                            .bind(e.id)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    Ok(entries)
                }

                async fn confirm_outbox(&self) -> Result<$crate::OutboxConfirmation> {
                    let now = domain::now();
                    let sent = sqlx::query(
                        "UPDATE event_outbox SET sent_at = $1 WHERE sent_at IS NULL AND EXISTS \
                         (SELECT 1 FROM events_mirror e WHERE e.idempotency_key = event_outbox.idempotency_key)",
                    )
                    .bind(now)
                    .execute(self.writer())
                    .await?
                    .rows_affected();
                    let rows = sqlx::query(
                        "UPDATE event_outbox SET sent_at = $1, dead_letter_id = \
                         (SELECT min(d.id) FROM dlq_events d WHERE d.idempotency_key = event_outbox.idempotency_key) \
                         WHERE sent_at IS NULL AND EXISTS \
                         (SELECT 1 FROM dlq_events d WHERE d.idempotency_key = event_outbox.idempotency_key) \
                         RETURNING id, dead_letter_id, kind",
                    )
                    .bind(now)
                    .fetch_all(self.writer())
                    .await?;
                    let dead_lettered = rows
                        .iter()
                        .map(|r| {
                            Ok($crate::OutboxDeadLettered {
                                outbox_id: r.try_get(0)?,
                                dead_letter_id: r.try_get(1)?,
                                kind: r.try_get(2)?,
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;
                    Ok($crate::OutboxConfirmation {
                        sent,
                        dead_lettered,
                    })
                }

                async fn outbox_backlog(&self) -> Result<i64> {
                    Ok(sqlx::query("SELECT count(*) FROM event_outbox WHERE sent_at IS NULL")
                        .fetch_one(self.reader())
                        .await?
                        .try_get(0)?)
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
                    Ok(done.rows_affected())
                }
            }
        }
    };
}

pub(crate) use {dead_letter_columns, event_columns, impl_event_store};
