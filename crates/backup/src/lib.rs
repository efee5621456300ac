//! Backups: a consistent, portable snapshot of every table (JSON lines, one file per table,
//! restorable into SQLite or PostgreSQL) plus a copy of every artifact object, described by a
//! manifest of row counts, sizes and SHA-256 checksums. A backup lives under
//! `<prefix>/<name>/` of a [`Target`]: the object store (prefix `backups`) or a local directory.
//!
//! ```text
//! <name>/manifest.json            written last: a backup without one is incomplete
//! <name>/tables/<table>.jsonl     one JSON object per row
//! <name>/objects/<object key>     the artifact objects
//! ```

pub mod collector;
pub mod schedule;
mod tar;

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use objects::{ObjectError, Objects};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use storage::{RowObject, SnapshotStore, Store, StoreError, TABLES, Table};

pub use tar::tar_stream;

pub const FORMAT: &str = "taylordash-backup";
pub const FORMAT_VERSION: u32 = 1;
const MANIFEST: &str = "manifest.json";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("object store: {0}")]
    Objects(#[from] ObjectError),
    #[error("local file: {0}")]
    Io(#[from] std::io::Error),
    #[error("backup {0} not found (no manifest)")]
    NotFound(String),
    #[error("invalid backup: {0}")]
    Invalid(String),
    #[error(
        "the database is not empty ({0}); restore into an empty database, or pass --force to \
         replace everything in it"
    )]
    NotEmpty(String),
    #[error("backup name '{0}' is invalid (letters, digits, '-', '_', '.'; at most 100)")]
    BadName(String),
}

pub type Result<T, E = BackupError> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableEntry {
    pub name: String,
    pub file: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectEntry {
    /// The object's key in the live store.
    pub key: String,
    pub file: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub app_version: String,
    /// `sqlite` or `postgresql`.
    pub source_backend: String,
    /// The highest database migration applied when the snapshot was taken.
    pub schema_version: i64,
    pub tables: Vec<TableEntry>,
    pub objects: Vec<ObjectEntry>,
    /// Artifact records whose object was missing from the store when the backup was taken.
    pub missing_objects: Vec<String>,
}

impl Manifest {
    /// Bytes of table files and objects.
    pub fn total_bytes(&self) -> u64 {
        self.tables.iter().map(|t| t.bytes).sum::<u64>()
            + self.objects.iter().map(|o| o.size).sum::<u64>()
    }

    pub fn rows(&self, table: &str) -> Option<u64> {
        self.tables.iter().find(|t| t.name == table).map(|t| t.rows)
    }
}

/// Where backups are kept: the object store (under `backups/`) or a local directory.
#[derive(Clone, Debug)]
pub struct Target {
    objects: Objects,
    prefix: String,
}

impl Target {
    /// Backups in the object store the artifacts use, under `backups/`.
    pub fn store(objects: Objects) -> Target {
        Target {
            objects,
            prefix: "backups".into(),
        }
    }

    /// Backups in a local directory (created if missing), one subdirectory each.
    pub fn directory(path: &Path) -> Result<Target> {
        Ok(Target {
            objects: Objects::local(path)?,
            prefix: String::new(),
        })
    }

    pub fn description(&self) -> String {
        if self.prefix.is_empty() {
            self.objects.description().to_owned()
        } else {
            format!("{}/{}", self.objects.description(), self.prefix)
        }
    }

    fn key(&self, name: &str, file: &str) -> String {
        if self.prefix.is_empty() {
            format!("{name}/{file}")
        } else {
            format!("{}/{name}/{file}", self.prefix)
        }
    }

    pub fn objects(&self) -> &Objects {
        &self.objects
    }
}

/// Reports progress; the command line draws a bar with it.
pub trait Progress: Send + Sync {
    fn update(&self, stage: &str, done: u64, total: u64);
    fn finish(&self) {}
}

/// No progress output.
pub struct Quiet;

impl Progress for Quiet {
    fn update(&self, _: &str, _: u64, _: u64) {}
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(BackupError::BadName(name.to_owned()))
    }
}

/// `taylordash-20261129T053000Z`.
pub fn default_name(at: DateTime<Utc>) -> String {
    format!("taylordash-{}", at.format("%Y%m%dT%H%M%SZ"))
}

/// A local file being written, hashed and counted.
struct TableFile {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
    hasher: Sha256,
    rows: u64,
    bytes: u64,
}

impl TableFile {
    fn create(path: PathBuf) -> std::io::Result<TableFile> {
        Ok(TableFile {
            out: std::io::BufWriter::new(std::fs::File::create(&path)?),
            path,
            hasher: Sha256::new(),
            rows: 0,
            bytes: 0,
        })
    }

    fn write_row(&mut self, row: &RowObject) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(row).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.out.write_all(&line)?;
        self.hasher.update(&line);
        self.rows += 1;
        self.bytes += line.len() as u64;
        Ok(())
    }
}

