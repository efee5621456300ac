//! One streamed `PUT` of an object whose size is known in advance (an upload with a declared
//! `Content-Length`), instead of a multipart upload: the body goes out as it arrives, in
//! `aws-chunked` encoding with every chunk signed (AWS Signature Version 4,
//! `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`). The server checks each chunk's SHA-256 against its
//! signature, and each signature chains the previous one, so a reordered, altered or truncated
//! body is refused, as a multipart upload's signed parts are.
//!
//! `object_store` takes a `PUT` body only in memory, hence this module. A multipart upload costs
//! the server more than one `PUT`: it stores every part, then (s3s-fs, for one) reads them all
//! back to assemble the object and computes its MD5 (docs/benchmarks.md, "Uploads").

use bytes::Bytes;
use futures_util::StreamExt;
use ring::{digest, hmac};

use crate::{Hashing, ObjectError, Result, S3Config};

/// Object bytes per signed chunk.
pub(crate) const CHUNK: usize = 1024 * 1024;

/// Frames (chunks) queued between reading the upload and sending it.
const QUEUE: usize = 4;

const STREAMING: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";

/// SHA-256 of nothing: every chunk's string to sign carries it.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const SIGNED_HEADERS: &str = "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length";

/// Bytes on the wire for a chunk of `n` object bytes: `<hex n>;chunk-signature=<64>\r\n<n>\r\n`.
fn frame_length(n: u64) -> u64 {
    format!("{n:x}").len() as u64 + ";chunk-signature=".len() as u64 + 64 + 2 + n + 2
}

/// The `Content-Length` of an `aws-chunked` body carrying `size` bytes in chunks of `chunk`,
/// the closing empty chunk included.
pub(crate) fn encoded_length(size: u64, chunk: u64) -> u64 {
    let rest = size % chunk;
    (size / chunk) * frame_length(chunk)
        + if rest > 0 { frame_length(rest) } else { 0 }
        + frame_length(0)
}

/// Percent-encodes an object key for the request path (as `object_store` does: everything but
/// letters, digits, `/`, `-`, `.`, `_` and `~`).
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The signing state of one request: the key of its day and the previous signature.
pub(crate) struct Signer {
    key: hmac::Key,
    amz_date: String,
    scope: String,
    previous: String,
}

impl Signer {
    /// Signs the request head (the seed signature); returns the signer and the
    /// `Authorization` header.
    pub(crate) fn seed(
        config: &S3Config,
        now: chrono::DateTime<chrono::Utc>,
        path: &str,
        host: &str,
        size: u64,
        wire_length: u64,
    ) -> (Signer, String) {
        let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
        let day = now.format("%Y%m%d").to_string();
        let canonical = format!(
            "PUT\n{path}\n\ncontent-encoding:aws-chunked\ncontent-length:{wire_length}\n\
             host:{host}\nx-amz-content-sha256:{STREAMING}\nx-amz-date:{amz_date}\n\
             x-amz-decoded-content-length:{size}\n\n{SIGNED_HEADERS}\n{STREAMING}"
        );
        let scope = format!("{day}/{}/s3/aws4_request", config.region);
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex::encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
        );
        let sign = |key: &[u8], data: &str| {
            hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
        };
        let k_date = sign(format!("AWS4{}", config.secret_access_key).as_bytes(), &day);
        let k_region = sign(k_date.as_ref(), &config.region);
        let k_service = sign(k_region.as_ref(), "s3");
        let k_signing = sign(k_service.as_ref(), "aws4_request");
        let key = hmac::Key::new(hmac::HMAC_SHA256, k_signing.as_ref());
        let seed = hex::encode(hmac::sign(&key, to_sign.as_bytes()));
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={SIGNED_HEADERS}, \
             Signature={seed}",
            config.access_key_id
        );
        (
            Signer {
                key,
                amz_date,
                scope,
                previous: seed,
            },
            authorization,
        )
    }

    /// The head of the chunk made of `pieces` (`<hex length>;chunk-signature=<signature>\r\n`).
    pub(crate) fn chunk_head(&mut self, pieces: &[Bytes]) -> Bytes {
        let mut hasher = digest::Context::new(&digest::SHA256);
        let mut length = 0usize;
        for p in pieces {
            hasher.update(p);
            length += p.len();
        }
        let to_sign = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{EMPTY_SHA256}\n{}",
            self.amz_date,
            self.scope,
            self.previous,
            hex::encode(hasher.finish())
        );
        self.previous = hex::encode(hmac::sign(&self.key, to_sign.as_bytes()));
        Bytes::from(format!("{length:x};chunk-signature={}\r\n", self.previous))
    }
}

