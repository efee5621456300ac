//! Event-bus metrics (v1's names kept; every label has a bounded set of values).

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// Kinds counted under their own label; anything else is `other`, so clients cannot create
/// unbounded series.
const KNOWN_KINDS: &[&str] = &[
    "project.created",
    "project.updated",
    "project.deleted",
    "component.created",
    "component.updated",
    "component.deleted",
    "component.linked",
    "component.unlinked",
    "task.created",
    "task.updated",
    "task.deleted",
    "task.completed",
    "task.assigned",
    "metric.gauge",
    "metric.counter",
    "metric.histogram",
    "test_event",
];

pub struct BusMetrics {
    pub ingested: IntCounterVec,
    pub dead_lettered: IntCounterVec,
    pub duplicates: IntCounter,
    pub latency: Histogram,
    pub mqtt_connected: prometheus::IntGauge,
    pub outbox_backlog: IntGauge,
    pub outbox_dead_lettered: IntCounter,
    pub stream_clients: IntGauge,
    pub store_retries: IntCounter,
}

impl BusMetrics {
    pub fn new(registry: &Registry) -> Result<BusMetrics, prometheus::Error> {
        let m = BusMetrics {
            ingested: IntCounterVec::new(
                Opts::new("taylor_ingest_total", "Events stored, by kind"),
                &["kind"],
            )?,
            dead_lettered: IntCounterVec::new(
                Opts::new(
                    "taylor_dlq_total",
                    "Messages dead-lettered, by reason category",
                ),
                &["reason"],
            )?,
            duplicates: IntCounter::new(
                "taylordash_duplicates_total",
                "Events skipped because their idempotency key was already stored",
            )?,
            latency: Histogram::with_opts(
                HistogramOpts::new(
                    "taylor_event_latency_seconds",
                    "From receiving a message to committing it",
                )
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ]),
            )?,
            mqtt_connected: IntGauge::new(
                "taylordash_mqtt_connected",
                "1 while connected to the MQTT broker",
            )?,
            outbox_backlog: IntGauge::new(
                "taylordash_outbox_backlog",
                "Domain events written but not yet confirmed through the bus",
            )?,
            outbox_dead_lettered: IntCounter::new(
                "taylordash_outbox_dead_lettered_total",
                "Outbox events the bus dead-lettered (settled, not published again): a defect",
            )?,
            stream_clients: IntGauge::new(
                "taylordash_stream_clients",
                "Clients connected to the live event stream",
            )?,
            store_retries: IntCounter::new(
                "taylordash_ingest_store_retries_total",
                "Ingest batches retried because the database failed",
            )?,
        };
        // Every label value starts at zero, so series exist (and rate() works) before the first
        // event of a kind or the first dead letter of a reason.
        for kind in KNOWN_KINDS.iter().chain(["other"].iter()) {
            m.ingested.with_label_values(&[*kind]);
        }
        for reason in domain::DeadReason::ALL {
            m.dead_lettered.with_label_values(&[reason.as_str()]);
        }
        registry.register(Box::new(m.ingested.clone()))?;
        registry.register(Box::new(m.dead_lettered.clone()))?;
        registry.register(Box::new(m.duplicates.clone()))?;
        registry.register(Box::new(m.latency.clone()))?;
        registry.register(Box::new(m.mqtt_connected.clone()))?;
        registry.register(Box::new(m.outbox_backlog.clone()))?;
        registry.register(Box::new(m.outbox_dead_lettered.clone()))?;
        registry.register(Box::new(m.stream_clients.clone()))?;
        registry.register(Box::new(m.store_retries.clone()))?;
        Ok(m)
    }

    pub fn kind_label(kind: &str) -> &str {
        KNOWN_KINDS
            .iter()
            .find(|k| **k == kind)
            .copied()
            .unwrap_or("other")
    }
}
