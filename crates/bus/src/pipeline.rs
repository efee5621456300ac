//! The ingest pipeline: decode → validate → persist in batches → acknowledge → fan out.
//!
//! Order of effects per batch, which is what makes a crash lose nothing:
//! 1. events and dead letters are committed in one transaction;
//! 2. only then are the messages acknowledged to the broker;
//! 3. then committed events go to live stream clients and dead letters to `tracker/dlq/...`.
//!
//! A database outage stalls the pipeline (retrying with backoff) instead of dropping anything;
//! a message the database refuses although it passed every check is isolated and dead-lettered,
//! so no message can block the ones behind it.
//!
//! Messages come from the transport and, for a dead letter replayed over HTTP, from
//! [`crate::EventBus::replay`] ([`Delivery::replay`]): the same batches, validation, metrics,
//! trace spans and fan-out. A replay's caller is answered with what became of it
//! ([`Ingested`]) when the others are acknowledged; a replay that is still invalid is reported
//! to it and not dead-lettered again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use domain::{DeadReason, Event, EventSource, NewDeadLetter, NewEvent};
use storage::{EventStore, IngestOutcome, StoreError};
use tokio::sync::mpsc;

use crate::envelope::{RawMessage, decode};
use crate::hub::Hub;
use crate::metrics::BusMetrics;
use crate::transport::{Ack, Delivery, Transport};

#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Most messages committed in one transaction.
    pub batch_size: usize,
    /// Longest a message waits for its batch to fill.
    pub batch_delay: Duration,
    /// Largest message accepted; larger ones are dead-lettered as `oversized`.
    pub max_message_bytes: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            batch_size: 500,
            batch_delay: Duration::from_millis(5),
            max_message_bytes: 256 * 1024,
        }
    }
}

pub struct Pipeline {
    pub(crate) store: Arc<dyn EventStore>,
    pub(crate) hub: Hub,
    pub(crate) metrics: Arc<BusMetrics>,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) config: PipelineConfig,
}