/// A stream of a local file's bytes.
fn file_stream(
    path: PathBuf,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    futures_util::stream::unfold(Some((path, None)), |state| async move {
        use tokio::io::AsyncReadExt;
        let (path, file) = state?;
        let mut file = match file {
            Some(f) => f,
            None => match tokio::fs::File::open(&path).await {
                Ok(f) => f,
                Err(e) => return Some((Err(e), None)),
            },
        };
        let mut buf = vec![0u8; 256 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some((path, Some(file)))))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// Takes a backup: snapshot of every table, then the artifact objects, then the manifest.
pub async fn create(
    store: &dyn Store,
    live: &Objects,
    target: &Target,
    name: Option<String>,
    progress: &dyn Progress,
) -> Result<Manifest> {
    let created_at = domain::now();
    let exists = |name: String| async move {
        target
            .objects
            .size(&target.key(&name, MANIFEST))
            .await
            .is_ok()
    };
    let name = match name {
        Some(name) => {
            check_name(&name)?;
            if exists(name.clone()).await {
                return Err(BackupError::Invalid(format!(
                    "backup {name} already exists"
                )));
            }
            name
        }
        None => {
            // Two backups in the same second get -2, -3, ...
            let base = default_name(created_at);
            let mut name = base.clone();
            let mut n = 1;
            while exists(name.clone()).await {
                n += 1;
                name = format!("{base}-{n}");
            }
            name
        }
    };
    let schema_version = store.schema_version().await?;
    let expected_rows: u64 = store
        .row_counts()
        .await?
        .iter()
        .map(|(_, n)| u64::try_from(*n).unwrap_or(0))
        .sum();
    let dir = tempfile::tempdir()?;
    let mut files: BTreeMap<&'static str, TableFile> = BTreeMap::new();
    for t in TABLES {
        files.insert(
            t.name,
            TableFile::create(dir.path().join(format!("{}.jsonl", t.name)))?,
        );
    }
    let mut artifacts: Vec<(String, String, u64)> = Vec::new();
    let mut done = 0u64;
    store
        .export(&mut |table: &'static Table, row: RowObject| {
            if table.name == "artifacts" {
                let text = |c: &str| row.get(c).and_then(|v| v.as_str()).unwrap_or("").to_owned();
                let size = row.get("size").and_then(|v| v.as_u64()).unwrap_or(0);
                artifacts.push((text("object_key"), text("sha256"), size));
            }
            let file = files
                .get_mut(table.name)
                .ok_or_else(|| std::io::Error::other("unknown table"))?;
            file.write_row(&row)?;
            done += 1;
            if done.is_multiple_of(1000) {
                progress.update("tables", done, expected_rows.max(done));
            }
            Ok(())
        })
        .await?;
    progress.update("tables", done, done);
    let mut tables = Vec::new();
    for (table, mut file) in files {
        file.out.flush()?;
        let file_name = format!("tables/{table}.jsonl");
        target
            .objects
            .put_stream(
                &target.key(&name, &file_name),
                file_stream(file.path.clone()),
                u64::MAX,
            )
            .await?;
        tables.push(TableEntry {
            name: table.to_owned(),
            file: file_name,
            rows: file.rows,
            bytes: file.bytes,
            sha256: hex::encode(file.hasher.finalize()),
        });
    }
    let total_bytes: u64 = artifacts.iter().map(|a| a.2).sum();
    let mut copied = 0u64;
    let mut objects = Vec::new();
    let mut missing_objects = Vec::new();
    for (key, sha256, size) in artifacts {
        progress.update("objects", copied, total_bytes);
        let file = format!("objects/{key}");
        let download = match live.get(&key, None).await {
            Ok(d) => d,
            Err(ObjectError::NotFound(_)) => {
                tracing::warn!(key = %key, "artifact object missing; not in the backup");
                missing_objects.push(key);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let stored = target
            .objects
            .put_stream(&target.key(&name, &file), download.stream, u64::MAX)
            .await?;
        if stored.sha256 != sha256 {
            return Err(BackupError::Invalid(format!(
                "object {key} has SHA-256 {} but its record says {sha256}",
                stored.sha256
            )));
        }
        copied += size;
        objects.push(ObjectEntry {
            key,
            file,
            size: stored.size,
            sha256: stored.sha256,
        });
    }
    progress.update("objects", copied, total_bytes.max(copied));
    let manifest = Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        name: name.clone(),
        created_at,
        app_version: env!("CARGO_PKG_VERSION").into(),
        source_backend: store.backend().as_str().into(),
        schema_version,
        tables,
        objects,
        missing_objects,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
    target
        .objects
        .put_bytes(&target.key(&name, MANIFEST), Bytes::from(json))
        .await?;
    progress.finish();
    Ok(manifest)
}

/// Reads a backup's manifest.
pub async fn manifest(target: &Target, name: &str) -> Result<Manifest> {
    check_name(name)?;
    let bytes = match target.objects.get_bytes(&target.key(name, MANIFEST)).await {
        Ok(b) => b,
        Err(ObjectError::NotFound(_)) => return Err(BackupError::NotFound(name.to_owned())),
        Err(e) => return Err(e.into()),
    };
    let m: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| BackupError::Invalid(format!("manifest of {name}: {e}")))?;
    if m.format != FORMAT || m.format_version > FORMAT_VERSION {
        return Err(BackupError::Invalid(format!(
            "{name} is format {} version {}; this program reads {FORMAT} up to version \
             {FORMAT_VERSION}",
            m.format, m.format_version
        )));
    }
    Ok(m)
}

/// Complete backups (those with a manifest), newest first.
pub async fn list(target: &Target) -> Result<Vec<Manifest>> {
    let listed = if target.prefix.is_empty() {
        target.objects.list_all().await?
    } else {
        target.objects.list(&target.prefix).await?
    };
    let mut names: Vec<String> = listed
        .iter()
        .filter_map(|o| {
            let rest = if target.prefix.is_empty() {
                o.key.as_str()
            } else {
                o.key.strip_prefix(&format!("{}/", target.prefix))?
            };
            let (name, file) = rest.split_once('/')?;
            (file == MANIFEST).then(|| name.to_owned())
        })
        .collect();
    names.sort();
    names.dedup();
    let mut out = Vec::new();
    for name in names {
        match manifest(target, &name).await {
            Ok(m) => out.push(m),
            Err(e) => tracing::warn!(backup = %name, error = %e, "skipping an unreadable backup"),
        }
    }
    out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.name.cmp(&a.name)));
    Ok(out)
}

