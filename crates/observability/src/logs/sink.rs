//! The log writer: a bounded in-memory queue drained in batches into `application_logs` by one
//! background task. Pushing never waits for the database — a slow or unreachable database only
//! makes the queue fill up, and then the oldest records are dropped (and counted).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::NewLogRecord;
use prometheus::{IntCounter, IntGauge, Registry};
use storage::LogStore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::batch_queue::{BatchQueue, FINAL_FLUSH};

/// How the writer behaves; the defaults suit a single server.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// Records held in memory at most; beyond it the oldest are dropped.
    pub capacity: usize,
    /// Records written in one transaction at most.
    pub batch_size: usize,
    /// Longest a record waits before its batch is written.
    pub flush_interval: Duration,
    /// A write taking longer than this counts as failed (the batch is retried).
    pub write_timeout: Duration,
    /// How long records of each level are kept: (level, age).
    pub retention: Vec<(&'static str, Duration)>,
    /// How often the retention job runs.
    pub retention_interval: Duration,
    pub environment: String,
    pub host_name: String,
}

const DAY: u64 = 86_400;

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            capacity: 10_000,
            batch_size: 500,
            flush_interval: Duration::from_millis(500),
            write_timeout: Duration::from_secs(10),
            retention: vec![
                ("ERROR", Duration::from_secs(90 * DAY)),
                ("WARN", Duration::from_secs(60 * DAY)),
                ("INFO", Duration::from_secs(30 * DAY)),
                ("DEBUG", Duration::from_secs(7 * DAY)),
            ],
            retention_interval: Duration::from_secs(3600),
            environment: "development".into(),
            host_name: "local".into(),
        }
    }
}

/// Handle to the queue; cheap to clone.
#[derive(Clone)]
pub struct LogSink(Arc<Inner>);

struct Inner {
    settings: LogSettings,
    queue: BatchQueue<NewLogRecord>,
    written: IntCounter,
    failures: IntCounter,
    pruned: IntCounter,
    queued: IntGauge,
}

impl LogSink {
    pub fn new(settings: LogSettings) -> LogSink {
        let counter = |name: &str, help: &str| {
            IntCounter::new(name, help).unwrap_or_else(|_| unreachable!("valid metric name"))
        };
        let queued = IntGauge::new(
            "taylordash_log_queue_records",
            "Log records waiting to be written",
        )
        .unwrap_or_else(|_| unreachable!("valid metric name"));
        LogSink(Arc::new(Inner {
            queue: BatchQueue::new(
                settings.capacity,
                settings.batch_size,
                counter(
                    "taylordash_log_records_dropped_total",
                    "Log records dropped because the writer queue was full (oldest first)",
                ),
                Some(queued.clone()),
            ),
            settings,
            written: counter(
                "taylordash_log_records_written_total",
                "Log records written to application_logs",
            ),
            failures: counter(
                "taylordash_log_write_failures_total",
                "Batches of log records the database did not accept in time (retried)",
            ),
            pruned: counter(
                "taylordash_log_records_pruned_total",
                "Log records deleted by the retention job",
            ),
            queued,
        }))
    }

    pub fn settings(&self) -> &LogSettings {
        &self.0.settings
    }

