//! Object storage behind one interface: an S3-compatible server (SeaweedFS in the stack) when one is
//! configured, else a directory under the data directory. Both are reached through the
//! `object_store` crate, so the same code (and the same conformance suite) covers both; uploads
//! into a local directory are written by `local.rs`.
//!
//! Uploads are streamed: [`Objects::put_stream`] holds at most a few MiB in memory (a few 5 MiB
//! parts on S3), hashes what passes through with SHA-256 (off the task reading the socket) and
//! stops at a size limit. An upload returns only once the store has the bytes durably: a local
//! store fsyncs the file and its directory, an S3 server acknowledges each part after checking
//! its signed SHA-256. Downloads are streams too, optionally of a byte range.

mod local;
mod s3;
mod s3_put;

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path as Key;
use object_store::{
    GetOptions, GetRange, GetResultPayload, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart,
};
// ring's SHA-256 (assembly; also what signs S3 requests). Measured on uploads: about the same
// CPU as the `sha2` crate's, see docs/benchmarks.md.
use ring::digest;

pub use s3::S3Config;

/// Size of one multipart part; S3 requires at least 5 MiB for every part but the last.
pub const PART_SIZE: usize = 5 * 1024 * 1024;

/// Bytes hashed per blocking job during an upload: large enough that handing a job to the
/// blocking pool costs nothing next to hashing it (about half a millisecond), small enough that
/// the hash keeps up with the socket.
const HASH_BATCH: usize = 1024 * 1024;

/// Size of one read of a local object being downloaded (`object_store` reads 8 KiB per blocking
/// job, which a loaded machine turns into a scheduling round trip every 8 KiB).
const LOCAL_READ_CHUNK: usize = 512 * 1024;

/// Which store to open.
#[derive(Debug, Clone)]
pub enum ObjectsConfig {
    /// A directory on local disk (created if missing).
    Local { root: PathBuf },
    /// An S3-compatible server; the bucket is created if missing.
    S3(S3Config),
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("object {0} not found")]
    NotFound(String),
    #[error("upload exceeds the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// The body being uploaded failed (client went away, malformed request).
    #[error("upload body: {0}")]
    Body(String),
    #[error("size mismatch for {key}: sent {expected} bytes, the store holds {actual}")]
    SizeMismatch {
        key: String,
        expected: u64,
        actual: u64,
    },
    #[error("checksum mismatch for {key}: expected {expected}, stored {actual}")]
    ChecksumMismatch {
        key: String,
        expected: String,
        actual: String,
    },
    #[error("invalid object key '{0}'")]
    InvalidKey(String),
    /// The store could not be reached or failed.
    #[error("object store: {0}")]
    Store(String),
}

impl From<object_store::Error> for ObjectError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { path, .. } => ObjectError::NotFound(path),
            other => ObjectError::Store(other.to_string()),
        }
    }
}

pub type Result<T, E = ObjectError> = std::result::Result<T, E>;

/// What was stored by an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub size: u64,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
}

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub last_modified: chrono::DateTime<chrono::Utc>,
}

/// A download: the byte range being sent out of the object's total size, and the bytes.
pub struct Download {
    pub total: u64,
    pub range: Range<u64>,
    pub stream: BoxStream<'static, Result<Bytes>>,
}

/// The object store the program uses. Cheap to clone.
#[derive(Clone)]
pub struct Objects {
    inner: Arc<dyn ObjectStore>,
    description: String,
    kind: &'static str,
    /// The directory of a local store (for free-space checks); `None` for S3.
    root: Option<std::path::PathBuf>,
    /// A local store, which uploads write directly (`local.rs`).
    local: Option<Arc<object_store::local::LocalFileSystem>>,
    /// An S3 server, for uploads of a known size streamed in one `PUT` (`s3_put.rs`).
    s3: Option<Arc<(S3Config, reqwest::Client)>>,
}

impl std::fmt::Debug for Objects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.description)
    }
}

fn key(k: &str) -> Result<Key> {
    Key::parse(k).map_err(|_| ObjectError::InvalidKey(k.to_owned()))
}

