//! One suite, every store: each test runs against a local directory and against a real
//! S3-compatible server on loopback that checks request signatures (s3s-fs; skipped loudly when
//! absent unless `TAYLORDASH_REQUIRE_S3=1`).

use bytes::Bytes;
use futures_util::StreamExt;
use objects::{ObjectError, Objects, ObjectsConfig, PART_SIZE, S3Config};
use sha2::{Digest, Sha256};
use testsupport::S3Server;

struct Fixture {
    objects: Objects,
    _dir: Option<tempfile::TempDir>,
    _server: Option<S3Server>,
}

async fn local() -> Option<Fixture> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let objects = Objects::open(&ObjectsConfig::Local {
        root: dir.path().join("objects"),
    })
    .await
    .expect("open local store");
    Some(Fixture {
        objects,
        _dir: Some(dir),
        _server: None,
    })
}

fn s3_config(server: &S3Server, bucket: &str) -> S3Config {
    S3Config {
        endpoint: Some(server.endpoint.clone()),
        bucket: bucket.to_owned(),
        region: "eu-west-1".into(),
        access_key_id: server.access_key.clone(),
        secret_access_key: server.secret_key.clone(),
        path_style: true,
    }
}

async fn s3() -> Option<Fixture> {
    let server = S3Server::start()?;
    // The bucket does not exist yet: opening creates it.
    let objects = Objects::open(&ObjectsConfig::S3(s3_config(&server, "taylordash-test")))
        .await
        .expect("open s3 store");
    Some(Fixture {
        objects,
        _dir: None,
        _server: Some(server),
    })
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod local_store {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(f) = super::local().await {
                        super::$name(&f.objects).await;
                    }
                }
            )*
        }
        mod s3_store {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(f) = super::s3().await {
                        super::$name(&f.objects).await;
                    }
                }
            )*
        }
    };
}

both!(
    small_round_trip,
    large_streamed_round_trip_with_ranges,
    limit_stops_upload_and_leaves_nothing,
    failed_body_leaves_nothing,
    checksum_mismatch_is_detected,
    delete_is_idempotent_and_missing_is_not_found,
    list_by_prefix,
    sized_upload_round_trip,
    sized_upload_of_another_length_leaves_nothing,
);

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn chunks(
    bytes: &[u8],
    size: usize,
) -> impl futures_util::Stream<Item = Result<Bytes, String>> + use<> {
    let parts: Vec<Result<Bytes, String>> = bytes
        .chunks(size)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures_util::stream::iter(parts)
}

async fn read_all(objects: &Objects, key: &str, range: Option<std::ops::Range<u64>>) -> Vec<u8> {
    let download = objects.get(key, range).await.expect("get");
    let mut out = Vec::new();
    let mut stream = download.stream;
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.expect("chunk"));
    }
    out
}

async fn small_round_trip(objects: &Objects) {
    let body = b"hello artifacts".to_vec();
    let stored = objects
        .put_stream("artifacts/p/one", chunks(&body, 4), 1024)
        .await
        .expect("put");
    assert_eq!(stored.size, body.len() as u64);
    assert_eq!(stored.sha256, hex::encode(Sha256::digest(&body)));
    assert_eq!(read_all(objects, "artifacts/p/one", None).await, body);
    assert_eq!(objects.size("artifacts/p/one").await.expect("size"), 15);
    assert_eq!(
        objects.checksum("artifacts/p/one").await.expect("checksum"),
        stored
    );
    objects
        .put_bytes("artifacts/p/empty", Bytes::new())
        .await
        .expect("empty object");
    assert!(
        read_all(objects, "artifacts/p/empty", None)
            .await
            .is_empty()
    );
}