/// Per-event trace spans: off unless traces are exported (see [`trace_events`]).
static EVENT_SPANS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes the pipeline open, for every event, an `event.ingest` span whose trace is the
/// envelope's `trace_id`, with children for its stages (`db.ingest`, `ingest.fanout`). Set by
/// the binary when OpenTelemetry export is on; off, the pipeline makes no spans at all.
pub fn trace_events(on: bool) {
    EVENT_SPANS.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// What became of a replayed message ([`Delivery::replay`]).
#[derive(Debug)]
pub enum Ingested {
    Stored(Event),
    /// Its idempotency key was already stored.
    Duplicate,
    /// It failed validation, or the database refused it; it was not dead-lettered again.
    Invalid(Box<NewDeadLetter>),
}

/// What a replay in a batch decoded to: its event's idempotency key, or why it is invalid.
type ReplayVerdict = Result<String, NewDeadLetter>;

/// A batch being gathered: its deliveries, decoded as they arrive.
struct Gathered {
    deliveries: Vec<Delivery>,
    events: Vec<NewEvent>,
    dead: Vec<NewDeadLetter>,
    /// One verdict per replay, in batch order; replays are rare, so this stays empty.
    replays: Vec<ReplayVerdict>,
}

impl Gathered {
    fn new(capacity: usize) -> Gathered {
        Gathered {
            deliveries: Vec::with_capacity(capacity),
            events: Vec::with_capacity(capacity),
            dead: Vec::new(),
            replays: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.deliveries.len()
    }

    fn is_empty(&self) -> bool {
        self.deliveries.is_empty()
    }

    fn add(&mut self, d: Delivery, max_message_bytes: usize) {
        let raw = RawMessage {
            topic: &d.topic,
            bytes: &d.payload,
            received_at: d.received_at,
            source: d.source,
        };
        let replay = matches!(d.ack, Ack::Replay(_));
        match decode(&raw, max_message_bytes) {
            Ok(e) => {
                if replay {
                    self.replays.push(Ok(e.idempotency_key.clone()));
                }
                self.events.push(e);
            }
            Err(dl) if replay => self.replays.push(Err(dl)),
            Err(dl) => self.dead.push(dl),
        }
        self.deliveries.push(d);
    }
}

impl Pipeline {
    /// Consumes deliveries from the transport and replays until the transport's side closes.
    ///
    /// One batch commits at a time (and is acknowledged, in order, after its commit) while the
    /// next one gathers and decodes: a batch is handed over when it is full or `batch_delay`
    /// after its first message, and not before the previous batch is done, so under load it
    /// keeps filling meanwhile. A full batch waiting for the commit stops reading deliveries.
    pub async fn run(
        self: Arc<Self>,
        mut deliveries: mpsc::Receiver<Delivery>,
        mut replays: mpsc::Receiver<Delivery>,
    ) {
        let size = self.config.batch_size.max(1);
        let mut gathering = Gathered::new(size);
        let mut due: Option<tokio::time::Instant> = None;
        let mut committing = None;
        let mut open = true;
        loop {
            let ready = gathering.len() >= size
                || !open
                || due.is_some_and(|d| d <= tokio::time::Instant::now());
            if committing.is_none() && !gathering.is_empty() && ready {
                let batch = std::mem::replace(&mut gathering, Gathered::new(size));
                due = None;
                committing = Some(Box::pin(self.process(batch)));
            }
            if committing.is_none() && !open {
                break;
            }
            // The commit's own task would let it run beside the gathering, but then it would
            // outlive a cancelled pipeline; here both stop at the next await point.
            tokio::select! {
                biased;
                () = async { committing.as_mut().expect("a batch committing").await },
                    if committing.is_some() => committing = None,
                d = next(&mut deliveries, &mut replays), if open && gathering.len() < size => {
                    match d {
                        Some(d) => {
                            if gathering.is_empty() {
                                due = Some(tokio::time::Instant::now() + self.config.batch_delay);
                            }
                            gathering.add(d, self.config.max_message_bytes);
                        }
                        None => open = false,
                    }
                }
                () = tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)),
                    if committing.is_none() && due.is_some() => {}
            }
        }
        tracing::info!("ingest pipeline stopped");
    }

    async fn process(&self, gathered: Gathered) {
        let Gathered {
            deliveries: batch,
            events,
            dead,
            replays,
        } = gathered;
        let traced = EVENT_SPANS.load(std::sync::atomic::Ordering::Relaxed);
        let event_spans: Vec<tracing::Span> = if traced {
            events
                .iter()
                .map(|e| {
                    tracing::info_span!(parent: None, "event.ingest", trace_id = %e.trace_id,
                        topic = %e.topic, kind = %e.kind)
                })
                .collect()
        } else {
            Vec::new()
        };
        let stage = |name: &'static str| -> Vec<tracing::Span> {
            event_spans
                .iter()
                .map(|s| match name {
                    "db.ingest" => tracing::info_span!(parent: s, "db.ingest", batch = batch.len()),
                    _ => tracing::info_span!(parent: s, "ingest.fanout"),
                })
                .collect()
        };
        let commit_spans = stage("db.ingest");
        let outcome = self.commit(events, dead).await;
        drop(commit_spans);
        let fanout_spans = stage("ingest.fanout");
        let committed = Instant::now();
        let mut replays = replays.into_iter();
        for d in batch {
            self.metrics
                .latency
                .observe(committed.duration_since(d.received).as_secs_f64());
            match d.ack {
                Ack::Replay(reply) => {
                    if let Some(verdict) = replays.next() {
                        // The caller may have given up waiting; the outcome stands.
                        let _ = reply.send(outcome.replayed(verdict));
                    }
                }
                ack => ack.send(),
            }
        }
        self.after_commit(outcome).await;
        drop(fanout_spans);
    }

    /// Commits, retrying while the database is unavailable; isolates messages it refuses.
    async fn commit(&self, events: Vec<NewEvent>, dead: Vec<NewDeadLetter>) -> Committed {
        self.commit_guarded(events, dead, false).await
    }

    /// `last_resort` marks a dead letter already reduced to plain, storable JSON.
    async fn commit_guarded(
        &self,
        events: Vec<NewEvent>,
        dead: Vec<NewDeadLetter>,
        last_resort: bool,
    ) -> Committed {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.store.ingest(&events, &dead).await {
                Ok(outcome) => {
                    return Committed {
                        outcome,
                        dead_letters: dead,
                        refused_replays: Vec::new(),
                    };
                }
                Err(StoreError::Unavailable(e)) => {
                    self.metrics.store_retries.inc();
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64,
                        "database unavailable; ingest is paused and nothing is acknowledged");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
                Err(e) if events.len() + dead.len() > 1 => {
                    tracing::warn!(error = %e, "a batch was refused; committing its messages one by one");
                    let mut all = Committed::default();
                    for ev in events {
                        all.absorb(
                            Box::pin(self.commit_guarded(vec![ev], Vec::new(), false)).await,
                        );
                    }
                    for dl in dead {
                        all.absorb(
                            Box::pin(self.commit_guarded(Vec::new(), vec![dl], false)).await,
                        );
                    }
                    return all;
                }
                Err(e) if last_resort => {
                    tracing::error!(error = %e, "cannot store even a reduced dead letter; dropping it");
                    return Committed::default();
                }
                // A replay is not dead-lettered again (its dead letter is still there); its
                // caller is told why.
                Err(e)
                    if events
                        .first()
                        .is_some_and(|ev| ev.source == EventSource::Replay) =>
                {
                    tracing::warn!(error = %e, "the database refused a replayed message");
                    let refused_replays = events
                        .into_iter()
                        .map(|ev| (ev.idempotency_key.clone(), refused(ev, &e)))
                        .collect();
                    return Committed {
                        refused_replays,
                        ..Committed::default()
                    };
                }
                Err(e) => {
                    tracing::error!(error = %e, "the database refused a message; dead-lettering it");
                    let reduced = match (events.into_iter().next(), dead.into_iter().next()) {
                        (Some(ev), _) => refused(ev, &e),
                        (None, Some(dl)) => NewDeadLetter {
                            reason: DeadReason::StorageRejected,
                            detail: format!(
                                "{} (the original could not be stored: {e})",
                                dl.detail
                            ),
                            payload: serde_json::Value::Null,
                            ..dl
                        },
                        (None, None) => return Committed::default(),
                    };
                    return Box::pin(self.commit_guarded(Vec::new(), vec![reduced], true)).await;
                }
            }
        }
    }

    async fn after_commit(&self, committed: Committed) {
        let Committed {
            outcome,
            dead_letters,
            ..
        } = committed;
        for e in &outcome.stored {
            self.metrics
                .ingested
                .with_label_values(&[BusMetrics::kind_label(&e.kind)])
                .inc();
        }
        self.metrics.duplicates.inc_by(outcome.duplicates as u64);
        for dl in &dead_letters {
            self.metrics
                .dead_lettered
                .with_label_values(&[dl.reason.as_str()])
                .inc();
            tracing::warn!(topic = %dl.original_topic, reason = dl.reason.as_str(),
                detail = %dl.detail, "message dead-lettered");
            // Best effort: the dead letter is already stored.
            let notice = serde_json::json!({
                "original_topic": dl.original_topic,
                "failure_reason": dl.detail,
                "reason": dl.reason.as_str(),
                "failure_timestamp": dl.received_at,
                "payload": dl.payload,
            });
            let _ = self
                .transport
                .publish(
                    &domain::topics::dlq_topic(&dl.original_topic),
                    Bytes::from(notice.to_string()),
                )
                .await;
        }
        self.hub.publish(outcome.stored);
    }
}