impl Objects {
    /// Opens the configured store: creates the directory, or the bucket if it is missing.
    pub async fn open(config: &ObjectsConfig) -> Result<Objects> {
        match config {
            ObjectsConfig::Local { root } => Self::local(root),
            ObjectsConfig::S3(s3) => {
                let store = s3.open().await?;
                s3::install_tls_provider();
                Ok(Objects {
                    inner: Arc::new(store),
                    description: s3.describe(),
                    kind: "s3",
                    root: None,
                    local: None,
                    s3: Some(Arc::new((s3.clone(), reqwest::Client::new()))),
                })
            }
        }
    }

    /// A store in the directory `root` (created if missing).
    pub fn local(root: &std::path::Path) -> Result<Objects> {
        std::fs::create_dir_all(root)
            .map_err(|e| ObjectError::Store(format!("cannot create {}: {e}", root.display())))?;
        // fsync: a put returns once the file and its directory entry are on disk, so an
        // acknowledged upload (or backup) survives a crash.
        let fs =
            Arc::new(object_store::local::LocalFileSystem::new_with_prefix(root)?.with_fsync(true));
        Ok(Objects {
            inner: fs.clone(),
            description: format!("local directory {}", root.display()),
            kind: "local",
            root: Some(root.to_path_buf()),
            local: Some(fs),
            s3: None,
        })
    }

    /// The directory of a local store; `None` for an S3 server.
    pub fn local_root(&self) -> Option<&std::path::Path> {
        self.root.as_deref()
    }

    /// `local` or `s3`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Where objects go, for logs (never includes credentials).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Streams `body` into the object `k`, at most `limit` bytes; returns its size and SHA-256.
    /// On any error nothing is left behind under `k` (a multipart upload is aborted).
    ///
    /// The bytes hashed are the very buffers handed to the store, and the store's size is
    /// checked afterwards; the object is not read back (that re-read the page cache, not the
    /// disk, and cost as much as the upload). Integrity on the way to the store: a local store
    /// is written and fsynced in this process (`local.rs`); each S3 part (or signed chunk of a
    /// streamed `PUT`) carries its SHA-256 in the request signature, which the server checks
    /// before accepting it.
    pub async fn put_stream<E: std::fmt::Display>(
        &self,
        k: &str,
        body: impl futures_util::Stream<Item = std::result::Result<Bytes, E>> + Send,
        limit: u64,
    ) -> Result<Stored> {
        self.put_stream_sized(k, body, limit, None).await
    }

    /// [`Objects::put_stream`] of a body announced as `declared` bytes (an upload's
    /// `Content-Length`): an S3 server then gets it as one streamed `PUT` with signed chunks
    /// rather than as a multipart upload (`s3_put.rs`). A body of another length fails.
    pub async fn put_stream_sized<E: std::fmt::Display>(
        &self,
        k: &str,
        body: impl futures_util::Stream<Item = std::result::Result<Bytes, E>> + Send,
        limit: u64,
        declared: Option<u64>,
    ) -> Result<Stored> {
        let location = key(k)?;
        if let Some(fs) = &self.local {
            return local::put(fs.path_to_filesystem(&location)?, body, limit).await;
        }
        if let (Some(size), Some(s3)) = (declared, &self.s3) {
            if size > limit {
                return Err(ObjectError::TooLarge { limit });
            }
            let mut hashing = Hashing::default();
            let (config, client) = s3.as_ref();
            if let Err(e) =
                s3_put::put(client, config, location.as_ref(), body, size, &mut hashing).await
            {
                // A server may keep what it received of a failed PUT.
                if let Err(d) = self.delete(k).await {
                    tracing::warn!(key = k, error = %d, "removing a failed upload failed");
                }
                return Err(e);
            }
            let sha256 = hashing.finish().await?;
            self.check_stored_size(k, &location, size).await?;
            return Ok(Stored { size, sha256 });
        }
        let mut body = std::pin::pin!(body);
        let mut hashing = Hashing::default();
        let mut size: u64 = 0;
        let take = |chunk: &Bytes, size: &mut u64| -> Result<()> {
            *size += chunk.len() as u64;
            if *size > limit {
                return Err(ObjectError::TooLarge { limit });
            }
            Ok(())
        };
        // Small objects (one part or less) go up in one request.
        let mut first: Vec<Bytes> = Vec::new();
        let mut buffered = 0usize;
        let mut ended = false;
        while buffered < PART_SIZE {
            match body.next().await {
                Some(Ok(chunk)) => {
                    take(&chunk, &mut size)?;
                    buffered += chunk.len();
                    hashing.push(chunk.clone()).await?;
                    first.push(chunk);
                }
                Some(Err(e)) => return Err(ObjectError::Body(e.to_string())),
                None => {
                    ended = true;
                    break;
                }
            }
        }
        if ended {
            let payload: PutPayload = first.into_iter().collect();
            self.inner.put(&location, payload).await?;
        } else {
            let upload = self.inner.put_multipart(&location).await?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
            for chunk in first {
                writer.put(chunk);
            }
            // Back-pressure: at most this many parts in flight; an S3 server takes parts in
            // parallel, which hides each part's round trip.
            let in_flight = 4;
            let result: Result<()> = async {
                while let Some(chunk) = body.next().await {
                    let chunk = chunk.map_err(|e| ObjectError::Body(e.to_string()))?;
                    take(&chunk, &mut size)?;
                    hashing.push(chunk.clone()).await?;
                    writer.wait_for_capacity(in_flight).await?;
                    writer.put(chunk);
                }
                Ok(())
            }
            .await;
            match result {
                Ok(()) => {
                    writer.finish().await?;
                }
                Err(e) => {
                    if let Err(abort) = writer.abort().await {
                        tracing::warn!(key = k, error = %abort, "aborting a failed upload failed");
                    }
                    return Err(e);
                }
            }
        }
        let sha256 = hashing.finish().await?;
        self.check_stored_size(k, &location, size).await?;
        Ok(Stored { size, sha256 })
    }

