//! Files at startup and on the command line: opening the object store (with retries, as the
//! database), how often `serve` runs the object collector, and `taylordash artifacts reconcile`.

use std::time::{Duration, Instant};

use objects::Objects;

use crate::config::Config;

/// How often the collector looks at its queue when nothing wakes it.
pub const COLLECT_INTERVAL: Duration = Duration::from_secs(30);

/// Opens the configured object store, retrying for as long as the database connection would
/// (the S3 server may still be starting).
pub async fn open_objects(config: &Config) -> Result<Objects, String> {
    let target = config.files.objects(&config.data_dir);
    let deadline = Instant::now() + config.database.connect_timeout;
    let mut delay = Duration::from_millis(250);
    loop {
        match Objects::open(&target).await {
            Ok(objects) => {
                tracing::info!(store = objects.description(), "object store ready");
                return Ok(objects);
            }
            Err(e) if Instant::now() + delay < deadline => {
                tracing::warn!(error = %e, "object store not ready; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(format!("cannot open the object store: {e}")),
        }
    }
}

/// `taylordash artifacts reconcile`: prints what it found; fails when records lack objects.
pub async fn reconcile(config: &Config, grace: Duration, dry_run: bool) -> Result<String, String> {
    let store = crate::startup::open_store(config)
        .await
        .map_err(|e| e.to_string())?;
    let objects = open_objects(config).await?;
    let found = backup::collector::reconcile(store.as_ref(), &objects, grace, dry_run).await;
    store.close().await;
    let found = found.map_err(|e| e.to_string())?;
    let mut out = format!(
        "{} artifact objects in {}\n",
        found.objects,
        objects.description()
    );
    for key in &found.orphans {
        out.push_str(&format!("orphan (no record): {key}\n"));
    }
    if dry_run {
        out.push_str(&format!(
            "{} orphans found; dry run, nothing deleted\n",
            found.orphans.len()
        ));
    } else {
        out.push_str(&format!(
            "{} orphans queued; {} objects deleted, {} deletions failed (retried by the server)\n",
            found.orphans.len(),
            found.collected.deleted,
            found.collected.failed
        ));
    }
    for key in &found.missing {
        out.push_str(&format!("MISSING object of a record: {key}\n"));
    }
    if found.missing.is_empty() {
        Ok(out)
    } else {
        Err(format!(
            "{out}{} records have no object (restore them from a backup)",
            found.missing.len()
        ))
    }
}