/// The next message, from the transport or a replay; `None` once the transport is gone.
async fn next(
    deliveries: &mut mpsc::Receiver<Delivery>,
    replays: &mut mpsc::Receiver<Delivery>,
) -> Option<Delivery> {
    tokio::select! {
        d = deliveries.recv() => d,
        Some(d) = replays.recv() => Some(d),
    }
}

/// What one commit stored, and the dead letters it wrote.
#[derive(Default)]
struct Committed {
    outcome: IngestOutcome,
    dead_letters: Vec<NewDeadLetter>,
    /// Replayed events the database refused (by idempotency key), with why.
    refused_replays: Vec<(String, NewDeadLetter)>,
}

impl Committed {
    fn absorb(&mut self, other: Committed) {
        self.outcome.stored.extend(other.outcome.stored);
        self.outcome.duplicates += other.outcome.duplicates;
        self.outcome.dead_letters.extend(other.outcome.dead_letters);
        self.dead_letters.extend(other.dead_letters);
        self.refused_replays.extend(other.refused_replays);
    }

    /// What became of the replay with `verdict`: stored (an event with its key, stored from a
    /// replay), refused, or else a duplicate.
    fn replayed(&self, verdict: ReplayVerdict) -> Ingested {
        let key = match verdict {
            Ok(key) => key,
            Err(dl) => return Ingested::Invalid(Box::new(dl)),
        };
        let replay = EventSource::Replay.as_str();
        if let Some(e) = self
            .outcome
            .stored
            .iter()
            .find(|e| e.idempotency_key == key && e.source == replay)
        {
            return Ingested::Stored(e.clone());
        }
        match self.refused_replays.iter().find(|(k, _)| *k == key) {
            Some((_, dl)) => Ingested::Invalid(Box::new(dl.clone())),
            None => Ingested::Duplicate,
        }
    }
}

