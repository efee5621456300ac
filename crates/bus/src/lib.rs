//! The event bus: every event validated, persisted exactly once, dead-lettered when bad,
//! replayable, and streamed live.
//!
//! - `envelope.rs`: decode and validate a message (or explain why it is a dead letter).
//! - `transport.rs` / `mqtt.rs`: where messages come from — the in-process bus, or an MQTT broker.
//! - `pipeline.rs`: batch → commit → acknowledge → fan out.
//! - `relay.rs`: publishes the outbox (domain events written with each change) onto the bus.
//! - `hub.rs`: live fan-out to stream clients.
//!
//! [`EventBus::start_tracked`] wires them together and runs them as background tasks on the
//! application's task tracker, until its cancellation token (or [`EventBus::stop`]) stops them.

mod envelope;
mod hub;
mod metrics;
mod mqtt;
mod pipeline;
mod relay;
mod transport;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use domain::{DeadLetterEdit, EventSource, NewDeadLetter};
use storage::{EventStore, StoreError};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use envelope::{MAX_KEY, MAX_KIND, MAX_TOPIC, RawMessage, check_schema, decode};
pub use hub::{Hub, LiveEvent, LiveStream, StreamItem};
pub use metrics::BusMetrics;
pub use mqtt::{Mqtt, MqttConfig, tls_config};
pub use pipeline::{Ingested, PipelineConfig, trace_events};
pub use transport::{Ack, Delivery, InProcess, Transport, TransportError};

/// Replays waiting for the pipeline; more wait for room (an HTTP request each).
const REPLAY_QUEUE: usize = 16;

#[derive(Debug, Clone)]
pub struct BusConfig {
    /// `None`: the in-process bus.
    pub mqtt: Option<MqttConfig>,
    pub pipeline: PipelineConfig,
    /// Events older than this are pruned.
    pub retention: Duration,
    /// How often the outbox relay looks for work.
    pub relay_interval: Duration,
    /// Run the outbox relay and retention job. Off for short-lived maintenance commands, which
    /// must leave the outbox to the server.
    pub background_jobs: bool,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            mqtt: None,
            pipeline: PipelineConfig::default(),
            retention: Duration::from_secs(30 * 24 * 3600),
            relay_interval: Duration::from_millis(100),
            background_jobs: true,
        }
    }
}

/// The running bus: its transport, pipeline, outbox relay and retention job.
pub struct EventBus {
    store: Arc<dyn EventStore>,
    transport: Arc<dyn Transport>,
    /// Dead letters to replay, into the pipeline.
    replays: mpsc::Sender<Delivery>,
    hub: Hub,
    metrics: Arc<BusMetrics>,
    config: BusConfig,
    /// Stops this bus's tasks: a child of the application's token.
    cancel: CancellationToken,
}

/// The result of replaying a dead letter.
#[derive(Debug)]
pub enum Replayed {
    Stored(domain::Event),
    /// The event was already stored (same idempotency key); the dead letter is closed.
    Duplicate,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("dead letter {0} was already replayed")]
    AlreadyReplayed(i64),
    #[error("the message is still invalid ({}): {}", .0.reason.as_str(), .0.detail)]
    StillInvalid(Box<NewDeadLetter>),
    #[error("the ingest pipeline has stopped")]
    Stopped,
}

impl EventBus {
    /// Starts the bus on a task tracker of its own, stopped by [`EventBus::stop`] or when the
    /// bus is dropped (tests and tools; the server uses [`EventBus::start_tracked`]). Metrics
    /// are registered in `registry`.
    pub fn start(
        store: Arc<dyn EventStore>,
        registry: &prometheus::Registry,
        config: BusConfig,
    ) -> Result<EventBus, prometheus::Error> {
        let tasks = TaskTracker::new();
        let bus = Self::start_tracked(store, registry, config, &tasks, &CancellationToken::new());
        tasks.close();
        bus
    }

    /// Starts the bus: its transport, pipeline, outbox relay and retention run as tasks on
    /// `tasks` until `cancel` is cancelled (or [`EventBus::stop`]). Metrics are registered in
    /// `registry`.
    pub fn start_tracked(
        store: Arc<dyn EventStore>,
        registry: &prometheus::Registry,
        config: BusConfig,
        tasks: &TaskTracker,
        cancel: &CancellationToken,
    ) -> Result<EventBus, prometheus::Error> {
        // Every task is dropped at its next await point when cancelled, as an abort would.
        let cancel = cancel.child_token();
        let metrics = Arc::new(BusMetrics::new(registry)?);
        let capacity = config.pipeline.batch_size * 4;
        let (transport, deliveries): (Arc<dyn Transport>, _) = match &config.mqtt {
            Some(mqtt) => {
                let (t, rx) = mqtt::Mqtt::start_tracked(
                    mqtt.clone(),
                    metrics.clone(),
                    capacity,
                    tasks,
                    &cancel,
                );
                (t, rx)
            }
            None => {
                let (t, rx) = InProcess::new(capacity);
                (t, rx)
            }
        };
        let hub = Hub::default();
        let pipeline = Arc::new(pipeline::Pipeline {
            store: store.clone(),
            hub: hub.clone(),
            metrics: metrics.clone(),
            transport: transport.clone(),
            config: config.pipeline.clone(),
        });
        let (replays, replayed) = mpsc::channel(REPLAY_QUEUE);
        tasks.spawn(
            cancel
                .clone()
                .run_until_cancelled_owned(pipeline.run(deliveries, replayed)),
        );
        tasks.spawn(
            cancel
                .clone()
                .run_until_cancelled_owned(relay_remote_events(store.clone(), hub.clone())),
        );
        if config.background_jobs {
            tasks.spawn(cancel.clone().run_until_cancelled_owned(relay::run(
                store.clone(),
                transport.clone(),
                metrics.clone(),
                config.relay_interval,
            )));
            tasks.spawn(
                cancel
                    .clone()
                    .run_until_cancelled_owned(relay::retention(store.clone(), config.retention)),
            );
        }
        Ok(EventBus {
            store,
            transport,
            replays,
            hub,
            metrics,
            config,
            cancel,
        })
    }

    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// A live stream client: committed events matching `filter`, lag notices and a heartbeat
    /// every `heartbeat`, counted in `taylordash_stream_clients`.
    pub fn stream(&self, filter: String, heartbeat: Duration) -> LiveStream {
        self.hub
            .stream(filter, heartbeat, self.metrics.stream_clients.clone())
    }