async fn large_streamed_round_trip_with_ranges(objects: &Objects) {
    // More than two parts, in small chunks as an HTTP body arrives.
    let body = data(2 * PART_SIZE + 12345);
    let stored = objects
        .put_stream("artifacts/p/big", chunks(&body, 64 * 1024), u64::MAX)
        .await
        .expect("put");
    assert_eq!(stored.size, body.len() as u64);
    assert_eq!(stored.sha256, hex::encode(Sha256::digest(&body)));
    let whole = read_all(objects, "artifacts/p/big", None).await;
    assert!(whole == body, "round trip differs");
    let range = (PART_SIZE as u64 - 10)..(PART_SIZE as u64 + 10);
    let download = objects
        .get("artifacts/p/big", Some(range.clone()))
        .await
        .expect("range");
    assert_eq!(download.total, body.len() as u64);
    assert_eq!(download.range, range);
    assert_eq!(
        read_all(objects, "artifacts/p/big", Some(range.clone())).await,
        body[range.start as usize..range.end as usize]
    );
    objects
        .verify("artifacts/p/big", &stored.sha256)
        .await
        .expect("verify");
}

async fn limit_stops_upload_and_leaves_nothing(objects: &Objects) {
    let err = objects
        .put_stream("artifacts/p/small-limit", chunks(&data(100), 10), 99)
        .await
        .expect_err("over the limit");
    assert!(matches!(err, ObjectError::TooLarge { limit: 99 }), "{err}");
    // Past the first part: the multipart upload is aborted.
    let big = data(PART_SIZE + 2 * 1024 * 1024);
    let limit = PART_SIZE as u64 + 1024 * 1024;
    let err = objects
        .put_stream("artifacts/p/big-limit", chunks(&big, 64 * 1024), limit)
        .await
        .expect_err("over the limit");
    assert!(matches!(err, ObjectError::TooLarge { .. }), "{err}");
    let left = objects.list("artifacts/p").await.expect("list");
    assert!(
        left.iter().all(|o| !o.key.contains("limit")),
        "a refused upload left {left:?}"
    );
}

async fn failed_body_leaves_nothing(objects: &Objects) {
    let mut parts: Vec<Result<Bytes, String>> = data(PART_SIZE + 100)
        .chunks(64 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    parts.push(Err("client went away".into()));
    let err = objects
        .put_stream(
            "artifacts/p/broken",
            futures_util::stream::iter(parts),
            u64::MAX,
        )
        .await
        .expect_err("body failed");
    assert!(matches!(err, ObjectError::Body(_)), "{err}");
    assert!(matches!(
        objects.size("artifacts/p/broken").await,
        Err(ObjectError::NotFound(_))
    ));
}

async fn checksum_mismatch_is_detected(objects: &Objects) {
    let stored = objects
        .put_stream("artifacts/p/sum", chunks(b"original", 3), 100)
        .await
        .expect("put");
    objects
        .verify("artifacts/p/sum", &stored.sha256)
        .await
        .expect("matches");
    // The object changes behind our back (bit rot, another writer).
    objects
        .put_bytes("artifacts/p/sum", Bytes::from_static(b"0riginal"))
        .await
        .expect("overwrite");
    let err = objects
        .verify("artifacts/p/sum", &stored.sha256)
        .await
        .expect_err("mismatch");
    assert!(matches!(err, ObjectError::ChecksumMismatch { .. }), "{err}");
}

async fn delete_is_idempotent_and_missing_is_not_found(objects: &Objects) {
    objects
        .put_bytes("artifacts/p/gone", Bytes::from_static(b"x"))
        .await
        .expect("put");
    objects.delete("artifacts/p/gone").await.expect("delete");
    objects
        .delete("artifacts/p/gone")
        .await
        .expect("delete again");
    assert!(matches!(
        objects.get("artifacts/p/gone", None).await,
        Err(ObjectError::NotFound(_))
    ));
    assert!(matches!(
        objects.checksum("artifacts/p/never").await,
        Err(ObjectError::NotFound(_))
    ));
}

async fn list_by_prefix(objects: &Objects) {
    for k in [
        "artifacts/a/1",
        "artifacts/a/2",
        "artifacts/b/1",
        "backups/x/manifest.json",
    ] {
        objects
            .put_bytes(k, Bytes::from_static(b"abc"))
            .await
            .expect("put");
    }
    let keys: Vec<String> = objects
        .list("artifacts")
        .await
        .expect("list")
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(keys, ["artifacts/a/1", "artifacts/a/2", "artifacts/b/1"]);
    let a = objects.list("artifacts/a").await.expect("list");
    assert_eq!(a.len(), 2);
    assert!(a.iter().all(|o| o.size == 3));
    assert!(objects.list("nothing").await.expect("list").is_empty());
}

#[tokio::test]
async fn s3_opening_an_existing_bucket_twice_works() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let config = ObjectsConfig::S3(s3_config(&server, "reopened"));
    let first = Objects::open(&config).await.expect("create bucket");
    first
        .put_bytes("k", Bytes::from_static(b"v"))
        .await
        .expect("put");
    let second = Objects::open(&config).await.expect("bucket exists");
    assert_eq!(
        second.get_bytes("k").await.expect("get"),
        Bytes::from_static(b"v")
    );
    assert_eq!(second.kind(), "s3");
}

