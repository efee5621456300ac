//! How messages reach the ingest pipeline: the [`Transport`] trait, with an in-process
//! implementation here and the MQTT one in `mqtt.rs`.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use crate::pipeline::Ingested;

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("the event bus is not connected to the broker")]
    Disconnected,
    #[error("the event bus is busy; try again shortly")]
    Busy,
}

/// A received message. Acknowledge it only after it (or its dead letter) is committed.
pub struct Delivery {
    pub topic: String,
    pub payload: Bytes,
    pub received_at: DateTime<Utc>,
    /// For the receive → commit latency metric.
    pub received: Instant,
    pub source: domain::EventSource,
    pub ack: Ack,
}

/// How to acknowledge a delivery to whoever sent it.
pub enum Ack {
    /// Nothing to acknowledge (in-process delivery).
    None,
    /// A QoS 1 MQTT publish: the broker redelivers it until it gets the PUBACK. Acks go to the
    /// connection's ack task through an unbounded queue, so acknowledging never waits on the
    /// connection — which may itself be waiting for the pipeline to take the next delivery.
    /// The queue is bounded in practice by the broker's in-flight window.
    Mqtt(
        tokio::sync::mpsc::UnboundedSender<rumqttc::Publish>,
        Box<rumqttc::Publish>,
    ),
    /// A dead letter replayed in this process: its caller waits for what became of it. The
    /// pipeline answers it with the outcome ([`Ingested`]); [`Ack::send`] only drops it.
    Replay(oneshot::Sender<Ingested>),
}

impl Delivery {
    /// A dead letter's message, to be run through the pipeline again (source `replay`), and
    /// where its outcome will arrive. A replayed message is never dead-lettered again: its
    /// dead letter is still there.
    pub fn replay(topic: String, payload: Bytes) -> (Delivery, oneshot::Receiver<Ingested>) {
        let (reply, outcome) = oneshot::channel();
        let delivery = Delivery {
            topic,
            payload,
            received_at: domain::now(),
            received: Instant::now(),
            source: domain::EventSource::Replay,
            ack: Ack::Replay(reply),
        };
        (delivery, outcome)
    }
}

impl Ack {
    pub fn send(self) {
        if let Ack::Mqtt(acks, publish) = self
            && acks.send(*publish).is_err()
        {
            // The connection task is gone; the broker will redeliver and the idempotency key
            // makes that harmless.
            tracing::warn!("could not acknowledge a message");
        }
    }
}

/// A message bus the pipeline consumes from and the application publishes to.
#[async_trait]
pub trait Transport: Send + Sync + 'static {
    /// `mqtt` or `in-process`.
    fn kind(&self) -> &'static str;
    /// Publishes with at-least-once delivery; fails fast when the message cannot be taken now.
    async fn publish(&self, topic: &str, payload: Bytes) -> Result<(), TransportError>;
    /// Publishes as [`Transport::publish`] does, but waits for room while the transport is busy
    /// (backpressure); fails when it is not connected. For the outbox relay, which publishes
    /// the rows it claimed in order and must not skip one because a queue was full.
    async fn publish_waiting(&self, topic: &str, payload: Bytes) -> Result<(), TransportError>;
    fn is_connected(&self) -> bool;
    /// A short description of the connection state, for health reports.
    fn describe(&self) -> String;
}

/// The bus without a broker: publishing hands the message straight to the pipeline.
pub struct InProcess {
    deliveries: mpsc::Sender<Delivery>,
}

impl InProcess {
    /// The transport and the receiving end the pipeline reads.
    pub fn new(capacity: usize) -> (Arc<InProcess>, mpsc::Receiver<Delivery>) {
        let (tx, rx) = mpsc::channel(capacity);
        (Arc::new(InProcess { deliveries: tx }), rx)
    }
}

/// A message published in this process, as the pipeline receives it.
fn local(topic: &str, payload: Bytes) -> Delivery {
    Delivery {
        topic: topic.to_owned(),
        payload,
        received_at: domain::now(),
        received: Instant::now(),
        source: domain::EventSource::Local,
        ack: Ack::None,
    }
}

#[async_trait]
impl Transport for InProcess {
    fn kind(&self) -> &'static str {
        "in-process"
    }

    async fn publish(&self, topic: &str, payload: Bytes) -> Result<(), TransportError> {
        if !domain::topics::ingested(topic) {
            return Ok(());
        }
        self.deliveries
            .try_send(local(topic, payload))
            .map_err(|_| TransportError::Busy)
    }

    async fn publish_waiting(&self, topic: &str, payload: Bytes) -> Result<(), TransportError> {
        if !domain::topics::ingested(topic) {
            return Ok(());
        }
        self.deliveries
            .send(local(topic, payload))
            .await
            .map_err(|_| TransportError::Disconnected)
    }

    fn is_connected(&self) -> bool {
        !self.deliveries.is_closed()
    }

    fn describe(&self) -> String {
        "in-process event bus (no broker configured)".into()
    }
}