fn refused(e: NewEvent, error: &StoreError) -> NewDeadLetter {
    NewDeadLetter {
        original_topic: e.topic.clone(),
        reason: DeadReason::StorageRejected,
        detail: format!("the database refused the event: {error}"),
        payload: domain::envelope(e.trace_id, e.ts, &e.kind, &e.idempotency_key, &e.payload),
        received_at: e.received_at,
        idempotency_key: Some(e.idempotency_key),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Mutex;

    use domain::{DeadLetter, DeadLetterEdit, EventFilter, OutboxEntry};
    use storage::{EventPage, OutboxConfirmation};

    use super::*;
    use crate::transport::InProcess;

    /// A real store whose commits take a while, the first of which fails as if the database
    /// were down; it logs the idempotency keys of each batch once committed.
    struct SlowStore {
        inner: Arc<dyn storage::Store>,
        committed: Arc<Mutex<Vec<Vec<String>>>>,
        calls: Mutex<usize>,
    }

    #[async_trait::async_trait]
    impl EventStore for SlowStore {
        async fn ingest(
            &self,
            events: &[NewEvent],
            dead: &[NewDeadLetter],
        ) -> storage::Result<IngestOutcome> {
            tokio::time::sleep(Duration::from_millis(30)).await;
            let first = {
                let mut calls = self.calls.lock().unwrap();
                *calls += 1;
                *calls == 1
            };
            if first {
                return Err(StoreError::Unavailable("down for the test".into()));
            }
            let outcome = self.inner.ingest(events, dead).await?;
            let keys = events.iter().map(|e| e.idempotency_key.clone()).collect();
            self.committed.lock().unwrap().push(keys);
            Ok(outcome)
        }
        async fn list_events(&self, f: &EventFilter, limit: i64) -> storage::Result<EventPage> {
            self.inner.list_events(f, limit).await
        }
        async fn get_event(&self, id: i64) -> storage::Result<Event> {
            self.inner.get_event(id).await
        }
        async fn list_dead_letters(
            &self,
            limit: i64,
            before_id: Option<i64>,
        ) -> storage::Result<Vec<DeadLetter>> {
            self.inner.list_dead_letters(limit, before_id).await
        }
        async fn get_dead_letter(&self, id: i64) -> storage::Result<DeadLetter> {
            self.inner.get_dead_letter(id).await
        }
        async fn mark_replayed(
            &self,
            id: i64,
            event_id: Option<i64>,
            edit: Option<&DeadLetterEdit>,
        ) -> storage::Result<()> {
            self.inner.mark_replayed(id, event_id, edit).await
        }
        async fn delete_dead_letter(&self, id: i64) -> storage::Result<()> {
            self.inner.delete_dead_letter(id).await
        }
        async fn dead_letter_backlog(&self) -> storage::Result<i64> {
            self.inner.dead_letter_backlog().await
        }
        async fn claim_outbox(
            &self,
            limit: i64,
            retry_before: chrono::DateTime<chrono::Utc>,
        ) -> storage::Result<Vec<OutboxEntry>> {
            self.inner.claim_outbox(limit, retry_before).await
        }
        async fn confirm_outbox(&self) -> storage::Result<OutboxConfirmation> {
            self.inner.confirm_outbox().await
        }
        async fn outbox_in_flight(
            &self,
            since: chrono::DateTime<chrono::Utc>,
        ) -> storage::Result<i64> {
            self.inner.outbox_in_flight(since).await
        }
        async fn outbox_backlog(&self) -> storage::Result<i64> {
            self.inner.outbox_backlog().await
        }
        async fn remote_events(&self) -> storage::Result<Option<mpsc::Receiver<Vec<Event>>>> {
            self.inner.remote_events().await
        }
        async fn prune_events(
            &self,
            cutoff: chrono::DateTime<chrono::Utc>,
            batch: i64,
        ) -> storage::Result<u64> {
            self.inner.prune_events(cutoff, batch).await
        }
    }

    fn delivery(i: u16, acks: &mpsc::UnboundedSender<rumqttc::Publish>) -> Delivery {
        let body = serde_json::json!({
            "trace_id": uuid::Uuid::new_v4(),
            "ts": domain::now(),
            "kind": "test.ordered",
            "idempotency_key": format!("key-{i}"),
            "payload": {"i": i},
        })
        .to_string();
        let mut publish = rumqttc::Publish::new(
            "tracker/events/test/x",
            rumqttc::QoS::AtLeastOnce,
            body.clone(),
        );
        publish.pkid = i;
        Delivery {
            topic: "tracker/events/test/x".into(),
            payload: Bytes::from(body),
            received_at: domain::now(),
            received: Instant::now(),
            source: domain::EventSource::Mqtt,
            ack: Ack::Mqtt(acks.clone(), Box::new(publish)),
        }
    }

    /// While a batch commits the next one keeps filling, up to the batch size and no further;
    /// every message is acknowledged once, in the order received, and only after the commit
    /// of its batch — also through a commit that failed and was retried.
    #[tokio::test]
    async fn the_next_batch_gathers_while_one_commits_and_acks_follow_commits_in_order() {
        let db = testsupport::TestDb::sqlite().await;
        let committed = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::new(SlowStore {
            inner: db.store.clone(),
            committed: committed.clone(),
            calls: Mutex::new(0),
        });
        let (transport, _published) = InProcess::new(16);
        let pipeline = Arc::new(Pipeline {
            store,
            hub: Hub::default(),
            metrics: Arc::new(BusMetrics::new(&prometheus::Registry::new()).unwrap()),
            transport,
            config: PipelineConfig {
                batch_size: 10,
                batch_delay: Duration::from_millis(5),
                ..PipelineConfig::default()
            },
        });
        let (deliveries, rx) = mpsc::channel(100);
        let (_replays, replayed) = mpsc::channel(1);
        let running = tokio::spawn(pipeline.run(rx, replayed));
        let (acks, mut acked) = mpsc::unbounded_channel();

        // The first batch holds one message; 35 more arrive while it commits (and fails, and
        // is retried).
        deliveries.send(delivery(1, &acks)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        for i in 2..=36 {
            deliveries.send(delivery(i, &acks)).await.unwrap();
        }
        for expected in 1..=36u16 {
            let publish = tokio::time::timeout(Duration::from_secs(10), acked.recv())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(publish.pkid, expected, "acknowledged in the order received");
            let key = format!("key-{expected}");
            assert!(
                committed
                    .lock()
                    .unwrap()
                    .iter()
                    .flatten()
                    .any(|k| *k == key),
                "{key} acknowledged before its commit"
            );
        }
        drop(deliveries);
        running.await.unwrap();
        assert!(acked.try_recv().is_err(), "each message acknowledged once");
        let sizes: Vec<usize> = committed.lock().unwrap().iter().map(Vec::len).collect();
        assert_eq!(sizes, [1, 10, 10, 10, 5]);
        let stored = db
            .store
            .list_events(&EventFilter::default(), 100)
            .await
            .unwrap();
        assert_eq!(stored.events.len(), 36);
    }
}