/// The server checks signatures: the right access key with a wrong secret is refused at open,
/// and so is an unknown access key, while the right pair works.
#[tokio::test]
async fn s3_wrong_credentials_are_refused() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let good = s3_config(&server, "signed");
    Objects::open(&ObjectsConfig::S3(good.clone()))
        .await
        .expect("the right credentials open the store");
    for (access_key, secret_key) in [
        (
            server.access_key.clone(),
            format!("{}-wrong", server.secret_key),
        ),
        ("someone-else".to_owned(), server.secret_key.clone()),
    ] {
        let config = ObjectsConfig::S3(S3Config {
            access_key_id: access_key.clone(),
            secret_access_key: secret_key,
            ..good.clone()
        });
        let err = Objects::open(&config)
            .await
            .expect_err("a request signed with other credentials is refused");
        assert!(matches!(err, ObjectError::Store(_)), "{access_key}: {err}");
    }
}

#[tokio::test]
async fn s3_unreachable_server_is_an_error() {
    let config = ObjectsConfig::S3(S3Config {
        endpoint: Some(format!("http://127.0.0.1:{}", testsupport::free_port())),
        bucket: "b".into(),
        region: "us-east-1".into(),
        access_key_id: "a".into(),
        secret_access_key: "s".into(),
        path_style: true,
    });
    let err = tokio::time::timeout(std::time::Duration::from_secs(120), Objects::open(&config))
        .await
        .expect("gives up")
        .expect_err("nothing listens there");
    assert!(matches!(err, ObjectError::Store(_)), "{err}");
}

/// An upload whose length is declared (an HTTP `Content-Length`): on S3 one streamed `PUT` with
/// signed chunks, which the server checks, across chunk boundaries.
async fn sized_upload_round_trip(objects: &Objects) {
    for (key, len, piece) in [
        ("artifacts/p/sized-empty", 0, 1),
        ("artifacts/p/sized-small", 1000, 7),
        (
            "artifacts/p/sized-big",
            3 * 1024 * 1024 + 12_345,
            64 * 1024 + 3,
        ),
    ] {
        let body = data(len);
        let stored = objects
            .put_stream_sized(key, chunks(&body, piece), u64::MAX, Some(len as u64))
            .await
            .expect("sized put");
        assert_eq!(stored.size, len as u64);
        assert_eq!(stored.sha256, hex::encode(Sha256::digest(&body)));
        assert_eq!(read_all(objects, key, None).await, body, "{key}");
        objects.verify(key, &stored.sha256).await.expect("verify");
    }
}

async fn sized_upload_of_another_length_leaves_nothing(objects: &Objects) {
    let body = data(2 * 1024 * 1024);
    for (key, declared) in [
        ("artifacts/p/sized-short", body.len() as u64 + 1),
        ("artifacts/p/sized-long", body.len() as u64 - 1),
    ] {
        let result = objects
            .put_stream_sized(key, chunks(&body, 64 * 1024), u64::MAX, Some(declared))
            .await;
        // The local store takes the bytes it gets (the HTTP layer enforces the declared
        // length); a streamed S3 PUT refuses another length.
        if objects.kind() == "s3" {
            let err = result.expect_err("length differs");
            assert!(matches!(err, ObjectError::Body(_)), "{err}");
            assert!(
                matches!(objects.size(key).await, Err(ObjectError::NotFound(_))),
                "{key} left behind"
            );
        }
    }
}
