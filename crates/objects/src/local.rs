//! Uploads into a local directory store, written by this module rather than `object_store`'s
//! multipart writer: one blocking thread per upload writes the received buffers in order and
//! hashes each right after writing it (while it is still in the CPU cache), and a second one
//! asks the kernel to write the file to disk as it grows, so the fsync before answering finds
//! little left to do. Files are staged and published the way `object_store` does (`<path>#<n>`,
//! fsync, rename, fsync of the directory), so the rest of the store (reads, lists, deletes) sees
//! no difference.
//!
//! Measured (docs/benchmarks.md, "Uploads"): `object_store`'s writer wrote each received buffer
//! with its own system call from a blocking job per 5 MiB part, and the whole file reached the
//! disk only in the final fsync, after the last byte had arrived.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, TrySendError};

use bytes::Bytes;
use futures_util::StreamExt;
use ring::digest;
use tokio::sync::mpsc;

use crate::{ObjectError, Result, Stored};

/// Bytes handed to the writer thread at a time.
const WRITE_BATCH: usize = 1024 * 1024;

/// Batches queued for the writer: with [`WRITE_BATCH`], a few MiB in memory per upload.
const WRITE_QUEUE: usize = 4;

/// Written bytes after which the kernel is asked to start writing them to disk.
const FLUSH_EVERY: u64 = 16 * 1024 * 1024;

enum Message {
    Data(Vec<Bytes>),
    /// Every byte was sent: sync and publish the file.
    Commit,
}

/// Streams `body` into the file `dest` (at most `limit` bytes), durably: returns once the file
/// and its directory entry are on disk. On any error the staged file is removed and `dest` is
/// untouched.
pub(crate) async fn put<E: std::fmt::Display>(
    dest: PathBuf,
    body: impl futures_util::Stream<Item = std::result::Result<Bytes, E>> + Send,
    limit: u64,
) -> Result<Stored> {
    let (tx, rx) = mpsc::channel::<Message>(WRITE_QUEUE);
    let writer = tokio::task::spawn_blocking(move || write(&dest, rx));
    let sent: Result<u64> = async {
        let mut body = std::pin::pin!(body);
        let mut size: u64 = 0;
        let mut batch: Vec<Bytes> = Vec::new();
        let mut batched = 0usize;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| ObjectError::Body(e.to_string()))?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(ObjectError::TooLarge { limit });
            }
            batched += chunk.len();
            batch.push(chunk);
            if batched >= WRITE_BATCH {
                batched = 0;
                if tx
                    .send(Message::Data(std::mem::take(&mut batch)))
                    .await
                    .is_err()
                {
                    // The writer stopped: its error is the one to report.
                    return Ok(size);
                }
            }
        }
        if !batch.is_empty() {
            let _ = tx.send(Message::Data(batch)).await;
        }
        let _ = tx.send(Message::Commit).await;
        Ok(size)
    }
    .await;
    // Without a commit the writer removes the staged file.
    drop(tx);
    let written = writer
        .await
        .map_err(|e| ObjectError::Store(format!("writing a local object: {e}")));
    let size = sent?;
    let (written, sha256) = written??;
    if written != size {
        return Err(ObjectError::Store(format!(
            "a local object received {size} bytes but {written} were written"
        )));
    }
    Ok(Stored { size, sha256 })
}

fn store_error(what: &str, path: &Path, e: std::io::Error) -> ObjectError {
    ObjectError::Store(format!("{what} {}: {e}", path.display()))
}

/// The writer thread: stages, writes and hashes, then publishes on [`Message::Commit`].
fn write(dest: &Path, mut rx: mpsc::Receiver<Message>) -> Result<(u64, String)> {
    let (file, staged) = stage(dest)?;
    let result = write_staged(file, &staged, dest, &mut rx);
    if result.is_err() {
        let _ = std::fs::remove_file(&staged);
    }
    result
}

fn write_staged(
    mut file: File,
    staged: &Path,
    dest: &Path,
    rx: &mut mpsc::Receiver<Message>,
) -> Result<(u64, String)> {
    let flusher = Flusher::start(&file).map_err(|e| store_error("opening", staged, e))?;
    let mut hasher = digest::Context::new(&digest::SHA256);
    let mut written: u64 = 0;
    let mut flushed: u64 = 0;
    loop {
        match rx.blocking_recv() {
            Some(Message::Data(chunks)) => {
                for chunk in &chunks {
                    file.write_all(chunk)
                        .map_err(|e| store_error("writing", staged, e))?;
                    hasher.update(chunk);
                    written += chunk.len() as u64;
                }
                if written - flushed >= FLUSH_EVERY {
                    flusher.request();
                    flushed = written;
                }
            }
            Some(Message::Commit) => break,
            None => return Err(ObjectError::Body("the upload ended early".to_owned())),
        }
    }
    drop(flusher);
    // Durably publish: contents, then the name, then the directory entry.
    file.sync_all()
        .map_err(|e| store_error("syncing", staged, e))?;
    drop(file);
    std::fs::rename(staged, dest).map_err(|e| store_error("publishing", dest, e))?;
    sync_parent(dest)?;
    Ok((written, hex::encode(hasher.finish())))
}

/// Creates `<dest>#<n>` for the first free `n` (the name `object_store` stages uploads under,
/// which its listings skip), creating missing directories durably.
fn stage(dest: &Path) -> Result<(File, PathBuf)> {
    let mut n = 1u32;
    loop {
        let mut name = dest.as_os_str().to_owned();
        name.push(format!("#{n}"));
        let path = PathBuf::from(name);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(f) => return Ok((f, path)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => n += 1,
            Err(e) if e.kind() == ErrorKind::NotFound => create_parents(&path)?,
            Err(e) => return Err(store_error("creating", &path, e)),
        }
        if n > 10_000 {
            return Err(ObjectError::Store(format!(
                "too many unfinished uploads of {}",
                dest.display()
            )));
        }
    }
}

/// Creates the missing directories above `path`, and syncs the directory holding each new one.
fn create_parents(path: &Path) -> Result<()> {
    let Some(parent) = path.parent() else {
        return Ok(());
    };
    let mut missing = Vec::new();
    let mut dir = parent;
    while !dir.exists() {
        missing.push(dir.to_path_buf());
        match dir.parent() {
            Some(p) => dir = p,
            None => break,
        }
    }
    std::fs::create_dir_all(parent).map_err(|e| store_error("creating", parent, e))?;
    for dir in missing.iter().rev() {
        sync_parent(dir)?;
    }
    Ok(())
}

/// Syncs the directory holding `path` (its entry for `path` reaches the disk).
fn sync_parent(path: &Path) -> Result<()> {
    let Some(dir) = path.parent() else {
        return Ok(());
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| store_error("syncing", dir, e))
}

/// A thread that syncs the file being written whenever asked, so the disk writes it while the
/// upload goes on. Requests while a sync runs fold into the next one.
struct Flusher {
    requests: Option<SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Flusher {
    fn start(file: &File) -> std::io::Result<Flusher> {
        let file = file.try_clone()?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("upload-flush".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    // Best effort: the final fsync reports any error.
                    let _ = file.sync_data();
                }
            })?;
        Ok(Flusher {
            requests: Some(tx),
            thread: Some(thread),
        })
    }

    fn request(&self) {
        if let Some(tx) = &self.requests {
            match tx.try_send(()) {
                Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
            }
        }
    }
}

/// Stops the thread (after the sync it may be running).
impl Drop for Flusher {
    fn drop(&mut self) {
        self.requests.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
