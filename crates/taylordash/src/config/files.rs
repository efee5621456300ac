//! Configuration of files and backups: where objects go (S3-compatible server or a local
//! directory), the artifact upload limit and the backup schedule.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::key::{Reader, Redact};
use super::parse::{boolean, from_str, nonzero, path, text};
use super::{ConfigError, Secret, secret};

/// An S3-compatible server.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub endpoint: Option<String>,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub path_style: bool,
}

#[derive(Debug, Clone)]
pub struct FilesConfig {
    /// `None`: a directory (`dir`, default `data_dir/objects`).
    pub s3: Option<S3Settings>,
    pub dir: Option<PathBuf>,
    pub max_upload_bytes: u64,
    /// `None`: no scheduled backups.
    pub backup_interval: Option<Duration>,
    pub backup_keep: usize,
}

impl FilesConfig {
    /// What to open, given the data directory.
    pub fn objects(&self, data_dir: &Path) -> objects::ObjectsConfig {
        match &self.s3 {
            Some(s3) => objects::ObjectsConfig::S3(objects::S3Config {
                endpoint: s3.endpoint.clone(),
                bucket: s3.bucket.clone(),
                region: s3.region.clone(),
                access_key_id: s3.access_key_id.clone(),
                secret_access_key: s3.secret_access_key.expose().to_owned(),
                path_style: s3.path_style,
            }),
            None => objects::ObjectsConfig::Local {
                root: self.dir.clone().unwrap_or_else(|| data_dir.join("objects")),
            },
        }
    }
}

/// Declares the `objects.*`, `artifacts.*` and `backup.*` keys (see `Config::read`).
pub(super) fn read(r: &mut Reader) -> Result<FilesConfig, ConfigError> {
    let dir = r
        .key(
            "objects.dir",
            "TAYLORDASH_OBJECTS_DIR",
            "directory for artifacts and backups when no S3 server is set (default: data_dir/objects)",
        )
        .parse(path)?;
    let endpoint = r
        .key(
            "objects.s3_endpoint",
            "TAYLORDASH_S3_ENDPOINT",
            "S3-compatible server, e.g. http://seaweedfs:8333; with s3_bucket, S3 replaces the directory",
        )
        .or_env("S3_ENDPOINT")
        .parse(s3_endpoint)?;
    // No declared default: setting the bucket is one of the two ways to turn S3 on.
    let bucket = r
        .key(
            "objects.s3_bucket",
            "TAYLORDASH_S3_BUCKET",
            "bucket for artifacts and backups (created if missing; default taylordash)",
        )
        .or_env("S3_BUCKET")
        .parse(bucket_name)?;
    let region = r
        .key("objects.s3_region", "TAYLORDASH_S3_REGION", "S3 region")
        .or_env("S3_REGION")
        .default("us-east-1")
        .parse(text)?;
    let access_key_id = r
        .key(
            "objects.s3_access_key_id",
            "TAYLORDASH_S3_ACCESS_KEY_ID",
            "S3 access key id (also read from S3_ACCESS_KEY_ID and v1's MINIO_ROOT_USER)",
        )
        .or_env("S3_ACCESS_KEY_ID")
        .or_env("MINIO_ROOT_USER")
        .parse(text)?;
    let secret_access_key = r
        .key(
            "objects.s3_secret_access_key",
            "TAYLORDASH_S3_SECRET_ACCESS_KEY",
            "S3 secret key (also read from S3_SECRET_ACCESS_KEY and v1's MINIO_ROOT_PASSWORD)",
        )
        .or_env("S3_SECRET_ACCESS_KEY")
        .or_env("MINIO_ROOT_PASSWORD")
        .secret(Redact::All)
        .parse(secret)?;
    // Parsed below, only when S3 is on: a stray value does not stop a directory install.
    let path_style = r
        .key(
            "objects.s3_path_style",
            "TAYLORDASH_S3_PATH_STYLE",
            "address buckets as host/bucket (self-hosted servers) rather than bucket.host",
        )
        .or_env("S3_PATH_STYLE")
        .default("true")
        .parse(text)?;
    let max_upload_bytes = r
        .key(
            "artifacts.max_upload_bytes",
            "TAYLORDASH_ARTIFACT_MAX_BYTES",
            "largest artifact upload accepted, in bytes (larger: 413)",
        )
        .default("104857600")
        .parse(nonzero("a number of bytes", "must be greater than 0"))?;
    let backup_interval = r
        .key(
            "backup.interval_hours",
            "TAYLORDASH_BACKUP_INTERVAL_HOURS",
            "take a backup inside `serve` every this many hours; unset: no schedule",
        )
        .parse(hours)?;
    let backup_keep = r
        .key(
            "backup.keep",
            "TAYLORDASH_BACKUP_KEEP",
            "backups the server keeps, scheduled and on-demand alike (older ones are deleted)",
        )
        .default("7")
        .parse(nonzero("a whole number", "must be at least 1"))?;
    // S3 is on when an endpoint or a bucket is set; it then needs both credentials.
    let s3 = if endpoint.is_some() || bucket.is_some() {
        let missing = |key, env| {
            r.invalid(
                key,
                format!(
                    "S3 is configured (TAYLORDASH_S3_ENDPOINT/TAYLORDASH_S3_BUCKET): set {env}"
                ),
            )
        };
        Some(S3Settings {
            endpoint,
            bucket: bucket.unwrap_or_else(|| "taylordash".into()),
            region,
            access_key_id: access_key_id.ok_or_else(|| {
                missing(
                    "objects.s3_access_key_id",
                    "TAYLORDASH_S3_ACCESS_KEY_ID (or S3_ACCESS_KEY_ID, MINIO_ROOT_USER)",
                )
            })?,
            secret_access_key: secret_access_key.ok_or_else(|| {
                missing(
                    "objects.s3_secret_access_key",
                    "TAYLORDASH_S3_SECRET_ACCESS_KEY (or S3_SECRET_ACCESS_KEY, MINIO_ROOT_PASSWORD)",
                )
            })?,
            path_style: boolean(&path_style)
                .map_err(|message| r.invalid("objects.s3_path_style", message))?,
        })
    } else {
        None
    };
    Ok(FilesConfig {
        s3,
        dir,
        max_upload_bytes,
        backup_interval,
        backup_keep,
    })
}

