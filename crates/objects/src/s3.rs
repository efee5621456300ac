//! The S3-compatible store: configuration, and creating the bucket when it is missing
//! (`object_store` reads and writes objects but does not manage buckets, so the one
//! `CreateBucket` request is signed here with AWS Signature Version 4).

use futures_util::StreamExt;
use object_store::ObjectStore;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use ring::hmac;
use sha2::{Digest, Sha256};

use crate::ObjectError;

#[derive(Clone)]
pub struct S3Config {
    /// `http(s)://host:port` of the server; `None` means AWS itself.
    pub endpoint: Option<String>,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Address the bucket in the path (`host/bucket/key`, what self-hosted servers expect) rather than the
    /// host name (`bucket.host/key`).
    pub path_style: bool,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[redacted]")
            .field("path_style", &self.path_style)
            .finish()
    }
}

/// reqwest is built without a default TLS provider (to avoid aws-lc-rs); use ring, as the
/// MQTT client does.
pub(crate) fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl S3Config {
    pub(crate) fn describe(&self) -> String {
        format!(
            "s3 bucket {} at {}",
            self.bucket,
            self.endpoint.as_deref().unwrap_or("AWS")
        )
    }

    pub(crate) fn endpoint_url(&self) -> String {
        self.endpoint
            .clone()
            .unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", self.region))
            .trim_end_matches('/')
            .to_owned()
    }

    pub(crate) async fn open(&self) -> crate::Result<AmazonS3> {
        install_tls_provider();
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&self.bucket)
            .with_region(&self.region)
            .with_access_key_id(&self.access_key_id)
            .with_secret_access_key(&self.secret_access_key)
            .with_virtual_hosted_style_request(!self.path_style);
        if let Some(endpoint) = &self.endpoint {
            builder = builder
                .with_endpoint(endpoint.trim_end_matches('/'))
                .with_allow_http(endpoint.starts_with("http://"));
        }
        let store = builder.build()?;
        // One cheap request tells whether the bucket exists and the credentials work.
        let first = store
            .list(Some(&Key::from("taylordash-bucket-probe")))
            .next()
            .await;
        match first {
            None | Some(Ok(_)) => Ok(store),
            Some(Err(e)) if no_such_bucket(&e) => {
                self.create_bucket().await?;
                Ok(store)
            }
            Some(Err(e)) => Err(ObjectError::Store(format!(
                "cannot reach {}: {e}",
                self.describe()
            ))),
        }
    }

    /// `PUT /{bucket}`; an existing bucket owned by us is fine.
    async fn create_bucket(&self) -> crate::Result<()> {
        let base = self.endpoint_url();
        let (url, host) = if self.path_style {
            (format!("{base}/{}", self.bucket), host_of(&base))
        } else {
            let (scheme, rest) = base.split_once("://").unwrap_or(("https", &base));
            let host = format!("{}.{rest}", self.bucket);
            (format!("{scheme}://{host}/"), host)
        };
        let body = if self.region == "us-east-1" {
            String::new()
        } else {
            format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                 <LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
                self.region
            )
        };
        let path = if self.path_style {
            format!("/{}", self.bucket)
        } else {
            "/".to_owned()
        };
        let now = chrono::Utc::now();
        let headers = sign_v4(
            &SignInput {
                method: "PUT",
                host: &host,
                path: &path,
                body: body.as_bytes(),
                region: &self.region,
                access_key_id: &self.access_key_id,
                secret_access_key: &self.secret_access_key,
            },
            now,
        );
        let client = reqwest::Client::new();
        let mut request = client.put(&url).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(|e| {
            ObjectError::Store(format!("cannot create bucket {}: {e}", self.bucket))
        })?;
        let status = response.status();
        if status.is_success() {
            tracing::info!(bucket = %self.bucket, "created the object-store bucket");
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        if text.contains("BucketAlreadyOwnedByYou") {
            return Ok(());
        }
        Err(ObjectError::Store(format!(
            "cannot create bucket {} ({status}): {}",
            self.bucket,
            text.chars().take(300).collect::<String>()
        )))
    }
}

fn no_such_bucket(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. }) || e.to_string().contains("NoSuchBucket")
}

pub(crate) fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

struct SignInput<'a> {
    method: &'a str,
    host: &'a str,
    path: &'a str,
    body: &'a [u8],
    region: &'a str,
    access_key_id: &'a str,
    secret_access_key: &'a str,
}

fn hmac_sha256(key: &[u8], data: &str) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
        .as_ref()
        .to_vec()
}

/// The headers (host excluded: the client sets it) that sign a request without a query string.
fn sign_v4(input: &SignInput<'_>, now: chrono::DateTime<chrono::Utc>) -> Vec<(String, String)> {
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let day = now.format("%Y%m%d").to_string();
    let payload_hash = hex::encode(Sha256::digest(input.body));
    let signed_headers = "host;x-amz-content-sha256;x-amz-date";
    let canonical = format!(
        "{}\n{}\n\nhost:{}\nx-amz-content-sha256:{}\nx-amz-date:{}\n\n{}\n{}",
        input.method, input.path, input.host, payload_hash, amz_date, signed_headers, payload_hash
    );
    let scope = format!("{day}/{}/s3/aws4_request", input.region);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let k_date = hmac_sha256(format!("AWS4{}", input.secret_access_key).as_bytes(), &day);
    let k_region = hmac_sha256(&k_date, input.region);
    let k_service = hmac_sha256(&k_region, "s3");
    let k_signing = hmac_sha256(&k_service, "aws4_request");
    let signature = hex::encode(hmac_sha256(&k_signing, &to_sign));
    vec![
        ("x-amz-date".to_owned(), amz_date),
        ("x-amz-content-sha256".to_owned(), payload_hash),
        (
            "authorization".to_owned(),
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, \
                 Signature={signature}",
                input.access_key_id
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The inputs of the Signature Version 4 example in the AWS documentation (GET, empty body).
    #[test]
    fn credential_scope_and_payload_hash_follow_the_format() {
        let now = chrono::DateTime::parse_from_rfc3339("2013-05-24T00:00:00Z")
            .expect("date")
            .with_timezone(&chrono::Utc);
        let headers = sign_v4(
            &SignInput {
                method: "GET",
                host: "examplebucket.s3.amazonaws.com",
                path: "/",
                body: b"",
                region: "us-east-1",
                access_key_id: "AKIAIOSFODNN7EXAMPLE",
                secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            },
            now,
        );
        let auth = &headers[2].1;
        assert!(auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"
        ));
        assert_eq!(headers[1].1.len(), 64);
    }

    #[test]
    fn debug_hides_the_secret() {
        let c = S3Config {
            endpoint: None,
            bucket: "b".into(),
            region: "us-east-1".into(),
            access_key_id: "id".into(),
            secret_access_key: "very-secret".into(),
            path_style: true,
        };
        assert!(!format!("{c:?}").contains("very-secret"));
    }
}
