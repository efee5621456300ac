//! Backups from inside the server: [`BackupService`] takes them one at a time into the object
//! store and records their outcomes as metrics and `backup.succeeded|failed` events on the bus;
//! [`run_schedule`] takes one every interval (a task of `serve`), pruning old scheduled ones.

use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus::{IntCounterVec, IntGauge, Opts, Registry};
use storage::Store;

use crate::{Manifest, Target};

/// Name prefix of backups taken by the server; only these are pruned by the schedule.
pub const SCHEDULED_PREFIX: &str = "taylordash-";

/// Takes backups into the object store, one at a time, recording outcomes.
pub struct BackupService {
    target: Target,
    running: tokio::sync::Mutex<()>,
    outcomes: IntCounterVec,
    last_success: IntGauge,
    last_duration_ms: IntGauge,
    last_bytes: IntGauge,
}

impl BackupService {
    pub fn new(target: Target, registry: &Registry) -> Result<BackupService, prometheus::Error> {
        let outcomes = IntCounterVec::new(
            Opts::new("taylordash_backups_total", "Backups taken, by outcome"),
            &["outcome"],
        )?;
        let last_success = IntGauge::new(
            "taylordash_backup_last_success_timestamp_seconds",
            "Unix time of the last successful backup",
        )?;
        let last_duration_ms = IntGauge::new(
            "taylordash_backup_last_duration_milliseconds",
            "How long the last successful backup took",
        )?;
        let last_bytes = IntGauge::new(
            "taylordash_backup_last_size_bytes",
            "Bytes of table files and objects in the last successful backup",
        )?;
        // Both outcomes exist from the start, so alerts can compare them before the first run.
        for outcome in ["success", "failure"] {
            outcomes.with_label_values(&[outcome]);
        }
        registry.register(Box::new(outcomes.clone()))?;
        registry.register(Box::new(last_success.clone()))?;
        registry.register(Box::new(last_duration_ms.clone()))?;
        registry.register(Box::new(last_bytes.clone()))?;
        Ok(BackupService {
            target,
            running: tokio::sync::Mutex::new(()),
            outcomes,
            last_success,
            last_duration_ms,
            last_bytes,
        })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Takes a backup unless one is running (`None` then); records and announces the outcome.
    pub async fn take(
        &self,
        store: &dyn Store,
        bus: &bus::EventBus,
        keep: Option<usize>,
    ) -> Option<Result<Manifest, String>> {
        let _guard = self.running.try_lock().ok()?;
        let started = Instant::now();
        let objects = self.target.objects().clone();
        let result = crate::create(store, &objects, &self.target, None, &crate::Quiet)
            .await
            .map_err(|e| e.to_string());
        let (kind, action, payload) = match &result {
            Ok(m) => {
                self.outcomes.with_label_values(&["success"]).inc();
                self.last_success.set(m.created_at.timestamp());
                self.last_duration_ms
                    .set(i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX));
                self.last_bytes
                    .set(i64::try_from(m.total_bytes()).unwrap_or(i64::MAX));
                tracing::info!(backup = %m.name, bytes = m.total_bytes(), "backup written");
                if let Some(keep) = keep {
                    match crate::prune(&self.target, SCHEDULED_PREFIX, keep).await {
                        Ok(deleted) if !deleted.is_empty() => {
                            tracing::info!(?deleted, "old backups deleted");
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "deleting old backups failed"),
                    }
                }
                let rows: u64 = m.tables.iter().map(|t| t.rows).sum();
                (
                    "backup.succeeded",
                    "succeeded",
                    serde_json::json!({"name": m.name, "rows": rows, "objects": m.objects.len(),
                        "bytes": m.total_bytes(), "duration_ms": started.elapsed().as_millis() as u64}),
                )
            }
            Err(e) => {
                self.outcomes.with_label_values(&["failure"]).inc();
                tracing::error!(error = %e, "backup failed");
                ("backup.failed", "failed", serde_json::json!({"error": e}))
            }
        };
        let key = uuid::Uuid::new_v4().to_string();
        let payload = payload.as_object().cloned().unwrap_or_default();
        let envelope = domain::envelope(uuid::Uuid::new_v4(), domain::now(), kind, &key, &payload);
        if let Err(e) = bus
            .publish(&format!("tracker/events/backups/{action}"), &envelope)
            .await
        {
            tracing::warn!(error = %e, "could not publish the backup outcome");
        }
        Some(result)
    }
}

/// Takes a backup every `interval`, keeping the newest `keep` scheduled ones.
pub async fn run_schedule(
    service: Arc<BackupService>,
    store: Arc<dyn Store>,
    bus: Arc<bus::EventBus>,
    interval: Duration,
    keep: usize,
) {
    loop {
        tokio::time::sleep(interval).await;
        if service
            .take(store.as_ref(), &bus, Some(keep))
            .await
            .is_none()
        {
            tracing::info!("skipping a scheduled backup: another one is running");
        }
    }
}