    /// One metadata request: a store that lost or truncated a part is caught here (and the
    /// object removed).
    async fn check_stored_size(&self, k: &str, location: &Key, size: u64) -> Result<()> {
        let stored = self.inner.head(location).await?.size;
        if stored != size {
            if let Err(e) = self.delete(k).await {
                tracing::warn!(key = k, error = %e, "removing a short object failed");
            }
            return Err(ObjectError::SizeMismatch {
                key: k.to_owned(),
                expected: size,
                actual: stored,
            });
        }
        Ok(())
    }

    /// Stores `bytes` under `k`.
    pub async fn put_bytes(&self, k: &str, bytes: Bytes) -> Result<()> {
        self.inner.put(&key(k)?, bytes.into()).await?;
        Ok(())
    }

    /// Reads the stored object back and computes its size and SHA-256 (streamed).
    pub async fn checksum(&self, k: &str) -> Result<Stored> {
        let mut stream = self.get(k, None).await?.stream;
        let mut hasher = digest::Context::new(&digest::SHA256);
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            size += chunk.len() as u64;
            hasher.update(&chunk);
        }
        Ok(Stored {
            size,
            sha256: hex::encode(hasher.finish()),
        })
    }

    /// Fails with [`ObjectError::ChecksumMismatch`] unless the stored object hashes to `sha256`.
    pub async fn verify(&self, k: &str, sha256: &str) -> Result<Stored> {
        let stored = self.checksum(k).await?;
        if !stored.sha256.eq_ignore_ascii_case(sha256) {
            return Err(ObjectError::ChecksumMismatch {
                key: k.to_owned(),
                expected: sha256.to_ascii_lowercase(),
                actual: stored.sha256,
            });
        }
        Ok(stored)
    }

    /// Streams the object, or the byte range `range` of it (clamped to its size).
    pub async fn get(&self, k: &str, range: Option<Range<u64>>) -> Result<Download> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let result = self.inner.get_opts(&key(k)?, options).await?;
        let total = result.meta.size;
        let range = result.range.clone();
        let stream = match result.payload {
            GetResultPayload::File(file, _) => read_file(file, range.clone()),
            GetResultPayload::Stream(s) => s.map_err(ObjectError::from).boxed(),
        };
        Ok(Download {
            total,
            range,
            stream,
        })
    }

    /// The whole object in memory (for small objects such as manifests).
    pub async fn get_bytes(&self, k: &str) -> Result<Bytes> {
        Ok(self.inner.get(&key(k)?).await?.bytes().await?)
    }

    /// Size of the object, or [`ObjectError::NotFound`].
    pub async fn size(&self, k: &str) -> Result<u64> {
        Ok(self.inner.head(&key(k)?).await?.size)
    }

    /// Deletes the object; deleting a missing object succeeds.
    pub async fn delete(&self, k: &str) -> Result<()> {
        match self.inner.delete(&key(k)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every object in the store.
    pub async fn list_all(&self) -> Result<Vec<ObjectInfo>> {
        let mut out: Vec<ObjectInfo> = self
            .inner
            .list(None)
            .map_ok(|m| ObjectInfo {
                key: m.location.to_string(),
                size: m.size,
                last_modified: m.last_modified,
            })
            .try_collect()
            .await?;
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// Every object whose key starts with the directory `prefix` (e.g. `artifacts`).
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let prefix = key(prefix)?;
        let mut out: Vec<ObjectInfo> = self
            .inner
            .list(Some(&prefix))
            .map_ok(|m| ObjectInfo {
                key: m.location.to_string(),
                size: m.size,
                last_modified: m.last_modified,
            })
            .try_collect()
            .await?;
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

/// The SHA-256 of an upload, computed on the blocking pool one batch at a time: while one batch
/// is hashed, the task goes on reading the next from the socket. Batches are hashed in order
/// (a batch starts only after the previous one finished).
#[derive(Default)]
pub(crate) struct Hashing {
    running: Option<tokio::task::JoinHandle<digest::Context>>,
    batch: Vec<Bytes>,
    batched: usize,
}

impl Hashing {
    pub(crate) async fn push(&mut self, chunk: Bytes) -> Result<()> {
        self.batched += chunk.len();
        self.batch.push(chunk);
        if self.batched >= HASH_BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        let mut hasher = match self.running.take() {
            Some(job) => job
                .await
                .map_err(|e| ObjectError::Store(format!("hashing: {e}")))?,
            None => digest::Context::new(&digest::SHA256),
        };
        let batch = std::mem::take(&mut self.batch);
        self.batched = 0;
        self.running = Some(tokio::task::spawn_blocking(move || {
            for chunk in &batch {
                hasher.update(chunk);
            }
            hasher
        }));
        Ok(())
    }

    async fn finish(mut self) -> Result<String> {
        self.flush().await?;
        let hasher = match self.running.take() {
            Some(job) => job
                .await
                .map_err(|e| ObjectError::Store(format!("hashing: {e}")))?,
            None => digest::Context::new(&digest::SHA256),
        };
        Ok(hex::encode(hasher.finish()))
    }
}

/// Streams `range` of a local file in [`LOCAL_READ_CHUNK`] reads on the blocking pool.
fn read_file(file: std::fs::File, range: Range<u64>) -> BoxStream<'static, Result<Bytes>> {
    use std::io::{Read, Seek, SeekFrom};
    let read_error = |e: std::io::Error| ObjectError::Store(format!("reading a local object: {e}"));
    futures_util::stream::try_unfold(
        (Some(file), range.start, range.end),
        move |(file, at, end)| async move {
            let Some(mut file) = file else {
                return Ok(None);
            };
            if at >= end {
                return Ok(None);
            }
            let (file, chunk) = tokio::task::spawn_blocking(move || {
                let want =
                    usize::try_from(end - at).map_or(LOCAL_READ_CHUNK, |n| n.min(LOCAL_READ_CHUNK));
                let mut buffer = Vec::with_capacity(want);
                file.seek(SeekFrom::Start(at))?;
                (&mut file).take(want as u64).read_to_end(&mut buffer)?;
                Ok::<_, std::io::Error>((file, buffer))
            })
            .await
            .map_err(|e| ObjectError::Store(format!("reading a local object: {e}")))?
            .map_err(read_error)?;
            if chunk.is_empty() {
                return Err(ObjectError::Store(
                    "a local object ended before its recorded size".to_owned(),
                ));
            }
            let next = at + chunk.len() as u64;
            Ok(Some((Bytes::from(chunk), (Some(file), next, end))))
        },
    )
    .boxed()
}
