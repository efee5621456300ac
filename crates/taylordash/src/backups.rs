//! `taylordash backup create|list|verify|restore` (scheduled backups: `backup::schedule`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;

use backup::{Progress, Target};
use indicatif::{ProgressBar, ProgressStyle};
use objects::Objects;
use storage::Store;

use crate::config::Config;

/// A progress bar per stage on stderr, with its units, rate and ETA, when stderr is a terminal
/// (indicatif draws nothing otherwise, so logs and pipes stay clean).
#[derive(Default)]
pub struct Bar {
    current: Mutex<Option<(String, ProgressBar)>>,
}

impl Bar {
    pub fn new() -> Bar {
        Bar::default()
    }
}

/// The bar of one stage: bytes for object copies and checks, rows or migrations otherwise.
pub fn stage_bar(stage: &str, total: u64) -> ProgressBar {
    let units = match stage {
        "objects" | "verify" => "{bytes}/{total_bytes} {binary_bytes_per_sec}",
        "migrations" => "{pos}/{len} migrations, {elapsed}",
        _ => "{human_pos}/{human_len} rows {per_sec}",
    };
    let template = format!("{{prefix:>10}} [{{bar:25}}] {{percent:>3}}% {units} ETA {{eta}}");
    let style = ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("#>-");
    ProgressBar::new(total)
        .with_style(style)
        .with_prefix(stage.to_owned())
}

/// Leaves a finished bar on the screen, on its own line (indicatif keeps the cursor at its end).
pub fn finish_bar(bar: &ProgressBar) {
    bar.finish();
    if !bar.is_hidden() {
        eprintln!();
    }
}

impl Progress for Bar {
    fn update(&self, stage: &str, done: u64, total: u64) {
        let Ok(mut current) = self.current.lock() else {
            return;
        };
        if current.as_ref().is_none_or(|(s, _)| s != stage) {
            if let Some((_, done_bar)) = current.take() {
                finish_bar(&done_bar);
            }
            *current = Some((stage.to_owned(), stage_bar(stage, total)));
        }
        if let Some((_, bar)) = current.as_ref() {
            bar.set_length(total);
            bar.set_position(done);
        }
    }

    fn finish(&self) {
        if let Ok(mut current) = self.current.lock()
            && let Some((_, bar)) = current.take()
        {
            finish_bar(&bar);
        }
    }
}

async fn open(config: &Config) -> Result<(Arc<dyn Store>, Objects), String> {
    let store = crate::startup::open_store(config)
        .await
        .map_err(|e| e.to_string())?;
    let objects = crate::files::open_objects(config).await?;
    Ok((store, objects))
}

fn target(objects: &Objects, dir: Option<&Path>) -> Result<Target, String> {
    match dir {
        Some(d) => Target::directory(d).map_err(|e| e.to_string()),
        None => Ok(Target::store(objects.clone())),
    }
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

pub async fn create(
    config: &Config,
    to: Option<PathBuf>,
    name: Option<String>,
) -> Result<String, String> {
    let (store, objects) = open(config).await?;
    let target = target(&objects, to.as_deref())?;
    let started = std::time::Instant::now();
    let result = backup::create(store.as_ref(), &objects, &target, name, &Bar::new()).await;
    store.close().await;
    let m = result.map_err(|e| e.to_string())?;
    let rows: u64 = m.tables.iter().map(|t| t.rows).sum();
    let mut out = format!(
        "backup {} written to {} in {:.1} s: {rows} rows in {} tables, {} objects, {}\n",
        m.name,
        target.description(),
        started.elapsed().as_secs_f64(),
        m.tables.len(),
        m.objects.len(),
        human(m.total_bytes())
    );
    for key in &m.missing_objects {
        out.push_str(&format!(
            "warning: object {key} was missing and is not in the backup\n"
        ));
    }
    Ok(out)
}

pub async fn list(config: &Config, from: Option<PathBuf>) -> Result<String, String> {
    let objects = crate::files::open_objects(config).await?;
    let target = target(&objects, from.as_deref())?;
    let all = backup::list(&target).await.map_err(|e| e.to_string())?;
    let mut out = format!("{} backups in {}\n", all.len(), target.description());
    for m in all {
        let rows: u64 = m.tables.iter().map(|t| t.rows).sum();
        out.push_str(&format!(
            "{}  {}  from {}  {rows} rows  {} objects  {}\n",
            m.name,
            m.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
            m.source_backend,
            m.objects.len(),
            human(m.total_bytes())
        ));
    }
    Ok(out)
}

pub async fn verify(config: &Config, name: &str, from: Option<PathBuf>) -> Result<String, String> {
    let objects = crate::files::open_objects(config).await?;
    let target = target(&objects, from.as_deref())?;
    let v = backup::verify(&target, name, &Bar::new())
        .await
        .map_err(|e| e.to_string())?;
    if v.problems.is_empty() {
        Ok(format!(
            "backup {name} is intact: {} files, {} checked against the manifest\n",
            v.files,
            human(v.bytes)
        ))
    } else {
        Err(format!(
            "backup {name} is damaged:\n  {}",
            v.problems.join("\n  ")
        ))
    }
}

pub async fn restore(
    config: &Config,
    name: &str,
    from: Option<PathBuf>,
    force: bool,
) -> Result<String, String> {
    let (store, objects) = open(config).await?;
    let target = target(&objects, from.as_deref())?;
    let started = std::time::Instant::now();
    let result = backup::restore(store.as_ref(), &objects, &target, name, force, &Bar::new()).await;
    store.close().await;
    let r = result.map_err(|e| e.to_string())?;
    let rows: u64 = r.rows.iter().map(|(_, n)| n).sum();
    Ok(format!(
        "restored {name} in {:.1} s: {rows} rows, {} objects\n",
        started.elapsed().as_secs_f64(),
        r.objects
    ))
}