/// Where the object goes: the URL, the `Host` header and the path as signed.
fn target(config: &S3Config, key: &str) -> (String, String, String) {
    let base = config.endpoint_url();
    let key = encode_key(key);
    if config.path_style {
        let path = format!("/{}/{key}", config.bucket);
        (format!("{base}{path}"), crate::s3::host_of(&base), path)
    } else {
        let (scheme, rest) = base.split_once("://").unwrap_or(("https", &base));
        let host = format!("{}.{}", config.bucket, crate::s3::host_of(rest));
        let path = format!("/{key}");
        (format!("{scheme}://{host}{path}"), host, path)
    }
}

type Frame = std::result::Result<Bytes, std::io::Error>;

/// Streams `body` (exactly `size` bytes) into `key` with one signed `PUT`, handing each buffer
/// to `hashing` (the SHA-256 of the whole object) as it goes.
pub(crate) async fn put<E: std::fmt::Display>(
    client: &reqwest::Client,
    config: &S3Config,
    key: &str,
    body: impl futures_util::Stream<Item = std::result::Result<Bytes, E>> + Send,
    size: u64,
    hashing: &mut Hashing,
) -> Result<()> {
    let (url, host, path) = target(config, key);
    let wire_length = encoded_length(size, CHUNK as u64);
    let (mut signer, authorization) =
        Signer::seed(config, chrono::Utc::now(), &path, &host, size, wire_length);
    let (tx, rx) = tokio::sync::mpsc::channel::<Frame>(QUEUE);
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|frame| (frame, rx))
    });
    let request = client
        .put(&url)
        .header("authorization", authorization)
        .header("content-encoding", "aws-chunked")
        .header("content-length", wire_length)
        .header("x-amz-content-sha256", STREAMING)
        .header("x-amz-date", signer.amz_date.clone())
        .header("x-amz-decoded-content-length", size)
        .body(reqwest::Body::wrap_stream(frames))
        .send();
    let produce = async move {
        let result = frames_of(body, size, &tx, &mut signer, hashing).await;
        if result.is_err() {
            // A failed body aborts the request.
            let _ = tx
                .send(Err(std::io::Error::other("the upload failed")))
                .await;
        }
        result
    };
    let (produced, response) = futures_util::future::join(produce, request).await;
    produced?;
    let response = response.map_err(|e| ObjectError::Store(format!("PUT {key}: {e}")))?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        return Err(ObjectError::Store(format!(
            "PUT {key} answered {status}: {}",
            text.chars().take(300).collect::<String>()
        )));
    }
    Ok(())
}

/// Reads `body`, checks it is `size` bytes long, and sends it as signed chunks.
async fn frames_of<E: std::fmt::Display>(
    body: impl futures_util::Stream<Item = std::result::Result<Bytes, E>> + Send,
    size: u64,
    tx: &tokio::sync::mpsc::Sender<Frame>,
    signer: &mut Signer,
    hashing: &mut Hashing,
) -> Result<()> {
    {
        let mut body = std::pin::pin!(body);
        let mut pending: Vec<Bytes> = Vec::new();
        let mut buffered = 0usize;
        let mut seen: u64 = 0;
        let mut ended = false;
        while !ended {
            match body.next().await {
                Some(Ok(chunk)) => {
                    seen += chunk.len() as u64;
                    if seen > size {
                        return Err(ObjectError::Body(format!(
                            "the upload is longer than its declared {size} bytes"
                        )));
                    }
                    hashing.push(chunk.clone()).await?;
                    buffered += chunk.len();
                    pending.push(chunk);
                }
                Some(Err(e)) => return Err(ObjectError::Body(e.to_string())),
                None => {
                    if seen != size {
                        return Err(ObjectError::Body(format!(
                            "the upload ended after {seen} of its declared {size} bytes"
                        )));
                    }
                    ended = true;
                }
            }
            // Send every full chunk (and, at the end, the rest and the closing empty chunk).
            while buffered >= CHUNK || (ended && buffered > 0) {
                let take = buffered.min(CHUNK);
                let pieces = split_front(&mut pending, take);
                buffered -= take;
                if !send_chunk(tx, signer, pieces).await {
                    // The request ended (the server answered early); its answer says why.
                    return Ok(());
                }
            }
        }
        send_chunk(tx, signer, Vec::new()).await;
        Ok(())
    }
}