    pub fn metrics(&self) -> &BusMetrics {
        &self.metrics
    }

    pub fn transport(&self) -> &dyn Transport {
        self.transport.as_ref()
    }

    /// Validates an envelope posted over HTTP and publishes it; it reaches the store through
    /// the same pipeline as every other message.
    pub async fn publish(
        &self,
        topic: &str,
        envelope: &serde_json::Value,
    ) -> Result<(), PublishError> {
        let bytes = Bytes::from(envelope.to_string());
        let raw = RawMessage {
            topic,
            bytes: &bytes,
            received_at: domain::now(),
            source: EventSource::Http,
        };
        decode(&raw, self.config.pipeline.max_message_bytes)
            .map_err(|dl| PublishError::Invalid(Box::new(dl)))?;
        if !domain::topics::ingested(topic) {
            return Err(PublishError::Topic(topic.to_owned()));
        }
        self.transport
            .publish(topic, bytes)
            .await
            .map_err(PublishError::Transport)
    }

    /// Runs a dead letter through the ingest pipeline again, like a live message (validation,
    /// metrics, trace spans, live notice); if it passes now, it is stored and the dead letter
    /// closed. A message still invalid is not dead-lettered again.
    pub async fn replay(&self, id: i64) -> Result<Replayed, ReplayError> {
        self.replay_message(id, None).await
    }

    /// As [`EventBus::replay`], with an edited copy of the message in its place: the copy is
    /// what is validated and stored; the dead letter keeps its original message and records the
    /// copy (and who edited it) beside the event it became. A copy still invalid changes
    /// nothing.
    pub async fn replay_edited(
        &self,
        id: i64,
        edit: DeadLetterEdit,
    ) -> Result<Replayed, ReplayError> {
        self.replay_message(id, Some(edit)).await
    }

    async fn replay_message(
        &self,
        id: i64,
        edit: Option<DeadLetterEdit>,
    ) -> Result<Replayed, ReplayError> {
        let dl = self.store.get_dead_letter(id).await?;
        if dl.replayed_at.is_some() {
            return Err(ReplayError::AlreadyReplayed(id));
        }
        let message = edit.as_ref().map_or(dl.payload, |e| e.payload.clone());
        let payload = match message {
            serde_json::Value::String(text) => Bytes::from(text),
            other => Bytes::from(other.to_string()),
        };
        let (delivery, outcome) = Delivery::replay(dl.original_topic, payload);
        self.replays
            .send(delivery)
            .await
            .map_err(|_| ReplayError::Stopped)?;
        match outcome.await.map_err(|_| ReplayError::Stopped)? {
            Ingested::Stored(event) => {
                self.store
                    .mark_replayed(id, Some(event.id), edit.as_ref())
                    .await?;
                Ok(Replayed::Stored(event))
            }
            Ingested::Duplicate => {
                self.store.mark_replayed(id, None, edit.as_ref()).await?;
                Ok(Replayed::Duplicate)
            }
            Ingested::Invalid(dl) => Err(ReplayError::StillInvalid(dl)),
        }
    }

    /// Stops the background tasks (each at its next await point, as an abort would).
    pub fn stop(&self) {
        self.cancel.cancel();
    }

    /// Store handle, for the relay's health reporting.
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }
}

impl Drop for EventBus {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Feeds events committed by other replicas (sharing the PostgreSQL store) to this replica's
/// stream clients, so a client connected anywhere sees everything.
async fn relay_remote_events(store: Arc<dyn EventStore>, hub: Hub) {
    match store.remote_events().await {
        Ok(Some(mut remote)) => {
            while let Some(events) = remote.recv().await {
                hub.publish(events);
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e,
            "cannot listen for other replicas' events; stream clients see only this replica's"),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("invalid event ({}): {}", .0.reason.as_str(), .0.detail)]
    Invalid(Box<NewDeadLetter>),
    #[error(
        "topic {0} is not ingested; use tracker/events/..., tracker/commands/... or tracker/metrics/..."
    )]
    Topic(String),
    #[error(transparent)]
    Transport(TransportError),
}