/// Deletes a backup (manifest first, so a half-deleted backup is never listed).
pub async fn delete(target: &Target, name: &str) -> Result<()> {
    let m = manifest(target, name).await?;
    target.objects.delete(&target.key(name, MANIFEST)).await?;
    for t in &m.tables {
        target.objects.delete(&target.key(name, &t.file)).await?;
    }
    for o in &m.objects {
        target.objects.delete(&target.key(name, &o.file)).await?;
    }
    Ok(())
}

/// Keeps the newest `keep` backups whose name starts with `prefix`; deletes the others.
pub async fn prune(target: &Target, prefix: &str, keep: usize) -> Result<Vec<String>> {
    let mut deleted = Vec::new();
    let all = list(target).await?;
    for m in all.iter().filter(|m| m.name.starts_with(prefix)).skip(keep) {
        delete(target, &m.name).await?;
        deleted.push(m.name.clone());
    }
    Ok(deleted)
}

/// What verification found; empty `problems` means the backup is intact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verified {
    pub files: usize,
    pub bytes: u64,
    pub problems: Vec<String>,
}

async fn hash_object(objects: &Objects, key: &str) -> Result<(u64, u64, String)> {
    let mut d = objects.get(key, None).await?;
    let mut hasher = Sha256::new();
    let (mut size, mut lines) = (0u64, 0u64);
    while let Some(chunk) = d.stream.next().await {
        let chunk = chunk?;
        size += chunk.len() as u64;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        hasher.update(&chunk);
    }
    Ok((size, lines, hex::encode(hasher.finalize())))
}

