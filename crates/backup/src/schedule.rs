//! Backups from inside the server: [`BackupService`] takes them one at a time into the object
//! store, refuses to start one when a local disk is short of space, keeps only the newest
//! `keep` (scheduled and on-demand alike), and records outcomes as metrics and
//! `backup.succeeded|failed` events on the bus; [`run_schedule`] takes one every interval (a
//! task of `serve`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus::{Gauge, IntCounterVec, IntGauge, Opts, Registry};
use storage::Store;

use crate::{Manifest, Target};

/// Name prefix of backups taken by the server; only these are pruned.
pub const SCHEDULED_PREFIX: &str = "taylordash-";

/// Takes backups into the object store, one at a time, recording outcomes.
pub struct BackupService {
    target: Target,
    /// How many of the server's backups to keep; older ones are deleted after each success.
    keep: usize,
    running: tokio::sync::Mutex<()>,
    outcomes: IntCounterVec,
    last_success: IntGauge,
    last_duration: Gauge,
    last_bytes: IntGauge,
}

impl BackupService {
    pub fn new(
        target: Target,
        keep: usize,
        registry: &Registry,
    ) -> Result<BackupService, prometheus::Error> {
        let outcomes = IntCounterVec::new(
            Opts::new("taylordash_backups_total", "Backups taken, by outcome"),
            &["outcome"],
        )?;
        let last_success = IntGauge::new(
            "taylordash_backup_last_success_timestamp_seconds",
            "Unix time of the last successful backup",
        )?;
        let last_duration = Gauge::new(
            "taylordash_backup_last_duration_seconds",
            "How long the last successful backup took, in seconds",
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
        registry.register(Box::new(last_duration.clone()))?;
        registry.register(Box::new(last_bytes.clone()))?;
        Ok(BackupService {
            target,
            keep: keep.max(1),
            running: tokio::sync::Mutex::new(()),
            outcomes,
            last_success,
            last_duration,
            last_bytes,
        })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Takes a backup unless one is running or the disk is short of space; records and
    /// announces the outcome, then deletes all but the newest `keep` of the server's backups.
    pub async fn take(
        &self,
        store: &dyn Store,
        bus: &bus::EventBus,
    ) -> Result<Manifest, TakeError> {
        let _guard = self.running.try_lock().map_err(|_| TakeError::Running)?;
        if let Some(root) = self.target.objects().local_root() {
            let last = u64::try_from(self.last_bytes.get()).unwrap_or(0);
            check_space(root, free_bytes(root), last)?;
        }
        let started = Instant::now();
        let objects = self.target.objects().clone();
        let result = crate::create(store, &objects, &self.target, None, &crate::Quiet)
            .await
            .map_err(|e| TakeError::Failed(e.to_string()));
        let (kind, action, payload) = match &result {
            Ok(m) => {
                self.outcomes.with_label_values(&["success"]).inc();
                self.last_success.set(m.created_at.timestamp());
                self.last_duration.set(started.elapsed().as_secs_f64());
                self.last_bytes
                    .set(i64::try_from(m.total_bytes()).unwrap_or(i64::MAX));
                tracing::info!(backup = %m.name, bytes = m.total_bytes(), "backup written");
                match crate::prune(&self.target, SCHEDULED_PREFIX, self.keep).await {
                    Ok(deleted) if !deleted.is_empty() => {
                        tracing::info!(?deleted, "old backups deleted");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "deleting old backups failed"),
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
                (
                    "backup.failed",
                    "failed",
                    serde_json::json!({"error": e.to_string()}),
                )
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
        result
    }
}

/// Why [`BackupService::take`] took no backup.
#[derive(Debug, thiserror::Error)]
pub enum TakeError {
    #[error("a backup is already being taken; try again when it is done")]
    Running,
    #[error(
        "only {} MiB are free at {}; a backup needs about {} MiB (the last one's size and a \
         margin): free space or move backups to an S3 server",
        available / MIB, location, needed / MIB
    )]
    NoSpace {
        location: String,
        available: u64,
        needed: u64,
    },
    #[error("the backup failed: {0}")]
    Failed(String),
}

const MIB: u64 = 1024 * 1024;
/// Free space asked for before a first backup, whose size is not known yet.
const MIN_FREE: u64 = 64 * MIB;

/// Refuses a backup when `available` bytes (unknown: allowed) cannot hold one about the size
/// of the last, with a quarter more for growth, and never less than [`MIN_FREE`].
fn check_space(root: &std::path::Path, available: Option<u64>, last: u64) -> Result<(), TakeError> {
    let Some(available) = available else {
        return Ok(());
    };
    let needed = (last + last / 4).max(MIN_FREE);
    if available < needed {
        return Err(TakeError::NoSpace {
            location: root.display().to_string(),
            available,
            needed,
        });
    }
    Ok(())
}

/// Bytes an unprivileged process may still write on the file system holding `path`.
fn free_bytes(path: &std::path::Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(path).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Takes a backup every `interval`.
pub async fn run_schedule(
    service: Arc<BackupService>,
    store: Arc<dyn Store>,
    bus: Arc<bus::EventBus>,
    interval: Duration,
) {
    loop {
        tokio::time::sleep(interval).await;
        match service.take(store.as_ref(), &bus).await {
            Err(TakeError::Running) => {
                tracing::info!("skipping a scheduled backup: another one is running");
            }
            Err(e @ TakeError::NoSpace { .. }) => {
                tracing::error!(error = %e, "skipping a scheduled backup");
            }
            // Recorded (metrics, event, log) by `take`.
            Ok(_) | Err(TakeError::Failed(_)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_needs_room_for_about_the_last_one() {
        let here = std::path::Path::new("/backups");
        assert!(
            check_space(here, None, 10 * 1024 * MIB).is_ok(),
            "unknown: allowed"
        );
        assert!(check_space(here, Some(65 * MIB), 0).is_ok());
        assert!(matches!(
            check_space(here, Some(63 * MIB), 0),
            Err(TakeError::NoSpace { .. })
        ));
        assert!(check_space(here, Some(200 * MIB), 100 * MIB).is_ok());
        let short = check_space(here, Some(120 * MIB), 100 * MIB).unwrap_err();
        assert!(
            short
                .to_string()
                .contains("only 120 MiB are free at /backups"),
            "{short}"
        );
        assert!(free_bytes(std::path::Path::new(".")).is_some_and(|b| b > 0));
    }
}
