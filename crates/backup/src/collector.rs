//! Removing objects nothing refers to any more.
//!
//! Deleting an artifact record (directly or with its project) queues its object in the same
//! transaction; [`collect`] works through that queue, retrying failures with backoff, and
//! [`run_collector`] does so in the background of `serve`. [`reconcile`] is the safety net: it
//! lists the store and queues every artifact object no record refers to (an upload interrupted
//! by a crash, say), and reports records whose object is missing.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use objects::Objects;
use storage::ArtifactStore;

/// Objects are stored under this prefix.
pub const ARTIFACT_PREFIX: &str = "artifacts";

/// What one pass through the queue did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Collected {
    pub deleted: usize,
    pub failed: usize,
}

/// Delay before retry number `attempts + 1`: 5 s doubling up to an hour.
pub fn backoff(attempts: i32) -> chrono::Duration {
    let secs = 5i64.saturating_mul(1i64 << attempts.clamp(0, 10));
    chrono::Duration::seconds(secs.min(3600))
}

/// Deletes every queued object that is due; failures are rescheduled.
pub async fn collect(
    store: &dyn ArtifactStore,
    objects: &Objects,
) -> Result<Collected, storage::StoreError> {
    let mut done = Collected::default();
    loop {
        let now = domain::now();
        let due = store.due_object_deletions(now, 100).await?;
        let batch = due.len();
        for d in due {
            match objects.delete(&d.object_key).await {
                Ok(()) => {
                    store.finish_object_deletion(d.id).await?;
                    done.deleted += 1;
                }
                Err(e) => {
                    tracing::warn!(key = %d.object_key, attempts = d.attempts + 1, error = %e,
                        "deleting an object failed; will retry");
                    store
                        .retry_object_deletion(d.id, now + backoff(d.attempts), &e.to_string())
                        .await?;
                    done.failed += 1;
                }
            }
        }
        if batch < 100 {
            return Ok(done);
        }
    }
}

/// Runs [`collect`] whenever woken and at least every `interval`, until `shutdown` resolves.
pub async fn run_collector(
    store: Arc<dyn ArtifactStore>,
    objects: Objects,
    wake: Arc<tokio::sync::Notify>,
    interval: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        match collect(store.as_ref(), &objects).await {
            Ok(c) if c.deleted + c.failed > 0 => {
                tracing::info!(
                    deleted = c.deleted,
                    failed = c.failed,
                    "object collector pass"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "object collector could not read its queue"),
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

/// What reconciliation found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reconciled {
    /// Artifact objects in the store.
    pub objects: usize,
    /// Objects no record refers to (older than the grace period), queued for deletion.
    pub orphans: Vec<String>,
    /// Records whose object is missing from the store.
    pub missing: Vec<String>,
    /// What the queue pass after queueing did (nothing on a dry run).
    pub collected: Collected,
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Store(#[from] storage::StoreError),
    #[error(transparent)]
    Objects(#[from] objects::ObjectError),
}

/// Finds artifact objects without a record (last modified more than `grace` ago, so uploads
/// in flight are left alone) and, unless `dry_run`, queues and deletes them.
pub async fn reconcile(
    store: &dyn ArtifactStore,
    objects: &Objects,
    grace: Duration,
    dry_run: bool,
) -> Result<Reconciled, ReconcileError> {
    let listed = objects.list(ARTIFACT_PREFIX).await?;
    let known: HashSet<String> = store.artifact_object_keys().await?.into_iter().collect();
    let cutoff =
        chrono::Utc::now() - chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
    let present: HashSet<&str> = listed.iter().map(|o| o.key.as_str()).collect();
    let orphans: Vec<String> = listed
        .iter()
        .filter(|o| !known.contains(&o.key) && o.last_modified <= cutoff)
        .map(|o| o.key.clone())
        .collect();
    let mut missing: Vec<String> = known
        .iter()
        .filter(|k| !present.contains(k.as_str()))
        .cloned()
        .collect();
    missing.sort();
    let mut collected = Collected::default();
    if !dry_run {
        let now = domain::now();
        for key in &orphans {
            store.queue_object_deletion(key, now).await?;
        }
        collected = collect(store, objects).await?;
    }
    Ok(Reconciled {
        objects: listed.len(),
        orphans,
        missing,
        collected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(0).num_seconds(), 5);
        assert_eq!(backoff(1).num_seconds(), 10);
        assert_eq!(backoff(3).num_seconds(), 40);
        assert_eq!(backoff(50).num_seconds(), 3600);
        assert_eq!(backoff(-1).num_seconds(), 5);
    }
}