    /// Adds the writer's metrics to `registry`.
    pub fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        let i = &self.0;
        registry.register(Box::new(i.queue.dropped().clone()))?;
        registry.register(Box::new(i.written.clone()))?;
        registry.register(Box::new(i.failures.clone()))?;
        registry.register(Box::new(i.pruned.clone()))?;
        registry.register(Box::new(i.queued.clone()))?;
        Ok(())
    }

    /// Queues a record (already redacted). Never blocks on I/O: when the queue is full the
    /// oldest record is dropped and counted.
    pub fn push(&self, record: NewLogRecord) {
        self.0.queue.push([record]);
    }

    /// Records dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.0.queue.dropped().get()
    }

    /// Records waiting to be written.
    pub fn queued(&self) -> usize {
        self.0.queue.len()
    }

    /// Starts the writer and the retention job on `store`, as tasks on `tasks`. Once `cancel`
    /// is cancelled the writer writes what is queued (for at most [`FINAL_FLUSH`]) and stops;
    /// the retention job stops at once.
    pub fn start(&self, store: Arc<dyn LogStore>, tasks: &TaskTracker, cancel: &CancellationToken) {
        let sink = self.clone();
        crate::spawn_writer(
            tasks,
            cancel,
            self.clone().write_loop(store.clone()),
            async move {
                sink.flush(FINAL_FLUSH).await;
            },
        );
        tasks.spawn(
            cancel
                .clone()
                .run_until_cancelled_owned(self.clone().retention_loop(store)),
        );
    }

    /// Waits until everything queued so far is written, or `timeout` passes; returns whether
    /// the queue is empty.
    pub async fn flush(&self, timeout: Duration) -> bool {
        self.0.queue.flush(timeout).await
    }

    async fn write_loop(self, store: Arc<dyn LogStore>) {
        let settings = self.0.settings.clone();
        let mut backoff = Duration::ZERO;
        loop {
            tokio::time::sleep(backoff).await;
            tokio::select! {
                () = self.0.queue.woken() => {}
                () = tokio::time::sleep(settings.flush_interval) => {}
            }
            loop {
                let batch = self.0.queue.take_batch();
                if batch.is_empty() {
                    break;
                }
                match tokio::time::timeout(settings.write_timeout, store.insert_logs(&batch)).await
                {
                    Ok(Ok(n)) => {
                        self.0.written.inc_by(n);
                        self.0.queue.stored();
                        backoff = Duration::ZERO;
                    }
                    failed => {
                        self.0.failures.inc();
                        self.0.queue.requeue(batch);
                        backoff = (backoff * 2)
                            .clamp(Duration::from_millis(250), Duration::from_secs(30));
                        let reason = match failed {
                            Ok(Err(e)) => e.to_string(),
                            _ => format!("no answer within {:?}", settings.write_timeout),
                        };
                        tracing::warn!(
                            target: "taylordash::logs",
                            error = %reason,
                            retry_in_ms = backoff.as_millis() as u64,
                            "cannot write log records to the database; keeping them queued"
                        );
                        break;
                    }
                }
            }
        }
    }

    async fn retention_loop(self, store: Arc<dyn LogStore>) {
        let every = self.0.settings.retention_interval;
        // The first run waits a little, so startup is not slowed by a large deletion.
        let mut wait = every.min(Duration::from_secs(60));
        loop {
            tokio::time::sleep(wait).await;
            wait = every;
            match apply_retention(&*store, &self.0.settings.retention, Utc::now()).await {
                Ok(n) => self.0.pruned.inc_by(n),
                Err(e) => tracing::warn!(
                    target: "taylordash::logs",
                    error = %e,
                    "log retention failed; retrying at the next run"
                ),
            }
        }
    }
}

/// Deletes records older than their level's retention, in batches; returns how many.
pub async fn apply_retention(
    store: &dyn LogStore,
    retention: &[(&'static str, Duration)],
    now: DateTime<Utc>,
) -> storage::Result<u64> {
    const BATCH: i64 = 5_000;
    let mut total = 0;
    for (level, age) in retention {
        let Ok(age) = chrono::Duration::from_std(*age) else {
            continue;
        };
        let cutoff = now - age;
        loop {
            let n = store.prune_logs(level, cutoff, BATCH).await?;
            total += n;
            if n < BATCH as u64 {
                break;
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: usize) -> NewLogRecord {
        NewLogRecord {
            message: format!("m{n}"),
            ..NewLogRecord::default()
        }
    }

    #[test]
    fn overflow_drops_the_oldest_and_counts_them() {
        let sink = LogSink::new(LogSettings {
            capacity: 10,
            ..LogSettings::default()
        });
        let registry = Registry::new();
        sink.register(&registry).unwrap();
        for n in 0..25 {
            sink.push(record(n));
        }
        assert_eq!(sink.queued(), 10);
        assert_eq!(sink.dropped(), 15);
        let batch = sink.0.queue.take_batch();
        assert_eq!(batch.first().unwrap().message, "m15", "the newest are kept");
        assert_eq!(batch.last().unwrap().message, "m24");
        // A failed batch goes back in front, within capacity.
        sink.push(record(25));
        sink.0.queue.requeue(batch);
        assert_eq!(sink.queued(), 10);
        assert_eq!(sink.dropped(), 16);
        let again = sink.0.queue.take_batch();
        assert_eq!(again[0].message, "m16");
        assert_eq!(again[9].message, "m25");
        let families = registry.gather();
        let dropped = families
            .iter()
            .find(|f| f.name() == "taylordash_log_records_dropped_total")
            .unwrap();
        assert_eq!(dropped.get_metric()[0].get_counter().get_value(), 16.0);
    }
}
