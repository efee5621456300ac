//! The MQTT transport (rumqttc, MQTT 3.1.1).
//!
//! - QoS 1 subscriptions on a persistent session (`clean_session = false`, a stable client id):
//!   whatever the broker could not deliver while we were away is delivered when we return.
//! - Manual acknowledgements: the pipeline sends the PUBACK only after the message (or its dead
//!   letter) is committed, so a crash at any point loses nothing — the broker redelivers and the
//!   idempotency key drops the duplicate.
//! - Every instance subscribes to everything by default; with several replicas each stores what
//!   the others have not (the idempotency key makes storage exactly-once). A shared subscription
//!   (`$share/<group>/...`) splits the stream instead, but Mosquitto does not keep the queue of
//!   an offline shared-subscription member across a broker restart, so it is opt-in.
//! - Reconnects forever, with capped exponential backoff and jitter.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use domain::topics::{self, SUBSCRIPTIONS};
use rumqttc::{AckMode, AsyncClient, Event, MqttOptions, Packet, PublishOptions, QoS};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio::sync::mpsc;

use crate::metrics::BusMetrics;
use crate::transport::{Ack, Delivery, Transport, TransportError};

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct MqttConfig {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Stable per instance, so the broker keeps this instance's session across restarts.
    pub client_id: String,
    /// Shared-subscription group; `None` (the default) subscribes directly, so every instance
    /// receives everything and nothing is lost if the broker restarts (see the module docs).
    pub shared_group: Option<String>,
    /// Largest message accepted from the broker, in bytes.
    pub max_packet_bytes: usize,
    /// TLS settings; `None` connects in plain text.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// A TLS client configuration trusting the certificates in `ca_pem` (PEM), or the system's
/// trust store when `None`.
pub fn tls_config(ca_pem: Option<&[u8]>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_pem {
        Some(pem) => {
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| format!("the CA file is not valid PEM: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("the CA file holds an unusable certificate: {e}"))?;
            }
            if roots.is_empty() {
                return Err("the CA file contains no certificate".into());
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            for cert in native.certs {
                // Skip the odd unparsable system certificate rather than refusing to start.
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err("no system CA certificates found; set MQTT_CA_FILE".into());
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

pub struct Mqtt {
    client: AsyncClient,
    connected: Arc<AtomicBool>,
    endpoint: String,
}

const MAX_BACKOFF: Duration = Duration::from_secs(30);

impl Mqtt {
    /// Starts the connection task on a tracker of its own, running until the runtime ends
    /// (tests); deliveries arrive on the returned receiver.
    pub fn start(
        config: MqttConfig,
        metrics: Arc<BusMetrics>,
        capacity: usize,
    ) -> (Arc<Mqtt>, mpsc::Receiver<Delivery>) {
        let tasks = tokio_util::task::TaskTracker::new();
        let started = Self::start_tracked(
            config,
            metrics,
            capacity,
            &tasks,
            &tokio_util::sync::CancellationToken::new(),
        );
        tasks.close();
        started
    }

    /// Starts the connection task and the acknowledger on `tasks`, until `cancel`; deliveries
    /// arrive on the returned receiver.
    pub fn start_tracked(
        config: MqttConfig,
        metrics: Arc<BusMetrics>,
        capacity: usize,
        tasks: &tokio_util::task::TaskTracker,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> (Arc<Mqtt>, mpsc::Receiver<Delivery>) {
        let mut options = MqttOptions::new(
            config.client_id.as_str(),
            (config.host.as_str(), config.port),
        );
        options
            .set_keep_alive(30)
            // A persistent session needs a client id; configuration never leaves it empty.
            .set_clean_session(config.client_id.is_empty())
            .set_ack_mode(AckMode::Manual)
            .set_inflight(200)
            // Generous: the pipeline decides what is too large and dead-letters it. A packet above
            // this limit would break the connection and be redelivered forever, so the broker's
            // own `max_packet_size` must not exceed it (see infra/mosquitto).
            .set_max_packet_size(max_packet(&config), max_packet(&config));
        if let Some(tls) = &config.tls {
            options.set_transport(rumqttc::Transport::tls_with_config(
                rumqttc::TlsConfiguration::Rustls(tls.clone()),
            ));
        }
        if let Some(user) = &config.username {
            options.set_credentials(user, config.password.clone().unwrap_or_default());
        }
        let (client, eventloop) = AsyncClient::builder(options).capacity(1024).build();
        let (tx, rx) = mpsc::channel(capacity);
        let (acks, mut pending_acks) = mpsc::unbounded_channel::<rumqttc::Publish>();
        let acker = client.clone();
        tasks.spawn(cancel.clone().run_until_cancelled_owned(async move {
            while let Some(publish) = pending_acks.recv().await {
                if let Err(e) = acker.ack(&publish).await {
                    tracing::warn!(error = %e, "could not acknowledge a message");
                }
            }
        }));
        let connected = Arc::new(AtomicBool::new(false));
        let endpoint = format!("{}:{}", config.host, config.port);
        tasks.spawn(cancel.clone().run_until_cancelled_owned(run(
            eventloop,
            client.clone(),
            config,
            tx,
            acks,
            connected.clone(),
            metrics,
        )));
        (
            Arc::new(Mqtt {
                client,
                connected,
                endpoint,
            }),
            rx,
        )
    }
}

/// The largest MQTT packet this client accepts: 16 MiB, or more if messages may be larger.
pub const MIN_PACKET_LIMIT: usize = 16 * 1024 * 1024;

fn max_packet(config: &MqttConfig) -> usize {
    (config.max_packet_bytes * 2).max(MIN_PACKET_LIMIT)
}

fn filters(config: &MqttConfig) -> Vec<String> {
    SUBSCRIPTIONS
        .iter()
        .map(|f| match &config.shared_group {
            Some(group) => topics::shared(group, f),
            None => (*f).to_owned(),
        })
        .collect()
}

async fn run(
    mut eventloop: rumqttc::EventLoop,
    client: AsyncClient,
    config: MqttConfig,
    deliveries: mpsc::Sender<Delivery>,
    acks: mpsc::UnboundedSender<rumqttc::Publish>,
    connected: Arc<AtomicBool>,
    metrics: Arc<BusMetrics>,
) {
    let mut backoff = Duration::from_millis(250);
    let mut failures: u64 = 0;
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                connected.store(true, Ordering::Relaxed);
                metrics.mqtt_connected.set(1);
                backoff = Duration::from_millis(250);
                tracing::info!(
                    host = %config.host,
                    port = config.port,
                    session_present = ack.session_present,
                    after_failures = failures,
                    "connected to the MQTT broker"
                );
                failures = 0;
                for filter in filters(&config) {
                    if let Err(e) = client.try_subscribe(filter.clone(), QoS::AtLeastOnce) {
                        tracing::error!(%filter, error = %e, "cannot subscribe");
                    }
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let delivery = Delivery {
                    topic: String::from_utf8_lossy(&publish.topic).into_owned(),
                    payload: publish.payload.clone(),
                    received_at: domain::now(),
                    received: Instant::now(),
                    source: domain::EventSource::Mqtt,
                    ack: Ack::Mqtt(acks.clone(), Box::new(publish)),
                };
                // Waits while the pipeline is behind: backpressure all the way to the broker.
                if deliveries.send(delivery).await.is_err() {
                    tracing::info!("pipeline stopped; closing the MQTT connection");
                    return;
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                let refused = ack
                    .return_codes
                    .iter()
                    .any(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure));
                if refused {
                    tracing::error!(
                        "the broker refused a subscription; check the ACL for tracker/# (and $share)"
                    );
                }
            }
            Ok(_) => {}
            Err(e) => {
                if connected.swap(false, Ordering::Relaxed) || failures == 0 {
                    tracing::warn!(error = %e, host = %config.host, port = config.port,
                        "MQTT connection lost; reconnecting with backoff");
                } else {
                    tracing::debug!(error = %e, "MQTT reconnect failed");
                }
                metrics.mqtt_connected.set(0);
                failures += 1;
                tokio::time::sleep(jitter(backoff)).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// `d` scaled by a random factor in [0.5, 1.0), so many clients do not reconnect in lockstep.
fn jitter(d: Duration) -> Duration {
    let r = f64::from(uuid::Uuid::new_v4().as_u128() as u16) / f64::from(u16::MAX);
    d.mul_f64(0.5 + r / 2.0)
}

#[async_trait]
impl Transport for Mqtt {
    fn kind(&self) -> &'static str {
        "mqtt"
    }

    async fn publish(&self, topic: &str, payload: Bytes) -> Result<(), TransportError> {
        if !self.is_connected() {
            return Err(TransportError::Disconnected);
        }
        self.client
            .try_publish(topic, payload, PublishOptions::new(QoS::AtLeastOnce))
            .map_err(|_| TransportError::Busy)
    }

    async fn publish_waiting(&self, topic: &str, payload: Bytes) -> Result<(), TransportError> {
        if !self.is_connected() {
            return Err(TransportError::Disconnected);
        }
        // Waits for room in the client's request queue; while the connection is down the
        // queue is not drained, and what waits in it goes out once it is back.
        self.client
            .publish(topic, payload, PublishOptions::new(QoS::AtLeastOnce))
            .await
            .map_err(|_| TransportError::Disconnected)
    }

    fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    fn describe(&self) -> String {
        if self.is_connected() {
            format!("connected to the MQTT broker at {}", self.endpoint)
        } else {
            format!(
                "not connected to the MQTT broker at {}; retrying",
                self.endpoint
            )
        }
    }
}