/// Sends one signed chunk; `false` when the request no longer takes its body.
async fn send_chunk(
    tx: &tokio::sync::mpsc::Sender<Frame>,
    signer: &mut Signer,
    pieces: Vec<Bytes>,
) -> bool {
    let head = signer.chunk_head(&pieces);
    let mut frames = Vec::with_capacity(pieces.len() + 2);
    frames.push(head);
    frames.extend(pieces);
    frames.push(Bytes::from_static(b"\r\n"));
    for frame in frames {
        if tx.send(Ok(frame)).await.is_err() {
            return false;
        }
    }
    true
}

/// Removes the first `n` bytes of `pending` (splitting a buffer without copying it).
fn split_front(pending: &mut Vec<Bytes>, mut n: usize) -> Vec<Bytes> {
    let mut out = Vec::new();
    while n > 0 {
        let Some(first) = pending.first_mut() else {
            break;
        };
        if first.len() <= n {
            n -= first.len();
            out.push(pending.remove(0));
        } else {
            out.push(first.split_to(n));
            n = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of streamed signing in the AWS documentation ("Signature Calculations for the
    /// Authorization Header: Transferring Payload in Multiple Chunks"): 66,560 bytes of `a` in
    /// chunks of 64 KiB, the seed and every chunk signature as published.
    #[test]
    fn signatures_match_the_aws_example() {
        let config = S3Config {
            endpoint: Some("https://s3.amazonaws.com".into()),
            bucket: "examplebucket".into(),
            region: "us-east-1".into(),
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            path_style: false,
        };
        let now = chrono::DateTime::parse_from_rfc3339("2013-05-24T00:00:00Z")
            .expect("date")
            .with_timezone(&chrono::Utc);
        assert_eq!(encoded_length(66_560, 65_536), 66_824);
        // The example also signs `x-amz-storage-class`; check the chunk chain from its seed.
        let (mut signer, _) = Signer::seed(
            &config,
            now,
            "/examplebucket/chunkObject.txt",
            "s3.amazonaws.com",
            66_560,
            66_824,
        );
        signer.previous = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9".into();
        let head = signer.chunk_head(&[Bytes::from(vec![b'a'; 65_536])]);
        assert_eq!(
            head,
            Bytes::from_static(
                b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n"
            )
        );
        let head = signer.chunk_head(&[Bytes::from(vec![b'a'; 1000]), Bytes::from(vec![b'a'; 24])]);
        assert_eq!(
            head,
            Bytes::from_static(
                b"400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n"
            )
        );
        let head = signer.chunk_head(&[]);
        assert_eq!(
            head,
            Bytes::from_static(
                b"0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n"
            )
        );
    }

    #[test]
    fn keys_are_encoded_like_object_store_does() {
        assert_eq!(encode_key("artifacts/a-b/c_d.e~f"), "artifacts/a-b/c_d.e~f");
        assert_eq!(encode_key("a b/ü"), "a%20b/%C3%BC");
    }

    #[test]
    fn split_front_takes_exact_bytes() {
        let mut pending = vec![Bytes::from_static(b"abc"), Bytes::from_static(b"defg")];
        let out = split_front(&mut pending, 5);
        assert_eq!(
            out,
            vec![Bytes::from_static(b"abc"), Bytes::from_static(b"de")]
        );
        assert_eq!(pending, vec![Bytes::from_static(b"fg")]);
    }
}