/// Re-reads every file of a backup and checks sizes, row counts and checksums.
pub async fn verify(target: &Target, name: &str, progress: &dyn Progress) -> Result<Verified> {
    let m = manifest(target, name).await?;
    let mut v = Verified::default();
    let total = m.total_bytes();
    for t in &m.tables {
        match hash_object(&target.objects, &target.key(name, &t.file)).await {
            Ok((size, lines, sha)) => {
                if sha != t.sha256 || size != t.bytes || lines != t.rows {
                    v.problems.push(format!(
                        "{}: expected {} rows, {} bytes, SHA-256 {}; found {lines} rows, {size} \
                         bytes, SHA-256 {sha}",
                        t.file, t.rows, t.bytes, t.sha256
                    ));
                }
                v.bytes += size;
            }
            Err(BackupError::Objects(ObjectError::NotFound(_))) => {
                v.problems.push(format!("{}: missing", t.file));
            }
            Err(e) => return Err(e),
        }
        v.files += 1;
        progress.update("verify", v.bytes, total);
    }
    for o in &m.objects {
        match hash_object(&target.objects, &target.key(name, &o.file)).await {
            Ok((size, _, sha)) => {
                if sha != o.sha256 || size != o.size {
                    v.problems.push(format!(
                        "{}: expected {} bytes with SHA-256 {}; found {size} bytes, {sha}",
                        o.file, o.size, o.sha256
                    ));
                }
                v.bytes += size;
            }
            Err(BackupError::Objects(ObjectError::NotFound(_))) => {
                v.problems.push(format!("{}: missing", o.file));
            }
            Err(e) => return Err(e),
        }
        v.files += 1;
        progress.update("verify", v.bytes, total);
    }
    for key in &m.missing_objects {
        v.problems.push(format!(
            "{key}: was already missing from the store when backed up"
        ));
    }
    progress.finish();
    Ok(v)
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub rows: Vec<(&'static str, u64)>,
    pub objects: usize,
}

/// Restores a backup into `store` and `live`: refuses a database that has any rows unless
/// `force` (which replaces everything). Table files are checked against the manifest before
/// anything changes; objects are restored before the records that refer to them.
pub async fn restore(
    store: &dyn SnapshotStore,
    live: &Objects,
    target: &Target,
    name: &str,
    force: bool,
    progress: &dyn Progress,
) -> Result<Restored> {
    let m = manifest(target, name).await?;
    let ours = store.schema_version().await?;
    if m.schema_version > ours {
        return Err(BackupError::Invalid(format!(
            "{name} was taken at schema version {}, newer than this program's {ours}; \
             restore it with a newer taylordash",
            m.schema_version
        )));
    }
    let non_empty: Vec<String> = store
        .row_counts()
        .await?
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(t, n)| format!("{t}: {n}"))
        .collect();
    if !non_empty.is_empty() && !force {
        return Err(BackupError::NotEmpty(non_empty.join(", ")));
    }
    // Fetch and check the table files first: nothing changes unless all of them are intact.
    let dir = tempfile::tempdir()?;
    let mut local: BTreeMap<String, PathBuf> = BTreeMap::new();
    for t in &m.tables {
        let Some(table) = storage::table_named(&t.name) else {
            return Err(BackupError::Invalid(format!(
                "{name} has table {} which this program does not know",
                t.name
            )));
        };
        let path = dir.path().join(format!("{}.jsonl", table.name));
        let mut d = target.objects.get(&target.key(name, &t.file), None).await?;
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let mut hasher = Sha256::new();
        while let Some(chunk) = d.stream.next().await {
            let chunk = chunk?;
            hasher.update(&chunk);
            out.write_all(&chunk)?;
        }
        out.flush()?;
        let sha = hex::encode(hasher.finalize());
        if sha != t.sha256 {
            return Err(BackupError::Invalid(format!(
                "{}: SHA-256 {sha} differs from the manifest's {}; run `backup verify`",
                t.file, t.sha256
            )));
        }
        local.insert(t.name.clone(), path);
    }
    // Objects first: a restored record never points at nothing.
    let total: u64 = m.objects.iter().map(|o| o.size).sum();
    let mut copied = 0u64;
    for o in &m.objects {
        progress.update("objects", copied, total);
        let d = target.objects.get(&target.key(name, &o.file), None).await?;
        let stored = live.put_stream(&o.key, d.stream, u64::MAX).await?;
        if stored.sha256 != o.sha256 {
            return Err(BackupError::Invalid(format!(
                "{}: SHA-256 {} differs from the manifest's {}",
                o.file, stored.sha256, o.sha256
            )));
        }
        copied += o.size;
    }
    progress.update("objects", copied, total.max(copied));
    let expected: u64 = m.tables.iter().map(|t| t.rows).sum();
    let mut rows = rows_from_files(&local, progress, expected);
    let counts = store.import(&mut rows, force).await?;
    progress.finish();
    Ok(Restored {
        rows: counts,
        objects: m.objects.len(),
    })
}

type RowItem = std::result::Result<(&'static Table, RowObject), String>;

/// The rows of the downloaded table files, in restore order.
fn rows_from_files<'a>(
    files: &'a BTreeMap<String, PathBuf>,
    progress: &'a dyn Progress,
    expected: u64,
) -> impl Iterator<Item = RowItem> + Send + 'a {
    let mut done = 0u64;
    TABLES
        .iter()
        .filter_map(move |t| files.get(t.name).map(|p| (t, p)))
        .flat_map(
            |(table, path)| -> Box<dyn Iterator<Item = RowItem> + Send> {
                match std::fs::File::open(path) {
                    Ok(f) => Box::new(std::io::BufReader::new(f).lines().map(move |line| {
                        let line = line.map_err(|e| format!("{}: {e}", table.name))?;
                        let row: RowObject = serde_json::from_str(&line)
                            .map_err(|e| format!("{}: {e}", table.name))?;
                        Ok((table, row))
                    })),
                    Err(e) => Box::new(std::iter::once(Err(format!("{}: {e}", table.name)))),
                }
            },
        )
        .inspect(move |_| {
            done += 1;
            if done.is_multiple_of(1000) {
                progress.update("rows", done, expected.max(done));
            }
        })
}