fn s3_endpoint(endpoint: &str) -> Result<String, String> {
    let e = endpoint.trim();
    if e.starts_with("http://") || e.starts_with("https://") {
        Ok(e.to_owned())
    } else {
        Err(format!("'{e}' is not a URL like http://minio:9000"))
    }
}

fn bucket_name(bucket: &str) -> Result<String, String> {
    let valid = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    if valid {
        Ok(bucket.to_owned())
    } else {
        Err(format!(
            "'{bucket}' is not a bucket name (3-63 of a-z, 0-9, '-', '.')"
        ))
    }
}

fn hours(value: &str) -> Result<Duration, String> {
    let hours: f64 = from_str("a number of hours")(value)?;
    if !(hours.is_finite() && hours > 0.0) {
        return Err("must be greater than 0".into());
    }
    Ok(Duration::from_secs_f64(hours * 3600.0))
}

#[cfg(test)]
mod tests {
    use super::super::tests::load;
    use super::*;

    #[test]
    fn defaults_to_a_directory_under_the_data_dir() {
        let c = load(&[]).expect("defaults");
        assert!(c.files.s3.is_none());
        assert_eq!(c.files.max_upload_bytes, 100 * 1024 * 1024);
        assert!(c.files.backup_interval.is_none());
        match c.files.objects(Path::new("/d")) {
            objects::ObjectsConfig::Local { root } => assert_eq!(root, Path::new("/d/objects")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn s3_with_minio_credentials_as_fallback() {
        let c = load(&[
            ("S3_ENDPOINT", "http://minio:9000"),
            ("MINIO_ROOT_USER", "minio"),
            ("MINIO_ROOT_PASSWORD", "minio-secret-123"),
        ])
        .expect("s3");
        let s3 = c.files.s3.clone().expect("s3 configured");
        assert_eq!(s3.bucket, "taylordash");
        assert_eq!(s3.access_key_id, "minio");
        assert!(s3.path_style);
        assert!(!c.describe().contains("minio-secret-123"));
        assert!(!format!("{:?}", c.files).contains("minio-secret-123"));
        // The S3_* names win over the MinIO ones.
        let c = load(&[
            ("S3_BUCKET", "files"),
            ("S3_ACCESS_KEY_ID", "app"),
            ("S3_SECRET_ACCESS_KEY", "app-secret"),
            ("MINIO_ROOT_USER", "root"),
            ("MINIO_ROOT_PASSWORD", "root-secret"),
        ])
        .expect("s3");
        assert_eq!(c.files.s3.expect("s3").access_key_id, "app");
    }

    #[test]
    fn s3_without_credentials_or_with_bad_values_is_refused() {
        let err = load(&[("S3_ENDPOINT", "http://minio:9000")]).unwrap_err();
        assert!(err.to_string().contains("S3_ACCESS_KEY_ID"), "{err}");
        let err = load(&[("S3_ENDPOINT", "minio:9000")]).unwrap_err();
        assert!(err.to_string().contains("objects.s3_endpoint"), "{err}");
        let err = load(&[
            ("S3_BUCKET", "Bad_Bucket"),
            ("S3_ACCESS_KEY_ID", "a"),
            ("S3_SECRET_ACCESS_KEY", "b"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("objects.s3_bucket"), "{err}");
        // The path style is checked only when S3 is on.
        assert!(load(&[("S3_PATH_STYLE", "maybe")]).is_ok());
        let err = load(&[
            ("S3_BUCKET", "files"),
            ("S3_ACCESS_KEY_ID", "a"),
            ("S3_SECRET_ACCESS_KEY", "b"),
            ("S3_PATH_STYLE", "maybe"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("objects.s3_path_style"), "{err}");
    }

    #[test]
    fn limits_and_schedule_are_checked() {
        assert!(load(&[("TAYLORDASH_ARTIFACT_MAX_BYTES", "0")]).is_err());
        assert!(load(&[("TAYLORDASH_BACKUP_INTERVAL_HOURS", "-1")]).is_err());
        assert!(load(&[("TAYLORDASH_BACKUP_KEEP", "0")]).is_err());
        let c = load(&[("TAYLORDASH_BACKUP_INTERVAL_HOURS", "0.5")]).expect("schedule");
        assert_eq!(c.files.backup_interval, Some(Duration::from_secs(1800)));
    }
}
