//! Object storage behind one interface: an S3-compatible server (SeaweedFS in the stack) when one is
//! configured, else a directory under the data directory. Both are reached through the
//! `object_store` crate, so the same code (and the same conformance suite) covers both.
//!
//! Uploads are streamed: [`Objects::put_stream`] holds at most one part (a few MiB) in memory,
//! hashes what passes through with SHA-256 and stops at a size limit. Downloads are streams too,
//! optionally of a byte range.

mod s3;

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path as Key;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use sha2::{Digest, Sha256};

pub use s3::S3Config;

/// Size of one multipart part; S3 requires at least 5 MiB for every part but the last.
pub const PART_SIZE: usize = 5 * 1024 * 1024;

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
                Ok(Objects {
                    inner: Arc::new(store),
                    description: s3.describe(),
                    kind: "s3",
                    root: None,
                })
            }
        }
    }

    /// A store in the directory `root` (created if missing).
    pub fn local(root: &std::path::Path) -> Result<Objects> {
        std::fs::create_dir_all(root)
            .map_err(|e| ObjectError::Store(format!("cannot create {}: {e}", root.display())))?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(root)?;
        Ok(Objects {
            inner: Arc::new(fs),
            description: format!("local directory {}", root.display()),
            kind: "local",
            root: Some(root.to_path_buf()),
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
    pub async fn put_stream<E: std::fmt::Display>(
        &self,
        k: &str,
        body: impl futures_util::Stream<Item = std::result::Result<Bytes, E>> + Send,
        limit: u64,
    ) -> Result<Stored> {
        let location = key(k)?;
        let mut body = std::pin::pin!(body);
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let mut take = |chunk: &Bytes, size: &mut u64| -> Result<()> {
            *size += chunk.len() as u64;
            if *size > limit {
                return Err(ObjectError::TooLarge { limit });
            }
            hasher.update(chunk);
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
            let result: Result<()> = async {
                while let Some(chunk) = body.next().await {
                    let chunk = chunk.map_err(|e| ObjectError::Body(e.to_string()))?;
                    take(&chunk, &mut size)?;
                    // Back-pressure: at most two parts in flight.
                    writer.wait_for_capacity(2).await?;
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
        Ok(Stored {
            size,
            sha256: hex::encode(hasher.finalize()),
        })
    }

    /// Stores `bytes` under `k`.
    pub async fn put_bytes(&self, k: &str, bytes: Bytes) -> Result<()> {
        self.inner.put(&key(k)?, bytes.into()).await?;
        Ok(())
    }

    /// Reads the stored object back and computes its size and SHA-256 (streamed).
    pub async fn checksum(&self, k: &str) -> Result<Stored> {
        let mut stream = self.inner.get(&key(k)?).await?.into_stream();
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            size += chunk.len() as u64;
            hasher.update(&chunk);
        }
        Ok(Stored {
            size,
            sha256: hex::encode(hasher.finalize()),
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
        Ok(Download {
            total: result.meta.size,
            range: result.range.clone(),
            stream: result.into_stream().map_err(ObjectError::from).boxed(),
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
